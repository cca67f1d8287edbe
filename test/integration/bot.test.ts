/**
 * The Slack bot end to end: signed slash commands (form-encoded), events (JSON) and button
 * clicks (form-encoded `payload=`) posted to Bolt's real ExpressReceiver on loopback, against a
 * seeded and scored PostgreSQL database; Web API calls and response_url posts answered and
 * recorded by a local fake Slack. Expected numbers come from SQL written here, independently
 * of src/store/insights.ts.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackBot, type SlackBot } from '../../src/bot/app.js';
import { featureLabel } from '../../src/bot/blocks.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { silentLogger } from '../../src/logger.js';
import { RFM_SEGMENT_LABELS } from '../../src/ml/rfm.js';
import { createInsights } from '../../src/services/insights.js';
import { modelSettings } from '../../src/services/model-settings.js';
import { recommendAll } from '../../src/services/recommend.js';
import { rescore } from '../../src/services/rescore.js';
import { seedPlatform } from '../../src/services/seed.js';
import { settleOutreach } from '../../src/services/settle.js';
import { isOutreachPaused } from '../../src/store/outreach.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { listen, type Running } from '../support/http.js';
import { blocksText, FAKE_TEAM, signSlackRequest, startFakeSlack, type FakeSlack } from '../support/slack.js';

const END = new Date('2026-11-01T00:00:00Z');
const SECRET = 'slack-signing-secret-for-tests-0123';
const GROWTH = 'UGROWTH01'; // allowed, no personal data, not an admin
const PII = 'UPII00001'; // allowed, sees personal data
const ADMIN = 'UADMIN001'; // allowed admin
const OUTSIDER = 'UOUTSIDE1'; // not on the user allowlist
const CHANNEL = 'CGROWTH01';
const DIGEST = 'CDIGEST01';

const en = {
  int: (n: number) => new Intl.NumberFormat('en-US').format(n),
  pct: (p: number) => new Intl.NumberFormat('en-US', { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(p),
  money: (minor: number) => new Intl.NumberFormat('en-US', { style: 'currency', currency: 'CNY' }).format(minor / 100),
};
const zhInt = (n: number) => new Intl.NumberFormat('zh-CN').format(n);

describe('Slack bot over a seeded, scored database', () => {
  let t: TestDatabase;
  let db: Database;
  let slack: FakeSlack;
  let bot: SlackBot;
  let http: Running;
  let run1: number;
  const enqueued: string[] = [];
  let seq = 0;

  beforeAll(async () => {
    t = await freshDatabase();
    db = t.db;
    await seedPlatform({ db, log: silentLogger }, { users: 2000, seed: 11, end: END });
    const s = modelSettings(loadConfig({}));
    run1 = (await rescore({ db, log: silentLogger, now: () => END }, s)).modelRunId;
    await recommendAll({ db, log: silentLogger, now: () => END }, s);
    await plantOutreach(db);
    slack = await startFakeSlack();
    const config = loadConfig({
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_API_URL: slack.apiUrl,
      SLACK_MODE: 'http',
      SLACK_ALLOWED_TEAMS: FAKE_TEAM,
      SLACK_ALLOWED_CHANNELS: `${CHANNEL},${DIGEST}`,
      SLACK_ALLOWED_USERS: [GROWTH, PII, ADMIN].join(','),
      SLACK_PII_USERS: PII,
      SLACK_ADMIN_USERS: ADMIN,
      SLACK_DIGEST_CHANNEL: DIGEST,
    });
    bot = createSlackBot({
      config,
      db,
      log: process.env.BOT_TEST_LOG ? (await import('../../src/logger.js')).createLogger({ level: process.env.BOT_TEST_LOG }) : silentLogger,
      now: () => END,
      queues: {
        enqueueRescore: async () => {
          enqueued.push(`rescore-${enqueued.length + 1}`);
          return enqueued.at(-1) as string;
        },
      },
    });
    const app = express();
    app.use(bot.router!);
    http = await listen(app);
    await bot.start();
  }, 240_000);

  afterAll(async () => {
    await bot?.stop();
    await http?.close();
    await slack?.close();
    await t?.drop();
  });

  // ------------------------------------------------------------------------------------------
  // Requests as Slack sends them
  // ------------------------------------------------------------------------------------------

  async function post(body: string, contentType: string, headers: Record<string, string> = signSlackRequest(body, SECRET)) {
    const started = performance.now();
    const res = await fetch(`${http.url}/slack/events`, { method: 'POST', headers: { 'content-type': contentType, ...headers }, body });
    const text = await res.text();
    return { status: res.status, text, ms: performance.now() - started };
  }

  /** A slash command; resolves once Bolt answered the HTTP request (the ack). */
  async function slash(text: string, o: { user?: string; channel?: string; team?: string; userTeam?: string } = {}) {
    const id = `cmd${++seq}`;
    const body = new URLSearchParams({
      token: 'legacy-verification-token',
      team_id: o.team ?? FAKE_TEAM,
      team_domain: 'fake',
      channel_id: o.channel ?? CHANNEL,
      channel_name: 'growth',
      user_id: o.user ?? GROWTH,
      user_name: 'someone',
      command: '/retain',
      text,
      api_app_id: 'A0REKINDLE',
      is_enterprise_install: 'false',
      response_url: slack.responseUrl(id),
      trigger_id: `${seq}.1.abc`,
      ...(o.userTeam ? { user_team: o.userTeam } : {}),
    }).toString();
    const res = await post(body, 'application/x-www-form-urlencoded');
    return { ...res, id };
  }

  async function ask(text: string, o: { user?: string; channel?: string } = {}) {
    const r = await slash(text, o);
    expect(r.status).toBe(200);
    const answer = await slack.waitForResponse(r.id);
    return { ...r, body: answer.body, all: blocksText(answer.body.blocks) + '\n' + String(answer.body.text) };
  }

  async function sendEvent(event: Record<string, unknown>, o: { team?: string } = {}) {
    const body = JSON.stringify({
      token: 'legacy-verification-token',
      team_id: o.team ?? FAKE_TEAM,
      api_app_id: 'A0REKINDLE',
      type: 'event_callback',
      event_id: `Ev${++seq}`,
      event_time: Math.floor(Date.now() / 1000),
      event: { event_ts: `${1_700_000_000 + seq}.000100`, ts: `${1_700_000_000 + seq}.000100`, ...event },
    });
    return post(body, 'application/json');
  }

  async function clickButton(o: { user: string; actionId: string; value: string; messageTs: string; channel?: string }) {
    const id = `click${++seq}`;
    const payload = {
      type: 'block_actions',
      team: { id: FAKE_TEAM, domain: 'fake' },
      user: { id: o.user, username: 'someone', team_id: FAKE_TEAM },
      api_app_id: 'A0REKINDLE',
      token: 'legacy-verification-token',
      container: { type: 'message', message_ts: o.messageTs, channel_id: o.channel ?? DIGEST, is_ephemeral: false },
      trigger_id: `${seq}.2.def`,
      channel: { id: o.channel ?? DIGEST, name: 'digest' },
      message: { type: 'message', ts: o.messageTs, text: 'Call list' },
      response_url: slack.responseUrl(id),
      actions: [{ type: 'button', action_id: o.actionId, block_id: 'digest:x', value: o.value, action_ts: `${Date.now() / 1000}` }],
    };
    const res = await post(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), 'application/x-www-form-urlencoded');
    return { ...res, id };
  }

  const one = async <T>(sql: string, params: unknown[] = []): Promise<T> => (await db.query<T>(sql, params))[0] as T;

  // ------------------------------------------------------------------------------------------
  // Receiver: signatures and the URL check
  // ------------------------------------------------------------------------------------------

  it('answers the url_verification challenge of a signed request', async () => {
    const body = JSON.stringify({ token: 'x', challenge: 'challenge-3f9a', type: 'url_verification' });
    const r = await post(body, 'application/json');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toEqual({ challenge: 'challenge-3f9a' });
  });

  it('rejects a bad, a missing or a stale signature with 401 and does nothing', async () => {
    const before = slack.calls.length + slack.responses.length;
    const body = new URLSearchParams({ team_id: FAKE_TEAM, channel_id: CHANNEL, user_id: GROWTH, command: '/retain', text: 'overview', response_url: slack.responseUrl('never') }).toString();
    expect((await post(body, 'application/x-www-form-urlencoded', signSlackRequest(body, 'another-secret'))).status).toBe(401);
    expect((await post(body, 'application/x-www-form-urlencoded', {})).status).toBe(401);
    const stale = Math.floor(Date.now() / 1000) - 10 * 60;
    expect((await post(body, 'application/x-www-form-urlencoded', signSlackRequest(body, SECRET, stale))).status).toBe(401);
    // A body changed after signing.
    const signed = signSlackRequest(body, SECRET);
    expect((await post(body.replace('overview', 'rescore'), 'application/x-www-form-urlencoded', signed)).status).toBe(401);
    await new Promise((r) => setTimeout(r, 200));
    expect(slack.calls.length + slack.responses.length).toBe(before);
  });

  // ------------------------------------------------------------------------------------------
  // Slash commands
  // ------------------------------------------------------------------------------------------

  it('acks at once and answers overview through response_url with the right numbers and two charts', async () => {
    const r = await ask('overview');
    expect(r.ms).toBeLessThan(1000); // the ack: Slack gives 3 s
    expect(r.text).toBe('');
    const users = await one<{ n: number }>('select count(*)::int as n from users');
    const payers = await one<{ n: number }>('select count(*)::int as n from user_scores');
    const active = await one<{ n: number }>(
      `select count(distinct user_id)::int as n from events where occurred_at >= $1::timestamptz - interval '30 days' and occurred_at < $1`,
      [END.toISOString()],
    );
    const tiers: Record<string, number> = { high: 0, medium: 0, low: 0 };
    for (const x of await db.query<{ risk_tier: string; n: number }>('select risk_tier, count(*)::int as n from user_scores group by 1')) tiers[x.risk_tier] = x.n;
    const auc = await one<{ auc: number }>(`select (metrics->'churn'->>'auc')::float8 as auc from model_runs where kind = 'rescore' and status = 'done' order by id desc limit 1`);
    expect(r.all).toContain(`*Users*\n${en.int(users.n)}`);
    expect(r.all).toContain(`*Payers (scored)*\n${en.int(payers.n)}`);
    expect(r.all).toContain(`*Active in the last 30 days*\n${en.int(active.n)}`);
    expect(r.all).toContain(`High ${en.int(tiers.high!)} (${en.pct(tiers.high! / payers.n)})`);
    expect(r.all).toContain(`Medium ${en.int(tiers.medium!)}`);
    expect(r.all).toContain(`Low ${en.int(tiers.low!)}`);
    expect(r.all).toContain(`AUC ${new Intl.NumberFormat('en-US', { maximumFractionDigits: 3 }).format(auc.auc)}`);
    const seg = await one<{ segment: string; n: number }>('select segment, count(*)::int as n from user_scores group by 1 order by 2 desc limit 1');
    expect(r.all).toContain(`${RFM_SEGMENT_LABELS[seg.segment as keyof typeof RFM_SEGMENT_LABELS].en} ${en.int(seg.n)}`);
    expect(r.body.response_type).toBe('ephemeral');
    // Charts: two PNGs uploaded through files.uploadV2 to the asker's DM with the bot, since the
    // answer itself was ephemeral (the channel must not see what only the asker asked for).
    const dm = await slack.waitForCall('conversations.open', (c) => c.args.users === GROWTH);
    for (const title of ['Churn risk distribution', 'Users by segment']) {
      const complete = await slack.waitForCall('files.completeUploadExternal', (c) => c.args.files?.[0]?.title === title);
      expect(complete.args.channel_id).toBe(dm.result.channel.id);
      expect(complete.args.channel_id).not.toBe(CHANNEL);
      expect(slack.uploads.find((x) => x.fileId === complete.args.files[0].id)?.png?.length ?? 0).toBeGreaterThan(5000);
    }
  });

  it('ranks at-risk users by value at risk, with or without a segment or tier', async () => {
    const r = await ask('at-risk 5');
    const top = await db.query<{ user_id: string; v: number; p: number }>(
      `select user_id, expected_value_minor * churn_probability as v, churn_probability as p from user_scores
       order by expected_value_minor * churn_probability desc nulls last, user_id limit 5`,
    );
    const positions = top.map((u) => r.all.indexOf(`\`${u.user_id}\``));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(r.all).toContain(`Value at risk ${en.money(top[0]!.v)}`);
    expect(r.all).toContain(`risk ${en.pct(top[0]!.p)}`);

    const seg = await one<{ segment: string }>(`select segment from user_scores where risk_tier = 'high' group by 1 order by count(*) desc limit 1`);
    const label = RFM_SEGMENT_LABELS[seg.segment as keyof typeof RFM_SEGMENT_LABELS].en;
    const r2 = await ask(`at-risk 3 ${seg.segment.replace(/_/g, '-')}`);
    const top2 = await db.query<{ user_id: string }>(
      `select user_id from user_scores where segment = $1 order by expected_value_minor * churn_probability desc nulls last, user_id limit 3`,
      [seg.segment],
    );
    expect(r2.all).toContain(`in ${label}`);
    const p2 = top2.map((u) => r2.all.indexOf(`\`${u.user_id}\``));
    expect(p2.every((p) => p >= 0) && [...p2].sort((a, b) => a - b).join() === p2.join()).toBe(true);

    const r3 = await ask('at-risk 4 low');
    const top3 = await db.query<{ user_id: string }>(
      `select user_id from user_scores where risk_tier = 'low' order by expected_value_minor * churn_probability desc nulls last, user_id limit 4`,
    );
    for (const u of top3) expect(r3.all).toContain(`\`${u.user_id}\``);
  });

  it('lists segments with sizes and mean risk, and one segment with its users', async () => {
    const r = await ask('segments');
    const rows = await db.query<{ segment: string; n: number; avg: number }>('select segment, count(*)::int as n, avg(churn_probability) as avg from user_scores group by 1');
    for (const s of rows) {
      const label = RFM_SEGMENT_LABELS[s.segment as keyof typeof RFM_SEGMENT_LABELS].en;
      expect(r.all).toContain(`*${label}* — ${en.int(s.n)} users · mean risk ${en.pct(Number(s.avg))}`);
    }
    const big = rows.sort((a, b) => b.n - a.n)[0]!;
    const r2 = await ask(`segment ${big.segment.replace(/_/g, ' ')} 3`);
    expect(r2.all).toContain(`*Users*\n${en.int(big.n)}`);
    const top = await db.query<{ user_id: string }>(
      `select user_id from user_scores where segment = $1 order by expected_value_minor * churn_probability desc nulls last, user_id limit 3`,
      [big.segment],
    );
    for (const u of top) expect(r2.all).toContain(`\`${u.user_id}\``);
  });

  it('shows a user card: risk, explanation, recommendations, last outreach and its outcome; personal data masked unless allowed', async () => {
    const u = await one<{ id: string; email: string; name: string; p: number; expl: { feature: string }[]; title: string }>(
      `select u.id, u.email, u.name, s.churn_probability as p, s.explanation as expl,
              (select i.title from recommendations r join items i on i.id = r.item_id where r.user_id = u.id order by r.rank limit 1) as title
       from users u join user_scores s on s.user_id = u.id join outreach o on o.user_id = u.id join coupons c on c.id = o.coupon_id
       where u.email is not null and u.name is not null and jsonb_array_length(s.explanation) > 0 and c.code = 'RK-TEST-0001'`,
    );
    const masked = await ask(`user ${u.id}`, { user: GROWTH });
    expect(masked.all).toContain(`${en.pct(u.p)} (`);
    expect(masked.all).not.toContain(u.email);
    expect(masked.all).not.toContain(u.name);
    expect(masked.all).toContain(`${u.email[0]}***@${u.email.split('@')[1]}`);
    expect(masked.all).toContain(`${Array.from(u.name)[0]}*`);
    expect(masked.all).toContain(featureLabel(u.expl[0]!.feature, 'en'));
    expect(masked.all).toContain(u.title);
    // The coupon code redeems money: masked like an email for readers without personal-data rights.
    expect(masked.all).toContain('coupon `RK-***` redeemed');
    expect(masked.all).not.toContain('RK-TEST-0001');
    const converted = await one<{ at: Date | null }>(
      `select min(e.occurred_at) as at from events e join outreach o on o.user_id = e.user_id
       where o.user_id = $1 and e.type in ('purchase','renewal') and e.occurred_at >= o.sent_at and e.occurred_at < o.sent_at + interval '14 days'`,
      [u.id],
    );
    expect(masked.all).toContain(converted.at ? 'bought again' : 'no purchase within 14 days');

    const open = await ask(`user ${u.email.toUpperCase()}`, { user: PII });
    expect(open.all).toContain(u.email);
    expect(open.all).toContain(u.name);
    expect(open.all).toContain('coupon `RK-TEST-0001` redeemed');
  });

  it('does not look users up by email for a reader without personal-data rights, nor in a shared channel', async () => {
    const u = await one<{ id: string; email: string }>(`select u.id, u.email from users u join user_scores s on s.user_id = u.id where u.email is not null order by u.id limit 1`);
    const refused = await ask(`user ${u.email}`, { user: GROWTH });
    expect(refused.all).toContain('Looking users up by email needs personal-data access');
    expect(refused.all).not.toContain(u.id); // not even whether the email exists
    expect(refused.all).not.toContain(u.email);
    const byId = await ask(`user ${u.id}`, { user: GROWTH });
    expect(byId.all).toContain(`User ${u.id}`);
    // A PII reader asking in a shared channel (a mention): refused there too.
    const since = Date.now();
    await sendEvent({ type: 'app_mention', user: PII, channel: CHANNEL, text: `<@U0BOT0001> why is ${u.email} at risk?` });
    const msg = await slack.waitForCall('chat.postMessage', (c) => c.args.channel === CHANNEL && String(c.args.text).includes('personal-data access'), 20_000, since);
    expect(JSON.stringify(msg.args)).not.toContain(u.id);
    const audit = await db.query<{ actor: string; allowed: boolean; details: Record<string, unknown> }>(`select actor, allowed, details from audit_log where action = 'pii.lookup_by_email' order by id`);
    expect(audit.map((a) => [a.actor, a.allowed])).toEqual([
      [`slack:${FAKE_TEAM}/${GROWTH}`, false],
      [`slack:${FAKE_TEAM}/${PII}`, false],
    ]);
    expect(JSON.stringify(audit)).not.toContain(u.email);
  });

  it('escapes echoed text so an unknown command cannot ping the channel', async () => {
    // Slack sends what the user typed with &, < and > escaped; the parser undoes that, the answer redoes it.
    const r = await ask('&lt;!channel&gt; &lt;https://evil.example|login&gt;');
    expect(r.body.text).toContain('unknown command "&lt;!channel&gt;"');
    expect(JSON.stringify(r.body)).not.toMatch(/<!channel>|<https:\/\/evil/);
  });

  it('gives a helpful message with examples for an unknown user, id or command', async () => {
    const r = await ask('user nobody-here-42');
    expect(r.all).toContain('couldn\'t find a user id “nobody-here-42”');
    expect(r.all).toContain('Try for example:');
    const r2 = await ask('user ghost@nowhere.example', { user: PII });
    expect(r2.all).toContain("couldn't find a user ghost@nowhere.example");
    const r3 = await ask('frobnicate the users');
    expect(r3.all).toContain('unknown command "frobnicate"');
    expect(r3.all).toContain('/retain help');
    const r4 = await ask('overveiw');
    expect(r4.all).toContain('did you mean overview');
    const r5 = await ask('');
    expect(r5.all).toContain('/retain at-risk [n]');
  });

  it('refuses rescore to a non-admin and audits it; queues it for an admin and audits that too', async () => {
    const r = await ask('rescore', { user: GROWTH });
    expect(r.all).toContain('only Rekindle admins can start a rescore');
    expect(enqueued).toHaveLength(0);
    const refused = await db.query<{ actor: string; allowed: boolean }>(`select actor, allowed from audit_log where action = 'admin.rescore' order by id`);
    expect(refused).toEqual([{ actor: `slack:${FAKE_TEAM}/${GROWTH}`, allowed: false }]);

    const ok = await ask('rescore', { user: ADMIN });
    expect(ok.all).toContain('Rescore queued (job `rescore-1`)');
    expect(enqueued).toEqual(['rescore-1']);
    const rows = await db.query<{ actor: string; allowed: boolean; details: { jobId?: string } }>(`select actor, allowed, details from audit_log where action = 'admin.rescore' order by id`);
    expect(rows[1]).toMatchObject({ actor: `slack:${FAKE_TEAM}/${ADMIN}`, allowed: true, details: { jobId: 'rescore-1' } });
  });

  it('pauses and resumes outreach for an admin only', async () => {
    const no = await ask('pause outreach', { user: PII });
    expect(no.all).toContain('only Rekindle admins can pause outreach');
    expect(await isOutreachPaused(db)).toBe(false);
    const yes = await ask('pause outreach', { user: ADMIN });
    expect(yes.all).toContain('Outreach paused');
    expect(await isOutreachPaused(db)).toBe(true);
    await ask('resume outreach', { user: ADMIN });
    expect(await isOutreachPaused(db)).toBe(false);
    const audit = await db.query<{ action: string; allowed: boolean }>(`select action, allowed from audit_log where action like 'admin.%outreach' order by id`);
    expect(audit).toEqual([
      { action: 'admin.pause_outreach', allowed: false },
      { action: 'admin.pause_outreach', allowed: true },
      { action: 'admin.resume_outreach', allowed: true },
    ]);
  });

  it('refuses politely and audits a user, channel or workspace outside the allowlists; DMs skip the channel list', async () => {
    const r = await ask('overview', { user: OUTSIDER });
    expect(r.body.response_type).toBe('ephemeral');
    expect(r.all).toContain('Sorry, you are not on the list of people Rekindle answers');
    const r2 = await ask('overview', { channel: 'CRANDOM01' });
    expect(r2.all).toContain('I only answer in channels Rekindle is enabled for');
    const r3 = await ask('overview', { user: GROWTH, channel: 'D0GROWTH1' });
    expect(r3.all).toContain('*Users*');
    const r4 = await slash('help', { team: 'T0OTHER01' });
    expect((await slack.waitForResponse(r4.id)).body.text).toContain('not enabled for this workspace');
    const denied = await db.query<{ actor: string; target: string; details: { reason: string } }>(
      `select actor, target, details from audit_log where action = 'access.denied' and allowed = false order by id`,
    );
    expect(denied.map((d) => d.details.reason)).toEqual(['user', 'channel', 'team']);
    expect(denied[0]).toMatchObject({ actor: `slack:${FAKE_TEAM}/${OUTSIDER}`, target: 'command:/retain' });
    // An app mention from an outsider gets an ephemeral note in the channel, nothing public.
    const since = Date.now();
    await sendEvent({ type: 'app_mention', user: OUTSIDER, channel: CHANNEL, text: '<@U0BOT0001> overview' });
    const eph = await slack.waitForCall('chat.postEphemeral', (c) => c.args.user === OUTSIDER, 10_000, since);
    expect(eph.args.text).toContain('not on the list');
  });

  it("refuses a Slack Connect guest: the author's own team is checked, not the workspace the event came through", async () => {
    const since = Date.now();
    // GROWTH's id, but as a member of another organisation in a shared channel (ids are per organisation).
    await sendEvent({ type: 'app_mention', user: GROWTH, user_team: 'T0GUEST01', team: 'T0GUEST01', source_team: 'T0GUEST01', channel: CHANNEL, text: '<@U0BOT0001> segment sizes' });
    const eph = await slack.waitForCall('chat.postEphemeral', (c) => c.args.user === GROWTH, 10_000, since);
    expect(eph.args.text).toContain('not enabled for this workspace');
    const r = await slash('segments', { userTeam: 'T0GUEST01' });
    expect((await slack.waitForResponse(r.id)).body.text).toContain('not enabled for this workspace');
    await new Promise((res) => setTimeout(res, 200));
    expect(slack.callsOf('chat.postMessage').filter((c) => c.at >= since && c.args.channel === CHANNEL)).toHaveLength(0);
    const denied = await db.query<{ actor: string }>(`select actor from audit_log where action = 'access.denied' and details->>'reason' = 'team' and actor like '%T0GUEST01%'`);
    expect(denied.map((d) => d.actor)).toEqual([`slack:T0GUEST01/${GROWTH}`, `slack:T0GUEST01/${GROWTH}`]);
  });

  it('answers campaigns and uplift with treated vs holdout numbers and an uplift chart', async () => {
    const groups = await db.query<{ holdout: boolean; users: number; conv: number }>(
      `select o.holdout, count(*)::int as users,
              count(*) filter (where exists (select 1 from events e where e.user_id = o.user_id and e.type in ('purchase','renewal')
                 and e.occurred_at >= coalesce(o.sent_at, o.scheduled_at) and e.occurred_at < coalesce(o.sent_at, o.scheduled_at) + interval '14 days'))::int as conv
       from outreach o group by 1`,
    );
    const treated = groups.find((g) => !g.holdout)!;
    const holdout = groups.find((g) => g.holdout)!;
    const r = await ask('campaigns 30');
    expect(r.all).toContain(`treated ${en.int(treated.users)} (converted ${en.pct(treated.conv / treated.users)})`);
    expect(r.all).toContain(`holdout ${en.int(holdout.users)} (converted ${en.pct(holdout.conv / holdout.users)})`);
    const u = await ask('uplift');
    expect(u.all).toContain('Uplift — treated vs holdout, last 90 days');
    const diff = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1, signDisplay: 'exceptZero' }).format(
      (treated.conv / treated.users - holdout.conv / holdout.users) * 100,
    );
    expect(u.all).toContain(`uplift ${diff} pp`);
    const complete = await slack.waitForCall('files.completeUploadExternal', (c) => c.args.files?.[0]?.title === 'Treated vs holdout');
    const png = slack.uploads.find((x) => x.fileId === complete.args.files[0].id)?.png;
    expect(png?.length ?? 0).toBeGreaterThan(5000);
  });

  it('answers "did the coupons pay off?" from settled outcomes: net revenue with its interval, cost, ROI and a verdict per offer, and a chart per cycle', async () => {
    await plantRoiOutcomes(db);
    const since = new Date(END.getTime() - 90 * 86_400_000);
    // Expected numbers from the outcomes, computed here: per offer and arm the mean paid revenue
    // per row and its cluster-robust (by user) variance G/(G−1)·Σ_u(y_u − m·n_u)²/N²; net =
    // (treated mean − holdout mean) × treated rows (the holdout pays no discount).
    const arms = async (offer: string) => db.query<{ channel: string; holdout: boolean; g: number; n: number; paid: number; disc: number; conv: number; v: number }>(
      `with per_user as (
         select ${offer} as channel, holdout, user_id, count(*)::float8 as n, sum(revenue_minor)::float8 as y, sum(discount_minor)::float8 as d, count(*) filter (where converted)::float8 as c
         from outreach_outcomes where window_start >= $1 group by 1, 2, 3),
       arm as (select channel, holdout, count(*)::float8 as g, sum(n) as n, sum(y) as y, sum(d) as d, sum(c) as c from per_user group by 1, 2)
       select a.channel, a.holdout, a.g, a.n, a.y as paid, a.d as disc, a.c as conv,
              a.g / (a.g - 1) * sum((u.y - a.y / a.n * u.n) ^ 2) / (a.n * a.n) as v
       from arm a join per_user u using (channel, holdout) group by a.channel, a.holdout, a.g, a.n, a.y, a.d, a.c`,
      [since.toISOString()],
    );
    const groups = [...(await arms('channel')), ...(await arms(`'all'`))];
    const z = 1.959963984540054;
    const expected = (channel: string) => {
      const t = groups.find((a) => a.channel === channel && !a.holdout)!;
      const h = groups.find((a) => a.channel === channel && a.holdout)!;
      const net = (t.paid / t.n - h.paid / h.n) * t.n;
      const half = z * Math.sqrt(t.v + h.v) * t.n;
      return { net, lo: net - half, hi: net + half, cost: t.disc, roi: t.disc > 0 ? net / t.disc : null, incr: (t.conv / t.n - h.conv / h.n) * t.n, treated: t.n, holdout: h.n };
    };
    const coupon = expected('coupon');
    const email = expected('email');
    const all = expected('all');
    // The planted outcomes are built so that the coupons clearly paid and the emails did not clearly.
    expect(coupon.lo).toBeGreaterThan(0);
    expect(email.lo).toBeLessThan(0);
    expect(email.hi).toBeGreaterThan(0);
    const signedPct = (x: number) => new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 0, signDisplay: 'exceptZero' }).format(x);
    const signed1 = (x: number) => new Intl.NumberFormat('en-US', { maximumFractionDigits: 1, signDisplay: 'exceptZero' }).format(x);

    const since1 = Date.now();
    const res = await sendEvent({ type: 'app_mention', user: GROWTH, channel: CHANNEL, text: '<@U0BOT0001> did the coupons pay off?' });
    expect(res.status).toBe(200);
    const msg = await slack.waitForCall('chat.postMessage', (c) => c.args.channel === CHANNEL && String(c.args.text).startsWith('Did outreach pay off?'), 20_000, since1);
    const text = blocksText(msg.args.blocks);
    expect(text).toContain('Did outreach pay off? Last 90 days');
    expect(text).toContain(
      `*Coupon* (pays off): net ${en.money(coupon.net)} [95% ${en.money(coupon.lo)} to ${en.money(coupon.hi)}] · coupon cost ${en.money(coupon.cost)} · ROI ${signedPct(coupon.roi!)} · incremental conversions ${signed1(coupon.incr)}`,
    );
    expect(text).toContain(`· treated ${en.int(coupon.treated)} / holdout ${en.int(coupon.holdout)}`);
    expect(text).toContain(`*Email* (not clear yet): net ${en.money(email.net)} [95% ${en.money(email.lo)} to ${en.money(email.hi)}] · incremental conversions ${signed1(email.incr)}`);
    // The verdict is on all outreach together, and says what its interval says.
    const interval = `(95% interval ${en.money(all.lo)} to ${en.money(all.hi)})`;
    expect(msg.args.text).toBe(
      `Did outreach pay off? Last 90 days: ${
        all.lo > 0
          ? `✅ Pays off — ${en.money(all.net)} net incremental revenue ${interval}, ROI ${signedPct(all.roi!)}.`
          : all.hi < 0
            ? `🔻 Loses money — ${en.money(all.net)} net incremental revenue ${interval}, ROI ${signedPct(all.roi!)}.`
            : `🤷 Not clear yet — ${en.money(all.net)} net incremental revenue, but the 95% interval ${interval.replace('95% interval ', '')} spans zero.`
      }`,
    );
    expect(text).toContain(`*All offers* (`);
    expect(text).toContain(`treated ${en.int(all.treated)} / holdout ${en.int(all.holdout)}`);
    // The chart of net incremental revenue per cycle, in the thread asked from.
    const complete = await slack.waitForCall('files.completeUploadExternal', (c) => c.args.files?.[0]?.title === 'Net incremental revenue per cycle', 20_000, since1);
    expect(complete.args.channel_id).toBe(CHANNEL);
    expect(complete.args.thread_ts).toBe(msg.args.thread_ts);
    expect(slack.uploads.find((x) => x.fileId === complete.args.files[0].id)?.png?.length ?? 0).toBeGreaterThan(5000);

    // The same question in Chinese, by DM: answered in Chinese, with the Chinese chart.
    const since2 = Date.now();
    await sendEvent({ type: 'message', channel_type: 'im', channel: 'D0GROWTH1', user: GROWTH, text: '发券划算吗' });
    const zh = await slack.waitForCall('chat.postMessage', (c) => c.args.channel === 'D0GROWTH1', 20_000, since2);
    const zhMoney = (minor: number) => new Intl.NumberFormat('zh-CN', { style: 'currency', currency: 'CNY' }).format(minor / 100);
    expect(blocksText(zh.args.blocks)).toContain(`*优惠券*（划算）：净增收入 ${zhMoney(coupon.net)} [95% ${zhMoney(coupon.lo)} 至 ${zhMoney(coupon.hi)}] · 优惠券成本 ${zhMoney(coupon.cost)}`);
    await slack.waitForCall('files.completeUploadExternal', (c) => c.args.files?.[0]?.title === '各周期净增收入' && c.args.channel_id === 'D0GROWTH1', 20_000, since2);
  });

  it('shows on the user card why the last outreach got its offer, in English and Chinese', async () => {
    const treated = await one<{ id: number; user_id: string }>(`select id, user_id from outreach where cycle_id = 'c-test' and not holdout and channel = 'email' order by user_id limit 1`);
    await db.query(`update outreach set policy = 'uplift', reason = $2::jsonb where id = $1`, [
      treated.id,
      JSON.stringify({ policy: 'uplift', upliftRunId: 4, tier: 'medium', churn: 0.41, orderValueMinor: 19900, coupon: { uplift: 0.01, value: -1000, expectedDiscount: 1199 }, email: { uplift: 0.03, value: 547 }, value: 547, cost: 1, rank: 12 }),
    ]);
    const r = await ask(`user ${treated.user_id}`);
    expect(r.all).toContain('_Why this offer_: email · uplift +3.0% × CN¥199.00 order − CN¥0.50 email cost = CN¥5.47 expected value, rank 12 by expected value');

    const held = await one<{ id: number; user_id: string }>(`select id, user_id from outreach where cycle_id = 'c-test' and holdout and tier = 'medium' order by user_id limit 1`);
    await db.query(`update outreach set policy = 'tiers', reason = $2::jsonb where id = $1`, [
      held.id,
      JSON.stringify({ policy: 'tiers', fallback: 'OUTREACH_POLICY is uplift, but no uplift model has been fitted yet (no settled outreach): the risk tiers decide', tier: 'medium', churn: 0.45, orderValueMinor: 19900, value: 8955, cost: 1, rank: 30 }),
    ]);
    const z = await ask(`用户 ${held.user_id}`);
    expect(z.all).toContain('_本应收到（对照组）_：邮件 · 风险分层（中风险，流失概率 45.0%；提升模型未就绪：no uplift model has been fitted yet (no settled outreach)）');
  });

  it('answers the model card', async () => {
    const r = await ask('model');
    const m = await one<{ auc: number; base: number }>(
      `select (metrics->'churn'->>'auc')::float8 as auc, (metrics->'churn'->>'baselineAuc')::float8 as base from model_runs where kind = 'rescore' and status = 'done' order by id desc limit 1`,
    );
    const d3 = (x: number) => new Intl.NumberFormat('en-US', { maximumFractionDigits: 3 }).format(x);
    expect(r.all).toContain(`*AUC (held out)*\n${d3(m.auc)}`);
    expect(r.all).toContain(`*Recency-only AUC*\n${d3(m.base)}`);
    expect(r.all).toContain('Logistic regression');
  });

  // ------------------------------------------------------------------------------------------
  // Plain questions: mentions and DMs
  // ------------------------------------------------------------------------------------------

  it('answers a Chinese question in Chinese, in a DM', async () => {
    const since = Date.now();
    const res = await sendEvent({ type: 'message', channel_type: 'im', channel: 'D0PII0001', user: PII, text: '高风险用户有多少' });
    expect(res.status).toBe(200);
    const msg = await slack.waitForCall('chat.postMessage', (c) => c.args.channel === 'D0PII0001', 20_000, since);
    const high = await one<{ n: number }>(`select count(*)::int as n from user_scores where risk_tier = 'high'`);
    const all = await one<{ n: number }>('select count(*)::int as n from user_scores');
    expect(msg.args.text).toBe(`高风险用户共 ${zhInt(high.n)} 人（已评分用户共 ${zhInt(all.n)} 人）。`);
    expect(msg.token).toBe('xoxb-test-token');
  });

  it('answers a mention in its thread, masking personal data in the shared channel even for a PII reader', async () => {
    const u = await one<{ id: string; email: string }>(`select u.id, u.email from users u join user_scores s on s.user_id = u.id where u.email is not null order by u.id limit 1`);
    const since = Date.now();
    await sendEvent({ type: 'app_mention', user: PII, channel: CHANNEL, text: `<@U0BOT0001> tell me about user ${u.id}` });
    const msg = await slack.waitForCall('chat.postMessage', (c) => c.args.channel === CHANNEL && String(c.args.text).includes(u.id), 20_000, since);
    expect(msg.args.thread_ts).toBeDefined();
    const text = blocksText(msg.args.blocks);
    expect(text).not.toContain(u.email);
    expect(text).toContain(`${u.email[0]}***@`);
    // The same question in a DM shows the email to the PII reader.
    const since2 = Date.now();
    await sendEvent({ type: 'message', channel_type: 'im', channel: 'D0PII0001', user: PII, text: `show user ${u.id}` });
    const dm = await slack.waitForCall('chat.postMessage', (c) => c.args.channel === 'D0PII0001' && String(c.args.text).includes(u.id), 20_000, since2);
    expect(blocksText(dm.args.blocks)).toContain(u.email);
  });

  it('answers a 50,000-character DM at once without blocking the event loop (webhooks and /readyz share it)', async () => {
    for (const text of ['一'.repeat(50_000), '二十'.repeat(25_000), 'a.'.repeat(25_000)]) {
      await new Promise((r) => setTimeout(r, 50)); // let earlier answers (charts) finish
      const h = monitorEventLoopDelay({ resolution: 5 });
      h.enable();
      const since = Date.now();
      const res = await sendEvent({ type: 'message', channel_type: 'im', channel: 'D0GROWTH1', user: GROWTH, text });
      expect(res.status).toBe(200);
      const msg = await slack.waitForCall('chat.postMessage', (c) => c.args.channel === 'D0GROWTH1', 5_000, since);
      h.disable();
      expect(Date.now() - since).toBeLessThan(2_000);
      expect(String(msg.args.text)).toMatch(/didn't understand|没看懂/);
      expect(h.max / 1e6).toBeLessThan(50);
    }
  });

  it('answers an English question it cannot parse in one line with examples, not the whole command list', async () => {
    const since = Date.now();
    await sendEvent({ type: 'message', channel_type: 'im', channel: 'D0GROWTH1', user: GROWTH, text: "what's the weather like?" });
    const msg = await slack.waitForCall('chat.postMessage', (c) => c.args.channel === 'D0GROWTH1', 20_000, since);
    expect(msg.args.text).toContain("didn't understand");
    expect(blocksText(msg.args.blocks)).toContain('/retain help');
    expect(blocksText(msg.args.blocks)).not.toContain('/retain at-risk [n]');
  });

  // ------------------------------------------------------------------------------------------
  // Digest
  // ------------------------------------------------------------------------------------------

  it('posts a digest of users who became high risk with buttons; a click is stored and shown', async () => {
    // First digest: no baseline, so every high-risk user counts as new.
    let since = Date.now();
    await bot.postDigest(run1);
    const first = await slack.waitForCall('chat.postMessage', (c) => c.args.channel === DIGEST, 10_000, since);
    const highBefore = new Set((await db.query<{ user_id: string }>(`select user_id from user_scores where risk_tier = 'high'`)).map((r) => r.user_id));
    expect(first.args.text).toContain(`Call list: ${en.int(highBefore.size)} new high-risk user(s)`);
    await bot.postDigest(run1); // once per run
    expect(slack.callsOf('chat.postMessage').filter((c) => c.args.channel === DIGEST)).toHaveLength(1);

    // Two months later, more users look risky: the digest lists those who became high.
    const later = new Date(END.getTime() + 60 * 86_400_000);
    const run2 = (await rescore({ db, log: silentLogger, now: () => later }, modelSettings(loadConfig({})))).modelRunId;
    const expected = (
      await db.query<{ user_id: string }>(
        `select user_id from user_scores where risk_tier = 'high' and model_run_id = $1 and not (user_id = any($2::text[]))
         order by expected_value_minor * churn_probability desc nulls last, user_id`,
        [run2, [...highBefore]],
      )
    ).map((r) => r.user_id);
    expect(expected.length).toBeGreaterThan(0);
    since = Date.now();
    await bot.postDigest(run2);
    const digest = await slack.waitForCall('chat.postMessage', (c) => c.args.channel === DIGEST, 10_000, since);
    expect(digest.args.text).toContain(`Call list: ${en.int(expected.length)} new high-risk user(s)`);
    const blocks = digest.args.blocks as { type: string; block_id?: string; elements?: { action_id: string; value: string }[] }[];
    const actionBlocks = blocks.filter((b) => b.type === 'actions');
    expect(actionBlocks.map((b) => b.block_id)).toEqual(expected.slice(0, 20).map((id) => `digest:${id}`));
    expect(actionBlocks[0]!.elements!.map((e) => e.action_id)).toEqual(['digest_claim', 'digest_called', 'digest_unreachable']);
    expect(blocks.length).toBeLessThanOrEqual(50);
    const shown = blocksText(blocks);
    const firstEmail = await one<{ email: string | null }>('select email from users where id = $1', [expected[0]]);
    if (firstEmail.email) expect(shown).not.toContain(firstEmail.email);

    // A click: audited, and the message is updated to show it.
    const ts = String(digest.result.ts);
    since = Date.now();
    const click = await clickButton({ user: GROWTH, actionId: 'digest_claim', value: actionBlocks[0]!.elements![0]!.value, messageTs: ts });
    expect(click.status).toBe(200);
    const update = await slack.waitForCall('chat.update', () => true, 10_000, since);
    expect(update.args).toMatchObject({ channel: DIGEST, ts });
    expect(blocksText(update.args.blocks)).toContain(`Claimed by <@${GROWTH}>`);
    const rows = await db.query<{ actor: string; action: string; target: string; allowed: boolean; details: { runId: number } }>(
      `select actor, action, target, allowed, details from audit_log where action like 'digest.%' order by id`,
    );
    expect(rows.map((r) => r.action)).toEqual(['digest.posted', 'digest.posted', 'digest.claim']);
    expect(rows[2]).toMatchObject({ actor: `slack:${FAKE_TEAM}/${GROWTH}`, target: expected[0], allowed: true, details: { runId: run2 } });

    // Then "called" by someone else replaces the shown status.
    since = Date.now();
    await clickButton({ user: PII, actionId: 'digest_called', value: actionBlocks[0]!.elements![1]!.value, messageTs: ts });
    const update2 = await slack.waitForCall('chat.update', () => true, 10_000, since);
    expect(blocksText(update2.args.blocks)).toContain(`Called by <@${PII}>`);

    // An outsider's click is refused ephemerally and audited, and changes nothing.
    const refused = await clickButton({ user: OUTSIDER, actionId: 'digest_unreachable', value: actionBlocks[0]!.elements![2]!.value, messageTs: ts });
    expect((await slack.waitForResponse(refused.id)).body.text).toContain('not on the list');
    expect(await one<{ n: number }>(`select count(*)::int as n from audit_log where action = 'digest.unreachable'`)).toEqual({ n: 0 });
  });

  // ------------------------------------------------------------------------------------------
  // Free questions: entities, the classifier, "did you mean", out of scope
  // ------------------------------------------------------------------------------------------

  /** A DM from `user`; resolves with the bot's reply. */
  async function dm(text: string, user = GROWTH) {
    const channel = user === PII ? 'D0PII0001' : user === ADMIN ? 'D0ADMIN01' : 'D0GROWTH1';
    // Calls made from now on (a timestamp would also match an answer finished in the same millisecond).
    const seen = slack.calls.length;
    const res = await sendEvent({ type: 'message', channel_type: 'im', channel, user, text });
    expect(res.status).toBe(200);
    const msg = await slack.waitForCall('chat.postMessage', (c) => c.args.channel === channel && slack.calls.indexOf(c) >= seen, 20_000);
    return { msg, text: String(msg.args.text), all: `${blocksText(msg.args.blocks)}\n${String(msg.args.text)}` };
  }

  it("answers the issue's failing questions: user ids of any shape and mailto emails resolve against the users table, in DMs, mentions and slash commands", async () => {
    const seeded = await one<{ id: string }>(`select u.id from users u join user_scores s on s.user_id = u.id where u.id ~ '^u[0-9]+$' order by u.seq limit 1`);
    await db.query(`insert into users (id, email) values ('42', 'forty.two@example.com'), ('a3f9c2', null), ('7f3e9a2c-1b4d-4e5f-9a8b-0c1d2e3f4a5b', null) on conflict do nothing`);
    const u = seeded.id;
    const cases: [string, string][] = [
      [`what's up with ${u}?`, `User ${u}`],
      [`courses for ${u}`, `What to recommend to ${u}`],
      [`what would ${u} enjoy next`, `What to recommend to ${u}`],
      [`看下 ${u}`, `用户 ${u}`],
      [`${u} 推荐`, `给用户 ${u} 推荐什么`],
      [`${u} 流失原因`, `用户 ${u} 为什么有流失风险？`],
      ["what's up with 42?", 'User 42'],
      ['tell me about a3f9c2', 'User a3f9c2'],
      ['details on 7f3e9a2c-1b4d-4e5f-9a8b-0c1d2e3f4a5b', 'User 7f3e9a2c-1b4d-4e5f-9a8b-0c1d2e3f4a5b'],
    ];
    for (const [q, title] of cases) {
      const r = await dm(q);
      expect(r.text, q).toContain(title);
    }
    // An email in Slack's mailto form, for a reader allowed to see personal data, in a DM.
    const r = await dm('what would <mailto:Forty.Two@Example.com|Forty.Two@Example.com> enjoy next', PII);
    expect(r.text).toContain('What to recommend to 42');
    // The same for a reader without that right: refused before any lookup, and audited.
    const refused = await dm('what would <mailto:Forty.Two@Example.com|Forty.Two@Example.com> enjoy next');
    expect(refused.all).toContain('Looking users up by email needs personal-data access');
    expect(refused.all).not.toContain('What to recommend'); // nor whether the address is a customer's
    // A mention in a channel, answered in its thread.
    const since = Date.now();
    await sendEvent({ type: 'app_mention', user: GROWTH, channel: CHANNEL, text: `<@U0BOT0001> ${u} 流失原因` });
    const mention = await slack.waitForCall('chat.postMessage', (c) => c.args.channel === CHANNEL && String(c.args.text).includes(`用户 ${u}`), 20_000, since);
    expect(mention.args.thread_ts).toBeDefined();
    // A slash command that is a question rather than a subcommand.
    const slashed = await ask(`courses for ${u}`);
    expect(slashed.body.text).toContain(`What to recommend to ${u}`);
    expect(slashed.body.response_type).toBe('ephemeral');
    // An id-shaped token nobody has: named in the answer, nothing invented.
    const ghost = await dm("what's up with u99999999?");
    expect(ghost.text).toContain(`couldn't find a user "u99999999"`);
    // Overview and segment questions without their exact keywords.
    const overview = await dm('show me the overall picture');
    const scored = await one<{ n: number }>('select count(*)::int as n from user_scores');
    expect(overview.all).toContain(en.int(scored.n));
    const cohort = await dm('which cohort is biggest');
    expect(cohort.all).toContain(RFM_SEGMENT_LABELS.champions.en);
  });

  it('asks "did you mean" with buttons when unsure; a click runs the reading as the clicker, with the same admin check and audit', async () => {
    const two = await dm('how are the users');
    const actions = (two.msg.args.blocks as { type: string; elements?: { action_id: string; value: string; text: { text: string } }[] }[]).find((b) => b.type === 'actions');
    expect(actions?.elements?.map((e) => e.action_id)).toEqual(['ask_intent_0', 'ask_intent_1']);
    const overviewButton = actions!.elements!.find((e) => JSON.parse(e.value).intent.kind === 'overview')!;
    expect(overviewButton.text.text).toBe('Overview');
    const click = await clickButton({ user: GROWTH, actionId: overviewButton.action_id, value: overviewButton.value, messageTs: String(two.msg.result.ts ?? '1.1'), channel: 'D0GROWTH1' });
    expect(click.status).toBe(200);
    const answered = await slack.waitForResponse(click.id);
    const scored = await one<{ n: number }>('select count(*)::int as n from user_scores');
    expect(answered.body.response_type).toBe('ephemeral');
    expect(blocksText(answered.body.blocks)).toContain(en.int(scored.n));

    // An admin reading found by the classifier is only offered, never run from free text.
    const before = enqueued.length;
    const offer = await dm('fresh scores please', GROWTH);
    const button = (offer.msg.args.blocks as { type: string; elements?: { action_id: string; value: string }[] }[]).find((b) => b.type === 'actions')!.elements![0]!;
    expect(JSON.parse(button.value)).toEqual({ lang: 'en', intent: { kind: 'rescore' } });
    expect(enqueued.length).toBe(before);
    const auditBefore = await one<{ n: number }>(`select count(*)::int as n from audit_log where action = 'admin.rescore'`);
    const denied = await clickButton({ user: GROWTH, actionId: button.action_id, value: button.value, messageTs: '1.2', channel: 'D0GROWTH1' });
    expect(String((await slack.waitForResponse(denied.id)).body.text)).toContain('only Rekindle admins can start a rescore');
    expect(enqueued.length).toBe(before);
    const granted = await clickButton({ user: ADMIN, actionId: button.action_id, value: button.value, messageTs: '1.3', channel: 'D0ADMIN01' });
    expect(String((await slack.waitForResponse(granted.id)).body.text)).toContain('Rescore queued');
    expect(enqueued.length).toBe(before + 1);
    const audit = await db.query<{ actor: string; allowed: boolean }>(`select actor, allowed from audit_log where action = 'admin.rescore' order by id offset $1`, [auditBefore.n]);
    expect(audit).toEqual([
      { actor: `slack:${FAKE_TEAM}/${GROWTH}`, allowed: false },
      { actor: `slack:${FAKE_TEAM}/${ADMIN}`, allowed: true },
    ]);
    // A forged or stale button value is refused with a message, not run.
    const forged = await clickButton({ user: ADMIN, actionId: 'ask_intent_0', value: '{"lang":"en","intent":{"kind":"drop_tables"}}', messageTs: '1.4', channel: 'D0ADMIN01' });
    expect(String((await slack.waitForResponse(forged.id)).body.text)).toContain('not valid');
    // A clicker outside the allowlist is refused by the access middleware.
    const outsider = await clickButton({ user: OUTSIDER, actionId: button.action_id, value: button.value, messageTs: '1.5', channel: 'D0OUT0001' });
    expect(String((await slack.waitForResponse(outsider.id)).body.text)).toContain('not on the list');
    expect(enqueued.length).toBe(before + 1);
  });

  it('answers across runs from the stored per-run aggregates: segment changes, the high-risk trend with a chart, two segments compared', async () => {
    // Expected numbers straight from score_aggregates' cells, summed in SQL here.
    const runs = await db.query<{ id: number; high: number }>(
      `select r.id, (select coalesce(sum((c->>'users')::int), 0) from jsonb_array_elements(a.cells) c where c->>'tier' = 'high')::int as high
       from model_runs r join score_aggregates a on a.model_run_id = r.id where r.kind = 'rescore' and r.status = 'done' order by r.id`,
    );
    expect(runs.length).toBeGreaterThanOrEqual(2); // run1, and the digest test's later run
    const seg = async (runId: number) =>
      new Map(
        (
          await db.query<{ segment: string; users: number }>(
            `select c->>'segment' as segment, sum((c->>'users')::int)::int as users from score_aggregates a, jsonb_array_elements(a.cells) c
             where a.model_run_id = $1 and c->>'segment' is not null group by 1`,
            [runId],
          )
        ).map((r) => [r.segment, r.users]),
      );
    const [prev, last] = [await seg(runs.at(-2)!.id), await seg(runs.at(-1)!.id)];
    const changes = [...last].map(([s, n]) => [s, n - (prev.get(s) ?? 0)] as const).sort((a, b) => b[1] - a[1]);
    const largest = [...last].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]!;
    const change = await dm('which segment grew most since the last run?');
    const label = (s: string) => RFM_SEGMENT_LABELS[s as keyof typeof RFM_SEGMENT_LABELS].en;
    expect(change.all).toContain(`Largest: *${label(largest[0])}* (${en.int(largest[1])} users)`);
    if (changes[0]![1] > 0) expect(change.all).toContain(`Grew most: *${label(changes[0]![0])}* (+${en.int(changes[0]![1])})`);
    if (changes.at(-1)![1] < 0) expect(change.all).toContain(`Shrank most: *${label(changes.at(-1)![0])}* (−${en.int(-changes.at(-1)![1])})`);

    const uploadsBefore = slack.uploads.length;
    const trend = await dm('how has the high-risk count changed over the last 5 runs?');
    const shown = runs.slice(-5);
    expect(trend.text).toContain(`High-risk users over the last ${shown.length} run(s)`);
    expect(trend.text).toContain(`From ${en.int(shown[0]!.high)} to ${en.int(shown.at(-1)!.high)}`);
    const deadline = Date.now() + 20_000;
    while (slack.uploads.length === uploadsBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(slack.uploads.at(-1)?.png?.subarray(1, 4).toString()).toBe('PNG');

    const zh = await dm('核心用户和忠诚用户对比');
    const cmp = await one<{ a: number; b: number }>(
      `select sum(case when c->>'segment' = 'champions' then (c->>'users')::int else 0 end)::int as a,
              sum(case when c->>'segment' = 'loyal' then (c->>'users')::int else 0 end)::int as b
       from score_aggregates a, jsonb_array_elements(a.cells) c where a.model_run_id = $1`,
      [runs.at(-1)!.id],
    );
    expect(zh.text).toContain(`${RFM_SEGMENT_LABELS.champions.zh} 对比 ${RFM_SEGMENT_LABELS.loyal.zh}`);
    expect(zh.text).toContain(`用户数 ${zhInt(cmp.a)} / ${zhInt(cmp.b)}`);
    const bad = await dm('high risk trend over the last 50 runs');
    expect(bad.text).toContain('from 2 to 30, got 50');
  });

  it('with LLM_URL set, a question the classifier cannot place goes to the model (a fake on loopback); garbage or a timeout falls back to "did you mean" in time', async () => {
    let reply: ((res: import('node:http').ServerResponse) => void) | null = null;
    const seen: string[] = [];
    const model = await listen((req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push(Buffer.concat(chunks).toString('utf8'));
        reply?.(res); // null: never answers
      });
    });
    const config = loadConfig({
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_API_URL: slack.apiUrl,
      SLACK_ALLOWED_USERS: GROWTH,
      LLM_URL: `${model.url}/v1/chat/completions`,
      LLM_MODEL: 'fake-model',
      LLM_TIMEOUT_MS: '400',
    });
    const llmBot = createSlackBot({ config, db, log: silentLogger, now: () => END });
    const app = express();
    app.use(llmBot.router!);
    const server = await listen(app);
    try {
      const ask2 = async (text: string) => {
        const seenCalls = slack.calls.length;
        const body = JSON.stringify({
          token: 't', team_id: FAKE_TEAM, api_app_id: 'A0REKINDLE', type: 'event_callback', event_id: `Ev${++seq}`, event_time: Math.floor(Date.now() / 1000),
          event: { type: 'message', channel_type: 'im', channel: 'D0LLM0001', user: GROWTH, text, ts: `${1_700_000_000 + seq}.000200` },
        });
        const started = Date.now();
        const res = await fetch(`${server.url}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...signSlackRequest(body, SECRET) }, body });
        expect(res.status).toBe(200);
        const msg = await slack.waitForCall('chat.postMessage', (c) => c.args.channel === 'D0LLM0001' && slack.calls.indexOf(c) >= seenCalls, 10_000);
        return { msg, ms: Date.now() - started };
      };
      reply = (res) =>
        res.end(JSON.stringify({ choices: [{ message: { tool_calls: [{ function: { name: 'choose_intent', arguments: JSON.stringify({ intent: 'segment_change' }) } }] } }] }));
      const placed = await ask2('how are the users');
      expect(String(placed.msg.args.text)).toContain('Segments since the last run');
      expect(JSON.parse(seen.at(-1)!).model).toBe('fake-model');

      reply = (res) => res.end('garbage');
      const garbage = await ask2('how are the users');
      expect(String(garbage.msg.args.text)).toContain('Did you mean');

      reply = null;
      const slow = await ask2('how are the users');
      expect(String(slow.msg.args.text)).toContain('Did you mean');
      expect(slow.ms).toBeLessThan(3000); // within Slack's patience, though the model never answered
    } finally {
      await server.close();
      await model.close();
    }
  });

  it('refuses out-of-scope questions in one line with three close examples, in English and Chinese', async () => {
    for (const [q, lead] of [
      ['write me a poem', "Sorry, I didn't understand that."],
      ['今天天气怎么样', '抱歉，我没看懂这个问题。'],
      ['delete u1', "Sorry, I didn't understand that."],
    ] as const) {
      const r = await dm(q);
      expect(r.text, q).toContain(lead);
      expect((r.msg.args.blocks as unknown[]).length).toBe(1);
      expect(r.text.match(/“[^”]+”/g) ?? [], q).toHaveLength(3);
    }
  });
});

/**
 * Outreach of one cycle 20 days before END for 300 high/medium users (a fifth held out), with
 * a coupon for one treated user that was redeemed.
 */
async function plantOutreach(db: Database): Promise<void> {
  const at = new Date(END.getTime() - 20 * 86_400_000).toISOString();
  await db.query(
    `insert into outreach (cycle_id, user_id, tier, channel, holdout, state, scheduled_at, sent_at, created_at, churn_probability)
     select 'c-test', s.user_id, s.risk_tier, case when s.risk_tier = 'high' then 'coupon' else 'email' end,
            (row_number() over (order by s.user_id)) % 5 = 0,
            case when (row_number() over (order by s.user_id)) % 5 = 0 then 'skipped' else 'sent' end,
            $1, case when (row_number() over (order by s.user_id)) % 5 = 0 then null else $1::timestamptz end, $1, s.churn_probability
     from user_scores s join users u on u.id = s.user_id
     where s.risk_tier in ('high','medium') and u.email is not null and u.name is not null and jsonb_array_length(s.explanation) > 0
     order by s.user_id limit 300`,
    [at],
  );
  const [o] = await db.query<{ id: number; user_id: string }>(`select id, user_id from outreach where not holdout and tier = 'high' order by user_id limit 1`);
  const [c] = await db.query<{ id: number }>(
    `insert into coupons (code, user_id, outreach_id, kind, value, expires_at, redeemed_at) values ('RK-TEST-0001', $1, $2, 'percent', 20, $3::timestamptz + interval '14 days', $3::timestamptz + interval '2 days') returning id`,
    [o!.user_id, o!.id, at],
  );
  await db.query('update outreach set coupon_id = $1 where id = $2', [c!.id, o!.id]);
  // Campaign answers read settled outcomes: the windows (END − 20 d, + 14 d) have closed by END.
  await settleOutreach({ db, log: silentLogger, now: () => END }, { windowDays: 14 });
}

/**
 * Settled outcomes of three earlier cycles (70, 56 and 42 days before END) for 200 users who
 * are in every cycle, in the same arm (the holdout is by user): a fifth held out, a quarter
 * offered an email, the rest a coupon. Coupons convert half the treated (paying the price
 * less a 20-yuan discount) against a sixth of their holdout; emails convert a third of both
 * arms. Prices vary by user (150–209 yuan) so the arms have a spread.
 */
async function plantRoiOutcomes(db: Database): Promise<void> {
  await db.query(
    `insert into outreach_outcomes (outreach_id, cycle_id, campaign, user_id, tier, channel, holdout, policy, origin, window_start, window_days,
                                    converted, conversions, revenue_minor, coupon_redeemed, discount_minor, clicked, unsubscribed)
     select 9000000 + k * 1000 + i, 'roi-' || k, 'default', 'roi-user-' || i, 'high', x.channel, x.holdout, 'uplift', 'rekindle',
            $1::timestamptz - make_interval(days => 70 - 14 * k), 14,
            x.converted, x.converted::int, case when x.converted then x.price - x.discount else 0 end,
            x.converted and x.discount > 0, case when x.converted then x.discount else 0 end, false, false
     from generate_series(0, 2) k, generate_series(1, 200) i,
     lateral (select c.channel, c.holdout, 15000 + (i * 37 % 60) * 100 as price,
                     case when c.channel = 'coupon' and not c.holdout then 2000 else 0 end as discount,
                     case when c.channel = 'email' then (i + k) % 3 = 0
                          when c.holdout then (i + k) % 6 = 0
                          else (i + k) % 2 = 0 end as converted
              from (select case when i % 4 = 0 then 'email' else 'coupon' end as channel, i % 5 = 0 as holdout) c) x`,
    [END.toISOString()],
  );
}

describe('insights queries on PGlite', () => {
  it('run on the embedded database too', async () => {
    const db = await openDatabase({ pgliteDir: 'memory://' });
    try {
      await migrate(db);
      await db.query(`insert into users (id, email, name) values ('a', 'A@Example.com', '李雷'), ('b', 'b@example.com', 'Ada Lovelace')`);
      await db.query(
        `insert into user_scores (user_id, model_run_id, scored_at, churn_probability, risk_tier, expected_value_minor, segment, explanation)
         values ('a', 1, now(), 0.9, 'high', 10000, 'at_risk', '[{"feature":"recency_days","contribution":1.2,"value":200}]'),
                ('b', 1, now(), 0.1, 'low', 50000, 'champions', '[]')`,
      );
      await db.query(`insert into model_runs (kind, status, as_of, params, metrics) values ('rescore', 'done', now(), '{"personaDescriptions":[]}', '{"churn":{"auc":0.8}}')`);
      const i = createInsights({ db, now: () => new Date(), conversionWindowDays: 14 });
      const o = await i.overview();
      expect(o).toMatchObject({ users: 2, payers: 2, tiers: { high: 1, medium: 0, low: 1 } });
      expect(o.histogram.reduce((a, b) => a + b.users, 0)).toBe(2);
      expect((await i.atRisk({ n: 5 })).map((u) => u.userId)).toEqual(['a', 'b']);
      expect((await i.atRisk({ n: 5, tier: 'low' })).map((u) => u.userId)).toEqual(['b']);
      expect(await i.count({ segment: 'at_risk', tier: 'high' })).toBe(1);
      expect((await i.segments()).stats.map((s) => s.segment)).toEqual(['champions', 'at_risk']);
      expect((await i.user({ kind: 'email', value: 'a@example.com' }))?.userId).toBe('a');
      expect((await i.model()).rescore?.churn?.auc).toBe(0.8);
      expect((await i.digestCandidates(1, 20)).users.map((u) => u.userId)).toEqual(['a']);
      expect(await i.saveDigestBaseline(1, 'test')).toBe(1);
      expect((await i.digestCandidates(1, 20)).total).toBe(0);
    } finally {
      await db.close();
    }
  }, 60_000);
});

describe('createSlackBot configuration', () => {
  it('needs a bot token, a signing secret in HTTP mode, and builds Socket Mode without a router', () => {
    const db = {} as Database;
    expect(() => createSlackBot({ config: loadConfig({}), db, log: silentLogger })).toThrow(/SLACK_BOT_TOKEN/);
    expect(() => createSlackBot({ config: loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1' }), db, log: silentLogger })).toThrow(/SLACK_SIGNING_SECRET/);
    const http = createSlackBot({ config: loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' }), db, log: silentLogger });
    expect(http.router).toBeDefined();
    const socket = createSlackBot({ config: loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_MODE: 'socket', SLACK_APP_TOKEN: 'xapp-1-A1-1-abc' }), db, log: silentLogger });
    expect(socket.router).toBeUndefined();
  });
});
