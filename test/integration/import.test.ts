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
const dir = mkdtempSync(join(tmpdir(), 'rk-import-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const ITEMS = `item_id,title,item_type,category,tags,description,price_minor,currency
c1,职场沟通30讲,course,职场,沟通|职场,"从倾听开始, 学会表达。",19900,CNY
m1,Premium Membership,membership,会员,,Monthly membership,3000,CNY
`;
const USERS = `user_id,email,name,locale,timezone,signup_at
u1,ada@example.com,Ada,en,Europe/London,2025-01-02T03:04:05Z
u2,li@example.com,李雷,zh-CN,Asia/Shanghai,
`;
// Columns in another order than documented, on purpose.
const EVENTS = `type,event_id,user_id,occurred_at,item_id,amount_minor,currency,quantity,lesson_id,percent,coupon_code
signup,e1,u1,2025-01-02T03:04:05Z,,,,,,,
purchase,e2,u1,2025-01-03T10:00:00+08:00,c1,19900,CNY,1,,,
lesson_progress,e3,u1,2025-01-04T10:00:00Z,c1,,,,l1,55,
purchase,e4,u2,2025-02-01T00:00:00Z,c1,19.5,CNY,1,,,
view,e5,u2,not-a-date,c1,,,,,,
renewal,e6,u2,2025-03-01T00:00:00Z,m1,3000,CNY,,,,
`;

describe('import', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshDatabase();
  });
  afterAll(async () => t?.drop());

  it('imports items, users and events, reports bad rows with their line, and adds nothing the second time', async () => {
    const req = { items: file('items.csv', ITEMS), users: file('users.csv', USERS), events: file('events.csv', EVENTS) };
    const first = await importFiles({ db: t.db, log: silentLogger }, req);
    expect(first.written).toBe(true);
    const ev = first.files.find((f) => f.kind === 'events')!;
    expect(ev).toMatchObject({ rows: 6, valid: 4, bad: 2, inserted: 4, duplicates: 0 });
    expect(first.badRows).toEqual([
      { file: req.events, line: 5, field: 'amount_minor', message: 'must be an integer amount in minor units (cents, fen)' },
      { file: req.events, line: 6, field: 'occurred_at', message: expect.stringMatching(/ISO 8601/) },
    ]);
    const [item] = await t.db.query<any>(`select title, tags, description, price_minor from items where id = 'c1'`);
    expect(item).toEqual({ title: '职场沟通30讲', tags: ['沟通', '职场'], description: '从倾听开始, 学会表达。', price_minor: 19900 });
    const [u] = await t.db.query<any>(`select email, timezone from users where id = 'u1'`);
    expect(u).toEqual({ email: 'ada@example.com', timezone: 'Europe/London' });

    const second = await importFiles({ db: t.db, log: silentLogger }, req);
    expect(second.files.find((f) => f.kind === 'events')).toMatchObject({ inserted: 0, duplicates: 4 });
    const [{ n }] = await t.db.query<any>('select count(*)::int as n from events');
    expect(n).toBe(4);
  });

  it('with --strict writes nothing when any row is bad, and names the first bad line', async () => {
    const events = file('strict.csv', EVENTS.replace(/,e(\d),/g, ',strict-e$1,'));
    const r = await importFiles({ db: t.db, log: silentLogger }, { events, strict: true });
    expect(r.written).toBe(false);
    expect(r.badRows[0]).toMatchObject({ line: 5, field: 'amount_minor' });
    expect(await t.db.query(`select 1 from events where event_id like 'strict-%'`)).toHaveLength(0);
  });

  it('reads NDJSON in the webhook shape and flags broken lines', async () => {
    const events = file(
      'events.ndjson',
      [
        JSON.stringify({ id: 'n1', type: 'view', user_id: 'u9', occurred_at: '2025-05-01T00:00:00Z', item_id: 'c1', user: { email: 'nine@example.com' } }),
        '{"id": "n2", broken',
        JSON.stringify({ id: 'n3', type: 'refund', user_id: 'u9', occurred_at: '2025-05-02T00:00:00Z', item_id: 'c1', amount_minor: 100, currency: 'CNY' }),
      ].join('\n'),
    );
    const r = await importFiles({ db: t.db, log: silentLogger }, { events });
    expect(r.files[0]).toMatchObject({ rows: 3, valid: 2, bad: 1, inserted: 2 });
    expect(r.badRows[0]).toMatchObject({ line: 2, message: expect.stringMatching(/not valid JSON/) });
  });

  it('imports an item url (http/https) and reports any other url as a bad row', async () => {
    const items = file(
      'items-url.csv',
      `item_id,title,url
url1,With a page,https://example.com/courses/url1?utm=x
url2,Not a web page,javascript:alert(1)
url3,No url,
`,
    );
    const r = await importFiles({ db: t.db, log: silentLogger }, { items });
    expect(r.files[0]).toMatchObject({ rows: 3, valid: 2, bad: 1 });
    expect(r.badRows).toEqual([{ file: items, line: 3, field: 'url', message: 'must be an http:// or https:// URL' }]);
    const rows = await t.db.query<any>(`select id, url from items where id like 'url%' order by id`);
    expect(rows).toEqual([
      { id: 'url1', url: 'https://example.com/courses/url1?utm=x' },
      { id: 'url3', url: null },
    ]);
  });

  it('refuses a file whose header lacks required columns, writing nothing', async () => {
    const events = file('noheader.csv', 'user_id,type\nu1,view\n');
    await expect(importFiles({ db: t.db, log: silentLogger }, { events })).rejects.toThrow(/lacks required column\(s\) event_id, occurred_at/);
  });

  it('runs as `rekindle import` with exit status 0, and 2 for a missing file', async () => {
    const env = { ...process.env, DATABASE_URL: t.url!, LOG_LEVEL: 'silent' };
    const events = file('cli.csv', 'event_id,type,user_id,occurred_at,item_id\ncli1,view,u1,2025-01-01T00:00:00Z,c1\n');
    const ok = await run('node', ['bin/rekindle.js', 'import', '--events', events, '--json'], { env });
    expect(JSON.parse(ok.stdout).files[0]).toMatchObject({ inserted: 1 });
    const bad = await run('node', ['bin/rekindle.js', 'import', '--events', join(dir, 'nope.csv')], { env }).catch((e) => e);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/nope\.csv: no such file/);
  });
});

describe('serve on an unmigrated database', () => {
  it('refuses to start and says how to migrate', async () => {
    const t = await freshDatabase();
    try {
      await t.db.query('drop schema drizzle cascade');
      const r = await run('node', ['bin/rekindle.js', 'serve'], { env: { ...process.env, DATABASE_URL: t.url!, PORT: '0' } }).catch((e) => e);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/not migrated .*Run `npx rekindle migrate` first/);
    } finally {
      await t.drop();
    }
  });
});
