/** Making untrusted text safe to put on one line: subjects, display names, titles. */

// C0 and C1 controls (CR, LF, TAB, NUL…), DEL, the Unicode line and paragraph separators,
// and the bidi embedding/override/isolate controls (which can make a name display as
// something else, e.g. "moc.elgoog@").
const UNSAFE = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]+/gu;

/**
 * `s` on one line: control characters become a single space, runs of whitespace collapse,
 * the ends are trimmed and the result is cut to `maxLength` code points (with "…").
 */
export function singleLine(s: string, maxLength = 200): string {
  const flat = s.replace(UNSAFE, ' ').replace(/\s+/gu, ' ').trim();
  const chars = Array.from(flat);
  return chars.length <= maxLength ? flat : `${chars.slice(0, Math.max(0, maxLength - 1)).join('').trimEnd()}…`;
}

/** A display name cleaned with {@link singleLine}, or null when nothing printable is left. */
export function cleanName(name: string | null | undefined, maxLength = 60): string | null {
  if (typeof name !== 'string') return null;
  const n = singleLine(name, maxLength);
  return n.length > 0 ? n : null;
}
