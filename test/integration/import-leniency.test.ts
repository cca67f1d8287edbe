/**
 * Issue #12 part 1: a real export converted to the documented CSV imports: open item types,
 * refunds with a quantity, ids with inner spaces, large quantities, decimal amounts and local
 * timestamps (with --timezone). What is wrong is a bad row naming its line and field, and
 * --strict stays all or nothing.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/domain/errors.js';
import { silentLogger } from '../../src/logger.js';
import { importFiles } from '../../src/services/import.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { uniq } from '../support/factories.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'rk-import-leniency-'));
const file = (name: string, content: string) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

describe('lenient import', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshDatabase();
  });
  afterAll(async () => t?.drop());
  const deps = () => ({ db: t.db, log: silentLogger });
  const eventsOf = (p: string) =>
    t.db.query<{ event_id: string; type: string; user_id: string; item_id: string | null; amount_minor: number | null; currency: string | null; quantity: number | null; occurred_at: Date }>(
      `select event_id, type, user_id, item_id, amount_minor, currency, quantity, occurred_at from events where event_id like $1 order by event_id`,
      [`${p}%`],
    );

  it('accepts what real exports carry, converting amounts and local times', async () => {
    const p = uniq('ok');
    const items = file(
      'items.csv',
      `item_id,title,item_type,price_minor,currency
${p} Course 101,Negotiation,E-Book,1990,CNY
${p}-camp,Summer camp,  live class ,,
${p}-m,Club,Membership,3000,CNY
`,
    );
    const events = file(
      'events.csv',
      `event_id,type,user_id,occurred_at,item_id,amount,amount_minor,currency,quantity
${p}1,purchase,Ada Lovelace,2025-01-15 10:00:00,${p} Course 101,199.00,,CNY,2
${p}2,refund,Ada Lovelace,2025-07-15 10:00:00,${p} Course 101,99.50,,CNY,1
${p}3,purchase,u2,2025-07-15T10:00:00+08:00,${p}-camp,1500,,JPY,1000000
${p}4,renewal,u2,2025-08-01 00:00,${p}-m,1.250,1250,KWD,3
`,
    );
    const r = await importFiles(deps(), { items, events, timezone: 'Europe/London' });
    expect(r.badRows).toEqual([]);
    expect(r.files.find((f) => f.kind === 'events')).toMatchObject({ rows: 4, valid: 4, inserted: 4 });
    const rows = await eventsOf(p);
    expect(rows.map((e) => [e.event_id, e.type, e.user_id, e.item_id, e.amount_minor, e.currency, e.quantity, e.occurred_at.toISOString()])).toEqual([
      [`${p}1`, 'purchase', 'Ada Lovelace', `${p} Course 101`, 19900, 'CNY', 2, '2025-01-15T10:00:00.000Z'],
      [`${p}2`, 'refund', 'Ada Lovelace', `${p} Course 101`, 9950, 'CNY', 1, '2025-07-15T09:00:00.000Z'],
      [`${p}3`, 'purchase', 'u2', `${p}-camp`, 1500, 'JPY', 1_000_000, '2025-07-15T02:00:00.000Z'],
      [`${p}4`, 'renewal', 'u2', `${p}-m`, 1250, 'KWD', 3, '2025-07-31T23:00:00.000Z'],
    ]);
    const types = await t.db.query<{ id: string; item_type: string }>(`select id, item_type from items where id like $1 order by id`, [`${p}%`]);
    expect(types).toEqual([
      { id: `${p} Course 101`, item_type: 'E-Book' },
      { id: `${p}-camp`, item_type: 'live class' },
      { id: `${p}-m`, item_type: 'membership' },
    ]);
  });

  it('refuses what is wrong, naming the line and field, and writes the good rows only', async () => {
    const p = uniq('bad');
    const events = file(
      'bad.csv',
      `event_id,type,user_id,occurred_at,item_id,amount,amount_minor,currency,quantity,coupon_code
${p}1,purchase,u1,2025-01-15T10:00:00Z,i1,199.00,,CNY,,
${p}2,purchase,u1,2025-01-15 10:00:00,i1,199.00,,CNY,,
${p}3,purchase,u1,2025-01-15T10:00:00Z,i1,199.00,19000,CNY,,
${p}4,purchase,u1,2025-01-15T10:00:00Z,i1,1500.5,,JPY,,
${p}5,purchase,u1,2025-01-15T10:00:00Z,i1,,100,CNY,1000001,
${p}6,purchase,u1,2025-01-15T10:00:00Z,${'i'.repeat(201)},,100,CNY,,
${p}7,purchase,u1,2025-01-15T10:00:00Z,i1,,100,CNY,,SAVE\u000010
${p}8,refund,u1,2025-01-16T10:00:00Z,i1,,100,CNY,1,
`,
    );
    const r = await importFiles(deps(), { events });
    expect(r.badRows).toEqual([
      { file: events, line: 3, field: 'occurred_at', message: expect.stringMatching(/no time zone offset.*--timezone <IANA zone>/) },
      { file: events, line: 4, field: 'amount', message: '199.00 CNY is 19900 in minor units, but amount_minor says 19000: give one, or two that agree' },
      { file: events, line: 5, field: 'amount', message: '1500.5 has more decimals than JPY has (0: it has no minor unit)' },
      { file: events, line: 6, field: 'quantity', message: 'must be at most 1,000,000' },
      { file: events, line: 7, field: 'item_id', message: 'must be at most 200 characters' },
      { file: events, line: 8, field: 'coupon_code', message: 'must not contain control characters' },
    ]);
    expect((await eventsOf(p)).map((e) => e.event_id)).toEqual([`${p}1`, `${p}8`]);
  });

  it('--strict writes nothing when one row needs --timezone', async () => {
    const p = uniq('st');
    const events = file('strict.csv', `event_id,type,user_id,occurred_at\n${p}1,signup,u1,2025-01-15T10:00:00Z\n${p}2,signup,u2,2025-01-15 10:00\n`);
    const r = await importFiles(deps(), { events, strict: true });
    expect(r.written).toBe(false);
    expect(r.badRows).toEqual([{ file: events, line: 3, field: 'occurred_at', message: expect.stringMatching(/--timezone/) }]);
    expect(await eventsOf(p)).toEqual([]);
    const again = await importFiles(deps(), { events, strict: true, timezone: 'Asia/Shanghai' });
    expect(again.written).toBe(true);
    expect((await eventsOf(p)).map((e) => e.occurred_at.toISOString())).toEqual(['2025-01-15T10:00:00.000Z', '2025-01-15T02:00:00.000Z']);
  });

  it('reads users.signup_at and NDJSON timestamps with --timezone, and refuses an unknown zone up front', async () => {
    const p = uniq('tz');
    const users = file('users.csv', `user_id,signup_at\n${p}1,2025-01-02 03:04:05\n`);
    const events = file('tz.ndjson', JSON.stringify({ id: `${p}e`, type: 'signup', user_id: `${p}2`, occurred_at: '2025-03-01 08:00', user: { signup_at: '2025-02-01 08:00' } }) + '\n');
    const e = await importFiles(deps(), { users, timezone: 'Mars/Olympus' }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as Error).message).toMatch(/--timezone: "Mars\/Olympus" is not an IANA time zone/);
    const r = await importFiles(deps(), { users, events, timezone: 'Asia/Tokyo' });
    expect(r.badRows).toEqual([]);
    const rows = await t.db.query<{ id: string; signup_at: Date }>(`select id, signup_at from users where id like $1 order by id`, [`${p}%`]);
    expect(rows.map((u) => [u.id, u.signup_at?.toISOString()])).toContainEqual([`${p}1`, '2025-01-01T18:04:05.000Z']);
    expect((await eventsOf(p)).map((e) => e.occurred_at.toISOString())).toEqual(['2025-02-28T23:00:00.000Z']);
    // The embedded profile's signup_at was read in the same zone (a local time without the flag is a bad row).
    const bad = await importFiles(deps(), { events: file('tz2.ndjson', JSON.stringify({ id: `${p}f`, type: 'signup', user_id: `${p}3`, occurred_at: '2025-03-01T08:00:00Z', user: { signup_at: '2025-02-01 08:00' } }) + '\n') });
    expect(bad.badRows).toEqual([{ file: expect.stringMatching(/tz2\.ndjson$/), line: 1, field: 'user.signup_at', message: expect.stringMatching(/--timezone/) }]);
  });

  it('`rekindle import --timezone` reads local times; without it the CLI says to use it', async () => {
    const p = uniq('cli');
    const env = { ...process.env, DATABASE_URL: t.url!, LOG_LEVEL: 'silent' };
    const events = file('cli.csv', `event_id,type,user_id,occurred_at\n${p}1,signup,u1,2025-01-15 10:00:00\n`);
    const without = await run('node', ['bin/rekindle.js', 'import', '--events', events], { env }).catch((err: { code: number; stdout: string }) => err);
    expect(without.stdout).toMatch(new RegExp(`cli\\.csv:2: occurred_at: .*--timezone`));
    const withTz = await run('node', ['bin/rekindle.js', 'import', '--events', events, '--timezone', 'Europe/London', '--json'], { env });
    expect(JSON.parse(withTz.stdout).files[0]).toMatchObject({ inserted: 1 });
  });
});
