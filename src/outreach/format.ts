/**
 * Locale-aware formatting of money and dates for outreach email. Intl formatters are costly
 * to build (~0.1 ms for a DateTimeFormat, more than rendering a whole template), so each
 * distinct one is built once and reused; the key spaces are small (locales × currencies,
 * locales × zones).
 */
import { ValidationError } from '../domain/errors.js';
import type { EmailLocale } from './reasons.js';

const MAX_CACHED = 2_000;

function memo<T>(cache: Map<string, T>, key: string, make: () => T): T {
  let v = cache.get(key);
  if (v === undefined) {
    v = make();
    // Time zones come from user data: bound the cache so junk cannot grow it without limit.
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(key, v);
  }
  return v;
}

const zones = new Map<string, string>();
const numberFormats = new Map<string, Intl.NumberFormat>();
const dateFormats = new Map<string, Intl.DateTimeFormat>();

/** `timeZone` when the runtime knows it (canonical spelling), else `'UTC'` (user data may hold anything). */
export function resolveTimeZone(timeZone: string | null | undefined): string {
  if (!timeZone) return 'UTC';
  return memo(zones, timeZone, () => {
    try {
      return new Intl.DateTimeFormat('en', { timeZone }).resolvedOptions().timeZone;
    } catch {
      // RangeError: not an IANA zone this ICU knows. Falling back is the documented behaviour.
      return 'UTC';
    }
  });
}

function currencyFormat(locale: string, currency: string, display: 'code' | 'symbol'): Intl.NumberFormat {
  return memo(numberFormats, `${locale}|${currency}|${display}`, () => {
    const digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    return new Intl.NumberFormat(locale, {
      style: 'currency',
      currency,
      currencyDisplay: display,
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
  });
}

/** How many minor units a currency has (CNY 2, JPY 0, KWD 3), per ICU. */
export function currencyDigits(currency: string): number {
  return currencyFormat('en', currency, 'code').resolvedOptions().maximumFractionDigits ?? 2;
}

/**
 * An amount in minor units as money: zh-CN uses the symbol (`¥30.00`, `US$5.00`), English
 * the ISO code (`CNY 30.00`) because "¥" is ambiguous between yuan and yen for English readers.
 * @throws ValidationError for a non-integer amount or a malformed currency code
 */
export function formatMoney(minor: number, currency: string, locale: EmailLocale): string {
  if (!Number.isSafeInteger(minor)) throw new ValidationError(`money amount must be an integer in minor units, got ${minor}`);
  if (!/^[A-Z]{3}$/.test(currency)) throw new ValidationError(`currency must be an ISO 4217 code like CNY, got ${JSON.stringify(currency)}`);
  return currencyFormat(locale, currency, locale === 'en' ? 'code' : 'symbol').format(minor / 10 ** currencyDigits(currency));
}

/** A plain number with up to two decimals ("8.5", "20"). */
export function formatDecimal(n: number): string {
  return memo(numberFormats, 'decimal', () => new Intl.NumberFormat('en', { maximumFractionDigits: 2 })).format(n);
}

/**
 * A moment as a date and time in the reader's language and zone. English always names the
 * zone ("March 31, 2025 at 11:59 PM EDT"); Chinese names it only when it is not UTC+8, the
 * zone almost every zh-CN reader lives in ("2025年3月31日 23:59").
 */
export function formatDateTime(at: Date, locale: EmailLocale, timeZone: string | null | undefined): string {
  const tz = resolveTimeZone(timeZone);
  if (locale === 'en') {
    return memo(
      dateFormats,
      `en|${tz}`,
      () =>
        new Intl.DateTimeFormat('en', {
          year: 'numeric',
          month: 'long',
          day: 'numeric',
          hour: 'numeric',
          minute: '2-digit',
          timeZone: tz,
          timeZoneName: 'short',
        }),
    ).format(at);
  }
  const text = memo(dateFormats, `zh|${tz}`, () => new Intl.DateTimeFormat('zh-CN', { dateStyle: 'long', timeStyle: 'short', timeZone: tz })).format(at);
  const zone = memo(dateFormats, `zh-zone|${tz}`, () => new Intl.DateTimeFormat('zh-CN', { timeZone: tz, timeZoneName: 'short' }))
    .formatToParts(at)
    .find((p) => p.type === 'timeZoneName')?.value;
  return zone && zone !== 'GMT+8' ? `${text}（${zone}）` : text;
}
