/**
 * Turns generated records back into the inbound (webhook / NDJSON) event shape, so the
 * synthetic platform can be fed through the same door as a real product.
 */
import type { EventRecord, EventType, ItemRecord, UserRecord } from '../domain/events.js';

/** An event as a product would send it (the input side of `InboundEvent`). */
export interface WireEvent {
  id: string;
  type: EventType;
  source?: string;
  user_id: string;
  occurred_at: string;
  item_id?: string;
  amount_minor?: number;
  currency?: string;
  quantity?: number;
  lesson_id?: string;
  percent?: number;
  coupon_code?: string;
  user?: WireUser;
  item?: WireItem;
}

export interface WireUser {
  email?: string;
  name?: string;
  locale?: string;
  timezone?: string;
  signup_at?: string;
}

export interface WireItem {
  title?: string;
  item_type?: string;
  category?: string;
  tags?: string[];
  description?: string;
  price_minor?: number;
  currency?: string;
  url?: string;
}

/**
 * The inbound shape of one event; `user` and `item` profiles are attached when given
 * (a product typically sends the user with `signup` and the item with a purchase).
 * `parseEvent` then `toRecords` on the result gives back `e` unchanged.
 */
export function toWireEvent(e: EventRecord, profiles: { user?: UserRecord; item?: ItemRecord } = {}): WireEvent {
  const out: WireEvent = { id: e.eventId, type: e.type, source: e.source, user_id: e.userId, occurred_at: e.occurredAt.toISOString() };
  if (e.itemId !== null) out.item_id = e.itemId;
  if (e.amountMinor !== null) out.amount_minor = e.amountMinor;
  if (e.currency !== null) out.currency = e.currency;
  if (e.quantity !== null) out.quantity = e.quantity;
  if (e.lessonId !== null) out.lesson_id = e.lessonId;
  if (e.percent !== null) out.percent = e.percent;
  if (e.couponCode !== null) out.coupon_code = e.couponCode;
  if (profiles.user) out.user = toWireUser(profiles.user);
  if (profiles.item) out.item = toWireItem(profiles.item);
  return out;
}

export function toWireUser(u: UserRecord): WireUser {
  const out: WireUser = {};
  if (u.email !== undefined) out.email = u.email;
  if (u.name !== undefined) out.name = u.name;
  if (u.locale !== undefined) out.locale = u.locale;
  if (u.timezone !== undefined) out.timezone = u.timezone;
  if (u.signupAt !== undefined) out.signup_at = u.signupAt.toISOString();
  return out;
}

export function toWireItem(i: ItemRecord): WireItem {
  const out: WireItem = {};
  if (i.title !== undefined) out.title = i.title;
  if (i.itemType !== undefined) out.item_type = i.itemType;
  if (i.category !== undefined) out.category = i.category;
  if (i.tags !== undefined) out.tags = [...i.tags];
  if (i.description !== undefined) out.description = i.description;
  if (i.priceMinor !== undefined) out.price_minor = i.priceMinor;
  if (i.currency !== undefined) out.currency = i.currency;
  if (i.url !== undefined) out.url = i.url;
  return out;
}
