/** Valid webhook events of every type, with overrides. */
import type { EventType } from '../../src/domain/events.js';

let n = 0;

export function uniq(prefix = 't'): string {
  return `${prefix}${Date.now().toString(36)}${(++n).toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

const BY_TYPE: Record<EventType, Record<string, unknown>> = {
  signup: { user: { email: 'ada@example.com', name: 'Ada', locale: 'en', timezone: 'Europe/London' } },
  view: { item_id: 'course-1' },
  lesson_progress: { item_id: 'course-1', lesson_id: 'l-3', percent: 42.5 },
  purchase: {
    item_id: 'course-1',
    amount_minor: 19900,
    currency: 'CNY',
    quantity: 1,
    item: { title: '职场沟通30讲', item_type: 'course', category: '职场', tags: ['沟通', '职场'], price_minor: 19900, currency: 'CNY', url: 'https://learn.example.com/courses/1' },
  },
  refund: { item_id: 'course-1', amount_minor: 19900, currency: 'CNY' },
  renewal: { item_id: 'membership-1', amount_minor: 19800, currency: 'CNY' },
  subscription_cancel: { item_id: 'membership-1' },
  payment_failed: { item_id: 'membership-1', amount_minor: 19800, currency: 'CNY' },
  coupon_redeemed: { coupon_code: 'WELCOME10' },
  email_click: { item_id: 'course-1' },
};

export function anEvent(type: EventType, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: uniq('ev'),
    type,
    user_id: 'u-1',
    occurred_at: '2026-11-01T08:30:00+08:00',
    ...structuredClone(BY_TYPE[type]),
    ...overrides,
  };
}
