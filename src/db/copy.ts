/**
 * COPY … FROM STDIN text format: what bulk writes send instead of huge array parameters
 * (bench:models at 1M users: 32k score rows as 13 unnest arrays took ~3.7 s to bind; the
 * same rows copied take a fraction of it). Both drivers take it: postgres.js streams it,
 * PGlite reads it from '/dev/blob'.
 */

const SPECIAL = /[\\\t\n\r]/;
const SPECIAL_ALL = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** One value as a COPY text field: null → \N, objects as JSON, strings escaped. */
export function copyField(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    return Number.isFinite(v) ? String(v) : v > 0 ? 'Infinity' : '-Infinity';
  }
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (typeof v === 'bigint') return String(v);
  if (v instanceof Date) return v.toISOString();
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return SPECIAL.test(s) ? s.replace(SPECIAL_ALL, (c) => ESCAPES[c]!) : s;
}

/** Rows as COPY text: tab-separated fields, one line per row. */
export function copyText(rows: readonly (readonly unknown[])[]): string {
  let out = '';
  for (const row of rows) out += row.map(copyField).join('\t') + '\n';
  return out;
}

const IDENT = /^[a-z_][a-z0-9_]*$/;

/** `copy table (cols) from …` with the names checked: they are spliced into SQL. */
export function copyStatement(table: string, columns: readonly string[], source: 'stdin' | "'/dev/blob'"): string {
  for (const name of [table, ...columns]) if (!IDENT.test(name)) throw new Error(`not a plain SQL identifier: ${JSON.stringify(name)}`);
  return `copy ${table} (${columns.join(', ')}) from ${source}`;
}
