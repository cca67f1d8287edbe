import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFiles } from '../../src/services/import.js';
import { silentLogger } from '../../src/logger.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'rk-import-outreach-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

// Columns in another order than documented, on purpose; 10:00+08:00 is 02:00Z, the same send as the other rows.
const OUTREACH = `campaign,user_id,sent_at,offer,group,coupon_code,discount_minor,currency
spring-2025,o1,2025-03-01T10:00:00+08:00,coupon,treated,SPRING20,2000,CNY
spring-2025,o2,2025-03-01T02:00:00Z,coupon,holdout,,,
spring-2025,o3,2025-03-01T02:00:00Z,email,treated,,,
winback_v2,o1,2025-04-15T08:30:00Z,email,holdout,,,
`;

const COLUMNS = 'cycle_id, campaign, user_id, tier, channel, holdout, state, scheduled_at, sent_at, coupon_code, discount_minor, currency, origin, policy, model_run_id';

describe('import --outreach', () => {
  let t: TestDatabase;
  const deps = () => ({ db: t.db, log: silentLogger });
  beforeAll(async () => {
    t = await freshDatabase();
  });
  afterAll(async () => t?.drop());

  it('writes every column of a CSV of past campaigns, adds the users it names, and adds nothing the second time', async () => {
    const outreach = file('outreach.csv', OUTREACH);
    const first = await importFiles(deps(), { outreach });
    expect(first.written).toBe(true);
    expect(first.badRows).toEqual([]);
    expect(first.files).toEqual([{ file: outreach, kind: 'outreach', rows: 4, valid: 4, bad: 0, inserted: 4, duplicates: 0 }]);

    const rows = await t.db.query<any>(`select ${COLUMNS} from outreach where origin = 'import' order by campaign, user_id`);
    const at = new Date('2025-03-01T02:00:00Z');
    const spring = 'import:spring-2025:2025-03-01T02:00:00.000Z';
    const base = { campaign: 'spring-2025', tier: 'imported', origin: 'import', policy: null, model_run_id: null, coupon_code: null, discount_minor: null, currency: null };
    expect(rows.map((r) => ({ ...r, scheduled_at: new Date(r.scheduled_at), sent_at: r.sent_at && new Date(r.sent_at) }))).toEqual([
      { ...base, cycle_id: spring, user_id: 'o1', channel: 'coupon', holdout: false, state: 'sent', scheduled_at: at, sent_at: at, coupon_code: 'SPRING20', discount_minor: 2000, currency: 'CNY' },
      { ...base, cycle_id: spring, user_id: 'o2', channel: 'coupon', holdout: true, state: 'skipped', scheduled_at: at, sent_at: null },
      { ...base, cycle_id: spring, user_id: 'o3', channel: 'email', holdout: false, state: 'sent', scheduled_at: at, sent_at: at },
      {
        ...base,
        campaign: 'winback_v2',
        cycle_id: 'import:winback_v2:2025-04-15T08:30:00.000Z',
        user_id: 'o1',
        channel: 'email',
        holdout: true,
        state: 'skipped',
        scheduled_at: new Date('2025-04-15T08:30:00Z'),
        sent_at: null,
      },
    ]);
    const users = await t.db.query<any>(`select id, email from users where id like 'o%' order by id`);
    expect(users).toEqual([
      { id: 'o1', email: null },
      { id: 'o2', email: null },
      { id: 'o3', email: null },
    ]);

    const again = await importFiles(deps(), { outreach });
    expect(again.files[0]).toMatchObject({ rows: 4, valid: 4, inserted: 0, duplicates: 4 });
    const [{ n }] = await t.db.query<any>(`select count(*)::int as n from outreach where origin = 'import' and user_id like 'o%'`);
    expect(n).toBe(4);
  });

  it('reads NDJSON with the same field names (numeric ids and amounts as JSON numbers), and keys it the same way', async () => {
    const outreach = file(
      'outreach.ndjson',
      [
        JSON.stringify({ user_id: 9001, campaign: 'nd.1', sent_at: '2025-05-01T12:00:00-04:00', offer: 'coupon', group: 'treated', coupon_code: 'ND10', discount_minor: 1000, currency: 'USD' }),
        JSON.stringify({ user_id: '9002', campaign: 'nd.1', sent_at: '2025-05-01T16:00:00Z', offer: 'email', group: 'holdout' }),
        '',
        // The first row again, its time written in UTC: the same key, so a duplicate.
        JSON.stringify({ user_id: '9001', campaign: 'nd.1', sent_at: '2025-05-01T16:00:00Z', offer: 'coupon', group: 'treated', coupon_code: 'ND10', discount_minor: 1000, currency: 'USD' }),
        '{"user_id": "9003", broken',
      ].join('\n'),
    );
    const r = await importFiles(deps(), { outreach });
    expect(r.files[0]).toMatchObject({ kind: 'outreach', rows: 4, valid: 3, bad: 1, inserted: 2, duplicates: 1 });
    expect(r.badRows).toEqual([{ file: outreach, line: 5, field: '(row)', message: expect.stringMatching(/not valid JSON/) }]);
    const rows = await t.db.query<any>(`select user_id, cycle_id, channel, holdout, state, coupon_code, discount_minor, currency from outreach where campaign = 'nd.1' order by user_id`);
    expect(rows).toEqual([
      { user_id: '9001', cycle_id: 'import:nd.1:2025-05-01T16:00:00.000Z', channel: 'coupon', holdout: false, state: 'sent', coupon_code: 'ND10', discount_minor: 1000, currency: 'USD' },
      { user_id: '9002', cycle_id: 'import:nd.1:2025-05-01T16:00:00.000Z', channel: 'email', holdout: true, state: 'skipped', coupon_code: null, discount_minor: null, currency: null },
    ]);
  });

  it('reports each bad row as file:line: field: message, skips it and writes the rest', async () => {
    const outreach = file(
      'bad.csv',
      `user_id,campaign,sent_at,offer,group,coupon_code,discount_minor,currency
b1,bad-rows,2025-03-01T00:00:00Z,sms,treated,,,
b2,bad-rows,2025-03-01T00:00:00Z,email,control,,,
b3,bad-rows,2025-03-01 10:00,email,treated,,,
b4,bad-rows,2025-03-01T00:00:00Z,coupon,holdout,HOLD1,,
b5,bad-rows,2025-03-01T00:00:00Z,coupon,treated,C5,500,
b6,bad rows!,2025-03-01T00:00:00Z,email,treated,,,
b7,bad-rows,2025-03-01T00:00:00Z,coupon,treated,C7,12.5,CNY
b8,bad-rows,2025-03-01T00:00:00Z,coupon,treated,C8,800,XXY
b9,bad-rows,2025-03-01T00:00:00Z,email,treated,C9,,
,bad-rows,2025-03-01T00:00:00Z,email,treated,,,
b11,bad-rows,2025-03-01T00:00:00Z,email,treated,,,
`,
    );
    const r = await importFiles(deps(), { outreach });
    expect(r.written).toBe(true);
    expect(r.files[0]).toMatchObject({ rows: 11, valid: 1, bad: 10, inserted: 1 });
    expect(r.badTotal).toBe(10);
    expect(r.badRows).toEqual([
      { file: outreach, line: 2, field: 'offer', message: 'must be coupon or email' },
      { file: outreach, line: 3, field: 'group', message: 'must be treated or holdout' },
      { file: outreach, line: 4, field: 'sent_at', message: expect.stringMatching(/has no time zone offset: add one \(e.g. 2025-03-01T10:00:00Z.*--timezone/) },
      { file: outreach, line: 5, field: 'coupon_code', message: expect.stringMatching(/must be empty: a holdout row got nothing/) },
      { file: outreach, line: 6, field: 'currency', message: 'is required when discount_minor is given' },
      { file: outreach, line: 7, field: 'campaign', message: expect.stringMatching(/letters .*digits, _ \. -/) },
      { file: outreach, line: 8, field: 'discount_minor', message: 'must be an integer amount in minor units (cents, fen)' },
      { file: outreach, line: 9, field: 'currency', message: 'is not an ISO 4217 currency code' },
      { file: outreach, line: 10, field: 'coupon_code', message: expect.stringMatching(/only a coupon offer has a coupon/) },
      { file: outreach, line: 11, field: 'user_id', message: 'is required' },
    ]);
    const rows = await t.db.query<any>(`select user_id from outreach where campaign = 'bad-rows'`);
    expect(rows).toEqual([{ user_id: 'b11' }]);
  });

  it('reports an unknown NDJSON field under its own name', async () => {
    const outreach = file(
      'unknown.ndjson',
      JSON.stringify({ user_id: 'x1', campaign: 'unknown-field', sent_at: '2025-03-01T00:00:00Z', offer: 'email', group: 'treated', channel: 'email' }) + '\n',
    );
    const r = await importFiles(deps(), { outreach });
    expect(r.badRows).toEqual([{ file: outreach, line: 1, field: 'channel', message: expect.stringMatching(/^unknown field; expected user_id, campaign/) }]);
    expect(await t.db.query(`select 1 from outreach where campaign = 'unknown-field'`)).toHaveLength(0);
  });

  it('refuses a CSV header with an unknown or a missing column, naming it, before writing any file', async () => {
    const events = file('header-events.csv', 'event_id,type,user_id,occurred_at\nhdr-e1,signup,hdr1,2025-01-01T00:00:00Z\n');
    const unknown = file('unknown-col.csv', 'user_id,campaign,sent_at,offer,group,coupon_cod\nhdr1,hdr,2025-03-01T00:00:00Z,coupon,treated,X\n');
    await expect(importFiles(deps(), { events, outreach: unknown })).rejects.toThrow(/unknown-col\.csv: the header row has unknown column\(s\) coupon_cod; expected columns: user_id,campaign,sent_at,offer,group,coupon_code,discount_minor,currency/);
    const missing = file('missing-col.csv', 'user_id,campaign,offer,group\nhdr1,hdr,coupon,treated\n');
    await expect(importFiles(deps(), { events, outreach: missing })).rejects.toThrow(/missing-col\.csv: the header row lacks required column\(s\) sent_at/);
    // The events file came first and was fine, but nothing was written: headers are checked up front.
    expect(await t.db.query(`select 1 from events where event_id = 'hdr-e1'`)).toHaveLength(0);
    expect(await t.db.query(`select 1 from outreach where campaign = 'hdr'`)).toHaveLength(0);
  });

  it('with --strict writes nothing, not even the events, when one outreach row is bad', async () => {
    const events = file('strict-events.csv', 'event_id,type,user_id,occurred_at\nstrict-e1,signup,s1,2025-01-01T00:00:00Z\n');
    const outreach = file(
      'strict.csv',
      `user_id,campaign,sent_at,offer,group
s1,strict,2025-03-01T00:00:00Z,coupon,treated
s2,strict,2025-03-01T00:00:00Z,coupon,treatment
s3,strict,2025-03-01T00:00:00Z,email,holdout
`,
    );
    const r = await importFiles(deps(), { events, outreach, strict: true });
    expect(r.written).toBe(false);
    expect(r.badRows).toEqual([{ file: outreach, line: 3, field: 'group', message: 'must be treated or holdout' }]);
    expect(await t.db.query(`select 1 from outreach where campaign = 'strict'`)).toHaveLength(0);
    expect(await t.db.query(`select 1 from events where event_id = 'strict-e1'`)).toHaveLength(0);
  });

  it('writes outreach after the events of the same run, in concurrent batches that share users', async () => {
    const n = 3000; // two campaigns over the same users, the second in reverse order: 6000 rows, three batches of 2000 in flight
    const lines = ['user_id,campaign,sent_at,offer,group'];
    for (let i = 0; i < n; i++) lines.push(`big${i},big,2025-06-01T00:00:00Z,${i % 2 ? 'email' : 'coupon'},${i % 10 === 0 ? 'holdout' : 'treated'}`);
    for (let i = n - 1; i >= 0; i--) lines.push(`big${i},big2,2025-07-01T00:00:00Z,email,treated`);
    const outreach = file('big.csv', lines.join('\n') + '\n');
    const events = file('big-events.csv', 'event_id,type,user_id,occurred_at,item_id,amount_minor,currency\nbig-e1,purchase,big1,2025-06-03T00:00:00Z,c1,100,CNY\n');
    const r = await importFiles(deps(), { outreach, events });
    expect(r.files.map((f) => f.kind)).toEqual(['events', 'outreach']);
    expect(r.files[1]).toMatchObject({ rows: 2 * n, valid: 2 * n, inserted: 2 * n, duplicates: 0 });
    const [c] = await t.db.query<any>(`select count(*)::int as n, count(*) filter (where holdout)::int as holdout, count(distinct user_id)::int as users from outreach where campaign like 'big%'`);
    expect(c).toEqual({ n: 2 * n, holdout: n / 10, users: n });
    const [u] = await t.db.query<any>(`select count(*)::int as n from users where id like 'big%'`);
    expect(u.n).toBe(n);
  });

  it('runs as `rekindle import --outreach`, with --json and the human report', async () => {
    const env = { ...process.env, DATABASE_URL: t.url!, LOG_LEVEL: 'silent' };
    const outreach = file('cli.csv', 'user_id,campaign,sent_at,offer,group\ncli1,cli,2025-03-01T00:00:00Z,email,treated\ncli2,cli,2025-03-01T00:00:00Z,sms,treated\n');
    const json = await run('node', ['bin/rekindle.js', 'import', '--outreach', outreach, '--json'], { env });
    const report = JSON.parse(json.stdout);
    expect(report.files[0]).toMatchObject({ kind: 'outreach', rows: 2, valid: 1, bad: 1, inserted: 1, duplicates: 0 });
    expect(report.badRows[0]).toMatchObject({ line: 3, field: 'offer' });
    const human = await run('node', ['bin/rekindle.js', 'import', '--outreach', outreach], { env });
    expect(human.stdout).toContain(`${outreach}: 2 rows, 1 valid, 1 bad, 0 new outreach rows, 1 already stored`);
    expect(human.stdout).toContain(`${outreach}:3: offer: must be coupon or email`);
  });
});

describe('import --outreach on embedded PGlite', () => {
  it('binds the same batch statement', async () => {
    const t = await freshDatabase('pglite');
    try {
      const outreach = file('pglite.csv', OUTREACH);
      const r = await importFiles({ db: t.db, log: silentLogger }, { outreach });
      expect(r.files[0]).toMatchObject({ rows: 4, inserted: 4 });
      const rows = await t.db.query<any>(`select user_id, holdout, state, sent_at is null as unsent, discount_minor from outreach order by campaign, user_id`);
      expect(rows).toEqual([
        { user_id: 'o1', holdout: false, state: 'sent', unsent: false, discount_minor: 2000 },
        { user_id: 'o2', holdout: true, state: 'skipped', unsent: true, discount_minor: null },
        { user_id: 'o3', holdout: false, state: 'sent', unsent: false, discount_minor: null },
        { user_id: 'o1', holdout: true, state: 'skipped', unsent: true, discount_minor: null },
      ]);
      expect((await importFiles({ db: t.db, log: silentLogger }, { outreach })).files[0]).toMatchObject({ inserted: 0, duplicates: 4 });
    } finally {
      await t.drop();
    }
  }, 120_000); // migrating an in-memory PGlite takes most of it
});
