/**
 * Stripe events → our events (pure). The webhook adapter (http/stripe.ts) verifies the
 * signature with the `stripe` package and hands the parsed event here; what comes out is raw
 * event objects in our webhook shape, validated by the same schema as every other source.
 *
 * Payloads are read defensively: the shape depends on the API version set on the endpoint in
 * the Stripe dashboard, not on the package, so both the current shape (invoice lines'
 * `pricing.price_details`, `parent.subscription_details`) and the older one (`line.price`,
 * `invoice.subscription`) are read. Event ids derive from Stripe's event id (`evt_…`, and
 * `evt_…:<n>` for the n-th line after the first), so a redelivered event is stored once.
 */

/** What a Stripe event became: our events, or a reason it maps to nothing (counted, answered 200). */
export type StripeMapping = { events: Record<string, unknown>[] } | { ignored: StripeIgnoreReason };
export type StripeIgnoreReason = 'unknown_type' | 'no_user' | 'not_paid' | 'handled_elsewhere' | 'no_change';

/** The Stripe event types we map (anything else is answered 200 and counted). */
export const STRIPE_EVENT_TYPES = [
  'checkout.session.completed',
  'payment_intent.succeeded',
  'invoice.paid',
  'charge.refunded',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'invoice.payment_failed',
] as const;

/** The item a payment is recorded against when Stripe's payload names none (no line items, no metadata.item_id). */
export const STRIPE_UNKNOWN_ITEM = 'stripe-unattributed';

/**
 * Stripe's own amounts are in the currency's smallest unit, except for a few currencies it
 * treats as two-decimal although ISO 4217 gives them none (Stripe docs, "Special cases").
 */
const STRIPE_TWO_DECIMAL_ISO_ZERO = new Set(['ISK', 'UGX']);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
/** An expandable field: the id whether Stripe sent the id or the expanded object. */
const idOf = (v: unknown): string | undefined => str(v) ?? str(obj(v).id);
const list = (v: unknown): Obj[] => (Array.isArray(obj(v).data) ? (obj(v).data as unknown[]).filter(isObj) : []);

export interface StripeEventLike {
  id: string;
  type: string;
  created: number;
  data: { object: unknown; previous_attributes?: unknown };
}

/** Minor units as we store them (ISO 4217) from a Stripe amount. */
export function stripeAmountToMinor(amount: number, currency: string): number {
  return STRIPE_TWO_DECIMAL_ISO_ZERO.has(currency) ? Math.round(amount / 100) : amount;
}

interface Who {
  user_id: string;
  user?: { email?: string; name?: string };
}

/**
 * The user: `metadata.user_id` (of the object, or the extra metadata given, e.g. the
 * subscription's on an invoice), Checkout's `client_reference_id`, else the customer's email
 * (lower-cased). Null when Stripe's payload names none of them.
 */
function who(o: Obj, email: string | undefined, name: string | undefined, extraMeta: Obj[] = []): Who | null {
  const fromMeta = [obj(o.metadata), ...extraMeta].map((m) => str(m.user_id)).find((v) => v !== undefined);
  const mail = email?.trim().toLowerCase();
  const id = fromMeta ?? str(o.client_reference_id) ?? mail;
  if (id === undefined) return null;
  const user: { email?: string; name?: string } = {};
  if (mail) user.email = mail;
  if (name) user.name = name;
  return Object.keys(user).length ? { user_id: id, user } : { user_id: id };
}

/** A Stripe Price (or its id) → our item id (the product) and profile. */
function itemOfPrice(price: unknown, productHint: unknown, description: string | undefined): { item_id: string; item?: Obj } | null {
  const p = obj(price);
  const product = p.product ?? productHint;
  const productId = idOf(product) ?? idOf(price);
  if (!productId) return null;
  const item: Obj = {};
  const title = str(obj(product).name) ?? description;
  if (title) item.title = title;
  const unit = num(p.unit_amount);
  const cur = str(p.currency)?.toUpperCase();
  if (unit !== undefined && cur) {
    item.price_minor = stripeAmountToMinor(unit, cur);
    item.currency = cur;
  }
  if (str(p.type) === 'recurring' || isObj(p.recurring)) item.item_type = 'membership';
  return Object.keys(item).length ? { item_id: productId, item } : { item_id: productId };
}

/** An invoice line's price and product, in the current shape (`pricing.price_details`) or the older one (`price`). */
function invoiceLineItem(line: Obj): { item_id: string; item?: Obj } | null {
  const details = obj(obj(line.pricing).price_details);
  if (details.price !== undefined || details.product !== undefined) return itemOfPrice(details.price, details.product, undefined);
  if (line.price !== undefined) return itemOfPrice(line.price, undefined, undefined);
  return null;
}

/** The subscription an invoice belongs to, in the current shape or the older `invoice.subscription`. */
function invoiceSubscription(inv: Obj): { id?: string; metadata: Obj } {
  const details = obj(obj(inv.parent).subscription_details);
  const sub = details.subscription ?? inv.subscription;
  const id = idOf(sub);
  return { ...(id !== undefined ? { id } : {}), metadata: { ...obj(obj(sub).metadata), ...obj(details.metadata) } };
}

const iso = (unixSeconds: number): string => new Date(unixSeconds * 1000).toISOString();

/** Our event ids for the n events one Stripe event maps to. */
const idFor = (evt: StripeEventLike, n: number): string => (n === 0 ? evt.id : `${evt.id}:${n}`);

/**
 * Maps one verified Stripe event. See the README's Stripe section for the table; in short:
 * Checkout (payment mode, paid) and tagged PaymentIntents → purchase; invoice.paid → purchase
 * for a subscription's first invoice, renewal after; charge.refunded → refund of the amount
 * refunded by this event; cancellation at period end or deletion → subscription_cancel;
 * invoice.payment_failed → payment_failed.
 */
export function mapStripeEvent(evt: StripeEventLike): StripeMapping {
  const o = obj(evt.data.object);
  const prev = obj(evt.data.previous_attributes);
  const base = (n: number, type: string, w: Who): Record<string, unknown> => ({ id: idFor(evt, n), type, occurred_at: iso(evt.created), ...w });
  switch (evt.type) {
    case 'checkout.session.completed': {
      // Subscription Checkouts are counted from their first invoice (invoice.paid), once.
      if (str(o.mode) !== 'payment') return { ignored: 'handled_elsewhere' };
      if (str(o.payment_status) !== 'paid' && str(o.payment_status) !== 'no_payment_required') return { ignored: 'not_paid' };
      const details = obj(o.customer_details);
      const w = who(o, str(details.email) ?? str(o.customer_email) ?? str(obj(o.customer).email), str(details.name));
      if (!w) return { ignored: 'no_user' };
      const currency = str(o.currency)?.toUpperCase();
      if (!currency) return { ignored: 'not_paid' };
      const lines = list(o.line_items);
      if (lines.length > 0) {
        const events = lines.flatMap((line) => {
          const it = itemOfPrice(line.price, undefined, str(line.description));
          if (!it) return [];
          return [{ type: 'purchase', ...it, amount_minor: stripeAmountToMinor(num(line.amount_total) ?? 0, currency), currency, quantity: num(line.quantity) ?? 1 }];
        });
        if (events.length > 0) return { events: events.map((e, n) => ({ ...base(n, 'purchase', w), ...e })) };
      }
      const itemId = str(obj(o.metadata).item_id) ?? STRIPE_UNKNOWN_ITEM;
      return { events: [{ ...base(0, 'purchase', w), item_id: itemId, amount_minor: stripeAmountToMinor(num(o.amount_total) ?? 0, currency), currency }] };
    }
    case 'payment_intent.succeeded': {
      // Checkout and invoice payments arrive as their own events: a PaymentIntent counts only
      // when the platform tagged it with the item (a custom Payment Element integration).
      const itemId = str(obj(o.metadata).item_id);
      if (!itemId) return { ignored: 'handled_elsewhere' };
      const w = who(o, str(o.receipt_email) ?? str(obj(o.customer).email), undefined);
      if (!w) return { ignored: 'no_user' };
      const currency = str(o.currency)?.toUpperCase() ?? '';
      return { events: [{ ...base(0, 'purchase', w), item_id: itemId, amount_minor: stripeAmountToMinor(num(o.amount_received) ?? num(o.amount) ?? 0, currency), currency }] };
    }
    case 'invoice.paid':
    case 'invoice.payment_failed': {
      const sub = invoiceSubscription(o);
      const w = who(o, str(o.customer_email) ?? str(obj(o.customer).email), str(o.customer_name), [sub.metadata]);
      if (!w) return { ignored: 'no_user' };
      const currency = str(o.currency)?.toUpperCase() ?? '';
      const lines = list(o.lines);
      const items = lines.flatMap((line) => {
        const it = invoiceLineItem(line);
        const amount = num(line.amount) ?? 0;
        // Credit lines (prorations of an unused period) are negative: not a sale.
        if (!it || amount < 0) return [];
        // A subscription's items renew: memberships, whatever the price object says.
        if (sub.id !== undefined) it.item = { ...it.item, item_type: 'membership' };
        return [{ ...it, amount, quantity: num(line.quantity) }];
      });
      const fallbackItem = str(obj(o.metadata).item_id) ?? str(sub.metadata.item_id) ?? STRIPE_UNKNOWN_ITEM;
      if (evt.type === 'invoice.payment_failed') {
        const first = items[0];
        return {
          events: [{ ...base(0, 'payment_failed', w), item_id: first?.item_id ?? fallbackItem, ...(first?.item ? { item: first.item } : {}), amount_minor: stripeAmountToMinor(num(o.amount_due) ?? 0, currency), currency }],
        };
      }
      const reason = str(o.billing_reason);
      // A subscription's first invoice is its purchase; every later one renews it.
      const type = sub.id !== undefined && reason !== 'subscription_create' && reason?.startsWith('subscription') ? 'renewal' : 'purchase';
      if (items.length === 0) return { events: [{ ...base(0, type, w), item_id: fallbackItem, amount_minor: stripeAmountToMinor(num(o.amount_paid) ?? 0, currency), currency }] };
      return {
        events: items.map((it, n) => ({
          ...base(n, type, w),
          item_id: it.item_id,
          ...(it.item ? { item: it.item } : {}),
          amount_minor: stripeAmountToMinor(it.amount, currency),
          currency,
          ...(it.quantity !== undefined && it.quantity >= 1 ? { quantity: it.quantity } : {}),
        })),
      };
    }
    case 'charge.refunded': {
      const billing = obj(o.billing_details);
      const w = who(o, str(billing.email) ?? str(o.receipt_email) ?? str(obj(o.customer).email), str(billing.name));
      if (!w) return { ignored: 'no_user' };
      const currency = str(o.currency)?.toUpperCase() ?? '';
      // amount_refunded is cumulative: this event refunded what it grew by (a partial refund).
      const before = num(prev.amount_refunded) ?? 0;
      const refunded = (num(o.amount_refunded) ?? 0) - before;
      if (refunded <= 0) return { ignored: 'no_change' };
      return { events: [{ ...base(0, 'refund', w), item_id: str(obj(o.metadata).item_id) ?? STRIPE_UNKNOWN_ITEM, amount_minor: stripeAmountToMinor(refunded, currency), currency }] };
    }
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted': {
      if (evt.type === 'customer.subscription.updated') {
        // Only the update that switches auto-renew off: cancel_at_period_end turned on, or a
        // cancel_at set (the billing portal's way in recent API versions).
        const turnedOff = o.cancel_at_period_end === true && prev.cancel_at_period_end === false;
        const cancelAtSet = num(o.cancel_at) !== undefined && 'cancel_at' in prev && prev.cancel_at === null;
        if (!turnedOff && !cancelAtSet) return { ignored: 'no_change' };
      }
      const w = who(o, str(obj(o.customer).email), undefined);
      if (!w) return { ignored: 'no_user' };
      const first = list(o.items)[0];
      const it = first ? itemOfPrice(first.price, undefined, undefined) : null;
      const itemId = it?.item_id ?? str(obj(o.metadata).item_id) ?? STRIPE_UNKNOWN_ITEM;
      return { events: [{ ...base(0, 'subscription_cancel', w), item_id: itemId, ...(it?.item ? { item: it.item } : {}) }] };
    }
    default:
      return { ignored: 'unknown_type' };
  }
}
