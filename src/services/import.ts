/**
 * Imports CSV or NDJSON exports of a product's history and past campaigns (formats in the
 * README). Streams each file once per pass and writes through batch writers, so memory stays
 * flat for any file size. Idempotent: events are keyed by (source, event_id), users and items
 * are upserts, imported outreach is keyed by (campaign, user_id, sent_at). Every file's header
 * is checked before anything is written. Bad rows are reported with file and line; `strict`
 * validates the whole input first and writes nothing if any row is bad.
 */
import { createReadStream, statSync } from 'node:fs';
import { extname } from 'node:path';
import { Transform } from 'node:stream';
import { createInterface } from 'node:readline';
import { parse as parseCsv } from 'csv-parse';
import type { z } from 'zod';
import { describeIssues, ItemProfile, parseEvent, toRecords, UserProfile, Id, type FieldIssue, type ItemRecord, type UserRecord } from '../domain/events.js';
import { ValidationError } from '../domain/errors.js';
import { OUTREACH_IMPORT_COLUMNS, OUTREACH_IMPORT_REQUIRED, parseOutreachImportRow, type ImportedOutreach } from '../domain/outreach-import.js';
import type { Database } from '../db/client.js';
import type { Logger } from '../logger.js';
import { analyzeTables, createBatchWriter, type BatchWriter } from '../store/batch-writer.js';
import { analyzeOutreach, createOutreachImportWriter, type OutreachImportWriter } from '../store/outreach-import.js';

export type FileKind = 'events' | 'items' | 'users' | 'outreach';

export interface ImportProgress {
  file: string;
  kind: FileKind;
  phase: 'validate' | 'write';
  rows: number;
  bytes: number;
  totalBytes: number;
}

export interface BadRow {
  file: string;
  line: number;
  field: string;
  message: string;
}

export interface FileReport {
  file: string;
  kind: FileKind;
  rows: number;
  valid: number;
  bad: number;
  inserted: number;
  duplicates: number;
}

export interface ImportReport {
  files: FileReport[];
  badRows: BadRow[];
  /** How many bad rows were seen in all (only the first `maxReported` are listed). */
  badTotal: number;
  written: boolean;
}

export interface ImportDeps {
  db: Database;
  log: Logger;
}

export interface ImportRequest {
  events?: string | undefined;
  items?: string | undefined;
  users?: string | undefined;
  /** Past campaigns: `user_id,campaign,sent_at,offer,group,coupon_code,discount_minor,currency`. */
  outreach?: string | undefined;
  strict?: boolean;
  source?: string;
  onProgress?: (p: ImportProgress) => void;
  maxReported?: number;
}

const EVENT_COLUMNS = ['event_id', 'type', 'user_id', 'occurred_at', 'item_id', 'amount_minor', 'currency', 'quantity', 'lesson_id', 'percent', 'coupon_code'];
const ITEM_COLUMNS = ['item_id', 'title', 'item_type', 'category', 'tags', 'description', 'price_minor', 'currency', 'url'];
const USER_COLUMNS = ['user_id', 'email', 'name', 'locale', 'timezone', 'signup_at'];
const REQUIRED: Record<FileKind, string[]> = {
  events: ['event_id', 'type', 'user_id', 'occurred_at'],
  items: ['item_id'],
  users: ['user_id'],
  outreach: [...OUTREACH_IMPORT_REQUIRED],
};
const KNOWN: Record<FileKind, string[]> = { events: EVENT_COLUMNS, items: ITEM_COLUMNS, users: USER_COLUMNS, outreach: [...OUTREACH_IMPORT_COLUMNS] };
/**
 * Kinds whose CSV header may not carry columns we do not know: a misspelt `coupon_cod` would
 * otherwise drop every coupon silently. (Events, items and users keep ignoring extra columns,
 * which existing exports rely on.)
 */
const STRICT_HEADER = new Set<FileKind>(['outreach']);
const NUMERIC = new Set(['amount_minor', 'quantity', 'percent', 'price_minor', 'discount_minor']);

type Parsed =
  | { ok: true; event?: ReturnType<typeof toRecords>['event']; user?: UserRecord; item?: ItemRecord | null; outreach?: ImportedOutreach }
  | { ok: false; issues: FieldIssue[] };

/** A CSV cell → the JSON value the event schema expects: empty means absent, numbers become numbers. */
function cell(column: string, v: string): unknown {
  if (NUMERIC.has(column) && /^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  return v;
}

function csvToObject(kind: FileKind, row: Record<string, string>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, raw] of Object.entries(row)) {
    if (raw === '' || raw === undefined || !KNOWN[kind].includes(k)) continue;
    if (kind === 'events') o[k === 'event_id' ? 'id' : k] = cell(k, raw);
    else if (k === 'tags') o.tags = raw.split('|').map((t) => t.trim()).filter(Boolean);
    else o[k] = cell(k, raw);
  }
  return o;
}

function parseRow(kind: FileKind, o: unknown, source: string): Parsed {
  if (kind === 'outreach') {
    const r = parseOutreachImportRow(o);
    return r.ok ? { ok: true, outreach: r.row } : r;
  }
  if (kind === 'events') {
    const r = parseEvent(o);
    if (!r.ok) return r;
    const rec = toRecords(r.event, source);
    return { ok: true, event: rec.event, user: rec.user, item: rec.item };
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return { ok: false, issues: [{ field: '(row)', message: 'must be an object' }] };
  const { [kind === 'items' ? 'item_id' : 'user_id']: rawId, ...rest } = o as Record<string, unknown>;
  const id = Id.safeParse(rawId);
  if (!id.success) return { ok: false, issues: describeIssues(id.error, kind === 'items' ? 'item_id' : 'user_id', rawId).map((i) => ({ ...i, message: rawId === undefined ? 'is required' : i.message })) };
  const schema: z.ZodType = kind === 'items' ? ItemProfile : UserProfile;
  const p = schema.safeParse(rest);
  if (!p.success) return { ok: false, issues: describeIssues(p.error, '', rest) };
  if (kind === 'items') {
    const d = p.data as z.infer<typeof ItemProfile>;
    return { ok: true, item: { id: id.data, title: d.title, itemType: d.item_type, category: d.category, tags: d.tags, description: d.description, priceMinor: d.price_minor, currency: d.currency, url: d.url } };
  }
  const d = p.data as z.infer<typeof UserProfile>;
  return { ok: true, user: { id: id.data, email: d.email, name: d.name, locale: d.locale, timezone: d.timezone, signupAt: d.signup_at ? new Date(d.signup_at) : undefined } };
}

/** Why a CSV header cannot be read as `kind`, or null when it can. */
function headerProblem(file: string, kind: FileKind, header: readonly string[]): string | null {
  const expected = `expected columns: ${KNOWN[kind].join(',')}`;
  const missing = REQUIRED[kind].filter((c) => !header.includes(c));
  if (missing.length) return `${file}: the header row lacks required column(s) ${missing.join(', ')}; ${expected}`;
  if (STRICT_HEADER.has(kind)) {
    const unknown = header.filter((c) => !KNOWN[kind].includes(c));
    if (unknown.length) return `${file}: the header row has unknown column(s) ${unknown.join(', ')}; ${expected}`;
    const repeated = header.filter((c, i) => header.indexOf(c) !== i);
    if (repeated.length) return `${file}: the header row repeats column(s) ${[...new Set(repeated)].join(', ')}`;
  }
  return null;
}

function formatOf(file: string): 'csv' | 'ndjson' {
  const ext = extname(file).toLowerCase();
  if (ext === '.ndjson' || ext === '.jsonl') return 'ndjson';
  if (ext === '.csv') return 'csv';
  throw new ValidationError(`${file}: unknown format "${ext}"; expected .csv, .ndjson or .jsonl`);
}

/**
 * Checks that a file exists, has a known format and (CSV) a usable header, reading only its
 * first record: run for every file before the first write, so a bad header in the last file
 * does not leave the first ones half imported.
 */
async function checkFile(file: string, kind: FileKind): Promise<void> {
  try {
    statSync(file);
  } catch {
    throw new ValidationError(`${file}: no such file`);
  }
  if (formatOf(file) !== 'csv') return;
  // A header longer than 1 MiB is not one; `to: 1` stops the parser after the first record.
  const input = createReadStream(file, { end: 1024 * 1024 - 1 });
  try {
    const parser = input.pipe(parseCsv({ bom: true, skip_empty_lines: true, relax_column_count: true, relax_quotes: true, to: 1 }));
    for await (const record of parser as AsyncIterable<string[]>) {
      const problem = headerProblem(file, kind, record.map((c) => c.trim()));
      if (problem) throw new ValidationError(problem);
      return;
    }
    // An empty file imports nothing, as it always has.
  } finally {
    input.destroy();
  }
}

/** Yields `{ line, value }` for each row of a CSV or NDJSON file, counting bytes for progress. */
async function* readRows(file: string, kind: FileKind, onBytes: (n: number) => void): AsyncGenerator<{ line: number; value: unknown } | { line: number; error: string }> {
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onBytes(chunk.length);
      cb(null, chunk);
    },
  });
  const input = createReadStream(file).on('error', (e) => counter.destroy(e)).pipe(counter);
  if (formatOf(file) === 'ndjson') {
    let line = 0;
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      line++;
      if (text.trim() === '') continue;
      try {
        const v: unknown = JSON.parse(text);
        yield { line, value: v };
      } catch (e) {
        yield { line, error: `not valid JSON: ${(e as Error).message}` };
      }
    }
    return;
  }
  let header: string[] | null = null;
  const parser = input.pipe(parseCsv({ bom: true, info: true, skip_empty_lines: true, relax_column_count: true, relax_quotes: true }));
  for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    if (header === null) {
      header = rec.record.map((c) => c.trim());
      const problem = headerProblem(file, kind, header);
      if (problem) throw new ValidationError(problem);
      continue;
    }
    if (rec.record.length !== header.length) {
      yield { line: rec.info.lines, error: `expected ${header.length} cells as in the header, got ${rec.record.length}` };
      continue;
    }
    const row: Record<string, string> = {};
    header.forEach((h, i) => (row[h] = rec.record[i]!));
    yield { line: rec.info.lines, value: csvToObject(kind, row) };
  }
}

interface Writers {
  rows: BatchWriter;
  outreach: OutreachImportWriter;
}

async function passFile(
  file: string,
  kind: FileKind,
  phase: 'validate' | 'write',
  req: ImportRequest,
  writers: Writers | null,
  report: ImportReport,
): Promise<FileReport> {
  const source = req.source ?? 'default';
  const maxReported = req.maxReported ?? 100;
  const totalBytes = statSync(file).size;
  const fr: FileReport = { file, kind, rows: 0, valid: 0, bad: 0, inserted: 0, duplicates: 0 };
  let bytes = 0;
  let lastTick = 0;
  const tick = (force = false) => {
    const now = performance.now();
    if (req.onProgress && (force || now - lastTick > 200)) {
      lastTick = now;
      req.onProgress({ file, kind, phase, rows: fr.rows, bytes, totalBytes });
    }
  };
  // Events and outreach count new rows and duplicates; items and users are upserts.
  const counted = writers ? (kind === 'outreach' ? writers.outreach.stats : writers.rows.stats) : null;
  const before = counted ? { inserted: counted.inserted, duplicates: counted.duplicates } : null;
  for await (const row of readRows(file, kind, (n) => (bytes += n))) {
    fr.rows++;
    const parsed: Parsed = 'error' in row ? { ok: false, issues: [{ field: '(row)', message: row.error }] } : parseRow(kind, row.value, source);
    if (!parsed.ok) {
      fr.bad++;
      if (phase === 'validate' || !req.strict) {
        report.badTotal++;
        for (const i of parsed.issues.slice(0, 3)) if (report.badRows.length < maxReported) report.badRows.push({ file, line: row.line, field: i.field, message: i.message });
      }
      if (req.strict) {
        tick(true);
        return fr;
      }
      continue;
    }
    fr.valid++;
    if (writers) {
      if (parsed.outreach) await writers.outreach.add(parsed.outreach);
      else if (parsed.event) await writers.rows.add({ event: parsed.event, user: { id: parsed.event.userId }, item: parsed.event.itemId ? { id: parsed.event.itemId } : undefined });
      else await writers.rows.add({ user: parsed.user, item: parsed.item ?? undefined });
    }
    tick();
  }
  if (writers && counted && before) {
    await (kind === 'outreach' ? writers.outreach.flush() : writers.rows.flush());
    fr.inserted = counted.inserted - before.inserted;
    fr.duplicates = counted.duplicates - before.duplicates;
  }
  tick(true);
  return fr;
}

/**
 * Imports the files a request names, in the order items, users, events, outreach (past
 * campaigns last, after the events they will be settled against). Throws a ValidationError
 * before writing anything when a file is missing, has an unknown format or a header that
 * lacks a required column.
 */
export async function importFiles(deps: ImportDeps, req: ImportRequest): Promise<ImportReport> {
  const files = (['items', 'users', 'events', 'outreach'] as const).flatMap((kind) => (req[kind] ? [{ kind, file: req[kind] }] : []));
  if (files.length === 0) throw new ValidationError('nothing to import: give --events, --items, --users or --outreach');
  for (const f of files) await checkFile(f.file, f.kind);
  const report: ImportReport = { files: [], badRows: [], badTotal: 0, written: false };
  if (req.strict) {
    // All or nothing: validate everything before the first write.
    for (const f of files) {
      const fr = await passFile(f.file, f.kind, 'validate', req, null, report);
      if (fr.bad > 0) {
        report.files.push(fr);
        return report;
      }
    }
  }
  const writers: Writers = { rows: createBatchWriter(deps.db), outreach: createOutreachImportWriter(deps.db) };
  for (const f of files) {
    report.files.push(await passFile(f.file, f.kind, 'write', req, writers, report));
  }
  await writers.rows.flush();
  await writers.outreach.flush();
  await analyzeTables(deps.db);
  if (req.outreach) await analyzeOutreach(deps.db);
  report.written = true;
  deps.log.info({ files: report.files, badTotal: report.badTotal }, 'import finished');
  return report;
}
