/**
 * Inbound event schemas: the one definition of what a product may send us, used by the
 * webhook endpoint, the CSV/NDJSON importer and the synthetic platform alike.
 */
import { z } from 'zod';
import { majorToMinor } from './currency.js';

export const EVENT_TYPES = [
  'signup',
  'view',
  'lesson_progress',
  'purchase',
  'refund',
  'renewal',
  'subscription_cancel',
  'payment_failed',
  'coupon_redeemed',
  'email_click',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The item types code gives a meaning to (memberships renew); any other `item_type` is stored as given. */
export const ITEM_TYPES = ['course', 'column', 'audiobook', 'membership'] as const;
export type ItemType = (typeof ITEM_TYPES)[number];

/** `t` when it is one of the known types (which code gives a meaning to), else undefined. */
export function knownItemType(t: string | undefined): ItemType | undefined {
  return t !== undefined && (ITEM_TYPES as readonly string[]).includes(t) ? (t as ItemType) : undefined;
}

/** The longest id (user, item, event, lesson) accepted at any edge. */
export const MAX_ID_LENGTH = 200;
/** The largest `quantity` of one line (a bulk licence, a classroom). */
export const MAX_QUANTITY = 1_000_000;

const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

/** C0 controls, DEL and C1 controls: PostgreSQL cannot store NUL, and none belongs in a name or title. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/**
 * An external id: products send strings or integers; we store text. Any printable characters,
 * inner spaces included (real exports have `Course 101`), trimmed, at most {@link MAX_ID_LENGTH}.
 */
export const Id = z
  .union([z.string(), z.number().int().nonnegative()])
  .transform((v) => String(v).trim())
  .pipe(
    z
      .string()
      .min(1, 'must not be empty')
      .max(MAX_ID_LENGTH, `must be at most ${MAX_ID_LENGTH} characters`)
      .refine((v) => !CONTROL.test(v), 'must not contain control characters'),
  );
/** The same, except tab, line feed and carriage return. */
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/u;
const NO_CONTROL = 'must not contain control characters';

/** One line of text, at most `max` characters, no control characters. */
export const Text = (max: number) => z.string().max(max).refine((v) => !CONTROL.test(v), NO_CONTROL);
/** Text that may span lines (descriptions): tabs and line breaks allowed, other control characters not. */
export const MultilineText = (max: number) => z.string().max(max).refine((v) => !CONTROL_BUT_LINES.test(v), NO_CONTROL);

export const Timestamp = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 timestamp with a time zone offset, e.g. 2026-01-31T12:00:00Z' });

export const Currency = z
  .string()
  .regex(/^[A-Z]{3}$/, 'must be a three-letter ISO 4217 code such as CNY or USD')
  .refine((c) => CURRENCIES.has(c), 'is not an ISO 4217 currency code');

export const AmountMinor = z
  .number({ message: 'must be an integer amount in minor units (cents, fen)' })
  .int('must be an integer amount in minor units (cents, fen)')
  .nonnegative('must not be negative')
  .max(Number.MAX_SAFE_INTEGER);

const TimeZone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA time zone such as Asia/Shanghai');

/** An item's page: http or https only (emails link to it through our signed click redirect). */
export const HttpUrl = z
  .string()
  .max(2048, 'must be at most 2048 characters')
  .refine((v) => !CONTROL.test(v), NO_CONTROL)
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL');

const Locale = z.string().regex(/^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$/, 'must be a BCP 47 locale such as zh-CN or en');

/**
 * Open text (e-books, live classes, camps, bundles…), trimmed, at most 40 characters. The four
 * known types are matched case-insensitively and stored lower-case, so `Membership` still renews.
 */
export const ItemTypeText = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(40, 'must be at most 40 characters')
  .refine((v) => !CONTROL.test(v), NO_CONTROL)
  .transform((v) => {
    const lower = v.toLowerCase();
    return (ITEM_TYPES as readonly string[]).includes(lower) ? lower : v;
  });

export const UserProfile = z.strictObject({
  email: z.email('must be an email address').max(320).refine((v) => !CONTROL.test(v), NO_CONTROL).optional(),
  name: Text(200).optional(),
  locale: Locale.optional(),
  timezone: TimeZone.optional(),
  signup_at: Timestamp.optional(),
});
export type UserProfile = z.infer<typeof UserProfile>;

export const ItemProfile = z.strictObject({
  title: Text(500).pipe(z.string().min(1)).optional(),
  item_type: ItemTypeText.optional(),
  category: Text(100).optional(),
  tags: z.array(Text(100).pipe(z.string().min(1))).max(50).optional(),
  description: MultilineText(20_000).optional(),
  price_minor: AmountMinor.optional(),
  currency: Currency.optional(),
  url: HttpUrl.optional(),
});
export type ItemProfile = z.infer<typeof ItemProfile>;

const base = {
  id: Id,
  source: z.string().min(1).max(64).regex(/^[a-z0-9_.-]+$/, 'must be lowercase letters, digits, _ . -').optional(),
  user_id: Id,
  occurred_at: Timestamp,
  user: UserProfile.optional(),
  item: ItemProfile.optional(),
};
const money = { amount_minor: AmountMinor, currency: Currency };
const Quantity = z
  .number({ message: 'must be a whole number of units' })
  .int('must be a whole number of units')
  .positive('must be at least 1')
  .max(MAX_QUANTITY, `must be at most ${MAX_QUANTITY.toLocaleString('en')}`);

export const SignupEvent = z.strictObject({ ...base, type: z.literal('signup') });
export const ViewEvent = z.strictObject({ ...base, type: z.literal('view'), item_id: Id });
export const LessonProgressEvent = z.strictObject({
  ...base,
  type: z.literal('lesson_progress'),
  item_id: Id,
  lesson_id: Id,
  percent: z.number().min(0, 'must be between 0 and 100').max(100, 'must be between 0 and 100'),
});
export const PurchaseEvent = z.strictObject({
  ...base,
  ...money,
  type: z.literal('purchase'),
  item_id: Id,
  quantity: Quantity.default(1),
  coupon_code: Text(64).pipe(z.string().min(1)).optional(),
});
/** A refund of N units (a partial refund) or a renewal of N seats may say how many. */
export const RefundEvent = z.strictObject({ ...base, ...money, type: z.literal('refund'), item_id: Id, quantity: Quantity.optional() });
export const RenewalEvent = z.strictObject({ ...base, ...money, type: z.literal('renewal'), item_id: Id, quantity: Quantity.optional() });
export const SubscriptionCancelEvent = z.strictObject({ ...base, type: z.literal('subscription_cancel'), item_id: Id });
export const PaymentFailedEvent = z.strictObject({
  ...base,
  type: z.literal('payment_failed'),
  item_id: Id,
  amount_minor: AmountMinor.optional(),
  currency: Currency.optional(),
});
export const CouponRedeemedEvent = z.strictObject({
  ...base,
  type: z.literal('coupon_redeemed'),
  coupon_code: Text(64).pipe(z.string().min(1)),
  item_id: Id.optional(),
});

/** A click on a link in one of our emails, recorded by the click redirect (`GET /r/<token>`). */
export const EmailClickEvent = z.strictObject({ ...base, type: z.literal('email_click'), item_id: Id.optional() });

export const InboundEvent = z.discriminatedUnion('type', [
  SignupEvent,
  ViewEvent,
  LessonProgressEvent,
  PurchaseEvent,
  RefundEvent,
  RenewalEvent,
  SubscriptionCancelEvent,
  PaymentFailedEvent,
  CouponRedeemedEvent,
  EmailClickEvent,
]);
export type InboundEvent = z.infer<typeof InboundEvent>;

export const MAX_BATCH = 1000;

export interface FieldIssue {
  field: string;
  message: string;
}

/**
 * Parses a webhook body: one event object or an array of up to {@link MAX_BATCH}.
 * All or nothing: any invalid event fails the whole body, and every issue names its field.
 */
export function parseEventBody(body: unknown): { ok: true; events: InboundEvent[] } | { ok: false; issues: FieldIssue[] } {
  if (Array.isArray(body)) {
    if (body.length === 0) return { ok: false, issues: [{ field: '(body)', message: 'a batch must hold at least one event' }] };
    if (body.length > MAX_BATCH) return { ok: false, issues: [{ field: '(body)', message: `a batch holds at most ${MAX_BATCH} events, got ${body.length}` }] };
    const events: InboundEvent[] = [];
    const issues: FieldIssue[] = [];
    body.forEach((raw, i) => {
      const r = parseEvent(raw, `[${i}]`);
      if (r.ok) events.push(r.event);
      else issues.push(...r.issues);
    });
    return issues.length ? { ok: false, issues: issues.slice(0, 50) } : { ok: true, events };
  }
  const r = parseEvent(body, '');
  return r.ok ? { ok: true, events: [r.event] } : r;
}

/** Parses one event, naming the offending field (and the valid types when `type` is wrong). */
export function parseEvent(raw: unknown, prefix = ''): { ok: true; event: InboundEvent } | { ok: false; issues: FieldIssue[] } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, issues: [{ field: prefix || '(body)', message: 'must be an event object' }] };
  }
  const type = (raw as { type?: unknown }).type;
  if (typeof type !== 'string' || !(EVENT_TYPES as readonly string[]).includes(type)) {
    return { ok: false, issues: [{ field: join(prefix, 'type'), message: `must be one of ${EVENT_TYPES.join(', ')}` }] };
  }
  let input = raw as Record<string, unknown>;
  if ('amount' in input && MONEY_TYPES.has(type)) {
    const a = amountToMinor(input);
    if (!a.ok) return { ok: false, issues: [{ field: join(prefix, a.field), message: a.message }] };
    const { amount: _amount, ...rest } = input;
    input = { ...rest, amount_minor: a.minor };
  }
  const r = InboundEvent.safeParse(input);
  return r.success ? { ok: true, event: r.data } : { ok: false, issues: describeIssues(r.error, prefix, input) };
}

/** Types that carry money: they accept `amount` (major units) in place of `amount_minor`. */
const MONEY_TYPES = new Set<string>(['purchase', 'refund', 'renewal', 'payment_failed']);

/**
 * `amount` (a decimal string in major units, `"199.00"`) → integer minor units by the
 * currency's ISO 4217 exponent. Given together with `amount_minor`, the two must agree.
 */
function amountToMinor(o: Record<string, unknown>): { ok: true; minor: number } | { ok: false; field: string; message: string } {
  const amount = o.amount;
  const text = typeof amount === 'number' && Number.isFinite(amount) ? String(amount) : amount;
  if (typeof text !== 'string') return { ok: false, field: 'amount', message: 'must be a decimal amount in major units such as "199.00"' };
  const currency = Currency.safeParse(o.currency);
  if (!currency.success) return { ok: false, field: 'currency', message: o.currency === undefined ? 'is required with amount (its ISO 4217 exponent converts it)' : currency.error.issues[0]!.message };
  const r = majorToMinor(text, currency.data);
  if (!r.ok) return { ok: false, field: 'amount', message: r.message };
  if (o.amount_minor !== undefined && o.amount_minor !== r.minor)
    return { ok: false, field: 'amount', message: `${text} ${currency.data} is ${r.minor} in minor units, but amount_minor says ${JSON.stringify(o.amount_minor)}: give one, or two that agree` };
  return { ok: true, minor: r.minor };
}

function join(prefix: string, key: string): string {
  return prefix ? `${prefix}.${key}` : key;
}

/** The normalised row we store: one per event, shared by every way events arrive. */
export interface EventRecord {
  source: string;
  eventId: string;
  type: EventType;
  userId: string;
  itemId: string | null;
  occurredAt: Date;
  amountMinor: number | null;
  currency: string | null;
  quantity: number | null;
  lessonId: string | null;
  percent: number | null;
  couponCode: string | null;
}

export interface UserRecord {
  id: string;
  email?: string | undefined;
  name?: string | undefined;
  locale?: string | undefined;
  timezone?: string | undefined;
  signupAt?: Date | undefined;
}

export interface ItemRecord {
  id: string;
  title?: string | undefined;
  /** One of {@link ITEM_TYPES} or any other type the product uses, as given. */
  itemType?: string | undefined;
  category?: string | undefined;
  tags?: string[] | undefined;
  description?: string | undefined;
  priceMinor?: number | undefined;
  currency?: string | undefined;
  url?: string | undefined;
}

export const DEFAULT_SOURCE = 'default';

/** Splits a validated event into the rows it touches. */
export function toRecords(e: InboundEvent, defaultSource = DEFAULT_SOURCE): { event: EventRecord; user: UserRecord; item: ItemRecord | null } {
  const event: EventRecord = {
    source: e.source ?? defaultSource,
    eventId: e.id,
    type: e.type,
    userId: e.user_id,
    itemId: 'item_id' in e && e.item_id !== undefined ? e.item_id : null,
    occurredAt: new Date(e.occurred_at),
    amountMinor: 'amount_minor' in e && e.amount_minor !== undefined ? e.amount_minor : null,
    currency: 'currency' in e && e.currency !== undefined ? e.currency : null,
    quantity: 'quantity' in e && e.quantity !== undefined ? e.quantity : null,
    lessonId: 'lesson_id' in e ? e.lesson_id : null,
    percent: 'percent' in e ? e.percent : null,
    couponCode: 'coupon_code' in e && e.coupon_code !== undefined ? e.coupon_code : null,
  };
  const u = e.user;
  const user: UserRecord = {
    id: e.user_id,
    email: u?.email,
    name: u?.name,
    locale: u?.locale,
    timezone: u?.timezone,
    signupAt: u?.signup_at ? new Date(u.signup_at) : e.type === 'signup' ? event.occurredAt : undefined,
  };
  const it = e.item;
  const item: ItemRecord | null =
    event.itemId === null
      ? null
      : {
          id: event.itemId,
          title: it?.title,
          itemType: it?.item_type,
          category: it?.category,
          tags: it?.tags,
          description: it?.description,
          priceMinor: it?.price_minor,
          currency: it?.currency,
          url: it?.url,
        };
  return { event, user, item };
}

/** Formats zod issues as `path: message` lines, the shape every adapter shows. */
export function describeIssues(error: z.ZodError, prefix = '', input?: unknown): FieldIssue[] {
  return error.issues.map((i) => ({
    field: formatPath(prefix, i.path),
    message:
      i.code === 'unrecognized_keys'
        ? `unknown field(s): ${i.keys.join(', ')}`
        : input !== undefined && i.path.length > 0 && valueAt(input, i.path) === undefined
          ? 'is required'
          : i.message,
  }));
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let v: unknown = input;
  for (const p of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function formatPath(prefix: string, path: PropertyKey[]): string {
  let out = prefix;
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(body)';
}
