import { describe, expect, it } from 'vitest';
import { copyField, copyStatement, copyText } from '../../../src/db/copy.js';

describe('COPY text encoding', () => {
  it('writes nulls, numbers, booleans, dates and JSON the way COPY reads them', () => {
    expect(copyField(null)).toBe('\\N');
    expect(copyField(undefined)).toBe('\\N');
    expect(copyField(0.25)).toBe('0.25');
    expect(copyField(Number.NaN)).toBe('NaN');
    expect(copyField(-Infinity)).toBe('-Infinity');
    expect(copyField(true)).toBe('t');
    expect(copyField(new Date('2026-01-02T03:04:05.006Z'))).toBe('2026-01-02T03:04:05.006Z');
    expect(copyField({ a: 'x"y', b: [1, 2] })).toBe('{"a":"x\\\\"y","b":[1,2]}');
  });

  it('escapes the characters that would end a field or a row, and backslashes', () => {
    expect(copyField('a\tb\nc\rd\\e')).toBe('a\\tb\\nc\\rd\\\\e');
    expect(copyField('\\N')).toBe('\\\\N'); // the text "\N", not a null
    expect(copyText([[1, 'x'], [null, 'y\tz']])).toBe('1\tx\n\\N\ty\\tz\n');
  });

  it('refuses names that are not plain identifiers', () => {
    expect(copyStatement('score_stage', ['user_id', 'features'], 'stdin')).toBe('copy score_stage (user_id, features) from stdin');
    expect(() => copyStatement('t; drop table users', ['a'], 'stdin')).toThrow(/not a plain SQL identifier/);
    expect(() => copyStatement('t', ['A"'], 'stdin')).toThrow(/not a plain SQL identifier/);
  });
});
