/**
 * Entities in a question: tokens that may be user ids (any shape: `42`, `u1074`, `a3f9c2`, a
 * UUID) and email addresses (Slack's `<mailto:…|…>` form is undone by cleanText first). The
 * candidates are found here without I/O; the bot then checks the id candidates against the
 * users table in one indexed query (`id = any($1)`, the primary key), at most
 * {@link MAX_CANDIDATES} of them, so a question costs one bounded lookup whatever it says.
 *
 * Emails are never looked up here: an address is a user reference by its shape, and whether the
 * viewer may use one as a key (personal data) is decided where the user is shown (answers.ts),
 * so the existence of an address is not revealed by how the bot parses a question.
 */
import { cleanText } from './intent.js';

/** Id candidates looked up per question, at most. */
export const MAX_CANDIDATES = 3;

const EMAIL = /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}/g;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Tokens: runs of id characters (CJK, spaces and punctuation split them: "看下u1074" → "u1074"). */
const TOKEN = /[A-Za-z0-9_.:#-]{1,128}/g;
/** Letters and digits mixed ("u1074", "a3f9c2", "user_42"): an id by its shape. */
const MIXED = /^(?=[A-Za-z0-9_.:-]{0,127}\d)(?=[A-Za-z0-9_.:-]{0,127}[A-Za-z])[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
/** Shapes that are numbers with a unit or a count, not ids: 30d, 7days, 2weeks, top20, q3, 3pm, 1st. */
const NOT_AN_ID = /^(\d{1,6}(d|h|m|w|y|s|k|x|am|pm|st|nd|rd|th|days?|weeks?|months?|years?|mins?|hrs?|%)|top\d{1,6}|q[1-4])$/i;
/** Words after a bare number that make it a count or a period, not an id. */
const UNIT_AFTER = /^\s{0,3}(个|位|名|人|条|天|日|周|月|年|次|%|days?\b|weeks?\b|months?\b|years?\b|users?\b|customers?\b|people\b|percent\b)/iu;
/** Words before a bare number that make it a count ("top 20", "前 20", "last 30"). */
const COUNT_BEFORE = /(\btop|\blast|\bpast|\bnext|\bfirst|前|最近|近|过去)\s{0,3}$/iu;

export interface Candidates {
  /** Lower-cased email addresses, in order of appearance (at most {@link MAX_CANDIDATES}). */
  readonly emails: readonly string[];
  /** Tokens that may be user ids, in order of appearance (at most {@link MAX_CANDIDATES}). */
  readonly ids: readonly string[];
}

/**
 * The entity candidates of a question. A token is an id candidate when it mixes letters and
 * digits (`u1074`, `a3f9c2`, `user_42`), is a UUID, or is a bare number (`42`) not used as a
 * count or a period ("top 20", "30 days", "20 个"). Short unit-like shapes (`30d`, `q3`, `3pm`)
 * are not candidates; short ids like `u7` are (the lookup decides). Text is cleaned (and cut to 500 characters) first.
 */
export function entityCandidates(text: string): Candidates {
  const t = cleanText(text);
  const emails: string[] = [];
  for (const m of t.matchAll(EMAIL)) {
    if (emails.length >= MAX_CANDIDATES) break;
    const e = m[0].toLowerCase();
    if (!emails.includes(e)) emails.push(e);
  }
  const withoutEmails = t.replace(EMAIL, ' ');
  const ids: string[] = [];
  for (const m of withoutEmails.matchAll(TOKEN)) {
    if (ids.length >= MAX_CANDIDATES) break;
    let token = m[0].replace(/^#{1,128}/, '');
    while (token.length > 0 && '.:-'.includes(token[token.length - 1] as string)) token = token.slice(0, -1);
    if (token.length === 0 || ids.includes(token)) continue;
    if (UUID.test(token) || (MIXED.test(token) && !NOT_AN_ID.test(token))) {
      ids.push(token);
      continue;
    }
    if (/^\d{1,20}$/.test(token)) {
      const before = withoutEmails.slice(0, m.index);
      const after = withoutEmails.slice((m.index ?? 0) + m[0].length);
      if (!UNIT_AFTER.test(after) && !COUNT_BEFORE.test(before)) ids.push(token);
    }
  }
  return { emails, ids };
}

/**
 * The question with entities replaced by placeholders, for the classifier: emails → `ⓔ`,
 * id-shaped tokens → `ⓤ`, other digit runs → `0`. Intent depends on the wording, not on which
 * user or number was named, and the corpus then teaches every id shape at once.
 */
export function maskEntities(cleaned: string): string {
  return cleaned
    .replace(EMAIL, ' ⓔ ')
    .replace(TOKEN, (token) => {
      const bare = token.replace(/^#{1,128}/, '');
      if (UUID.test(bare) || (MIXED.test(bare) && !NOT_AN_ID.test(bare))) return ' ⓤ ';
      return token.replace(/\d{1,20}/g, '0');
    });
}
