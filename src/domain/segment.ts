/**
 * Segment Spec messages (Segment, RudderStack, Customer.io CDP and anything speaking it) → our
 * events and user profiles (pure). The webhook adapter (http/segment.ts) checks the signature
 * and validates what comes out with the one event schema. Event ids are the message's
 * `messageId` (`<messageId>:<n>` for the n-th product after the first), so a redelivered
 * message is stored once.
 */
import { minorUnitExponent } from './currency.js';

/** Our event types a `track` name may map to through SEGMENT_EVENT_MAP. */
export type SegmentMappedType = 'lesson_progress' | 'view' | 'signup' | 'subscription_cancel' | 'payment_failed';

export interface SegmentOptions {
  /** Track names → our type, on top of the Spec's e-commerce names (SEGMENT_EVENT_MAP). */
  eventMap: Readonly<Record<string, SegmentMappedType>>;
}

export type SegmentIgnoreReason = 'unknown_type' | 'unmapped_event' | 'anonymous' | 'no_amount';

/** What one message became: events and/or a user profile, or why it maps to nothing (counted, answered 200). */
export type SegmentMapping = { events: Record<string, unknown>[]; profile?: { user_id: string; traits: Record<string, unknown> } } | { ignored: SegmentIgnoreReason };

/** The item a message is recorded against when it names none (no product_id, sku or item_id). */
export const SEGMENT_UNKNOWN_ITEM = 'segment-unattributed';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined);
const num = (v: unknown): number | undefined => {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  return undefined;
};

/**
 * A Segment price or revenue (a decimal number in major units) → integer minor units of
 * `currency`, rounded to the currency's minor unit (trackers send floats such as 29.990000000000002).
 */
export function segmentMoney(amount: number, currency: string): number | undefined {
  const exp = minorUnitExponent(currency);
  if (exp === null || amount < 0) return undefined;
  return Math.round(amount * 10 ** exp);
}

/** When the message happened: `timestamp` (Segment's corrected time), else `originalTimestamp`, else `receivedAt` / `sentAt`. */
function when(m: Obj): unknown {
  return m.timestamp ?? m.originalTimestamp ?? m.receivedAt ?? m.sentAt;
}

/** A product (Spec: product_id, sku, name, price, quantity, category, url) → item id and profile. */
function productItem(p: Obj, currency: string | undefined): { item_id: string; item?: Obj } | null {
  const id = str(p.product_id) ?? str(p.sku) ?? str(p.item_id) ?? str(p.id);
  if (!id) return null;
  const item: Obj = {};
  const title = str(p.name) ?? str(p.title);
  if (title) item.title = title;
  const category = str(p.category);
  if (category) item.category = category;
  const url = str(p.url);
  if (url) item.url = url;
  const price = num(p.price);
  if (price !== undefined && currency) {
    const minor = segmentMoney(price, currency);
    if (minor !== undefined) {
      item.price_minor = minor;
      item.currency = currency;
    }
  }
  const itemType = str(p.item_type) ?? str(p.type);
  if (itemType) item.item_type = itemType;
  return Object.keys(item).length ? { item_id: id, item } : { item_id: id };
}

const currencyOf = (props: Obj): string => (str(props.currency) ?? 'USD').toUpperCase();

/**
 * Maps one Spec message. `track` "Order Completed" → a purchase per product (price × quantity,
 * currency, coupon), "Order Refunded" → refund, "Product Viewed" → view, "Subscription
 * Cancelled" → subscription_cancel, "Payment Failed" → payment_failed, and the names in
 * `eventMap` (default "Lesson Completed", "Video Content Completed" → lesson_progress);
 * `identify` → the user's traits. Other calls and names map to nothing.
 */
export function mapSegmentMessage(m: Obj, opts: SegmentOptions): SegmentMapping {
  const type = str(m.type);
  const userId = str(m.userId);
  const messageId = str(m.messageId);
  const id = (n: number) => (n === 0 ? messageId : `${messageId}:${n}`);
  if (type === 'identify') {
    if (!userId) return { ignored: 'anonymous' };
    return { events: [], profile: { user_id: userId, traits: traitsOf(m) } };
  }
  if (type !== 'track') return { ignored: 'unknown_type' };
  if (!userId) return { ignored: 'anonymous' };
  const name = str(m.event) ?? '';
  const props = obj(m.properties);
  const base = (n: number, t: string) => ({ id: id(n), type: t, user_id: userId, occurred_at: when(m) });
  const currency = currencyOf(props);
  const products = Array.isArray(props.products) ? props.products.filter(isObj) : [];
  const single = productItem(props, currency);
  switch (name) {
    case 'Order Completed':
    case 'Order Refunded': {
      const eventType = name === 'Order Completed' ? 'purchase' : 'refund';
      const coupon = name === 'Order Completed' ? str(props.coupon) : undefined;
      const lines = products.flatMap((p) => {
        const it = productItem(p, currency);
        if (!it) return [];
        const quantity = num(p.quantity);
        const price = num(p.price);
        const q = quantity !== undefined && Number.isInteger(quantity) && quantity >= 1 ? quantity : 1;
        const minor = price !== undefined ? segmentMoney(price * q, currency) : undefined;
        return [{ ...it, quantity: q, amount: minor }];
      });
      if (lines.length > 0 && lines.every((l) => l.amount !== undefined)) {
        return {
          events: lines.map((l, n) => ({
            ...base(n, eventType),
            item_id: l.item_id,
            ...(l.item ? { item: l.item } : {}),
            amount_minor: l.amount,
            currency,
            quantity: l.quantity,
            ...(coupon ? { coupon_code: coupon } : {}),
          })),
        };
      }
      // No priced products: the order as one line (Spec: revenue, else total, else value).
      const total = num(props.revenue) ?? num(props.total) ?? num(props.value);
      const minor = total !== undefined ? segmentMoney(total, currency) : undefined;
      if (minor === undefined) return { ignored: 'no_amount' };
      const it = lines[0] ?? single ?? { item_id: SEGMENT_UNKNOWN_ITEM };
      return { events: [{ ...base(0, eventType), ...it, amount_minor: minor, currency, ...('quantity' in it ? { quantity: it.quantity } : {}), ...(coupon ? { coupon_code: coupon } : {}) }].map(dropAmountKey) };
    }
    case 'Product Viewed':
      return { events: [{ ...base(0, 'view'), ...(single ?? { item_id: SEGMENT_UNKNOWN_ITEM }) }] };
    case 'Subscription Cancelled':
      return { events: [{ ...base(0, 'subscription_cancel'), item_id: planOf(props) }] };
    case 'Payment Failed': {
      const total = num(props.amount) ?? num(props.revenue) ?? num(props.total);
      const minor = total !== undefined ? segmentMoney(total, currency) : undefined;
      return { events: [{ ...base(0, 'payment_failed'), item_id: planOf(props), ...(minor !== undefined ? { amount_minor: minor, currency } : {}) }] };
    }
  }
  const mapped = opts.eventMap[name];
  switch (mapped) {
    case 'lesson_progress': {
      const item = str(props.course_id) ?? str(props.item_id) ?? str(props.product_id) ?? str(props.program) ?? str(props.content_pod_id) ?? SEGMENT_UNKNOWN_ITEM;
      const lesson = str(props.lesson_id) ?? str(props.asset_id) ?? str(props.content_id) ?? str(props.title) ?? item;
      // "…Completed" events: 100 unless the message says how far (0–100, or a 0–1 fraction).
      const given = num(props.percent) ?? num(props.progress);
      const percent = given === undefined ? 100 : given > 0 && given <= 1 && !Number.isInteger(given) ? given * 100 : given;
      return { events: [{ ...base(0, 'lesson_progress'), item_id: item, lesson_id: lesson, percent }] };
    }
    case 'view':
      return { events: [{ ...base(0, 'view'), ...(single ?? { item_id: SEGMENT_UNKNOWN_ITEM }) }] };
    case 'signup':
      return { events: [{ ...base(0, 'signup') }] };
    case 'subscription_cancel':
      return { events: [{ ...base(0, 'subscription_cancel'), item_id: planOf(props) }] };
    case 'payment_failed':
      return { events: [{ ...base(0, 'payment_failed'), item_id: planOf(props) }] };
    default:
      return { ignored: 'unmapped_event' };
  }
}

function dropAmountKey(e: Obj): Obj {
  const { amount: _a, ...rest } = e;
  return rest;
}

function planOf(props: Obj): string {
  return str(props.plan_id) ?? str(props.product_id) ?? str(props.item_id) ?? str(props.plan) ?? str(props.subscription_id) ?? SEGMENT_UNKNOWN_ITEM;
}

/** `identify` traits (and the context's locale and time zone) in our profile's field names. */
function traitsOf(m: Obj): Obj {
  const t = obj(m.traits);
  const ctx = obj(m.context);
  const out: Obj = {};
  const email = str(t.email);
  if (email) out.email = email.toLowerCase();
  const name = str(t.name) ?? ([str(t.firstName) ?? str(t.first_name), str(t.lastName) ?? str(t.last_name)].filter(Boolean).join(' ') || undefined);
  if (name) out.name = name;
  const locale = str(t.locale) ?? str(ctx.locale);
  if (locale) out.locale = locale;
  const tz = str(t.timezone) ?? str(ctx.timezone);
  if (tz) out.timezone = tz;
  const created = t.createdAt ?? t.created_at;
  if (created !== undefined) out.signup_at = typeof created === 'number' ? new Date(created * (created < 1e12 ? 1000 : 1)).toISOString() : created;
  return out;
}
