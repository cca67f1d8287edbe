/**
 * `rekindle simulate`: the synthetic platform carried forward day by day on a simulated clock,
 * with the real retention loop running on it — the cycle through the real jobs and workers,
 * emails into an outbox, outbound webhooks to a local receiver — and users who respond to
 * what they actually received:
 *
 * - their natural future comes from the platform's own simulation (src/synth/platform.ts,
 *   `generateForward`), continued from where their history ended;
 * - each delivered email is read back from the outbox: its coupon code, its click links and
 *   its one-click unsubscribe link are what the user acts on;
 * - responses (src/synth/response.ts) are drawn from hidden, heterogeneous profiles and come
 *   back through the same doors real users use: signed event webhooks (purchases carrying the
 *   coupon code), `GET /r/<token>` for clicks, `POST /unsubscribe` for unsubscribes;
 * - the true expected effect of every outreach row is written to `sim_truth`, which only
 *   tests, `simulate --json` and the benchmarks read.
 *
 * PGlite serves one process, so everything runs here (as in `demo`).
 */
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { jobId } from '../../jobs/catalog.js';
import { enqueue, cycleIdFor } from '../../jobs/enqueue.js';
import { handlers } from '../../jobs/handlers/index.js';
import { startWorkers } from '../../jobs/worker.js';
import type { EventRecord, ItemRecord } from '../domain/events.js';
import { sign } from '../domain/webhook-signature.js';
import { migrate } from '../db/migrate.js';
import { outboxFileName } from '../outreach/mailer.js';
import { seedPlatform } from '../services/seed.js';
import { insertTruth, truthSummary, type TruthRow, type TruthSummary } from '../store/sim-truth.js';
import { generateCatalog } from '../synth/catalog.js';
import { generateForward, type UserTraits } from '../synth/platform.js';
import { hashInts } from '../synth/prng.js';
import { discountOn, drawResponse, reach, responseProfile, trueEffects, type Baseline, type OfferTerms, type ResponseProfile } from '../synth/response.js';
import { toWireEvent } from '../synth/wire.js';
import { startReceiver } from './demo.js';
import { followCycle } from './follow-cycle.js';
import { openJobsRuntime } from './jobs-runtime.js';
import type { Runtime } from './runtime.js';
import { startHttp } from './server-runtime.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The cycle runs at this hour of each simulated day (like RESCORE_CRON's default 03:00 UTC). */
const CYCLE_HOUR = 3;

export interface SimulateOptions {
  users: number;
  days: number;
  seed: number;
  /** Days between cycles: 1 (daily) or 7 (weekly). */
  cycleEveryDays: number;
  /** The first simulated day (midnight UTC); the seeded history ends there. */
  start: Date;
  /** Seed the history first (false when the caller, e.g. `demo`, already did). */
  seedHistory: boolean;
  say: (line: string) => void;
  /** Called after each simulated day. */
  onDay?: (day: number, days: number) => void;
}

export interface SimulatedCycle {
  cycleId: string;
  day: number;
  /** Who picked the offers, and why the tiers did when the uplift model could not. */
  policy?: string;
  policyFallback?: string | null;
  treated: { coupon: number; email: number };
  holdout: number;
  delivered: number;
}

export interface SimulationResult {
  seconds: number;
  database: string;
  users: number;
  days: number;
  seed: number;
  cycleEveryDays: number;
  policy: string;
  start: string;
  end: string;
  cycles: SimulatedCycle[];
  events: { natural: number; responses: number; dropped: number; redeemedNatural: number; clicks: number; unsubscribes: number; deadLinks: number };
  /** The simulator's ground truth over settled treated rows: what the outreach really did. */
  truth: TruthSummary[];
  outbox: string;
  simulatedDaysPerMinute: number;
}

interface SimUser {
  index: number;
  id: string;
  traits: UserTraits;
  profile: ResponseProfile;
  /** Natural future, sorted; `dropped` marks events a contact took away. */
  future: EventRecord[];
  dropped: Set<number>;
  cursor: number;
  lastEventMs: number;
}

interface Action {
  at: number;
  kind: 'click' | 'unsubscribe';
  url: string;
  method: 'GET' | 'POST';
}

/** Runs the forward simulation on an already migrated database whose history is (or will be) seeded. */
export async function simulate(rt: Runtime, o: SimulateOptions): Promise<SimulationResult> {
  const t0 = performance.now();
  const say = o.say;
  if (!(o.cycleEveryDays === 1 || o.cycleEveryDays === 7)) throw new RangeError(`cycle-every must be 1d or 7d (got ${o.cycleEveryDays}d)`);
  const startMs = o.start.getTime();
  const windowDays = rt.config.CONVERSION_WINDOW_DAYS;
  const terms: OfferTerms = { kind: rt.config.COUPON_KIND, value: rt.config.COUPON_VALUE };
  // The simulated clock: everything that stamps business time (cycles, sends, settling,
  // unsubscribes, clicks, webhook signatures) reads it.
  let clock = startMs;
  const now = () => new Date(clock);
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const outbox = resolve(rt.config.OUTBOX_DIR);
  // A simulation of its own starts with an empty outbox; after `demo` it reads the demo's emails too.
  if (o.seedHistory) await rm(outbox, { recursive: true, force: true });
  const config = { ...rt.config, QUIET_HOURS: 'off', SMTP_URL: undefined, WEBHOOK_SECRETS: [secret], WEBHOOK_ALLOW_PRIVATE: true, QUEUE_PREFIX: `${rt.config.QUEUE_PREFIX}-sim-${randomBytes(3).toString('hex')}` };
  const srt: Runtime = { ...rt, config };
  await migrate(srt.db);

  const catalog = generateCatalog({ seed: o.seed });
  const items = new Map<string, ItemRecord>(catalog.map((i) => [i.id, i]));
  if (o.seedHistory) {
    say(`seeding ${o.users} users' history up to ${o.start.toISOString().slice(0, 10)}…`);
    await seedPlatform(srt, { users: o.users, seed: o.seed, end: o.start });
  }
  say('continuing every user past their history…');
  const users: SimUser[] = [];
  for (const u of generateForward({ users: o.users, seed: o.seed, end: o.start, futureDays: o.days + windowDays + 1 }, catalog)) {
    const last = u.events.length ? (u.events[u.events.length - 1] as EventRecord).occurredAt.getTime() : u.user.signupAt?.getTime() ?? startMs;
    users.push({ index: users.length, id: u.user.id, traits: u.traits, profile: responseProfile(u.traits, o.seed, users.length), future: u.future, dropped: new Set(), cursor: 0, lastEventMs: last });
  }
  const byId = new Map(users.map((u) => [u.id, u]));

  const jobs = await openJobsRuntime(srt, { now });
  const receiver = await startReceiver();
  const http = await startHttp(srt, { port: 0, host: '127.0.0.1', now: () => clock });
  jobs.ctx.outreach.publicBaseUrl = http.url;
  const workers = startWorkers({ connection: jobs.redis, prefix: config.QUEUE_PREFIX, concurrency: { scoring: 1, delivery: 8 }, handlers, ctx: jobs.ctx, onDone: http.metrics.onJobDone });
  await srt.db.query(`delete from webhook_endpoints where description = 'simulation receiver'`);
  await srt.db.query(`insert into webhook_endpoints (url, secret, event_types, description) values ($1, $2, '{}', 'simulation receiver')`, [receiver.url, `whsec_${randomBytes(24).toString('base64')}`]);

  const overlay: { at: number; user: SimUser; event: EventRecord }[] = [];
  const actions: Action[] = [];
  const counts = { natural: 0, responses: 0, dropped: 0, redeemedNatural: 0, clicks: 0, unsubscribes: 0, deadLinks: 0 };
  const cycles: SimulatedCycle[] = [];

  async function post(events: EventRecord[]): Promise<void> {
    if (events.length === 0) return;
    const body = JSON.stringify(events.map((e) => toWireEvent(e)));
    const id = `msg_sim_${randomBytes(8).toString('hex')}`;
    const ts = Math.floor(clock / 1000);
    const res = await fetch(`${http.url}/webhooks/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': sign(secret, id, ts, body) },
      body,
    });
    if (res.status !== 200) throw new Error(`the event webhook answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
  }

  /** Ingests every event and performs every action due before `until`, in time order. */
  async function flushUntil(until: number): Promise<void> {
    const due: { at: number; event?: EventRecord; user?: SimUser; action?: Action }[] = [];
    for (const u of users) {
      while (u.cursor < u.future.length && (u.future[u.cursor] as EventRecord).occurredAt.getTime() < until) {
        const k = u.cursor++;
        if (u.dropped.has(k)) continue;
        const e = u.future[k] as EventRecord;
        due.push({ at: e.occurredAt.getTime(), event: e, user: u });
        counts.natural++;
      }
    }
    overlay.sort((a, b) => a.at - b.at);
    while (overlay.length && (overlay[0] as (typeof overlay)[number]).at < until) {
      const x = overlay.shift()!;
      due.push({ at: x.at, event: x.event, user: x.user });
    }
    actions.sort((a, b) => a.at - b.at);
    while (actions.length && (actions[0] as Action).at < until) {
      const a = actions.shift()!;
      due.push({ at: a.at, action: a });
    }
    due.sort((a, b) => a.at - b.at);
    let batch: EventRecord[] = [];
    for (const d of due) {
      if (d.event) {
        batch.push(d.event);
        if (d.user && d.at > d.user.lastEventMs) d.user.lastEventMs = d.at;
        if (batch.length >= 1000) {
          clock = Math.max(clock, d.at);
          await post(batch);
          batch = [];
        }
        continue;
      }
      clock = Math.max(clock, d.at);
      await post(batch);
      batch = [];
      const a = d.action!;
      const res = await fetch(a.url, { method: a.method, redirect: 'manual', ...(a.method === 'POST' ? { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' } : {}) });
      await res.arrayBuffer();
      // A link that no longer works is what a user would meet too: counted, not fatal. A 5xx is our bug.
      if (res.status >= 500) throw new Error(`the ${a.kind} link answered ${res.status}: ${a.url}`);
      if (a.kind === 'click' ? res.status !== 302 : res.status !== 200) counts.deadLinks++;
      else counts[a.kind === 'click' ? 'clicks' : 'unsubscribes']++;
    }
    clock = Math.max(clock, until - 1);
    await post(batch);
  }

  /** The user's conversions in [from, to) as they stand now (natural, not dropped, plus responses). */
  function baseline(u: SimUser, from: number, to: number): { b: Baseline; firstPurchase: number | null } {
    let converts = false;
    let revenue = 0;
    let firstPurchase: number | null = null;
    let firstAt = Infinity;
    for (let k = 0; k < u.future.length; k++) {
      const e = u.future[k] as EventRecord;
      const t = e.occurredAt.getTime();
      if (t < from) continue;
      if (t >= to) break;
      if (u.dropped.has(k) || (e.type !== 'purchase' && e.type !== 'renewal')) continue;
      converts = true;
      revenue += e.amountMinor ?? 0;
      if (e.type === 'purchase' && t < firstAt) {
        firstAt = t;
        firstPurchase = k;
      }
    }
    for (const x of overlay) {
      if (x.user !== u || x.at < from || x.at >= to || (x.event.type !== 'purchase' && x.event.type !== 'renewal')) continue;
      converts = true;
      revenue += x.event.amountMinor ?? 0;
    }
    const fp = firstPurchase === null ? null : ((u.future[firstPurchase] as EventRecord).amountMinor ?? 0);
    return { b: { converts, revenueMinor: revenue, firstPurchaseMinor: fp }, firstPurchase };
  }

  /** Reads each planned row of the cycle, writes its truth, and schedules what the user does about it. */
  async function respond(cycleId: string, day: number): Promise<SimulatedCycle> {
    const rows = await srt.db.query<{ id: number; user_id: string; channel: string; holdout: boolean; state: string; at: string; message_id: string | null }>(
      `select id, user_id, channel, holdout, state, coalesce(sent_at, scheduled_at)::text as at, message_id from outreach where cycle_id = $1 order by id`,
      [cycleId],
    );
    const recs = await srt.db.query<{ user_id: string; item_id: string; price_minor: number | null }>(
      `select distinct on (r.user_id) r.user_id, r.item_id, i.price_minor from recommendations r join items i on i.id = r.item_id
       where r.user_id = any($1::text[]) and i.url is not null order by r.user_id, r.rank`,
      [rows.map((r) => r.user_id)],
    );
    const target = new Map(recs.map((r) => [r.user_id, { itemId: r.item_id, price: Number(r.price_minor ?? 0) }]));
    const truth: TruthRow[] = [];
    const summary: SimulatedCycle = { cycleId, day, treated: { coupon: 0, email: 0 }, holdout: 0, delivered: 0 };
    for (const row of rows) {
      const u = byId.get(row.user_id);
      if (!u) continue;
      const at = new Date(row.at).getTime();
      const end = at + windowDays * DAY;
      const { b, firstPurchase } = baseline(u, at, end);
      const r = reach((at - u.lastEventMs) / DAY);
      const item = target.get(u.id) ?? fallbackItem(u, catalog, o.seed);
      const fx = trueEffects(u.profile, b, r, item.price, terms);
      const offer = row.channel === 'coupon' ? 'coupon' : 'email';
      const received = !row.holdout && row.state === 'sent' && row.message_id !== null;
      if (row.holdout) summary.holdout++;
      else summary.treated[offer]++;
      // A row that was never delivered changed nothing: its truth is the baseline whatever the offer.
      truth.push(
        received || row.holdout
          ? { outreachId: Number(row.id), userId: u.id, channel: row.channel, holdout: row.holdout, ...fx }
          : { outreachId: Number(row.id), userId: u.id, channel: row.channel, holdout: false, ...fx, pCoupon: fx.pNone, pEmail: fx.pNone, revenueCoupon: fx.revenueNone, revenueEmail: fx.revenueNone, discountCoupon: 0 },
      );
      if (!received) continue;
      summary.delivered++;
      const mail = await readEmail(join(outbox, outboxFileName(row.message_id!)));
      const resp = drawResponse(u.profile, offer, b, r, windowDays, hashInts(o.seed, u.index, day, 0xc0ffee));
      const code = offer === 'coupon' ? mail.couponCode : null;
      if (resp.dropNatural) {
        for (let k = 0; k < u.future.length; k++) {
          const e = u.future[k] as EventRecord;
          const t = e.occurredAt.getTime();
          if (t >= at && t < end && (e.type === 'purchase' || e.type === 'renewal') && !u.dropped.has(k)) {
            u.dropped.add(k);
            counts.dropped++;
          }
        }
      }
      if (resp.redeemNatural && code && firstPurchase !== null && !u.dropped.has(firstPurchase)) {
        const e = u.future[firstPurchase] as EventRecord;
        const amount = e.amountMinor ?? 0;
        u.future[firstPurchase] = { ...e, couponCode: code, amountMinor: amount - Math.min(amount, discountOn(terms, amount)) };
        counts.redeemedNatural++;
      }
      if (resp.buyAt !== null) {
        const price = item.price;
        const amount = offer === 'coupon' && code ? price - Math.min(price, discountOn(terms, price)) : price;
        overlay.push({
          at: at + resp.buyAt,
          user: u,
          event: {
            source: 'default',
            eventId: `s${o.seed}-${u.index}-r${day}-buy`,
            type: 'purchase',
            userId: u.id,
            itemId: item.itemId,
            occurredAt: new Date(Math.floor(at + resp.buyAt)),
            amountMinor: amount,
            currency: items.get(item.itemId)?.currency ?? 'CNY',
            quantity: 1,
            lessonId: null,
            percent: null,
            couponCode: offer === 'coupon' ? code : null,
          },
        });
        counts.responses++;
      }
      if (resp.clickAt !== null && mail.clickUrls.length) actions.push({ at: at + resp.clickAt, kind: 'click', url: mail.clickUrls[0] as string, method: 'GET' });
      if (resp.unsubscribeAt !== null && mail.unsubscribeUrl) actions.push({ at: at + resp.unsubscribeAt, kind: 'unsubscribe', url: mail.unsubscribeUrl, method: 'POST' });
    }
    await insertTruth(srt.db, truth);
    return summary;
  }

  try {
    // Outreach planned at the start (the demo's own cycle) is read and answered like the rest.
    const earlier = await srt.db.query<{ cycle_id: string }>(
      `select distinct o.cycle_id from outreach o where coalesce(o.sent_at, o.scheduled_at) >= $1 and not exists (select 1 from sim_truth t where t.outreach_id = o.id) order by 1`,
      [new Date(startMs).toISOString()],
    );
    for (const c of earlier) await respond(c.cycle_id, -1);
    say(`simulating ${o.days} days from ${o.start.toISOString().slice(0, 10)}, a cycle every ${o.cycleEveryDays === 1 ? 'day' : 'week'} (policy ${config.OUTREACH_POLICY})…`);
    for (let day = 0; day < o.days; day++) {
      const cycleAt = startMs + day * DAY + CYCLE_HOUR * HOUR;
      await flushUntil(cycleAt);
      if (day % o.cycleEveryDays === 0) {
        clock = cycleAt;
        const cycleId = cycleIdFor(now());
        await enqueue(jobs.queues, 'cycle.start', { cycleId, asOf: now().toISOString() }, { jobId: jobId.cycle(cycleId) });
        const status = await followCycle(srt.db, jobs.queues, cycleId, 600_000, () => {}, now);
        const c = { ...(await respond(cycleId, day)), policy: status.policy ?? 'tiers', policyFallback: status.policyFallback };
        cycles.push(c);
        say(`day ${day + 1}/${o.days}: cycle ${cycleId}: ${c.treated.coupon} coupons, ${c.treated.email} emails, ${c.holdout} held out (${c.policy === 'uplift' ? 'uplift model' : 'risk tiers'})`);
      }
      o.onDay?.(day + 1, o.days);
    }
    const endMs = startMs + o.days * DAY;
    await flushUntil(endMs);
    clock = endMs;
    const { settleOutreach } = await import('../services/settle.js');
    await settleOutreach({ db: srt.db, log: srt.log, now }, { windowDays });
    const truth = await truthSummary(srt.db);
    const seconds = (performance.now() - t0) / 1000;
    return {
      seconds,
      database: srt.db.kind,
      users: o.users,
      days: o.days,
      seed: o.seed,
      cycleEveryDays: o.cycleEveryDays,
      policy: config.OUTREACH_POLICY,
      start: o.start.toISOString(),
      end: new Date(endMs).toISOString(),
      cycles,
      events: counts,
      truth,
      outbox,
      simulatedDaysPerMinute: o.days / (seconds / 60),
    };
  } finally {
    await workers.close();
    await http.close();
    await receiver.close();
    await jobs.close();
  }
}

/** A user without a linked recommendation would buy something from their catalogue anyway. */
function fallbackItem(u: SimUser, catalog: ItemRecord[], seed: number): { itemId: string; price: number } {
  const content = catalog.filter((i) => i.itemType !== 'membership');
  const it = content[hashInts(seed, u.index, 7) % content.length] as ItemRecord;
  return { itemId: it.id, price: it.priceMinor ?? 0 };
}

/** What the user finds in the email: the coupon code, the click links, the one-click unsubscribe link. */
async function readEmail(file: string): Promise<{ couponCode: string | null; clickUrls: string[]; unsubscribeUrl: string | null }> {
  const raw = await readFile(file, 'utf8');
  const headerEnd = raw.indexOf('\r\n\r\n');
  const headers = raw.slice(0, headerEnd).replace(/\r\n[ \t]+/g, ' ');
  const unsub = /^List-Unsubscribe:\s*<([^>]+)>/im.exec(headers)?.[1] ?? null;
  // Quoted-printable bodies: join soft line breaks, decode =XX.
  const body = raw
    .slice(headerEnd)
    .replace(/=\r\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  const couponCode = /RK-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}/.exec(body)?.[0] ?? null;
  const clickUrls = [...new Set([...body.matchAll(/https?:\/\/[^\s"'<>]+\/r\/[A-Za-z0-9._~-]+/g)].map((m) => m[0]))];
  return { couponCode, clickUrls, unsubscribeUrl: unsub };
}
