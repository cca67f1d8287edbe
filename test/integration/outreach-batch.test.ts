/**
 * `outreach.send-batch` against real PostgreSQL, Redis and an in-process smtp-server: per-row
 * outcomes inside one batch (sent, unsubscribed, no address), and a batch whose worker died
 * right after the server accepted a message, retried: rows marked sent are never sent again; only
 * the row accepted-but-not-marked repeats, with the same Message-ID.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jobId } from '../../jobs/catalog.js';
import { enqueue } from '../../jobs/enqueue.js';
import { enqueueEmails } from '../../jobs/handlers/delivery.js';
import type { Database } from '../../src/db/client.js';
import type { Mailer } from '../../src/outreach/mailer.js';
import { deliverEmailBatch } from '../../src/services/deliver.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { testJobs, type TestJobs } from '../support/jobs.js';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.js';

let seq = 0;

describe('outreach.send-batch', () => {
  let t: TestDatabase;
  let smtp: TestSmtpServer;
  let jobs: TestJobs;

  /** Users with an address, one unsubscribed and one without an address; one planned row each. */
  async function plannedRows(sendable: number): Promise<{ sendable: number[]; unsubscribed: number; addressless: number }> {
    const cycle = `b${++seq}`;
    const users = Array.from({ length: sendable }, (_, i) => `${cycle}-u${i}`);
    await t.db.query(`insert into users (id, email, name, locale) select id, id || '@example.com', 'Ann', 'en' from unnest($1::text[]) as t(id)`, [users]);
    await t.db.query(`insert into users (id, email, locale, unsubscribed_at) values ($1, $1 || '@example.com', 'en', now()), ($2, null, 'en', null)`, [`${cycle}-unsub`, `${cycle}-none`]);
    // A win-back email needs a recommendation to show.
    await t.db.query(`insert into items (id, title) values ('course-1', 'Deep Work') on conflict (id) do nothing`);
    await t.db.query(
      `insert into recommendations (user_id, rank, item_id, score, reason, model_run_id) select id, 1, 'course-1', 1, '{"kind":"popular"}'::jsonb, 1 from unnest($1::text[]) as t(id)`,
      [[...users, `${cycle}-unsub`, `${cycle}-none`]],
    );
    const rows = await t.db.query<{ id: number; user_id: string }>(
      `insert into outreach (cycle_id, campaign, user_id, tier, channel, state, scheduled_at)
       select $1, 'batch test', id, 'medium', 'email', 'planned', now() from unnest($2::text[]) as t(id) order by id
       returning id, user_id`,
      [cycle, [...users, `${cycle}-unsub`, `${cycle}-none`]],
    );
    const id = (u: string) => Number(rows.find((r) => r.user_id === u)!.id);
    return { sendable: users.map(id), unsubscribed: id(`${cycle}-unsub`), addressless: id(`${cycle}-none`) };
  }

  const states = async (ids: number[]) =>
    new Map(
      (await t.db.query<{ id: number; state: string; message_id: string | null; last_error: string | null }>('select id, state, message_id, last_error from outreach where id = any($1::bigint[])', [ids])).map(
        (r) => [Number(r.id), r],
      ),
    );

  /** Message-IDs the SMTP server accepted, with how many times each arrived. */
  const arrivals = () => {
    const n = new Map<string, number>();
    for (const m of smtp.messages) for (const id of m.headerAll('message-id')) n.set(id, (n.get(id) ?? 0) + 1);
    return n;
  };
  const messageIdOf = (id: number) => `<outreach-${id}@rekindle.test>`;

  async function until(what: string, done: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!(await done())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  beforeAll(async () => {
    t = await freshDatabase();
    smtp = await startSmtpServer();
    jobs = testJobs({ db: t.db, smtpUrl: smtp.url, outreach: { from: 'Rekindle <noreply@rekindle.test>' } });
  });
  afterEach(() => {
    smtp.messages.length = 0;
  });
  afterAll(async () => {
    await jobs?.close();
    await smtp?.close();
    await t?.drop();
  });

  it('sends the sendable rows of a batch once each and fails the unsubscribed and the address-less', async () => {
    const rows = await plannedRows(5);
    const ids = [...rows.sendable, rows.unsubscribed, rows.addressless].sort((a, b) => a - b);
    jobs.start();
    await enqueue(jobs.queues, 'outreach.send-batch', { outreachIds: ids }, { jobId: jobId.emails(ids) });
    await until('the batch to finish', async () => [...(await states(ids)).values()].every((r) => r.state === 'sent' || r.state === 'failed'));
    await jobs.workers!.close();
    jobs.workers = null;

    const s = await states(ids);
    for (const id of rows.sendable) expect(s.get(id)).toMatchObject({ state: 'sent', message_id: messageIdOf(id) });
    expect(s.get(rows.unsubscribed)).toMatchObject({ state: 'failed', last_error: 'unsubscribed before delivery', message_id: null });
    expect(s.get(rows.addressless)).toMatchObject({ state: 'failed', last_error: 'no email address', message_id: null });
    const got = arrivals();
    expect([...got.keys()].sort()).toEqual(rows.sendable.map(messageIdOf).sort());
    expect([...got.values()].every((n) => n === 1)).toBe(true);
    expect(smtp.messages.flatMap((m) => m.to)).not.toContain(`b${seq}-unsub@example.com`);
  });

  it('retried after its worker died mid-batch, sends no marked row twice and finishes the rest', async () => {
    const rows = await plannedRows(24);
    const ids = [...rows.sendable, rows.unsubscribed, rows.addressless].sort((a, b) => a - b);
    const settings = jobs.ctx.outreach;
    // The dying worker: the server accepts the 13th message and then the process is gone (the
    // send never returns, so that row is never marked and the rest of the batch never sent).
    let sends = 0;
    const dying: Mailer = {
      ...jobs.mailer,
      send: async (msg) => {
        const n = ++sends;
        const r = await jobs.mailer.send(msg);
        if (n === 13) await new Promise<never>(() => {});
        return r;
      },
    };
    void deliverEmailBatch({ db: t.db, log: jobs.ctx.log, mailer: dying, now: () => new Date() }, settings, ids);
    await until('13 messages accepted, 12 marked', async () => smtp.messages.length >= 13 && [...(await states(ids)).values()].filter((r) => r.state === 'sent').length >= 12);
    const before = await states(ids);
    const marked = ids.filter((id) => before.get(id)!.state === 'sent');
    const leased = ids.filter((id) => before.get(id)!.state === 'sending');
    const arrived = arrivals();
    const accepted = leased.filter((id) => arrived.has(messageIdOf(id)));
    expect(marked).toHaveLength(12);
    // One message is in the window (the server has it, its row is not marked), as with one row per job.
    expect(accepted).toHaveLength(1);

    // The same batch again while the dead worker's lease holds: nothing is sent, the leased rows wait.
    const db: Database = t.db;
    const early = await deliverEmailBatch({ db, log: jobs.ctx.log, mailer: jobs.mailer, now: () => new Date() }, settings, ids);
    expect(early).toMatchObject({ sent: 0, failed: 0, skipped: 0 });
    expect(early.retry.map((r) => r.outreachId).sort()).toEqual([...leased].sort());
    expect(smtp.messages).toHaveLength(13);

    // The lease runs out; the batch job is retried by a live worker.
    await t.db.query(`update outreach set lease_until = now() - interval '1 second' where id = any($1::bigint[]) and state = 'sending'`, [ids]);
    jobs.start();
    await enqueue(jobs.queues, 'outreach.send-batch', { outreachIds: ids }, { jobId: `${jobId.emails(ids)}-retry` });
    await until('the retry to finish', async () => [...(await states(ids)).values()].every((r) => r.state === 'sent' || r.state === 'failed'));
    await jobs.workers!.close();
    jobs.workers = null;

    const got = arrivals();
    for (const id of marked) expect(got.get(messageIdOf(id)), `row ${id} was marked sent`).toBe(1);
    // The one gap: accepted but not marked when the worker died — repeated once, with the same Message-ID.
    for (const id of leased.filter((l) => rows.sendable.includes(l))) expect(got.get(messageIdOf(id)), `row ${id} was leased`).toBe(accepted.includes(id) ? 2 : 1);
    const after = await states(ids);
    for (const id of rows.sendable) expect(after.get(id)).toMatchObject({ state: 'sent', message_id: messageIdOf(id) });
    expect(after.get(rows.unsubscribed)!.state).toBe('failed');
    expect(after.get(rows.addressless)!.state).toBe('failed');
  });

  it('enqueues due rows in batches of 50 named by their ids, and later or retried rows alone', async () => {
    const now = Date.now();
    const due = Array.from({ length: 120 }, (_, i) => ({ id: 100_000 + i, scheduledAt: new Date(now - 1000) }));
    const later = { id: 200_000, scheduledAt: new Date(now + 3_600_000) };
    const retried = { id: 200_001, scheduledAt: new Date(now - 1000), attempts: 1 };
    await enqueueEmails(jobs.queues, [...due].reverse().concat(later, retried), now);
    const batches = await jobs.queues.delivery.getJobs(['waiting', 'delayed']);
    const byName = (n: string) => batches.filter((j) => j.name === n);
    expect(byName('outreach.send-batch').map((j) => j.id).sort()).toEqual(['emails-100000-100049', 'emails-100050-100099', 'emails-100100-100119']);
    expect(byName('outreach.send-batch').flatMap((j) => (j.data as { outreachIds: number[] }).outreachIds).sort()).toEqual(due.map((d) => d.id).sort());
    expect(byName('outreach.send-email').map((j) => j.id).sort()).toEqual(['email-200000', 'email-200001']);
    await jobs.queues.delivery.obliterate({ force: true });
  });
});
