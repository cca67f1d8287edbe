/**
 * The click redirect end to end: outreach emails delivered through a real SMTP server carry
 * signed `/r/<token>` links; following one over real HTTP records exactly one `email_click`
 * event in PostgreSQL and answers 302 to the item's stored URL with UTM parameters. Anything
 * else — tampered, foreign, unknown, or pointing at a URL we would not follow — gets the
 * "not valid" page and no Location.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { signClickToken, verifyClickToken } from '../../src/domain/click-token.js';
import { signUnsubscribeToken } from '../../src/domain/unsubscribe-token.js';
import { buildHttpApp } from '../../src/http/server.js';
import { silentLogger } from '../../src/logger.js';
import { createMailer, type Mailer } from '../../src/outreach/mailer.js';
import { deliverEmail } from '../../src/services/deliver.js';
import { outreachSettings, type OutreachSettings } from '../../src/services/outreach-settings.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { listen, type Running } from '../support/http.js';
import { mimeParts, startSmtpServer, type ReceivedMessage, type TestSmtpServer } from '../support/smtp.js';

const SECRET = 'click-redirect-test-secret-0123456789';
const CLOCK = new Date('2026-03-04T05:06:07.000Z');
const CAMPAIGN = 'spring win-back';

const ITEMS: [id: string, url: string | null][] = [
  ['course-1', 'https://learn.example.com/course/1?ref=a%20b&x=1&utm_source=old#syllabus'],
  ['course-2', 'https://learn.example.com/c2'],
  ['no-url', null],
  ['evil-js', 'javascript:alert(1)'],
  ['evil-scheme-relative', '//evil.test/x'],
  ['evil-credentials', 'https://learn.example.com@evil.test/'],
  ['not-recommended', 'https://learn.example.com/nr'],
];

describe('GET /r/<token>', () => {
  let t: TestDatabase;
  let http: Running;
  let smtp: TestSmtpServer;
  let mailer: Mailer;
  let settings: OutreachSettings;
  const outreach: Record<'sent' | 'planned' | 'winback' | 'coupon' | 'bare', number> = { sent: 0, planned: 0, winback: 0, coupon: 0, bare: 0 };

  async function addOutreach(userId: string, cycleId: string, channel: 'email' | 'coupon', state: string): Promise<number> {
    const [r] = await t.db.query<{ id: number }>(
      `insert into outreach (cycle_id, campaign, user_id, tier, channel, state, scheduled_at) values ($1, $2, $3, $4, $5, $6, $7) returning id`,
      [cycleId, CAMPAIGN, userId, channel === 'coupon' ? 'high' : 'medium', channel, state, CLOCK.toISOString()],
    );
    return Number(r!.id);
  }

  async function recommend(userId: string, items: string[]): Promise<void> {
    await t.db.query(
      `insert into recommendations (user_id, rank, item_id, score, reason, model_run_id)
       select $1, r.n, r.item, 1.0 / r.n, '{"kind":"popular"}'::jsonb, 1 from unnest($2::text[]) with ordinality as r(item, n)`,
      [userId, items],
    );
  }

  const clicks = (userId?: string) =>
    t.db.query<{ event_id: string; source: string; user_id: string; item_id: string; occurred_at: Date }>(
      `select event_id, source, user_id, item_id, occurred_at from events where type = 'email_click' and ($1::text is null or user_id = $1) order by event_id`,
      [userId ?? null],
    );

  const get = (path: string, init: RequestInit = {}) => fetch(`${http.url}${path}`, { redirect: 'manual', ...init });

  async function expectInvalidPage(res: Response, status: 400 | 404): Promise<void> {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toMatch(/This link is not valid/);
  }

  beforeAll(async () => {
    t = await freshDatabase();
    await t.db.query(`insert into items (id, title, url) select id, 'Title of ' || id, url from unnest($1::text[], $2::text[]) as t(id, url)`, [
      ITEMS.map((i) => i[0]),
      ITEMS.map((i) => i[1]),
    ]);
    await t.db.query(
      `insert into users (id, email, name, locale) values ('u-click', 'click@example.com', 'Ann', 'en'), ('u-mail', 'mail@example.com', '小明', 'zh-CN'), ('u-coupon', 'coupon@example.com', 'Bo', 'en'), ('u-bare', 'bare@example.com', null, 'en')`,
    );
    // The bad items sit beyond what an email shows (top 4) but are recommended, so only their URLs are at fault.
    await recommend('u-click', ['course-1', 'no-url', 'course-2', 'evil-js', 'evil-scheme-relative', 'evil-credentials']);
    await recommend('u-mail', ['course-1', 'no-url', 'course-2']);
    await recommend('u-coupon', ['no-url', 'course-2', 'course-1']);
    await recommend('u-bare', ['no-url']);
    outreach.sent = await addOutreach('u-click', 'c1', 'email', 'sent');
    outreach.planned = await addOutreach('u-click', 'c2', 'email', 'planned');
    outreach.winback = await addOutreach('u-mail', 'c1', 'email', 'planned');
    outreach.coupon = await addOutreach('u-coupon', 'c1', 'coupon', 'planned');
    outreach.bare = await addOutreach('u-bare', 'c1', 'coupon', 'planned');
    for (const id of [outreach.coupon, outreach.bare]) {
      await t.db.query(`insert into coupons (code, user_id, outreach_id, kind, value, currency, expires_at) select $2, user_id, id, 'percent', 20, null, now() + interval '7 days' from outreach where id = $1`, [id, `WB-${id}-TEST`]);
      await t.db.query(`update outreach set coupon_id = (select id from coupons where outreach_id = $1) where id = $1`, [id]);
    }

    const config = loadConfig({ UTM_SOURCE: 'newsletter' });
    http = await listen(buildHttpApp({ config, db: t.db, log: silentLogger, checks: [], unsubscribeSecret: SECRET, now: () => CLOCK.getTime() }).app);
    smtp = await startSmtpServer();
    mailer = createMailer({ smtpUrl: smtp.url, outboxDir: '/nonexistent-unused', log: silentLogger });
    settings = { ...outreachSettings(config), publicBaseUrl: http.url, unsubscribeSecret: SECRET, from: 'Rekindle <noreply@rekindle.test>' };
  });

  afterAll(async () => {
    await http?.close();
    await mailer?.close();
    await smtp?.close();
    await t?.drop();
  });

  it('redirects to the stored URL with UTM parameters and records one click, however often it is followed', async () => {
    const token = signClickToken(outreach.sent, 'course-1', SECRET);
    const expected =
      'https://learn.example.com/course/1?ref=a%20b&x=1&utm_source=newsletter&utm_medium=email&utm_campaign=spring%20win-back&utm_content=course-1#syllabus';
    for (let i = 0; i < 2; i++) {
      const res = await get(`/r/${token}`);
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe(expected);
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
    // Parameters on our link never steer the redirect.
    const steered = await get(`/r/${token}?url=https://evil.test/&next=//evil.test`);
    expect(steered.headers.get('location')).toBe(expected);
    expect(await clicks('u-click')).toEqual([
      { event_id: `click-${outreach.sent}-course-1`, source: 'rekindle', user_id: 'u-click', item_id: 'course-1', occurred_at: CLOCK },
    ]);
  });

  it('redirects on HEAD (link scanners) without counting a click', async () => {
    const res = await get(`/r/${signClickToken(outreach.sent, 'course-2', SECRET)}`, { method: 'HEAD' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://learn.example.com/c2?utm_source=newsletter&utm_medium=email&utm_campaign=spring%20win-back&utm_content=course-2');
    expect((await clicks('u-click')).map((c) => c.item_id)).toEqual(['course-1']);
  });

  it('shows the page, with no Location, for tampered, foreign-key, unsubscribe and garbage tokens (400)', async () => {
    const good = signClickToken(outreach.sent, 'course-1', SECRET);
    const [id, , mac] = good.split('.');
    for (const token of [
      good.slice(0, -2) + (good.at(-2) === 'A' ? 'B' : 'A'),
      `${id}.${Buffer.from('course-2').toString('base64url')}.${mac}`, // another item, same signature
      good.slice(0, -5), // cut off
      signClickToken(outreach.sent, 'course-1', 'some-other-secret-0123456789'),
      signUnsubscribeToken('u-click', SECRET),
      'garbage',
      '%E0%A4%A', // bad percent-encoding
      encodeURIComponent('<script>alert(1)</script>'),
    ]) {
      await expectInvalidPage(await get(`/r/${token}`), 400);
    }
    await expectInvalidPage(await get('/r/'), 404);
    await expectInvalidPage(await get(`/r/${good}/extra`), 404);
  });

  it('shows the page (404) for a validly signed token whose row or item cannot be followed', async () => {
    for (const [outreachId, item] of [
      [outreach.sent, 'no-such-item'],
      [outreach.planned, 'course-1'], // never emailed
      [999_999, 'course-1'], // no such outreach row
      [outreach.sent, 'no-url'], // the item has no URL
    ] as const) {
      await expectInvalidPage(await get(`/r/${signClickToken(outreachId, item, SECRET)}`), 404);
    }
  });

  it('never redirects to a stored URL that would lead anywhere but a plain http(s) page (400)', async () => {
    for (const item of ['evil-js', 'evil-scheme-relative', 'evil-credentials']) {
      await expectInvalidPage(await get(`/r/${signClickToken(outreach.sent, item, SECRET)}`), 400);
    }
    // None of the refused links recorded anything.
    expect((await clicks()).map((c) => `${c.user_id}/${c.item_id}`)).toEqual(['u-click/course-1']);
  });

  describe('links in delivered email', () => {
    const deps = () => ({ db: t.db, log: silentLogger, mailer, now: () => new Date() });
    const partOf = (m: ReceivedMessage, type: string) => mimeParts(m).find((p) => p.contentType.startsWith(type))!.text;
    const byOutreach = (id: number) => smtp.messages.find((m) => m.header('message-id') === `<outreach-${id}@rekindle.test>`)!;
    const linksIn = (s: string) => [...s.matchAll(/(http:\/\/127\.0\.0\.1:\d+\/r\/([A-Za-z0-9._-]+))/g)].map((m) => ({ url: m[1]!, token: m[2]! }));

    beforeAll(async () => {
      for (const id of [outreach.winback, outreach.coupon, outreach.bare]) expect(await deliverEmail(deps(), settings, id)).toBe('sent');
    });

    it('links each recommended item that has a URL through /r/<token>, tokens that verify for that email', async () => {
      const m = byOutreach(outreach.winback);
      const html = partOf(m, 'text/html');
      const text = partOf(m, 'text/plain');
      for (const part of [html, text]) {
        const claims = linksIn(part).map((l) => verifyClickToken(l.token, SECRET));
        expect(claims).toEqual([
          { outreachId: outreach.winback, itemId: 'course-1' },
          { outreachId: outreach.winback, itemId: 'course-2' },
        ]);
        // Never the item's own page: only the redirect knows it.
        expect(part).not.toContain('learn.example.com');
      }
      // The item without a URL is shown, unlinked.
      expect(html).toMatch(/>Title of no-url</);
      // Following a link from the email counts a click for that user.
      const res = await fetch(linksIn(html)[1]!.url, { redirect: 'manual' });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe('https://learn.example.com/c2?utm_source=newsletter&utm_medium=email&utm_campaign=spring%20win-back&utm_content=course-2');
      expect((await clicks('u-mail')).map((c) => c.item_id)).toEqual(['course-2']);
    });

    it("points a coupon email's call to action at the first recommended item with a URL, or keeps the plain one", async () => {
      const html = partOf(byOutreach(outreach.coupon), 'text/html');
      const text = partOf(byOutreach(outreach.coupon), 'text/plain');
      const cta = /<a href="([^"]+)"[^>]*>Use my coupon<\/a>/.exec(html)?.[1];
      expect(cta).toBeDefined();
      expect(verifyClickToken(cta!.split('/r/')[1], SECRET)).toEqual({ outreachId: outreach.coupon, itemId: 'course-2' });
      expect(text).toContain(`Use my coupon: ${cta}`);

      const bare = byOutreach(outreach.bare);
      expect(linksIn(partOf(bare, 'text/html'))).toEqual([]);
      expect(partOf(bare, 'text/plain')).toContain('Open the app and enter the code at checkout.');
    });
  });
});
