/**
 * Local wall-clock timestamps (no offset, as many exports keep them) → UTC instants, in an
 * IANA time zone the importer is told (`rekindle import --timezone`). Pure: no clock reads.
 */

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?$/;
/** An ISO 8601 date-time with an explicit offset (or Z); a space instead of T is tolerated. */
const WITH_OFFSET = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(tz, f);
  }
  return f;
}

/** The wall-clock fields of instant `ms` in `tz`, as if they were UTC (milliseconds dropped). */
function wallAsUtc(ms: number, tz: string): number {
  const p: Record<string, number> = {};
  for (const part of formatter(tz).formatToParts(new Date(ms))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
}

/** Whether `tz` is an IANA time zone this runtime knows. */
export function isTimeZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

export type LocalTimeResult = { ok: true; iso: string } | { ok: false; message: string };

/**
 * Reads a timestamp cell: one with an offset passes through (a space before the time becomes
 * `T`); one without is local time in `tz`, or an error saying to use `--timezone` when no zone
 * was given. A local time the clocks skipped (spring forward) is refused; one they repeat (fall
 * back) is the earlier instant.
 */
export function resolveTimestamp(value: string, tz: string | undefined): LocalTimeResult | null {
  const v = value.trim();
  if (WITH_OFFSET.test(v)) return { ok: true, iso: v.replace(' ', 'T').replace(/([+-]\d{2})(\d{2})$/, '$1:$2') };
  const m = LOCAL.exec(v);
  if (!m) return null; // not a timestamp at all: the schema says what is wrong
  if (tz === undefined) {
    const example = `${m[1]}-${m[2]}-${m[3]}T${m[4] ?? '00'}:${m[5] ?? '00'}:${m[6] ?? '00'}`;
    return { ok: false, message: `"${v}" has no time zone offset: add one (e.g. ${example}Z or ${example}+08:00), or import with --timezone <IANA zone> (e.g. --timezone Europe/London) to read it as local time there` };
  }
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = ''] = m;
  const wall = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(wall) || new Date(wall).getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59)
    return { ok: false, message: `"${v}" is not a valid date and time` };
  // The offset at a guess, then at the corrected instant: two steps settle every DST rule.
  const first = wall - (wallAsUtc(wall, tz) - wall);
  const candidates = [first, wall - (wallAsUtc(first, tz) - first)].filter((t) => wallAsUtc(t, tz) === wall).sort((a, b) => a - b);
  // Fall back: the hour before the change also maps to this wall time; take the earlier instant.
  for (const t of [candidates[0]]) if (t !== undefined && wallAsUtc(t - 3600_000, tz) === wall) candidates.unshift(t - 3600_000);
  const at = candidates[0];
  if (at === undefined) return { ok: false, message: `"${v}" does not exist in ${tz} (the clocks skipped it)` };
  const ms = frac ? `.${frac.padEnd(3, '0').slice(0, 3)}` : '';
  return { ok: true, iso: new Date(at).toISOString().replace('.000Z', `${ms}Z`) };
}
