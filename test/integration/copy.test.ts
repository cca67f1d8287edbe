/** Queryable.copyIn on both drivers: what goes in comes back, byte for byte, inside and outside transactions. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type Driver, type TestDatabase } from '../support/db.js';

describe.each<Driver>(['postgres', 'pglite'])('copyIn on %s', (driver) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshDatabase(driver);
    await t.db.query('create table copy_probe (id int primary key, label text, score float8, doc jsonb, at timestamptz, ok boolean)');
  });
  afterAll(async () => t?.drop());

  const rows = [
    [1, 'tab\there, newline\nthere, cr\r, backslash \\ and \\N', 0.1, { name: '<b>"引号"</b>', list: [1, 'a\\b'] }, new Date('2026-03-29T01:30:00Z'), true],
    [2, null, Number.NaN, null, null, false],
    [3, '用户 😀', -1e-300, [], new Date(0), null],
  ] as const;

  it('round-trips awkward text, JSON, NaN and nulls', async () => {
    expect(await t.db.copyIn('copy_probe', ['id', 'label', 'score', 'doc', 'at', 'ok'], rows)).toBe(3);
    const back = await t.db.query<Record<string, unknown>>('select * from copy_probe order by id');
    expect(back.map((r) => r.label)).toEqual([rows[0][1], null, rows[2][1]]);
    expect(back.map((r) => r.doc)).toEqual([rows[0][3], null, []]);
    expect(Number(back[1]!.score)).toBeNaN();
    expect(Number(back[2]!.score)).toBe(-1e-300);
    expect((back[0]!.at as Date).toISOString()).toBe('2026-03-29T01:30:00.000Z');
    expect(back.map((r) => r.ok)).toEqual([true, false, null]);
  });

  it('rolls back with its transaction', async () => {
    await expect(
      t.db.transaction(async (tx) => {
        await tx.copyIn('copy_probe', ['id', 'label'], [[10, 'in a transaction']]);
        expect(await tx.query('select 1 from copy_probe where id = 10')).toHaveLength(1);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await t.db.query('select 1 from copy_probe where id = 10')).toHaveLength(0);
  });

  it('rejects a bad row whole, naming the problem', async () => {
    await expect(t.db.copyIn('copy_probe', ['id', 'label'], [[20, 'fine'], [20, 'duplicate key']])).rejects.toThrow(/duplicate key|unique/i);
    expect(await t.db.query('select 1 from copy_probe where id = 20')).toHaveLength(0);
    await expect(t.db.copyIn('copy_probe', ['id', 'score'], [[21, 0.5], [22, 'not a number']])).rejects.toThrow(/invalid input syntax/i);
    expect(await t.db.query('select 1 from copy_probe where id in (21, 22)')).toHaveLength(0);
    // The connection is still usable afterwards.
    expect(await t.db.copyIn('copy_probe', ['id'], [[23]])).toBe(1);
  });
});
