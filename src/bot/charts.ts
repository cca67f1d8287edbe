/**
 * Server-side PNG charts for the Slack bot: a vega-lite spec is compiled to vega, rendered to
 * SVG by a headless vega View (renderer 'none'), and rasterised by @resvg/resvg-js.
 *
 * Fonts. No CJK font is installed on our machines, so charts use Noto Sans SC from
 * @fontsource/noto-sans-sc, loaded explicitly and only that (system fonts are never read, so
 * a PNG looks the same on every machine). That package ships WOFF/WOFF2 files cut into ~100
 * unicode-range subsets per weight; resvg reads neither format, and the native resvg-js 2.6
 * binding has no `fontBuffers` option (only the WASM build has it; passing it to the native
 * binding silently falls back to system fonts). So each subset a chart needs is decoded from
 * WOFF 1.0 to a plain TrueType file once, written to a cache directory, and handed to resvg
 * as `fontFiles`. resvg falls back from one face of the family to the next per glyph, so the
 * subsets behave as one font.
 *
 * Text measurement. Vega measures text with a canvas, which Node does not have; without one
 * it guesses 0.8 em per character, which is far too wide for Latin and too narrow for CJK
 * (labels then spill out of the image). This module installs a width function built from the
 * font's own advance widths (Latin subset) and 1 em for CJK, through vega's `textMetrics`
 * hook (the same hook vl-convert uses). That is process-wide: any other vega user in the same
 * process gets these metrics too.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { renderAsync } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export type ChartLang = 'en' | 'zh';

/** Options every chart takes. */
export interface ChartOptions {
  /** Receives vega-lite and vega warnings (e.g. a scale that could not be built); ignored when absent. */
  readonly onWarning?: (message: string) => void;
}

/** Layout size in CSS pixels; the PNG is {@link CHART_SCALE} times larger for sharp text on high-DPI screens. */
export const CHART_WIDTH = 720;
export const CHART_HEIGHT = 400;
export const CHART_SCALE = 2;
/** The font family every chart uses. */
export const CHART_FONT_FAMILY = 'Noto Sans SC';

// ---------------------------------------------------------------------------------------------
// WOFF 1.0 → SFNT
// ---------------------------------------------------------------------------------------------

const WOFF_SIGNATURE = 0x774f4646; // 'wOFF'
const WOFF_HEADER_SIZE = 44;
const WOFF_DIR_ENTRY_SIZE = 20;

/**
 * Decodes a WOFF 1.0 file into the SFNT (TrueType/OpenType) font it wraps: each table is
 * stored zlib-compressed (or raw when compression did not help) behind a 44-byte header and a
 * 20-byte-per-table directory (W3C WOFF 1.0, §4–5). The SFNT is rebuilt with the standard
 * offset table, tables in tag order, each padded to 4 bytes.
 *
 * @throws RangeError when `woff` is not a well-formed WOFF 1.0 file.
 */
export function woffToSfnt(woff: Uint8Array): Buffer {
  const buf = Buffer.from(woff.buffer, woff.byteOffset, woff.byteLength);
  if (buf.length < WOFF_HEADER_SIZE || buf.readUInt32BE(0) !== WOFF_SIGNATURE) {
    throw new RangeError('not a WOFF 1.0 file: the signature must be "wOFF" (WOFF2 is not supported)');
  }
  const flavor = buf.readUInt32BE(4);
  const numTables = buf.readUInt16BE(12);
  if (numTables === 0) throw new RangeError('WOFF file has no tables');
  if (WOFF_HEADER_SIZE + numTables * WOFF_DIR_ENTRY_SIZE > buf.length) {
    throw new RangeError(`WOFF table directory (${numTables} tables) runs past the end of the file`);
  }
  const tables: { tag: number; checksum: number; data: Buffer }[] = [];
  for (let i = 0; i < numTables; i++) {
    const at = WOFF_HEADER_SIZE + i * WOFF_DIR_ENTRY_SIZE;
    const tag = buf.readUInt32BE(at);
    const offset = buf.readUInt32BE(at + 4);
    const compLength = buf.readUInt32BE(at + 8);
    const origLength = buf.readUInt32BE(at + 12);
    const checksum = buf.readUInt32BE(at + 16);
    if (offset + compLength > buf.length) {
      throw new RangeError(`WOFF table ${tagName(tag)} runs past the end of the file`);
    }
    if (compLength > origLength) {
      throw new RangeError(`WOFF table ${tagName(tag)}: compressed length ${compLength} exceeds original ${origLength}`);
    }
    const stored = buf.subarray(offset, offset + compLength);
    const data = compLength < origLength ? inflateSync(stored) : stored;
    if (data.length !== origLength) {
      throw new RangeError(`WOFF table ${tagName(tag)} inflated to ${data.length} bytes, expected ${origLength}`);
    }
    tables.push({ tag, checksum, data });
  }
  tables.sort((a, b) => a.tag - b.tag);

  let pow2 = 1;
  let log2 = 0;
  while (pow2 * 2 <= numTables) {
    pow2 *= 2;
    log2++;
  }
  let size = 12 + 16 * numTables;
  for (const t of tables) size += pad4(t.data.length);
  const out = Buffer.alloc(size);
  out.writeUInt32BE(flavor, 0);
  out.writeUInt16BE(numTables, 4);
  out.writeUInt16BE(pow2 * 16, 6);
  out.writeUInt16BE(log2, 8);
  out.writeUInt16BE(numTables * 16 - pow2 * 16, 10);
  let offset = 12 + 16 * numTables;
  tables.forEach((t, i) => {
    const rec = 12 + 16 * i;
    out.writeUInt32BE(t.tag, rec);
    out.writeUInt32BE(t.checksum, rec + 4);
    out.writeUInt32BE(offset, rec + 8);
    out.writeUInt32BE(t.data.length, rec + 12);
    t.data.copy(out, offset);
    offset += pad4(t.data.length);
  });
  return out;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function tagName(tag: number): string {
  return JSON.stringify(String.fromCharCode((tag >>> 24) & 255, (tag >>> 16) & 255, (tag >>> 8) & 255, tag & 255));
}

/** Horizontal advances (in em) of the characters a font maps, read from its `cmap` (format 4) and `hmtx`. */
export function sfntAdvances(sfnt: Buffer): Map<number, number> {
  const tableAt = (name: string): number => {
    const n = sfnt.readUInt16BE(4);
    for (let i = 0; i < n; i++) {
      const rec = 12 + 16 * i;
      if (sfnt.toString('latin1', rec, rec + 4) === name) return sfnt.readUInt32BE(rec + 8);
    }
    throw new RangeError(`font has no ${name} table`);
  };
  const unitsPerEm = sfnt.readUInt16BE(tableAt('head') + 18);
  const numberOfHMetrics = sfnt.readUInt16BE(tableAt('hhea') + 34);
  const hmtx = tableAt('hmtx');
  const advanceOf = (glyph: number): number =>
    sfnt.readUInt16BE(hmtx + 4 * Math.min(glyph, numberOfHMetrics - 1)) / unitsPerEm;

  const cmap = tableAt('cmap');
  let sub = -1;
  for (let i = 0, n = sfnt.readUInt16BE(cmap + 2); i < n; i++) {
    const rec = cmap + 4 + 8 * i;
    const platform = sfnt.readUInt16BE(rec);
    const encoding = sfnt.readUInt16BE(rec + 2);
    const at = cmap + sfnt.readUInt32BE(rec + 4);
    if (((platform === 3 && encoding === 1) || platform === 0) && sfnt.readUInt16BE(at) === 4) sub = at;
  }
  if (sub < 0) throw new RangeError('font has no Unicode BMP cmap (format 4)');

  const advances = new Map<number, number>();
  const segCount = sfnt.readUInt16BE(sub + 6) / 2;
  const ends = sub + 14;
  const starts = ends + 2 * segCount + 2;
  const deltas = starts + 2 * segCount;
  const rangeOffsets = deltas + 2 * segCount;
  for (let s = 0; s < segCount; s++) {
    const start = sfnt.readUInt16BE(starts + 2 * s);
    const end = sfnt.readUInt16BE(ends + 2 * s);
    const delta = sfnt.readUInt16BE(deltas + 2 * s);
    const rangeOffset = sfnt.readUInt16BE(rangeOffsets + 2 * s);
    for (let c = start; c <= end && c !== 0xffff; c++) {
      let glyph: number;
      if (rangeOffset === 0) {
        glyph = (c + delta) & 0xffff;
      } else {
        const at = rangeOffsets + 2 * s + rangeOffset + 2 * (c - start);
        glyph = sfnt.readUInt16BE(at);
        if (glyph !== 0) glyph = (glyph + delta) & 0xffff;
      }
      if (glyph !== 0) advances.set(c, advanceOf(glyph));
    }
  }
  return advances;
}

// ---------------------------------------------------------------------------------------------
// Font subsets: which files a text needs, decoded once and cached on disk and in memory
// ---------------------------------------------------------------------------------------------

interface Subset {
  /** File name stem, e.g. `noto-sans-sc-latin` or `noto-sans-sc-57`. */
  readonly stem: string;
  /** Sorted, non-overlapping [from, to] code point ranges. */
  readonly ranges: readonly (readonly [number, number])[];
}

interface FontCatalog {
  readonly filesDir: string;
  readonly cacheDir: string;
  readonly subsets: readonly Subset[];
}

/**
 * Only the regular weight is loaded. resvg picks a glyph from the first loaded face that has
 * it, whatever that face's weight (measured here: with the bold subsets loaded before the
 * regular ones, regular text came out bold, and the other way round), so mixing weights
 * would make Chinese text bold or regular by load order. Titles stand out by size instead.
 */
const FONT_WEIGHT = 400;

let catalogPromise: Promise<FontCatalog> | undefined;
const ttfPaths = new Map<string, Promise<string>>();
let metricsInstalled: Promise<void> | undefined;

function fontCatalog(): Promise<FontCatalog> {
  catalogPromise ??= (async () => {
    const require = createRequire(import.meta.url);
    const pkgPath = require.resolve('@fontsource/noto-sans-sc/package.json');
    const root = dirname(pkgPath);
    const pkg = JSON.parse(await readFile(pkgPath, 'utf8')) as { version: string };
    const unicode = JSON.parse(await readFile(join(root, 'unicode.json'), 'utf8')) as Record<string, string>;
    const subsets: Subset[] = Object.entries(unicode).map(([key, ranges]) => ({
      stem: `noto-sans-sc-${/^\[(\d+)\]$/.exec(key)?.[1] ?? key}`,
      ranges: parseUnicodeRange(ranges),
    }));
    return {
      filesDir: join(root, 'files'),
      cacheDir: join(tmpdir(), `rekindle-fonts-noto-sans-sc-${pkg.version}`),
      subsets,
    };
  })();
  catalogPromise.catch(() => {
    catalogPromise = undefined;
  });
  return catalogPromise;
}

function parseUnicodeRange(css: string): [number, number][] {
  return css
    .split(',')
    .map((part) => {
      const m = /^\s*U\+([0-9a-f]+)(?:-([0-9a-f]+))?\s*$/i.exec(part);
      if (!m) throw new RangeError(`bad unicode-range entry ${JSON.stringify(part)} in @fontsource/noto-sans-sc/unicode.json`);
      const from = Number.parseInt(m[1] as string, 16);
      return [from, m[2] === undefined ? from : Number.parseInt(m[2], 16)] as [number, number];
    })
    .sort((a, b) => a[0] - b[0]);
}

function covers(subset: Subset, cp: number): boolean {
  let lo = 0;
  let hi = subset.ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [from, to] = subset.ranges[mid] as readonly [number, number];
    if (cp < from) hi = mid - 1;
    else if (cp > to) lo = mid + 1;
    else return true;
  }
  return false;
}

/** The subsets that cover the characters of `text`; always includes Latin (digits, punctuation). */
function subsetsFor(catalog: FontCatalog, text: string): Subset[] {
  const needed = new Set<Subset>();
  const latin = catalog.subsets.find((s) => s.stem === 'noto-sans-sc-latin');
  if (latin) needed.add(latin);
  const seen = new Set<number>();
  for (const ch of text) {
    const cp = ch.codePointAt(0) as number;
    if (cp < 0x80 || seen.has(cp)) continue;
    seen.add(cp);
    const subset = catalog.subsets.find((s) => covers(s, cp));
    if (subset) needed.add(subset);
  }
  return [...needed];
}

/** Decodes one subset's WOFF into a TTF in the cache directory (once per machine) and returns its path. */
function ttfPath(catalog: FontCatalog, stem: string, weight: number): Promise<string> {
  const name = `${stem}-${weight}-normal`;
  let p = ttfPaths.get(name);
  if (!p) {
    p = (async () => {
      const target = join(catalog.cacheDir, `${name}.ttf`);
      const woff = await readFile(join(catalog.filesDir, `${name}.woff`));
      const expectedSize = woff.readUInt32BE(16); // totalSfntSize in the WOFF header
      const existing = await stat(target).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (existing?.size === expectedSize) return target;
      const sfnt = woffToSfnt(woff);
      await mkdir(catalog.cacheDir, { recursive: true });
      // Write then rename, so a concurrent process never loads a half-written font.
      const tmp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(tmp, sfnt);
      await rename(tmp, target);
      return target;
    })();
    p.catch(() => ttfPaths.delete(name));
    ttfPaths.set(name, p);
  }
  return p;
}

interface TextItem {
  text?: unknown;
  fontSize?: unknown;
  fontWeight?: unknown;
}

interface VegaTextMetrics {
  width: (item: TextItem, text?: unknown) => number;
}

/** Replaces vega's 0.8-em-per-character guess with the font's own advances (see the module comment). */
function installTextMetrics(catalog: FontCatalog): Promise<void> {
  metricsInstalled ??= (async () => {
    const latin = sfntAdvances(await readFile(await ttfPath(catalog, 'noto-sans-sc-latin', FONT_WEIGHT)));
    const metrics = (vega as unknown as { textMetrics: VegaTextMetrics }).textMetrics;
    metrics.width = (item, text) => {
      const value = text === undefined ? item.text : text;
      const s = Array.isArray(value) ? value.join(' ') : value == null ? '' : String(value);
      const size = typeof item.fontSize === 'number' ? item.fontSize : item.fontSize == null ? 11 : Number(item.fontSize) || 0;
      return textWidthEm(s, latin) * size;
    };
  })();
  metricsInstalled.catch(() => {
    metricsInstalled = undefined;
  });
  return metricsInstalled;
}

function textWidthEm(s: string, advances: Map<number, number>): number {
  let em = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    // CJK ideographs, kana, Hangul and full-width forms are one em wide in Noto Sans SC.
    em += advances.get(cp) ?? (cp >= 0x2e80 ? 1 : 0.6);
  }
  return em;
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

const PALETTE = {
  bar: '#4c78a8',
  loss: '#e45756',
  treated: '#4c78a8',
  holdout: '#bab0ac',
  text: '#1f2328',
  muted: '#59636e',
  grid: '#e6e8eb',
} as const;

/** Vega-lite config shared by every chart: one explicit font so layout and rasterising agree. */
function baseConfig(): NonNullable<Exclude<TopLevelSpec, boolean>['config']> {
  return {
    font: CHART_FONT_FAMILY,
    background: 'white',
    padding: 12,
    view: { stroke: null },
    title: { font: CHART_FONT_FAMILY, fontSize: 18, fontWeight: 'normal', subtitleFont: CHART_FONT_FAMILY, subtitleFontSize: 12, subtitleColor: PALETTE.muted, color: PALETTE.text, anchor: 'start', offset: 12 },
    axis: {
      labelFont: CHART_FONT_FAMILY,
      titleFont: CHART_FONT_FAMILY,
      labelFontSize: 12,
      titleFontSize: 12,
      titleFontWeight: 'normal',
      labelColor: PALETTE.muted,
      titleColor: PALETTE.muted,
      gridColor: PALETTE.grid,
      domainColor: PALETTE.muted,
      tickColor: PALETTE.muted,
      labelLimit: 220,
    },
    legend: {
      labelFont: CHART_FONT_FAMILY,
      titleFont: CHART_FONT_FAMILY,
      labelFontSize: 12,
      titleFontSize: 12,
      labelColor: PALETTE.text,
      orient: 'top',
      direction: 'horizontal',
    },
    text: { font: CHART_FONT_FAMILY, fontSize: 12, color: PALETTE.text },
    bar: { color: PALETTE.bar },
  };
}

/**
 * Renders a vega-lite spec to a PNG. The spec's size is the whole image (`autosize: fit`,
 * padding included), so every PNG is exactly CHART_WIDTH × CHART_HEIGHT × CHART_SCALE.
 */
async function renderPng(spec: TopLevelSpec, options: ChartOptions): Promise<Buffer> {
  const catalog = await fontCatalog();
  await installTextMetrics(catalog);
  const warn = options.onWarning ?? (() => {});
  const logger = quietLogger(warn);
  const { spec: vgSpec } = compile(spec, { logger });
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none', logger, logLevel: vega.Warn });
  let svg: string;
  try {
    svg = await view.toSVG();
  } finally {
    view.finalize();
  }
  const fontFiles = await Promise.all(subsetsFor(catalog, svg).map((s) => ttfPath(catalog, s.stem, FONT_WEIGHT)));
  const image = await renderAsync(svg, {
    font: { fontFiles, loadSystemFonts: false, defaultFontFamily: CHART_FONT_FAMILY },
    fitTo: { mode: 'zoom', value: CHART_SCALE },
    background: 'white',
    logLevel: 'off',
  });
  return image.asPng();
}

/** A vega/vega-lite logger that passes warnings on and turns errors into exceptions. */
function quietLogger(warn: (message: string) => void): vega.LoggerInterface {
  let level = vega.Warn;
  const text = (args: readonly unknown[]): string => args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
  const logger: vega.LoggerInterface = {
    level(l?: number) {
      if (l === undefined) return level as never;
      level = l;
      return logger as never;
    },
    error(...args: readonly unknown[]) {
      throw args[0] instanceof Error ? args[0] : new Error(text(args));
    },
    warn(...args: readonly unknown[]) {
      if (level >= vega.Warn) warn(text(args));
      return logger;
    },
    info() {
      return logger;
    },
    debug() {
      return logger;
    },
  } as vega.LoggerInterface;
  return logger;
}

const FIT = { type: 'fit', contains: 'padding' } as const;

function checkFinite(value: number, what: string): void {
  if (!Number.isFinite(value)) throw new RangeError(`${what} must be a finite number, got ${String(value)}`);
}

function checkUsers(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative integer, got ${String(value)}`);
}

function checkRate(value: number, what: string): void {
  checkFinite(value, what);
  if (value < 0 || value > 1) throw new RangeError(`${what} must be a rate between 0 and 1, got ${value}`);
}

// ---------------------------------------------------------------------------------------------
// Charts
// ---------------------------------------------------------------------------------------------

const TEXT = {
  en: {
    riskTitle: 'Churn risk distribution',
    riskX: 'Churn probability',
    users: 'Users',
    segmentTitle: 'Users by segment',
    upliftTitle: 'Repurchase rate: treated vs holdout',
    upliftY: 'Repurchase rate',
    treated: 'Treated',
    holdout: 'Holdout',
    uplift: 'uplift',
    pp: 'pp',
    note: 'Above each tier: uplift in percentage points (pp)',
    noteWithCi: 'Above each tier: uplift in percentage points (pp) [95% confidence interval]',
    netTitle: 'Net incremental revenue per cycle',
    netNote: 'Treated minus holdout revenue, after coupon discounts · error bars: 95% interval',
    netNoteMissing: 'Treated minus holdout revenue, after coupon discounts · error bars: 95% interval · no bar: no holdout to compare',
    netY: (currency: string) => `Net incremental revenue (${currency})`,
    cycle: 'Cycle (first send day)',
  },
  zh: {
    riskTitle: '流失风险分布',
    riskX: '流失概率',
    users: '用户数',
    segmentTitle: '各分群用户数',
    upliftTitle: '复购率：触达组 vs 对照组',
    upliftY: '复购率',
    treated: '触达组',
    holdout: '对照组',
    uplift: '提升',
    pp: '个百分点',
    note: '各层上方：提升（百分点）',
    noteWithCi: '各层上方：提升（百分点）[95% 置信区间]',
    netTitle: '各周期净增收入',
    netNote: '触达组减去对照组的实付收入（已扣优惠券折扣）· 误差线：95% 置信区间',
    netNoteMissing: '触达组减去对照组的实付收入（已扣优惠券折扣）· 误差线：95% 置信区间 · 无柱：没有对照组可比',
    netY: (currency: string) => `净增收入（${currency}）`,
    cycle: '周期（首个发送日）',
  },
} as const;

const TIER_LABELS: Readonly<Record<string, { en: string; zh: string }>> = {
  high: { en: 'High risk', zh: '高风险' },
  medium: { en: 'Medium risk', zh: '中风险' },
  low: { en: 'Low risk', zh: '低风险' },
  all: { en: 'All', zh: '全部' },
  overall: { en: 'Overall', zh: '总体' },
};

/**
 * A histogram of churn probability: one bar per bucket [from, to) with its user count.
 *
 * @param buckets - non-empty, each with 0 ≤ from < to ≤ 1 and a non-negative integer `users`.
 * @throws RangeError when a bucket breaks those rules.
 */
export async function riskDistributionChart(
  buckets: readonly { from: number; to: number; users: number }[],
  lang: ChartLang,
  options: ChartOptions = {},
): Promise<Buffer> {
  if (buckets.length === 0) throw new RangeError('riskDistributionChart needs at least one bucket');
  for (const [i, b] of buckets.entries()) {
    checkRate(b.from, `buckets[${i}].from`);
    checkRate(b.to, `buckets[${i}].to`);
    if (!(b.from < b.to)) throw new RangeError(`buckets[${i}]: from (${b.from}) must be below to (${b.to})`);
    checkUsers(b.users, `buckets[${i}].users`);
  }
  const t = TEXT[lang];
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
    autosize: FIT,
    config: baseConfig(),
    title: t.riskTitle,
    data: { values: buckets.map((b) => ({ from: b.from, to: b.to, users: b.users, mid: (b.from + b.to) / 2 })) },
    mark: { type: 'bar', binSpacing: 1, stroke: 'white', strokeWidth: 0.5 },
    encoding: {
      x: {
        field: 'from',
        type: 'quantitative',
        bin: { binned: true },
        title: t.riskX,
        scale: { domain: [Math.min(...buckets.map((b) => b.from)), Math.max(...buckets.map((b) => b.to))], nice: false },
        axis: { format: '.0%', grid: false, tickCount: 10 },
      },
      x2: { field: 'to' },
      y: { field: 'users', type: 'quantitative', title: t.users, axis: { format: ',d', tickCount: 5 } },
      color: {
        field: 'mid',
        type: 'quantitative',
        scale: { scheme: 'orangered', domain: [0, 1] },
        legend: null,
      },
    },
  };
  return renderPng(spec, options);
}

/**
 * Horizontal bars of users per segment, in the order given (callers pass RFM segments best to
 * worst), each labelled with its count.
 *
 * @param segments - display labels (already in `lang`), unique, with non-negative integer counts.
 * @throws RangeError when a label repeats or a count is not a non-negative integer.
 */
export async function segmentSizesChart(
  segments: readonly { label: string; users: number }[],
  lang: ChartLang,
  options: ChartOptions = {},
): Promise<Buffer> {
  if (segments.length === 0) throw new RangeError('segmentSizesChart needs at least one segment');
  const seen = new Set<string>();
  for (const [i, s] of segments.entries()) {
    checkUsers(s.users, `segments[${i}].users`);
    if (seen.has(s.label)) throw new RangeError(`segments[${i}].label ${JSON.stringify(s.label)} repeats; labels must be unique`);
    seen.add(s.label);
  }
  const t = TEXT[lang];
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
    autosize: FIT,
    config: baseConfig(),
    title: t.segmentTitle,
    data: { values: segments.map((s, order) => ({ label: s.label, users: s.users, order })) },
    encoding: {
      y: {
        field: 'label',
        type: 'nominal',
        sort: { field: 'order', op: 'min' },
        title: null,
        axis: { labelFontSize: 13, labelColor: PALETTE.text, ticks: false, domain: false, labelPadding: 6 },
        scale: { paddingInner: 0.25 },
      },
      x: {
        field: 'users',
        type: 'quantitative',
        title: t.users,
        axis: { format: ',d', tickCount: 5 },
        scale: { domainMax: Math.max(1, ...segments.map((s) => s.users)) * 1.12 },
      },
    },
    layer: [
      { mark: { type: 'bar', color: PALETTE.bar } },
      {
        mark: { type: 'text', align: 'left', dx: 4, color: PALETTE.text },
        encoding: { text: { field: 'users', type: 'quantitative', format: ',d' } },
      },
    ],
  };
  return renderPng(spec, options);
}

/**
 * Grouped bars of repurchase rate, treated vs holdout, per risk tier. When a group carries
 * `ciLow`/`ciHigh`, they are read as the 95% confidence interval of the uplift (treated −
 * holdout, as a rate difference) and printed above the group with the uplift in points.
 *
 * @param groups - tiers in display order; `tier` keys high/medium/low/all/overall are
 *   translated, anything else is shown as given. Rates in [0, 1]; both CI bounds or neither.
 * @throws RangeError when a rate is outside [0, 1] or a CI is half given or inverted.
 */
export async function upliftChart(
  groups: readonly { tier: string; treatedRate: number; holdoutRate: number; ciLow?: number; ciHigh?: number }[],
  lang: ChartLang,
  options: ChartOptions = {},
): Promise<Buffer> {
  if (groups.length === 0) throw new RangeError('upliftChart needs at least one group');
  for (const [i, g] of groups.entries()) {
    checkRate(g.treatedRate, `groups[${i}].treatedRate`);
    checkRate(g.holdoutRate, `groups[${i}].holdoutRate`);
    if ((g.ciLow === undefined) !== (g.ciHigh === undefined)) {
      throw new RangeError(`groups[${i}]: give both ciLow and ciHigh or neither`);
    }
    if (g.ciLow !== undefined && g.ciHigh !== undefined) {
      checkFinite(g.ciLow, `groups[${i}].ciLow`);
      checkFinite(g.ciHigh, `groups[${i}].ciHigh`);
      if (g.ciLow > g.ciHigh) throw new RangeError(`groups[${i}]: ciLow (${g.ciLow}) must not exceed ciHigh (${g.ciHigh})`);
      if (g.ciLow < -1 || g.ciHigh > 1) throw new RangeError(`groups[${i}]: the uplift CI must lie within [-1, 1]`);
    }
  }
  const t = TEXT[lang];
  const tierLabel = (tier: string): string => TIER_LABELS[tier.toLowerCase()]?.[lang] ?? tier;
  const bars = groups.flatMap((g, order) => [
    { tier: tierLabel(g.tier), order, group: t.treated, groupOrder: 0, rate: g.treatedRate },
    { tier: tierLabel(g.tier), order, group: t.holdout, groupOrder: 1, rate: g.holdoutRate },
  ]);
  const pp = (x: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)}`;
  const notes = groups.map((g, order) => {
    const uplift = g.treatedRate - g.holdoutRate;
    const ci = g.ciLow !== undefined && g.ciHigh !== undefined ? ` [${pp(g.ciLow)}, ${pp(g.ciHigh)}]` : '';
    return {
      tier: tierLabel(g.tier),
      order,
      top: Math.max(g.treatedRate, g.holdoutRate),
      note: `${t.uplift} ${pp(uplift)} ${t.pp}${ci}`,
    };
  });
  const maxRate = Math.max(0.01, ...groups.map((g) => Math.max(g.treatedRate, g.holdoutRate)));
  const anyCi = groups.some((g) => g.ciLow !== undefined);
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
    autosize: FIT,
    config: baseConfig(),
    title: { text: t.upliftTitle, subtitle: anyCi ? t.noteWithCi : t.note },
    encoding: {
      x: {
        field: 'tier',
        type: 'nominal',
        sort: { field: 'order', op: 'min' },
        title: null,
        axis: { labelAngle: 0, labelFontSize: 13, labelColor: PALETTE.text },
        scale: { paddingInner: 0.3 },
      },
    },
    layer: [
      {
        data: { values: bars },
        mark: { type: 'bar' },
        encoding: {
          xOffset: { field: 'group', type: 'nominal', sort: { field: 'groupOrder', op: 'min' } },
          y: {
            field: 'rate',
            type: 'quantitative',
            title: t.upliftY,
            axis: { format: '.0%', tickCount: 5 },
            scale: { domain: [0, Math.min(1, maxRate * 1.25)] },
          },
          color: {
            field: 'group',
            type: 'nominal',
            sort: { field: 'groupOrder', op: 'min' },
            scale: { range: [PALETTE.treated, PALETTE.holdout] },
            legend: { title: null },
          },
        },
      },
      {
        data: { values: bars },
        mark: { type: 'text', baseline: 'bottom', dy: -3, fontSize: 11, color: PALETTE.text },
        encoding: {
          xOffset: { field: 'group', type: 'nominal', sort: { field: 'groupOrder', op: 'min' } },
          y: { field: 'rate', type: 'quantitative' },
          text: { field: 'rate', type: 'quantitative', format: '.1%' },
        },
      },
      {
        data: { values: notes },
        mark: { type: 'text', baseline: 'bottom', dy: -20, fontSize: 12, color: PALETTE.text },
        encoding: {
          y: { field: 'top', type: 'quantitative' },
          text: { field: 'note', type: 'nominal' },
        },
      },
    ],
  };
  return renderPng(spec, options);
}

/**
 * Net incremental revenue per cycle: one bar per cycle (blue above zero, red below), its 95%
 * interval as an error bar, and a zero line, so a reader sees at once which cycles paid off
 * and which only look like they did. Amounts in major units of `currency`.
 *
 * @param points - cycles in display order (oldest first) with unique labels; `net` null for a
 *   cycle with nothing to compare (no bar, the label stays); both CI bounds or neither.
 * @throws RangeError when there is no point, a label repeats, a number is not finite, or a CI is half given or inverted.
 */
export async function netRevenueChart(
  points: readonly { label: string; net: number | null; ciLow?: number; ciHigh?: number }[],
  lang: ChartLang,
  currency: string,
  options: ChartOptions = {},
): Promise<Buffer> {
  if (points.length === 0) throw new RangeError('netRevenueChart needs at least one point');
  const seen = new Set<string>();
  for (const [i, p] of points.entries()) {
    if (seen.has(p.label)) throw new RangeError(`points[${i}].label ${JSON.stringify(p.label)} repeats; labels must be unique`);
    seen.add(p.label);
    if (p.net !== null) checkFinite(p.net, `points[${i}].net`);
    if ((p.ciLow === undefined) !== (p.ciHigh === undefined)) throw new RangeError(`points[${i}]: give both ciLow and ciHigh or neither`);
    if (p.ciLow !== undefined && p.ciHigh !== undefined) {
      if (p.net === null) throw new RangeError(`points[${i}]: an interval needs a net value`);
      checkFinite(p.ciLow, `points[${i}].ciLow`);
      checkFinite(p.ciHigh, `points[${i}].ciHigh`);
      if (p.ciLow > p.ciHigh) throw new RangeError(`points[${i}]: ciLow (${p.ciLow}) must not exceed ciHigh (${p.ciHigh})`);
    }
  }
  const t = TEXT[lang];
  const labels = points.map((p) => p.label);
  // `at`: where the value label goes, past the bar or its interval, whichever reaches further.
  const bars = points.flatMap((p) =>
    p.net === null ? [] : [{ label: p.label, net: p.net, loss: p.net < 0, at: p.net < 0 ? Math.min(p.net, p.ciLow ?? p.net) : Math.max(p.net, p.ciHigh ?? p.net) }],
  );
  const intervals = points.flatMap((p) => (p.ciLow === undefined || p.ciHigh === undefined ? [] : [{ label: p.label, lo: p.ciLow, hi: p.ciHigh }]));
  const extent = [0, ...bars.map((b) => b.net), ...intervals.flatMap((c) => [c.lo, c.hi])];
  const span = Math.max(1, Math.max(...extent) - Math.min(...extent));
  // Per layer rather than shared: the zero line must not be split by cycle.
  const x = {
    field: 'label',
    type: 'nominal',
    title: t.cycle,
    scale: { domain: labels, paddingInner: 0.3 },
    axis: { labelAngle: points.length > 8 ? -40 : 0, labelColor: PALETTE.text },
  } as const;
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
    autosize: FIT,
    config: baseConfig(),
    title: { text: t.netTitle, subtitle: bars.length < points.length ? t.netNoteMissing : t.netNote },
    layer: [
      {
        data: { values: bars },
        mark: { type: 'bar' },
        encoding: {
          x,
          y: {
            field: 'net',
            type: 'quantitative',
            title: t.netY(currency),
            axis: { format: ',.0f', tickCount: 6 },
            // Room for the value labels above and below the bars.
            scale: { domain: [Math.min(...extent) - span * 0.08, Math.max(...extent) + span * 0.08], nice: true },
          },
          color: { field: 'loss', type: 'nominal', scale: { domain: [false, true], range: [PALETTE.bar, PALETTE.loss] }, legend: null },
        },
      },
      {
        data: { values: intervals },
        mark: { type: 'rule', color: PALETTE.text, strokeWidth: 1.5 },
        encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
      },
      {
        data: { values: intervals.flatMap((c) => [{ label: c.label, v: c.lo }, { label: c.label, v: c.hi }]) },
        mark: { type: 'tick', color: PALETTE.text, thickness: 1.5, size: 14 },
        encoding: { x, y: { field: 'v', type: 'quantitative' } },
      },
      {
        // Only y: a horizontal line across the whole plot.
        data: { values: [{}] },
        mark: { type: 'rule', color: PALETTE.muted, strokeDash: [4, 3] },
        encoding: { y: { datum: 0, type: 'quantitative' } },
      },
      ...([false, true] as const).map((loss) => ({
        data: { values: bars.filter((b) => b.loss === loss) },
        mark: { type: 'text' as const, fontSize: 11, color: PALETTE.text, baseline: loss ? ('top' as const) : ('bottom' as const), dy: loss ? 4 : -4 },
        encoding: {
          x,
          y: { field: 'at', type: 'quantitative' as const },
          text: { field: 'net', type: 'quantitative' as const, format: ',.0f' },
        },
      })),
    ],
  };
  return renderPng(spec, options);
}

/**
 * The high-risk count per rescore run, oldest first, as a line with a labelled point per run.
 *
 * @param points - at least one; `label` unique (the run's as-of day, or day and run id), `high`
 *   a non-negative integer.
 * @throws RangeError when a point breaks those rules.
 */
export async function highRiskTrendChart(points: readonly { label: string; high: number }[], lang: ChartLang, options: ChartOptions = {}): Promise<Buffer> {
  if (points.length === 0) throw new RangeError('highRiskTrendChart needs at least one point');
  const seen = new Set<string>();
  for (const [i, p] of points.entries()) {
    checkUsers(p.high, `points[${i}].high`);
    if (seen.has(p.label)) throw new RangeError(`points[${i}].label ${JSON.stringify(p.label)} repeats; labels must be unique`);
    seen.add(p.label);
  }
  const title = lang === 'zh' ? '各次评分的高风险用户数' : 'High-risk users per rescore run';
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
    autosize: FIT,
    config: baseConfig(),
    title,
    data: { values: points.map((p, order) => ({ ...p, order })) },
    encoding: {
      x: {
        field: 'label',
        type: 'nominal',
        sort: { field: 'order', op: 'min' },
        title: lang === 'zh' ? '评分日期' : 'Run (as of)',
        axis: { labelAngle: points.length > 8 ? -40 : 0, labelColor: PALETTE.text },
      },
      y: {
        field: 'high',
        type: 'quantitative',
        title: TEXT[lang].users,
        axis: { format: ',d', tickCount: 5 },
        scale: { domainMin: 0, domainMax: Math.max(1, ...points.map((p) => p.high)) * 1.15 },
      },
    },
    layer: [
      { mark: { type: 'line', color: PALETTE.bar, strokeWidth: 2.5 } },
      { mark: { type: 'point', filled: true, size: 60, color: PALETTE.bar } },
      { mark: { type: 'text', dy: -12, color: PALETTE.text }, encoding: { text: { field: 'high', type: 'quantitative', format: ',d' } } },
    ],
  };
  return renderPng(spec, options);
}
