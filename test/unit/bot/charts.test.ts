import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  CHART_HEIGHT,
  CHART_SCALE,
  CHART_WIDTH,
  netRevenueChart,
  riskDistributionChart,
  segmentSizesChart,
  sfntAdvances,
  upliftChart,
  woffToSfnt, highRiskTrendChart } from '../../../src/bot/charts.js';
import { RFM_SEGMENTS, RFM_SEGMENT_LABELS } from '../../../src/ml/rfm.js';

// Rendered charts land here so a person can look at them (the CJK check below cannot tell glyphs from well-drawn boxes).
const OUT_DIR = join(tmpdir(), 'rekindle-charts');
mkdirSync(OUT_DIR, { recursive: true });

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

interface Png {
  width: number;
  height: number;
  /** RGBA, row-major. */
  rgba: Buffer;
}

/** A minimal PNG reader (8-bit RGB or RGBA, no interlace): enough to count pixels. */
function decodePng(png: Buffer): Png {
  expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
  let at = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (at < png.length) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect(data[8], 'bit depth').toBe(8);
      expect(data[12], 'interlace').toBe(0);
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      expect(channels, `colour type ${data[9]}`).toBeGreaterThan(0);
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = Buffer.alloc(width * height * 4);
  let prev = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)] as number;
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? (line[i - channels] as number) : 0;
      const b = prev[i] as number;
      const c = i >= channels ? (prev[i - channels] as number) : 0;
      let add = 0;
      if (filter === 1) add = a;
      else if (filter === 2) add = b;
      else if (filter === 3) add = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        add = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      line[i] = ((line[i] as number) + add) & 255;
    }
    for (let x = 0; x < width; x++) {
      for (let k = 0; k < 4; k++) out[(y * width + x) * 4 + k] = k < channels ? (line[x * channels + k] as number) : 255;
    }
    prev = line;
  }
  return { width, height, rgba: out };
}

function ihdrSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
  expect(png.toString('latin1', 12, 16)).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/**
 * Pixels that are not background white (`threshold` on the darkest channel); with `greyOnly`,
 * only grey ones: text, axes and anti-aliased text edges, not the coloured bars.
 */
function inked(png: Png, { threshold = 200, greyOnly = false } = {}): number {
  let n = 0;
  for (let i = 0; i < png.rgba.length; i += 4) {
    const rgb = [png.rgba[i], png.rgba[i + 1], png.rgba[i + 2]] as number[];
    const lo = Math.min(...rgb);
    if (lo < threshold && (!greyOnly || Math.max(...rgb) - lo < 40)) n++;
  }
  return n;
}

const EXPECTED = { width: CHART_WIDTH * CHART_SCALE, height: CHART_HEIGHT * CHART_SCALE };

const BUCKETS = Array.from({ length: 20 }, (_, i) => ({ from: i / 20, to: (i + 1) / 20, users: Math.round(50_000 * Math.exp(-i / 4)) }));
const SEGMENTS = (lang: 'en' | 'zh') => RFM_SEGMENTS.map((s, i) => ({ label: RFM_SEGMENT_LABELS[s][lang], users: Math.round(120_000 / (i + 1.5)) }));
const GROUPS = [
  { tier: 'high', treatedRate: 0.182, holdoutRate: 0.121, ciLow: 0.032, ciHigh: 0.09 },
  { tier: 'medium', treatedRate: 0.254, holdoutRate: 0.233, ciLow: -0.005, ciHigh: 0.047 },
  { tier: 'low', treatedRate: 0.41, holdoutRate: 0.405 },
  { tier: 'all', treatedRate: 0.27, holdoutRate: 0.24 },
];

// Net incremental revenue per cycle (major units): gains, a loss, one unclear, one without an interval, one with no holdout.
const TREND = [
  { label: '2026-08-10', net: 1234.5, ciLow: 310.2, ciHigh: 2158.8 },
  { label: '2026-08-24', net: -420, ciLow: -900, ciHigh: -12 },
  { label: '2026-09-07', net: 260, ciLow: -380, ciHigh: 900 },
  { label: '2026-09-21', net: 80 },
  { label: '2026-10-05', net: null },
];

describe('charts render PNGs', () => {
  const charts = {
    net: (lang: 'en' | 'zh', onWarning: (m: string) => void) => netRevenueChart(TREND, lang, 'CNY', { onWarning }),
    risk: (lang: 'en' | 'zh', onWarning: (m: string) => void) => riskDistributionChart(BUCKETS, lang, { onWarning }),
    segments: (lang: 'en' | 'zh', onWarning: (m: string) => void) => segmentSizesChart(SEGMENTS(lang), lang, { onWarning }),
    uplift: (lang: 'en' | 'zh', onWarning: (m: string) => void) => upliftChart(GROUPS, lang, { onWarning }),
    trend: (lang: 'en' | 'zh', onWarning: (m: string) => void) =>
      highRiskTrendChart([{ label: '2026-10-01', high: 410 }, { label: '2026-10-08', high: 395 }, { label: '2026-10-15', high: 452 }], lang, { onWarning }),
  };
  for (const [name, render] of Object.entries(charts)) {
    for (const lang of ['en', 'zh'] as const) {
      it(`${name} (${lang}) is a ${EXPECTED.width}×${EXPECTED.height} PNG, drawn without warnings`, async () => {
        const warnings: string[] = [];
        const png = await render(lang, (m) => warnings.push(m));
        writeFileSync(join(OUT_DIR, `${name}-${lang}.png`), png);
        expect(ihdrSize(png)).toEqual(EXPECTED);
        expect(warnings).toEqual([]);
        const image = decodePng(png);
        // Something is drawn, on a mostly white background.
        expect(inked(image)).toBeGreaterThan(5_000);
        expect(inked(image)).toBeLessThan(image.width * image.height * 0.6);
      }, 30_000);
    }
  }
});

describe('Chinese text is drawn with real glyphs', () => {
  it('draws different characters differently, and draws them at all', async () => {
    const a = await segmentSizesChart([{ label: '核心用户', users: 100 }], 'zh');
    const b = await segmentSizesChart([{ label: '忠诚用户', users: 100 }], 'zh');
    const none = await segmentSizesChart([{ label: '', users: 100 }], 'zh');
    writeFileSync(join(OUT_DIR, 'cjk-a.png'), a);
    writeFileSync(join(OUT_DIR, 'cjk-b.png'), b);
    writeFileSync(join(OUT_DIR, 'cjk-none.png'), none);

    // Missing glyphs render as identical boxes (or nothing), so two labels would give the same image.
    expect(a.equals(b)).toBe(false);
    const [pa, pb, pn] = [decodePng(a), decodePng(b), decodePng(none)];
    let differing = 0;
    for (let i = 0; i < pa.rgba.length; i += 4) if (pa.rgba.readUInt32BE(i) !== pb.rgba.readUInt32BE(i)) differing++;
    expect(differing).toBeGreaterThan(300);

    // Four 13 px characters at 2× ink about 1,100 grey pixels (measured: 1,119 and 1,234); the
    // whole text of the label-less chart (title, ticks, axis title) inks ~10,900. Grey only: with
    // no label the plot and its blue bar grow into the label's space.
    const grey = { threshold: 250, greyOnly: true };
    const [ia, ib, inone] = [inked(pa, grey), inked(pb, grey), inked(pn, grey)];
    expect(ia - inone).toBeGreaterThan(600);
    expect(ib - inone).toBeGreaterThan(600);
  }, 30_000);

  it('draws the Chinese labels of the net revenue chart with real glyphs', async () => {
    // Missing glyphs come out as identical boxes (or nothing): two labels one character apart would match.
    const a = decodePng(await netRevenueChart([{ label: '第一期', net: 100, ciLow: 20, ciHigh: 180 }], 'zh', 'CNY'));
    const b = decodePng(await netRevenueChart([{ label: '第二期', net: 100, ciLow: 20, ciHigh: 180 }], 'zh', 'CNY'));
    let differing = 0;
    for (let i = 0; i < a.rgba.length; i += 4) if (a.rgba.readUInt32BE(i) !== b.rgba.readUInt32BE(i)) differing++;
    expect(differing).toBeGreaterThan(100);
  }, 30_000);
});

describe('input checks', () => {
  it('rejects inputs that break the documented rules', async () => {
    await expect(riskDistributionChart([], 'en')).rejects.toThrow('at least one bucket');
    await expect(riskDistributionChart([{ from: 0.5, to: 0.5, users: 1 }], 'en')).rejects.toThrow('must be below');
    await expect(riskDistributionChart([{ from: 0, to: 1.5, users: 1 }], 'en')).rejects.toThrow('between 0 and 1');
    await expect(segmentSizesChart([{ label: 'a', users: -1 }], 'en')).rejects.toThrow('non-negative integer');
    await expect(segmentSizesChart([{ label: 'a', users: 1 }, { label: 'a', users: 2 }], 'en')).rejects.toThrow('repeats');
    await expect(upliftChart([{ tier: 'high', treatedRate: 0.2, holdoutRate: 0.1, ciLow: 0.01 }], 'en')).rejects.toThrow('both ciLow and ciHigh');
    await expect(upliftChart([{ tier: 'high', treatedRate: 0.2, holdoutRate: 0.1, ciLow: 0.05, ciHigh: 0.01 }], 'en')).rejects.toThrow(
      'must not exceed',
    );
    await expect(highRiskTrendChart([], 'en')).rejects.toThrow('at least one point');
    await expect(highRiskTrendChart([{ label: 'a', high: 1 }, { label: 'a', high: 2 }], 'en')).rejects.toThrow('repeats');
    await expect(highRiskTrendChart([{ label: 'a', high: -1 }], 'en')).rejects.toThrow('points[0].high');
    await expect(netRevenueChart([], 'en', 'CNY')).rejects.toThrow('at least one point');
    await expect(netRevenueChart([{ label: 'a', net: 1 }, { label: 'a', net: 2 }], 'en', 'CNY')).rejects.toThrow('repeats');
    await expect(netRevenueChart([{ label: 'a', net: Number.NaN }], 'en', 'CNY')).rejects.toThrow('finite');
    await expect(netRevenueChart([{ label: 'a', net: 1, ciLow: 0 }], 'en', 'CNY')).rejects.toThrow('both ciLow and ciHigh');
    await expect(netRevenueChart([{ label: 'a', net: 1, ciLow: 2, ciHigh: 0 }], 'en', 'CNY')).rejects.toThrow('must not exceed');
    await expect(netRevenueChart([{ label: 'a', net: null, ciLow: 0, ciHigh: 1 }], 'en', 'CNY')).rejects.toThrow('needs a net value');
  });
});

describe('WOFF decoding', () => {
  const files = join(dirname(createRequire(import.meta.url).resolve('@fontsource/noto-sans-sc/package.json')), 'files');

  it('rebuilds the SFNT a WOFF file wraps, with its advance widths', () => {
    const woff = readFileSync(join(files, 'noto-sans-sc-latin-400-normal.woff'));
    const sfnt = woffToSfnt(woff);
    expect(sfnt.length).toBe(woff.readUInt32BE(16)); // totalSfntSize
    expect(sfnt.readUInt32BE(0)).toBe(woff.readUInt32BE(4)); // flavor
    expect(sfnt.readUInt16BE(4)).toBe(woff.readUInt16BE(12)); // numTables
    const advances = sfntAdvances(sfnt);
    const em = (ch: string) => advances.get(ch.codePointAt(0) as number) as number;
    expect(em('i')).toBeGreaterThan(0.1);
    expect(em('i')).toBeLessThan(em('M'));
    expect(em('M')).toBeLessThan(1);
    expect(em('0')).toBe(em('8')); // tabular figures
  });

  it('refuses WOFF2 and truncated files', () => {
    expect(() => woffToSfnt(readFileSync(join(files, 'noto-sans-sc-latin-400-normal.woff2')))).toThrow('WOFF2 is not supported');
    const woff = readFileSync(join(files, 'noto-sans-sc-latin-400-normal.woff'));
    expect(() => woffToSfnt(woff.subarray(0, 200))).toThrow('past the end');
  });
});
