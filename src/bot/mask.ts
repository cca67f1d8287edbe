/**
 * Masks personal data for Slack readers outside SLACK_PII_USERS: enough left to tell two
 * users apart in a list and to recognise someone you already know, not enough to contact them.
 */

const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;

/** `alice@example.com` → `a***@example.com`; anything without an `@` → `***`. */
export function maskEmail(email: string | null | undefined): string | null {
  if (email === null || email === undefined || email.trim() === '') return null;
  const e = email.trim();
  const at = e.lastIndexOf('@');
  if (at < 1) return '***';
  const first = Array.from(e.slice(0, at))[0] as string;
  return `${first}***${e.slice(at)}`;
}

/**
 * Chinese, Japanese and Korean names keep their first character and star the rest, one star
 * per character (`李雷` → `李*`, `欧阳娜娜` → `欧***`); other names keep each word's initial
 * (`Ada Lovelace` → `A*** L***`).
 */
export function maskName(name: string | null | undefined): string | null {
  if (name === null || name === undefined) return null;
  const n = name.trim().replace(/\s+/g, ' ');
  if (n === '') return null;
  const chars = Array.from(n);
  if (CJK.test(chars[0] as string)) return `${chars[0]}${'*'.repeat(Math.max(1, chars.length - 1))}`;
  return n
    .split(' ')
    .map((w) => `${Array.from(w)[0]}***`)
    .join(' ');
}

/**
 * A coupon code is money to whoever holds it: readers outside SLACK_PII_USERS see about its
 * first quarter (at most four characters, enough to tell a campaign's prefix) and stars
 * (`RK-AAAA-BBBB-CCCC` → `RK-A***`, `SAVE10` → `S***`); codes of three characters or fewer
 * show nothing.
 */
export function maskCouponCode(code: string): string {
  const chars = Array.from(code.trim());
  const shown = Math.min(4, Math.floor(chars.length / 4));
  return `${chars.slice(0, shown).join('')}***`;
}
