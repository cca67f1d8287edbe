/**
 * ISO 4217 minor-unit exponents and the decimal major-unit → integer minor-unit conversion
 * behind the `amount` field (CSV column, NDJSON and webhook field, Segment's `revenue`).
 * Intl's currency digits come from CLDR, which differs from ISO 4217 for some codes (IQD,
 * IRR, LAK…), so the exceptions to "2" are listed here as ISO 4217 publishes them.
 */

/** ISO 4217 codes whose minor unit is not 2 (list one, as published). */
const EXPONENT: Readonly<Record<string, number>> = {
  // 0: no minor unit.
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0, UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  // 3: thousandths.
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  // 4.
  CLF: 4, UYW: 4,
};

/** Codes with no minor unit defined at all (precious metals, SDR, test and "no currency" codes): no amount converts. */
const NO_MINOR_UNIT = new Set(['XAG', 'XAU', 'XBA', 'XBB', 'XBC', 'XBD', 'XDR', 'XPD', 'XPT', 'XSU', 'XTS', 'XUA', 'XXX']);

/** The number of decimals in one major unit of `currency` (JPY 0, CNY 2, KWD 3), or null when ISO 4217 defines none. */
export function minorUnitExponent(currency: string): number | null {
  if (NO_MINOR_UNIT.has(currency)) return null;
  return EXPONENT[currency] ?? 2;
}

const DECIMAL = /^(\d{1,15})(?:\.(\d+))?$/;

/**
 * Converts a decimal amount in major units (`"199.00"`, `"1500"`, `"1.250"`) to integer minor
 * units of `currency`, exactly (string arithmetic, no floating point). Refuses more decimals
 * than the currency has (trailing zeros aside) and anything that is not a plain non-negative decimal.
 */
export function majorToMinor(amount: string, currency: string): { ok: true; minor: number } | { ok: false; message: string } {
  const m = DECIMAL.exec(amount.trim());
  if (!m) return { ok: false, message: `must be a non-negative decimal amount in major units such as 199.00, got "${amount}"` };
  const exp = minorUnitExponent(currency);
  if (exp === null) return { ok: false, message: `${currency} has no minor unit in ISO 4217: give amount_minor instead` };
  const whole = m[1]!;
  const frac = (m[2] ?? '').replace(/0+$/, '');
  if (frac.length > exp)
    return { ok: false, message: `${amount} has more decimals than ${currency} has (${exp}${exp === 0 ? ': it has no minor unit' : ''})` };
  const minor = Number(whole + frac.padEnd(exp, '0'));
  if (!Number.isSafeInteger(minor)) return { ok: false, message: `${amount} ${currency} is too large` };
  return { ok: true, minor };
}
