/**
 * Email rendering: Handlebars templates in `templates/`, compiled once per renderer.
 *
 * Two Handlebars environments keep the two kinds of output apart: the HTML one escapes every
 * `{{value}}` (`noEscape` stays false, and a unit test refuses `{{{…}}}` in HTML templates);
 * the text one does not escape, and its output only ever becomes the `text/plain` part.
 * Both compile in strict mode, so a template naming a field the view lacks fails loudly
 * instead of rendering an empty string.
 *
 * Files: `<kind>.<locale>.html.hbs`, `<kind>.<locale>.txt.hbs`, partials in `partials/`
 * (`*.html.hbs` for the HTML environment, `*.txt.hbs` for the text one), and
 * `subjects.json` with the subject and preheader of each kind and locale.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import { ValidationError } from '../domain/errors.js';
import { formatDateTime, formatDecimal, formatMoney } from './format.js';
import { pickLocale, renderReason, type EmailLocale, type RecommendationReason } from './reasons.js';
import { cleanName, singleLine } from './text.js';

export type EmailKind = 'winback' | 'coupon';

/** A coupon as the email shows it. */
export interface EmailCoupon {
  code: string;
  kind: 'amount' | 'percent';
  /** Minor units for `amount` (3000 = ¥30.00), a percentage for `percent` (20 = 20% off). */
  value: number;
  /** ISO 4217 code; required for `amount`. */
  currency: string | null;
  expiresAt: Date;
}

/** Everything an outreach email says. */
export interface EmailContent {
  kind: EmailKind;
  /** The user's stored locale; zh* renders Chinese, anything else English. */
  locale: string | null;
  /** The user's IANA zone for dates; unknown or null → UTC. */
  timeZone: string | null;
  user: { name: string | null; email: string };
  /**
   * Best first. At least 1 for a win-back; the first {@link MAX_RECOMMENDATIONS} are shown. `url`
   * (http(s)) links the title; outreach passes the item's tracked `/r/<token>` link, not its page.
   */
  recommendations: { itemId: string; title: string; reason: RecommendationReason; url?: string | null }[];
  /** Required when `kind` is `coupon`. */
  coupon?: EmailCoupon;
  /** http(s) link to the unsubscribe page (the signed token is the caller's business). */
  unsubscribeUrl: string;
  /**
   * Optional http(s) link for the call-to-action button. Without it a coupon email's button leads
   * to the first shown recommendation that has a `url`; failing that (and in a win-back) the email
   * says "open the app".
   */
  ctaUrl?: string | null;
  /**
   * Titles of items that reasons refer to ("Because you bought X": X is usually not among the
   * recommendations). Missing titles fall back to a generic phrase.
   */
  relatedTitles?: Readonly<Record<string, string>>;
  now: Date;
}

export interface RenderedEmail {
  /** One line, no control characters. */
  subject: string;
  html: string;
  text: string;
}

export interface EmailRenderer {
  render(input: EmailContent): RenderedEmail;
}

/** At most this many recommendations are shown. */
export const MAX_RECOMMENDATIONS = 5;
const KINDS: readonly EmailKind[] = ['winback', 'coupon'];
const LOCALES: readonly EmailLocale[] = ['zh-CN', 'en'];
const DAY_MS = 86_400_000;

/** The repository's `templates/` folder. */
export const DEFAULT_TEMPLATES_DIR = fileURLToPath(new URL('../../templates/', import.meta.url));

type Compiled = (view: View) => string;

interface View {
  lang: EmailLocale;
  subject: string;
  preheader: string;
  name: string | null;
  recommendations: { title: string; reason: string; url: string | null }[];
  coupon: {
    code: string;
    value: string;
    offer: string;
    expires: string;
    daysLeft: number;
    daysLeftText: string;
  } | null;
  ctaUrl: string | null;
  unsubscribeUrl: string;
}

const COMPILE_HTML: CompileOptions = { strict: true, noEscape: false, knownHelpersOnly: true };
const COMPILE_TEXT: CompileOptions = { strict: true, noEscape: true, knownHelpersOnly: true };
type CompileOptions = NonNullable<Parameters<typeof Handlebars.compile>[1]>;

/**
 * Reads and compiles every template in `dir` now, so a broken template fails at startup
 * rather than on the first send.
 * @throws Error naming the missing or broken file
 */
export function createEmailRenderer(opts: { dir?: string } = {}): EmailRenderer {
  const dir = opts.dir ?? DEFAULT_TEMPLATES_DIR;
  const htmlEnv = Handlebars.create();
  const textEnv = Handlebars.create();
  const partialsDir = join(dir, 'partials');
  for (const file of readdirSync(partialsDir)) {
    const m = /^(.+)\.(html|txt)\.hbs$/.exec(file);
    if (!m) continue;
    const env = m[2] === 'html' ? htmlEnv : textEnv;
    const options = m[2] === 'html' ? COMPILE_HTML : COMPILE_TEXT;
    env.registerPartial(m[1] as string, env.compile(readFileSync(join(partialsDir, file), 'utf8'), options));
  }
  const subjects = JSON.parse(readFileSync(join(dir, 'subjects.json'), 'utf8')) as Record<
    string,
    Record<string, { subject?: string; preheader?: string } | undefined> | undefined
  >;
  const compiled = new Map<string, { html: Compiled; text: Compiled; subject: Compiled; preheader: Compiled }>();
  for (const kind of KINDS) {
    for (const locale of LOCALES) {
      const lines = subjects[kind]?.[locale];
      if (!lines?.subject || !lines.preheader) throw new Error(`templates: subjects.json lacks ${kind}.${locale}.subject or .preheader`);
      compiled.set(`${kind}.${locale}`, {
        html: htmlEnv.compile(readFileSync(join(dir, `${kind}.${locale}.html.hbs`), 'utf8'), COMPILE_HTML),
        text: textEnv.compile(readFileSync(join(dir, `${kind}.${locale}.txt.hbs`), 'utf8'), COMPILE_TEXT),
        subject: textEnv.compile(lines.subject, COMPILE_TEXT),
        preheader: textEnv.compile(lines.preheader, COMPILE_TEXT),
      });
    }
  }
  // Compilation is lazy in Handlebars; render each template once with a sample so syntax
  // errors and unknown fields surface here.
  for (const kind of KINDS) {
    for (const locale of LOCALES) {
      render(sample(kind, locale, true));
      render(sample(kind, locale, false));
    }
  }

  function render(input: EmailContent): RenderedEmail {
    const locale = pickLocale(input.locale);
    const t = compiled.get(`${input.kind}.${locale}`);
    if (!t) throw new ValidationError(`unknown email kind ${JSON.stringify(input.kind)}`);
    const view = buildView(input, locale);
    view.preheader = singleLine(t.preheader(view), 200);
    view.subject = singleLine(t.subject(view), 200);
    return { subject: view.subject, html: tidy(t.html(view)), text: tidy(t.text(view)) };
  }
  return { render };
}

let defaultRenderer: EmailRenderer | undefined;

/**
 * Renders an outreach email with the templates in `templates/` (compiled on first use).
 * @throws ValidationError when the content cannot make a sensible email (no recommendations
 *   for a win-back, a coupon email without a coupon or with an expired one, a non-http link)
 */
export function renderEmail(input: EmailContent): RenderedEmail {
  defaultRenderer ??= createEmailRenderer();
  return defaultRenderer.render(input);
}

function buildView(input: EmailContent, locale: EmailLocale): View {
  const unsubscribeUrl = httpUrl(input.unsubscribeUrl, 'unsubscribeUrl');
  const ctaUrl = input.ctaUrl ? httpUrl(input.ctaUrl, 'ctaUrl') : null;
  const recs = input.recommendations.slice(0, MAX_RECOMMENDATIONS);
  if (input.kind === 'winback' && recs.length === 0) {
    throw new ValidationError('a win-back email needs at least one recommendation');
  }
  const titles = new Map<string, string>();
  for (const [id, title] of Object.entries(input.relatedTitles ?? {})) titles.set(id, title);
  for (const r of input.recommendations) if (!titles.has(r.itemId)) titles.set(r.itemId, r.title);
  const titleOf = (id: string): string | undefined => titles.get(id);
  const recommendations = recs.map((r) => ({
    title: singleLine(r.title, 200),
    reason: renderReason(r.reason, locale, titleOf),
    url: r.url ? httpUrl(r.url, `url of recommendation ${r.itemId}`) : null,
  }));
  const cta = ctaUrl ?? (input.kind === 'coupon' ? (recommendations.find((r) => r.url !== null)?.url ?? null) : null);
  let coupon: View['coupon'] = null;
  if (input.kind === 'coupon') {
    if (!input.coupon) throw new ValidationError('a coupon email needs a coupon');
    coupon = couponView(input.coupon, locale, input.timeZone, input.now);
  }
  return {
    lang: locale,
    subject: '',
    preheader: '',
    name: cleanName(input.user.name),
    recommendations,
    coupon,
    ctaUrl: cta,
    unsubscribeUrl,
  };
}

function couponView(c: EmailCoupon, locale: EmailLocale, timeZone: string | null, now: Date): NonNullable<View['coupon']> {
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{2,63}$/.test(c.code)) {
    throw new ValidationError('coupon code must be 3–64 letters, digits or dashes');
  }
  const msLeft = c.expiresAt.getTime() - now.getTime();
  if (!(msLeft > 0)) throw new ValidationError(`coupon ${c.code} has already expired (or expiresAt is not a valid date)`);
  const daysLeft = Math.ceil(msLeft / DAY_MS);
  let value: string;
  let offer: string;
  if (c.kind === 'amount') {
    if (!c.currency) throw new ValidationError(`coupon ${c.code}: an amount coupon needs a currency`);
    if (!(c.value > 0)) throw new ValidationError(`coupon ${c.code}: amount must be positive, got ${c.value}`);
    value = formatMoney(c.value, c.currency, locale);
    offer = locale === 'zh-CN' ? `${value} 优惠券` : `${value} off`;
  } else {
    if (!(c.value > 0 && c.value <= 100)) throw new ValidationError(`coupon ${c.code}: percent must be in (0, 100], got ${c.value}`);
    const pct = formatDecimal(c.value);
    if (locale === 'zh-CN') {
      // Chinese states the price paid, not the discount: 20% off is 8折, 15% off is 8.5折.
      const zhe = formatDecimal((100 - c.value) / 10);
      value = c.value >= 100 ? '免费' : `${zhe}折`;
      offer = c.value >= 100 ? '免费兑换券' : `${value}优惠券`;
    } else {
      value = `${pct}% off`;
      offer = value;
    }
  }
  return {
    code: c.code,
    value,
    offer,
    expires: formatDateTime(c.expiresAt, locale, timeZone),
    daysLeft,
    daysLeftText: daysLeft === 1 ? '1 day left' : `${daysLeft} days left`,
  };
}

function httpUrl(raw: string, what: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ValidationError(`${what} is not a valid URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new ValidationError(`${what} must be an http(s) URL`);
  return u.href;
}

/** Strips trailing spaces and collapses runs of blank lines left by block helpers. */
function tidy(s: string): string {
  return `${s
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;
}

/** Content that takes every branch of the templates (`full`) or the other side of each. */
function sample(kind: EmailKind, locale: EmailLocale, full: boolean): EmailContent {
  const now = new Date(Date.UTC(2025, 0, 1));
  return {
    kind,
    locale,
    timeZone: 'UTC',
    user: { name: full ? 'Sample' : null, email: 'sample@example.com' },
    recommendations: [
      { itemId: 'i1', title: 'Sample', reason: { kind: 'popular' as const }, url: full ? 'https://example.com/i1' : null },
    ].slice(0, full || kind === 'winback' ? 1 : 0),
    coupon: full
      ? { code: 'SAMPLE-1', kind: 'amount', value: 100, currency: 'CNY', expiresAt: new Date(now.getTime() + DAY_MS) }
      : { code: 'SAMPLE-2', kind: 'percent', value: 20, currency: null, expiresAt: new Date(now.getTime() + 3 * DAY_MS) },
    unsubscribeUrl: 'https://example.com/u',
    ctaUrl: full ? 'https://example.com/' : null,
    now,
  };
}
