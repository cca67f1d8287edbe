/**
 * A whole retention cycle through real BullMQ workers, Redis, PostgreSQL, an in-process SMTP
 * server and a local webhook receiver: exactly one coupon email and one `coupon.issued` per
 * eligible high-risk user, one email per eligible medium-risk user, nothing for the low
 * tier, the holdout, unsubscribed, address-less or capped users; quiet-hours users wait, then go.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { jobId } from '../../jobs/catalog.js';
import { enqueue } from '../../jobs/enqueue.js';
import { buildHttpApp } from '../../src/http/server.js';
import { silentLogger } from '../../src/logger.js';
import { seedPlatform } from '../../src/services/seed.js';
import { followCycle } from '../../src/cli/follow-cycle.js';
import { cycleStatus } from '../../src/services/cycle-status.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { listen, type Running } from '../support/http.js';
import { testJobs, type TestJobs } from '../support/jobs.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { verify } from '../../src/domain/webhook-signature.js';
import { mimeParts, startSmtpServer, type TestSmtpServer } from '../support/smtp.js';

// 07:59:57 in Shanghai: users there are in quiet hours (22:00–08:00) for three more seconds;
// London is at midnight (eight more hours); New York and Sydney are awake.
const NOW = new Date('2026-11-01T23:59:57Z');
const SHANGHAI_MORNING = new Date('2026-11-02T00:00:00Z');
const WEBHOOK_SECRET = 'whsec_Y3ljbGUtdGVzdC1yZWNlaXZlci1zZWNyZXQ=';

describe('a full cycle on seeded data', () => {
  let t: TestDatabase;
  let smtp: TestSmtpServer;
  let receiver: Receiver;
  let jobs: TestJobs;
  let http: Running;
  const special = { unsubscribed: [] as string[], noEmail: [] as string[], capped: [] as string[] };

  beforeAll(async () => {
    t = await freshDatabase();
    smtp = await startSmtpServer();
    receiver = await startReceiver();
    await seedPlatform({ db: t.db, log: silentLogger }, { users: 1500, seed: 5, end: NOW });
    // Payers only, so each of these would otherwise have been scored and likely contacted.
    const payers = (await t.db.query<{ user_id: string }>(`select distinct user_id from events where type = 'purchase' order by 1 limit 90`)).map((r) => r.user_id);
    special.unsubscribed = payers.slice(0, 30);
    special.noEmail = payers.slice(30, 60);
    special.capped = payers.slice(60, 90);
    await t.db.query(`update users set unsubscribed_at = now() where id = any($1::text[])`, [special.unsubscribed]);
    await t.db.query(`update users set email = null where id = any($1::text[])`, [special.noEmail]);
    await t.db.query(
      `insert into outreach (cycle_id, user_id, tier, channel, state, scheduled_at, sent_at) select 'earlier', u, 'medium', 'email', 'sent', $2, $2 from unnest($1::text[]) as u`,
      [special.capped, new Date(NOW.getTime() - 3 * 86_400_000).toISOString()],
    );
    // Hostile names: markup must be inert, CR/LF must not become headers.
    const payerIds = (await t.db.query<{ id: string }>(`select distinct user_id as id from events where type = 'purchase' order by 1 offset 90 limit 200`)).map((r) => r.id);
    await t.db.query(`update users set name = '<script>alert(1)</script>' where id = any($1::text[])`, [payerIds.filter((_, i) => i % 2 === 0)]);
    await t.db.query(`update users set name = E'Eve\\r\\nBcc: spy@evil.test' where id = any($1::text[])`, [payerIds.filter((_, i) => i % 2 === 1)]);
    await t.db.query(`insert into webhook_endpoints (url, secret, event_types) values ($1, $2, '{coupon.issued,outreach.planned}')`, [`${receiver.url}/hooks`, WEBHOOK_SECRET]);

    // The test's clock stands at NOW until the cycle is planned (however slow scoring is on a
    // busy machine), then runs in real time, so the 3-second quiet-hours delay is a real delay.
    let unfrozenAt: number | null = null;
    const clock = () => new Date(NOW.getTime() + (unfrozenAt === null ? 0 : Date.now() - unfrozenAt));
    // The risk tiers' rules, as OUTREACH_POLICY=tiers runs them (no exploration share).
    jobs = testJobs({ db: t.db, smtpUrl: smtp.url, now: clock, env: { QUIET_HOURS: '22:00-08:00', OUTREACH_POLICY: 'tiers' } });
    http = await listen(buildHttpApp({ config: loadConfig({}), db: t.db, log: silentLogger, checks: [], unsubscribeSecret: jobs.ctx.outreach.unsubscribeSecret }).app);
    jobs.ctx.outreach.publicBaseUrl = http.url;
    jobs.start();
    await enqueue(jobs.queues, 'cycle.start', { cycleId: 'cyc1', asOf: NOW.toISOString() }, { jobId: jobId.cycle('cyc1') });
    while ((await cycleStatus(t.db, 'cyc1', NOW)).status !== 'planned') await new Promise((r) => setTimeout(r, 100));
    unfrozenAt = Date.now();
    await followCycle(t.db, jobs.queues, 'cyc1', 150_000, () => {}, clock);
    // Shanghai's morning is 3 s after NOW: wait until it has come and gone.
    while (clock() < new Date(SHANGHAI_MORNING.getTime() + 1000)) await new Promise((r) => setTimeout(r, 200));
    await followCycle(t.db, jobs.queues, 'cyc1', 60_000, () => {}, clock);
  }, 240_000);

  afterAll(async () => {
    await jobs?.close();
    await http?.close();
    await smtp?.close();
    await receiver?.close();
    await t?.drop();
  });

  const rows = () =>
    t.db.query<{ id: number; user_id: string; tier: string; channel: string; holdout: boolean; state: string; scheduled_at: Date; email: string; code: string | null }>(
      `select o.id, o.user_id, o.tier, o.channel, o.holdout, o.state, o.scheduled_at, u.email, c.code
       from outreach o join users u on u.id = o.user_id left join coupons c on c.id = o.coupon_id where o.cycle_id = 'cyc1'`,
    );

  it('plans coupons for high risk, emails for medium, nothing for low', async () => {
    const all = await rows();
    expect(all.length).toBeGreaterThan(300);
    const [{ n: low }] = (await t.db.query<{ n: number }>(`select count(*)::int as n from user_scores where risk_tier = 'low'`)) as [{ n: number }];
    expect(low).toBeGreaterThan(0);
    const tiers = await t.db.query<{ user_id: string; risk_tier: string }>(`select user_id, risk_tier from user_scores`);
    const tierOf = new Map(tiers.map((r) => [r.user_id, r.risk_tier]));
    for (const r of all) {
      expect(tierOf.get(r.user_id)).toBe(r.tier);
      expect(r.channel).toBe(r.tier === 'high' ? 'coupon' : 'email');
      expect(r.tier).not.toBe('low');
      expect(Boolean(r.code)).toBe(r.tier === 'high' && !r.holdout);
    }
    // The finish job published the run and left the bot its totals for it.
    const [agg] = await t.db.query<any>(`select a.cells from score_aggregates a join cycles c on c.rescore_run_id = a.model_run_id where c.id = 'cyc1'`);
    expect((agg.cells as { users: number }[]).reduce((a, c) => a + c.users, 0)).toBe(tiers.length);
    expect(await t.db.query(`select tablename from pg_tables where tablename ~ '^user_scores_r[0-9]+$'`)).toEqual([]);
  });

  it('sends exactly one email per treated row that is due, with its coupon, and none to anyone else', async () => {
    const all = await rows();
    const due = all.filter((r) => !r.holdout && new Date(r.scheduled_at) <= SHANGHAI_MORNING);
    expect(due.every((r) => r.state === 'sent')).toBe(true);
    const ids = smtp.messages.map((m) => m.header('message-id'));
    expect(new Set(ids).size).toBe(ids.length); // no duplicates
    expect(smtp.messages).toHaveLength(due.length);
    const byId = new Map(smtp.messages.map((m) => [m.header('message-id')!, m]));
    for (const r of due) {
      const m = byId.get(`<outreach-${r.id}@localhost>`);
      expect(m, `message for outreach ${r.id}`).toBeDefined();
      expect(m!.to).toEqual([r.email]);
      if (r.code) expect(m!.raw).toContain(r.code);
      expect(m!.header('list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
    }
    const contacted = new Set(smtp.messages.flatMap((m) => m.to));
    const holdoutEmails = all.filter((r) => r.holdout).map((r) => r.email);
    expect(holdoutEmails.length).toBeGreaterThan(0);
    for (const e of holdoutEmails) expect(contacted.has(e)).toBe(false);
  });

  it('plans nothing for unsubscribed, address-less or recently contacted users', async () => {
    const planned = new Set((await rows()).map((r) => r.user_id));
    for (const u of [...special.unsubscribed, ...special.noEmail, ...special.capped]) expect(planned.has(u), u).toBe(false);
  });

  it('delays quiet-hours users instead of dropping them, and sends when their morning comes', async () => {
    const all = await rows();
    const shanghai = all.filter((r) => !r.holdout && new Date(r.scheduled_at).getTime() === SHANGHAI_MORNING.getTime());
    expect(shanghai.length).toBeGreaterThan(50);
    expect(shanghai.every((r) => r.state === 'sent')).toBe(true);
    const later = all.filter((r) => !r.holdout && new Date(r.scheduled_at) > SHANGHAI_MORNING);
    expect(later.length).toBeGreaterThan(0); // e.g. London, still asleep
    expect(later.every((r) => r.state === 'planned')).toBe(true);
  });

  it('announces each coupon once with a signed coupon.issued webhook', async () => {
    const coupons = (await rows()).filter((r) => r.code);
    const issued = receiver.requests.filter((r) => (r.json as { type: string }).type === 'coupon.issued');
    const byMsg = new Map<string, number>();
    for (const r of issued) {
      // Signed at the test clock's time (in the past), so check the signature at that time.
      const h = (n: string) => String(r.headers[n]);
      expect(verify([WEBHOOK_SECRET], { id: h('webhook-id'), timestamp: h('webhook-timestamp'), signature: h('webhook-signature') }, Buffer.from(r.body), Number(h('webhook-timestamp')) * 1000, 300)).toEqual({ ok: true });
      const id = String(r.headers['webhook-id']);
      byMsg.set(id, (byMsg.get(id) ?? 0) + 1);
    }
    expect([...byMsg.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(issued.map((r) => (r.json as { data: { code: string } }).data.code))).toEqual(new Set(coupons.map((c) => c.code)));
    const [{ pending }] = (await t.db.query<{ pending: number }>(`select count(*)::int as pending from webhook_deliveries where state <> 'delivered'`)) as [{ pending: number }];
    expect(pending).toBe(0);
  });

  it('renders hostile names inert and never as headers', () => {
    const script = smtp.messages.filter((m) => m.raw.includes('alert(1)'));
    expect(script.length).toBeGreaterThan(0);
    for (const m of script) {
      const html = mimeParts(m).find((p) => p.contentType.startsWith('text/html'))!.text;
      expect(html).not.toContain('<script>alert(1)</script>');
      expect(html).toContain('&lt;script&gt;');
    }
    expect(smtp.messages.some((m) => m.raw.includes('Eve'))).toBe(true);
    for (const m of smtp.messages) {
      expect(m.headerAll('bcc')).toEqual([]);
      expect(m.to.some((to) => to.includes('evil'))).toBe(false);
    }
  });

  it('unsubscribes through the link in the email, once clicked; a tampered token is refused', async () => {
    const m = smtp.messages[0]!;
    const link = /<(http[^>]+)>/.exec(m.header('list-unsubscribe')!)![1]!;
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<form method="post"/);
    const tampered = await fetch(link.replace(/token=(.)/, (_, c: string) => `token=${c === 'A' ? 'B' : 'A'}`), { method: 'POST', body: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(tampered.status).toBe(400);
    expect(await tampered.text()).toMatch(/not valid/);
    const [{ before }] = (await t.db.query<{ before: number }>(`select count(*)::int as before from users where unsubscribed_at is not null`)) as [{ before: number }];
    const click = await fetch(link, { method: 'POST', body: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(click.status).toBe(200);
    const [u] = await t.db.query<{ n: number }>(`select count(*)::int as n from users where unsubscribed_at is not null`);
    expect(u!.n).toBe(before + 1);
    const [row] = await t.db.query<{ unsub: boolean }>(`select unsubscribed_at is not null as unsub from users where email = $1`, [m.to[0]]);
    expect(row!.unsub).toBe(true);
  });
});
