/**
 * Issue #15 finding 6 (and 3 for imports): a maximum record size, a stray quote reported at its
 * own line instead of silently swallowing the rows after it, non-UTF-8 refused with the file,
 * byte offset and line, and control characters reported as bad rows.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/domain/errors.js';
import { silentLogger } from '../../src/logger.js';
import { importFiles } from '../../src/services/import.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { uniq } from '../support/factories.js';

const dir = mkdtempSync(join(tmpdir(), 'rk-import-hardening-'));
const file = (name: string, content: string | Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

describe('import hardening', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshDatabase();
  });
  afterAll(async () => t?.drop());
  const deps = () => ({ db: t.db, log: silentLogger });
  const userIds = async (prefix: string) => (await t.db.query<{ id: string }>('select id from users where id like $1 order by id', [`${prefix}%`])).map((r) => r.id);

  it('a stray quote fails only its own row, named by line and column; the lines after it are read on their own', async () => {
    const p = uniq('sq');
    const users = file(
      'stray-quote.csv',
      `user_id,email,name,locale
${p}1,a@example.com,Ada,en
${p}2,b@example.com,"Bob,en
${p}3,c@example.com,Cy,en
${p}4,d@example.com,Dan,en

${p}5,e@example.com,"Eve,en
${p}6,f@example.com,Fay,en
`,
    );
    const r = await importFiles(deps(), { users });
    expect(r.badRows).toEqual([
      { file: users, line: 3, field: 'name', message: expect.stringMatching(/quote opened on line 3 is not closed on that line.*from line 4/) },
      { file: users, line: 7, field: '(row)', message: expect.stringMatching(/quote opened on line 7 is never closed.*from line 8/) },
    ]);
    expect(r.files[0]).toMatchObject({ rows: 6, valid: 4, bad: 2 });
    expect(await userIds(p)).toEqual([`${p}1`, `${p}3`, `${p}4`, `${p}6`].sort());
  });

  it('a quote never closed costs its own row, not the 50 rows after it (the old behaviour swallowed the rest of the file)', async () => {
    const p = uniq('nc');
    const rows = Array.from({ length: 50 }, (_, i) => `${p}x${i},x${i}@example.com,X,en`).join('\n');
    const users = file('never-closed.csv', `user_id,email,name,locale\n${p}1,a@example.com,Ada,en\n${p}2,b@example.com,"Bob,en\n${rows}\n`);
    const r = await importFiles(deps(), { users });
    expect(r.badRows).toEqual([{ file: users, line: 3, field: '(row)', message: expect.stringMatching(/quote opened on line 3 is never closed/) }]);
    expect(r.files[0]).toMatchObject({ rows: 52, valid: 51, bad: 1 });
    expect(await userIds(p)).toHaveLength(51);
    expect(await userIds(`${p}2`)).toEqual([]);
  });

  it('counts lines right through CRLF endings, empty lines and multi-line descriptions', async () => {
    const p = uniq('crlf');
    const items = file(
      'crlf.csv',
      [`item_id,title,description`, `${p}1,One,"two\r\nlines"`, ``, `${p}2,"Two,x`, `${p}3,Three,fine`, `${p}4,Four,"three\r\nline\r\ncell"`, `${p}5,,`, `${p}6,Six`].join('\r\n') + '\r\n',
    );
    const r = await importFiles(deps(), { items });
    expect(r.badRows).toEqual([
      { file: items, line: 5, field: 'title', message: expect.stringMatching(/quote opened on line 5 is not closed/) },
      { file: items, line: 11, field: '(row)', message: 'expected 3 cells as in the header, got 2' },
    ]);
    const rows = await t.db.query<{ id: string; description: string | null }>('select id, description from items where id like $1 order by id', [`${p}%`]);
    expect(rows.map((x) => x.id.slice(p.length))).toEqual(['1', '3', '4', '5']);
    expect(rows[2]!.description).toBe('three\r\nline\r\ncell');
  });

  it('with --strict a stray quote still writes nothing', async () => {
    const p = uniq('sqs');
    const users = file('stray-strict.csv', `user_id,email,name\n${p}1,a@example.com,Ada\n${p}2,b@example.com,"Bob\n${p}3,c@example.com,Cy\n`);
    const r = await importFiles(deps(), { users, strict: true });
    expect(r.written).toBe(false);
    expect(r.badRows[0]).toMatchObject({ line: 3 });
    expect(await userIds(p)).toEqual([]);
  });

  it('a record over the maximum size (1 MiB) is a bad row naming the limit; what came before is imported', async () => {
    const p = uniq('big');
    const huge = 'x'.repeat(1100 * 1024);
    const items = file('huge.csv', `item_id,title,description\n${p}1,Fine,short\n${p}2,Huge,${huge}\n`);
    const r = await importFiles(deps(), { items });
    expect(r.badRows).toEqual([{ file: items, line: 3, field: '(row)', message: expect.stringMatching(/larger than 1 MiB/) }]);
    const [row] = await t.db.query<{ n: number }>('select count(*)::int as n from items where id like $1', [`${p}%`]);
    expect(row!.n).toBe(1);
  });

  it('an NDJSON line over the maximum size is a bad row too, and the lines after it still import', async () => {
    const p = uniq('nd');
    const ev = (id: string) => JSON.stringify({ id, type: 'signup', user_id: `${p}${id}`, occurred_at: '2026-01-01T00:00:00Z' });
    const huge = JSON.stringify({ id: 'big', type: 'signup', user_id: `${p}big`, occurred_at: '2026-01-01T00:00:00Z', user: { name: 'x'.repeat(1100 * 1024) } });
    const events = file('huge.ndjson', `${ev('a')}\n${huge}\n${ev('b')}\n`);
    const r = await importFiles(deps(), { events });
    expect(r.badRows).toEqual([{ file: events, line: 2, field: '(row)', message: expect.stringMatching(/larger than 1 MiB/) }]);
    expect(await userIds(p)).toEqual([`${p}a`, `${p}b`]);
  });

  it('refuses a file that is not UTF-8, naming the file, byte offset and line, before writing anything', async () => {
    const p = uniq('gbk');
    const head = Buffer.from(`user_id,email,name,locale\n${p}1,a@example.com,Ada,en\n${p}2,b@example.com,`);
    // "李雷" in GBK: not UTF-8.
    const users = file('gbk.csv', Buffer.concat([head, Buffer.from([0xc0, 0xee, 0xc0, 0xd7]), Buffer.from(',zh-CN\n')]));
    const e = await importFiles(deps(), { users }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as Error).message).toMatch(new RegExp(`gbk\\.csv: not valid UTF-8 at byte ${head.length} \\(line 3\\)`));
    expect(await userIds(p)).toEqual([]);
    // UTF-16 says so.
    const utf16 = file('utf16.csv', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('user_id\nu1\n', 'utf16le')]));
    expect(((await importFiles(deps(), { users: utf16 }).catch((err: unknown) => err)) as Error).message).toMatch(/utf16\.csv: .*UTF-16/);
  });

  it('control characters in a cell are a bad row naming the column; tabs and line breaks stay in descriptions', async () => {
    const p = uniq('cc');
    const users = file('nul.csv', `user_id,email,name\n${p}1,a@example.com,A\u0000da\n${p}2,b@example.com,Bob\n`);
    const r = await importFiles(deps(), { users });
    expect(r.badRows).toEqual([{ file: users, line: 2, field: 'name', message: 'must not contain control characters' }]);
    expect(await userIds(p)).toEqual([`${p}2`]);
    const items = file('multiline.csv', `item_id,title,description\n${p}i,Title,"line one\n\tline two"\n`);
    const ri = await importFiles(deps(), { items });
    expect(ri.badRows).toEqual([]);
    const [item] = await t.db.query<{ description: string }>('select description from items where id = $1', [`${p}i`]);
    expect(item!.description).toBe('line one\n\tline two');
    const outreach = file(
      'outreach-nul.csv',
      `user_id,campaign,sent_at,offer,group,coupon_code,discount_minor,currency\n${p}2,spring,2026-01-01T00:00:00Z,coupon,treated,SAVE\u000110,500,CNY\n`,
    );
    const ro = await importFiles(deps(), { outreach });
    expect(ro.badRows).toEqual([{ file: outreach, line: 2, field: 'coupon_code', message: 'must not contain control characters' }]);
  });
});
