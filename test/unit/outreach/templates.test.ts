import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/domain/errors.js';
import { DEFAULT_TEMPLATES_DIR, renderEmail, type EmailContent } from '../../../src/outreach/templates.js';

const NOW = new Date('2025-03-01T00:00:00Z');
const EVIL = '<script>alert("x")</script>\r\nBcc: victim@evil.test';

function content(over: Partial<EmailContent> = {}): EmailContent {
  return {
    kind: 'winback',
    locale: 'zh-CN',
    timeZone: 'Asia/Shanghai',
    user: { name: '小明', email: 'xm@example.com' },
    recommendations: [
      { itemId: 'i1', title: '高效能人士的七个习惯', reason: { kind: 'because_bought', itemId: 'b1' } },
      { itemId: 'i2', title: '谈判力', reason: { kind: 'similar_topic', itemId: 'i1', topic: '职场' }, url: 'https://app.test/i2?a=1&b=2' },
      { itemId: 'i3', title: 'Python 入门', reason: { kind: 'popular_in', category: '编程' } },
      { itemId: 'i4', title: '每天听本书', reason: { kind: 'popular' } },
    ],
    relatedTitles: { b1: '金字塔原理' },
    unsubscribeUrl: 'https://rk.test/unsubscribe?token=abc.def',
    now: NOW,
    ...over,
  };
}

const coupon = {
  code: 'WB-7KQ2-M9XT',
  kind: 'amount' as const,
  value: 3000,
  currency: 'CNY',
  expiresAt: new Date('2025-03-15T15:59:00Z'),
};

describe('renderEmail: win-back', () => {
  it('renders Chinese with the name, every recommendation and its reason, and the unsubscribe link', () => {
    const r = renderEmail(content());
    expect(r.subject).toBe('小明，好久不见，这几门课也许你会喜欢');
    for (const part of [r.html, r.text]) {
      expect(part).toContain('小明，你好');
      expect(part).toContain('高效能人士的七个习惯');
      expect(part).toContain('因为你购买了《金字塔原理》');
      expect(part).toContain('相似主题：职场');
      expect(part).toContain('在「编程」中很受欢迎');
      expect(part).toContain('热门课程');
    }
    expect(r.html).toContain('<html lang="zh-CN">');
    expect(r.html).toContain('href="https://rk.test/unsubscribe?token&#x3D;abc.def"');
    expect(r.html).toContain('href="https://app.test/i2?a&#x3D;1&amp;b&#x3D;2"');
    expect(r.text).toContain('退订：https://rk.test/unsubscribe?token=abc.def');
    expect(r.text).toContain('https://app.test/i2?a=1&b=2');
  });

  it('renders English for non-Chinese and missing locales', () => {
    for (const locale of ['en-US', 'fr', null]) {
      const r = renderEmail(content({ locale, user: { name: 'Ann', email: 'ann@example.com' } }));
      expect(r.subject).toBe('Ann, we picked a few courses for you');
      expect(r.html).toContain('<html lang="en">');
      expect(r.text).toMatch(/^Hi Ann,\n/);
      expect(r.text).toContain('Because you bought “金字塔原理”');
      expect(r.text).toContain('Similar topic: 职场');
      expect(r.text).toContain('Popular right now');
      expect(r.text).toContain('Unsubscribe: https://rk.test/unsubscribe?token=abc.def');
    }
  });

  it('greets without a name when there is none', () => {
    expect(renderEmail(content({ user: { name: null, email: 'a@b.c' } })).text).toMatch(/^你好：\n/);
    const en = renderEmail(content({ locale: 'en', user: { name: '  \r\n ', email: 'a@b.c' } }));
    expect(en.subject).toBe('We picked a few courses for you');
    expect(en.text).toMatch(/^Hi there,\n/);
  });

  it('shows at most five recommendations and needs at least one', () => {
    const many = Array.from({ length: 8 }, (_, i) => ({ itemId: `x${i}`, title: `Course ${i}`, reason: { kind: 'popular' as const } }));
    const r = renderEmail(content({ locale: 'en', recommendations: many }));
    expect(r.text).toContain('Course 4');
    expect(r.text).not.toContain('Course 5');
    expect(() => renderEmail(content({ recommendations: [] }))).toThrow(ValidationError);
  });

  it('links the call to action only when a URL is given', () => {
    expect(renderEmail(content({ locale: 'en' })).text).toContain('Open the app to pick up where you left off.');
    const r = renderEmail(content({ locale: 'en', ctaUrl: 'https://app.test/home' }));
    expect(r.text).toContain('Take a look: https://app.test/home');
    expect(r.html).toContain('href="https://app.test/home"');
  });
});

describe('renderEmail: coupon', () => {
  it('shows code, value in yuan, expiry in the reader’s zone and days left (Chinese)', () => {
    const r = renderEmail(content({ kind: 'coupon', coupon }));
    expect(r.subject).toBe('小明，送你一张¥30.00 优惠券，15 天内有效');
    for (const part of [r.html, r.text]) {
      expect(part).toContain('WB-7KQ2-M9XT');
      expect(part).toContain('¥30.00');
      expect(part).toContain('2025年3月15日 23:59');
      expect(part).toContain('还剩 15 天');
      expect(part).toContain('因为你购买了《金字塔原理》');
    }
  });

  it('shows the ISO code and the zone in English', () => {
    const r = renderEmail(content({ kind: 'coupon', coupon, locale: 'en', timeZone: 'America/New_York', user: { name: 'Ann', email: 'a@b.c' } }));
    expect(r.subject).toBe("Ann, here's CNY 30.00 off your next course");
    expect(r.text).toMatch(/Offer: +CNY\u00a030\.00/);
    expect(r.text).toContain('Code:        WB-7KQ2-M9XT');
    expect(r.text).toContain('March 15, 2025 at 11:59'); // 15:59Z is 11:59 EDT
    expect(r.text).toContain('EDT (15 days left)');
  });

  it('formats percent coupons as "20% off" and 8折', () => {
    const pct = { ...coupon, kind: 'percent' as const, value: 20, currency: null };
    expect(renderEmail(content({ kind: 'coupon', coupon: pct, locale: 'en' })).text).toContain('Offer:       20% off');
    const zh = renderEmail(content({ kind: 'coupon', coupon: { ...pct, value: 15 } }));
    expect(zh.text).toContain('优惠：8.5折');
    expect(zh.subject).toContain('8.5折优惠券');
  });

  it('falls back to UTC, named, for an unknown time zone', () => {
    const r = renderEmail(content({ kind: 'coupon', coupon, timeZone: 'Mars/Olympus' }));
    expect(r.text).toContain('2025年3月15日 15:59（UTC）');
  });

  it('refuses a missing, expired or malformed coupon', () => {
    expect(() => renderEmail(content({ kind: 'coupon' }))).toThrow(ValidationError);
    expect(() => renderEmail(content({ kind: 'coupon', coupon: { ...coupon, expiresAt: NOW } }))).toThrow(/expired/);
    expect(() => renderEmail(content({ kind: 'coupon', coupon: { ...coupon, currency: null } }))).toThrow(ValidationError);
    expect(() => renderEmail(content({ kind: 'coupon', coupon: { ...coupon, code: 'A B\r\nC' } }))).toThrow(ValidationError);
    expect(() => renderEmail(content({ kind: 'coupon', coupon: { ...coupon, kind: 'percent', value: 120 } }))).toThrow(ValidationError);
  });

  it('can go without recommendations', () => {
    const r = renderEmail(content({ kind: 'coupon', coupon, locale: 'en', recommendations: [] }));
    expect(r.text).not.toContain('A few courses you might like');
    expect(r.text).toContain('WB-7KQ2-M9XT');
  });
});

describe('renderEmail: hostile input', () => {
  for (const locale of ['zh-CN', 'en']) {
    for (const kind of ['winback', 'coupon'] as const) {
      it(`keeps a <script> name inert and CR/LF out of the subject (${kind}, ${locale})`, () => {
        const r = renderEmail(
          content({
            kind,
            locale,
            coupon,
            user: { name: EVIL, email: 'a@b.c' },
            recommendations: [{ itemId: 'i1', title: '<img src=x onerror=alert(1)>', reason: { kind: 'popular_in', category: '<b>x</b>' } }],
          }),
        );
        expect(r.html).not.toMatch(/<script|<img|<b>/i);
        expect(r.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
        expect(r.html).toContain('&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;');
        expect(r.subject).not.toMatch(/[\r\n\t\u0000-\u001f\u007f]/);
        expect(r.subject).toContain('<script>alert("x")</script> Bcc: victim@evil.test');
        // The text part is plain text: the name appears as written, on one line.
        expect(r.text).toContain('<script>alert("x")</script> Bcc: victim@evil.test');
        expect(r.text).not.toMatch(/\nBcc:/);
      });
    }
  }

  it('refuses non-http links', () => {
    expect(() => renderEmail(content({ unsubscribeUrl: 'javascript:alert(1)' }))).toThrow(ValidationError);
    expect(() => renderEmail(content({ ctaUrl: 'data:text/html,x' }))).toThrow(ValidationError);
    const bad = content();
    bad.recommendations[0]!.url = 'javascript:alert(1)';
    expect(() => renderEmail(bad)).toThrow(ValidationError);
  });

  it('strips every control character from subjects (property over names)', () => {
    for (let c = 0; c < 0x20; c++) {
      const r = renderEmail(content({ locale: 'en', user: { name: `A${String.fromCharCode(c)}B`, email: 'a@b.c' } }));
      expect(r.subject).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    }
    const r = renderEmail(content({ locale: 'en', user: { name: 'A\u2028B\u0085C\u202eD', email: 'a@b.c' } }));
    expect(r.subject).toBe('A B C D, we picked a few courses for you');
  });
});

describe('templates/', () => {
  const files = readdirSync(DEFAULT_TEMPLATES_DIR, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.html.hbs'));

  it('has HTML and text for both kinds in both languages', () => {
    const all = readdirSync(DEFAULT_TEMPLATES_DIR);
    for (const kind of ['winback', 'coupon']) {
      for (const locale of ['zh-CN', 'en']) {
        for (const ext of ['html', 'txt']) expect(all).toContain(`${kind}.${locale}.${ext}.hbs`);
      }
    }
  });

  it('never bypasses escaping in HTML templates ({{{…}}} or {{&…}})', () => {
    expect(files.length).toBeGreaterThan(4);
    for (const f of files) {
      const src = readFileSync(join(DEFAULT_TEMPLATES_DIR, f), 'utf8');
      expect(src, f).not.toMatch(/\{\{\{|\{\{~?\s*&/);
    }
  });
});
