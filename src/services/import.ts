/**
 * Imports CSV or NDJSON exports of a product's history (formats in the README). Streams
 * each file once per pass and writes through the batch writer, so memory stays flat for
 * any file size. Idempotent: events are keyed by (source, event_id), users and items are
 * upserts. Bad rows are reported with file and line; `strict` validates the whole input
 * first and writes nothing if any row is bad.
 */
import { createReadStream, statSync } from 'node:fs';
import { extname } from 'node:path';
import { Transform } from 'node:stream';
import { createInterface } from 'node:readline';
import { parse as parseCsv } from 'csv-parse';
import type { z } from 'zod';
import { describeIssues, ItemProfile, parseEvent, toRecords, UserProfile, Id, type FieldIssue, type ItemRecord, type UserRecord } from '../domain/events.js';
import { ValidationError } from '../domain/errors.js';
import type { Database } from '../db/client.js';
import type { Logger } from '../logger.js';
import { analyzeTables, createBatchWriter, type BatchWriter } from '../store/batch-writer.js';

export type FileKind = 'events' | 'items' | 'users';

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
  strict?: boolean;
  source?: string;
  onProgress?: (p: ImportProgress) => void;
  maxReported?: number;
}

const EVENT_COLUMNS = ['event_id', 'type', 'user_id', 'occurred_at', 'item_id', 'amount_minor', 'currency', 'quantity', 'lesson_id', 'percent', 'coupon_code'];
const ITEM_COLUMNS = ['item_id', 'title', 'item_type', 'category', 'tags', 'description', 'price_minor', 'currency'];
const USER_COLUMNS = ['user_id', 'email', 'name', 'locale', 'timezone', 'signup_at'];
const REQUIRED: Record<FileKind, string[]> = {
  events: ['event_id', 'type', 'user_id', 'occurred_at'],
  items: ['item_id'],
  users: ['user_id'],
};
const KNOWN: Record<FileKind, string[]> = { events: EVENT_COLUMNS, items: ITEM_COLUMNS, users: USER_COLUMNS };
const NUMERIC = new Set(['amount_minor', 'quantity', 'percent', 'price_minor']);

type Parsed =
  | { ok: true; event?: ReturnType<typeof toRecords>['event']; user?: UserRecord; item?: ItemRecord | null }
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
    return { ok: true, item: { id: id.data, title: d.title, itemType: d.item_type, category: d.category, tags: d.tags, description: d.description, priceMinor: d.price_minor, currency: d.currency } };
  }
  const d = p.data as z.infer<typeof UserProfile>;
  return { ok: true, user: { id: id.data, email: d.email, name: d.name, locale: d.locale, timezone: d.timezone, signupAt: d.signup_at ? new Date(d.signup_at) : undefined } };
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
  const ext = extname(file).toLowerCase();
  if (ext === '.ndjson' || ext === '.jsonl') {
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
  if (ext !== '.csv') throw new ValidationError(`${file}: unknown format "${ext}"; expected .csv, .ndjson or .jsonl`);
  let header: string[] | null = null;
  const parser = input.pipe(parseCsv({ bom: true, info: true, skip_empty_lines: true, relax_column_count: true, relax_quotes: true }));
  for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    if (header === null) {
      header = rec.record.map((c) => c.trim());
      const missing = REQUIRED[kind].filter((c) => !header!.includes(c));
      if (missing.length) throw new ValidationError(`${file}: the header row lacks required column(s) ${missing.join(', ')}; expected columns: ${KNOWN[kind].join(',')}`);
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

async function passFile(
  file: string,
  kind: FileKind,
  phase: 'validate' | 'write',
  req: ImportRequest,
  writer: BatchWriter | null,
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
  const before = writer ? { ...writer.stats } : null;
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
    if (writer) {
      if (parsed.event) await writer.add({ event: parsed.event, user: { id: parsed.event.userId }, item: parsed.event.itemId ? { id: parsed.event.itemId } : undefined });
      else await writer.add({ user: parsed.user, item: parsed.item ?? undefined });
    }
    tick();
  }
  if (writer && before) {
    await writer.flush();
    fr.inserted = writer.stats.inserted - before.inserted;
    fr.duplicates = writer.stats.duplicates - before.duplicates;
  }
  tick(true);
  return fr;
}

export async function importFiles(deps: ImportDeps, req: ImportRequest): Promise<ImportReport> {
  const files = (['items', 'users', 'events'] as const).flatMap((kind) => (req[kind] ? [{ kind, file: req[kind] }] : []));
  if (files.length === 0) throw new ValidationError('nothing to import: give --events, --items or --users');
  for (const f of files) {
    try {
      statSync(f.file);
    } catch {
      throw new ValidationError(`${f.file}: no such file`);
    }
  }
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
  const writer = createBatchWriter(deps.db);
  for (const f of files) {
    report.files.push(await passFile(f.file, f.kind, 'write', req, writer, report));
  }
  await writer.flush();
  await analyzeTables(deps.db);
  report.written = true;
  deps.log.info({ files: report.files, badTotal: report.badTotal }, 'import finished');
  return report;
}
