import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signClickToken, verifyClickToken } from '../../../src/domain/click-token.js';
import { ValidationError } from '../../../src/domain/errors.js';
import { signUnsubscribeToken, verifyUnsubscribeToken } from '../../../src/domain/unsubscribe-token.js';

const SECRET = 'click-test-secret-0123456789';
const OTHER = 'another-secret-9876543210';

/** Flips one base64url character (to another valid one) at `i` counted from the end. */
function flip(token: string, fromEnd = 2): string {
  const i = token.length - fromEnd;
  const c = token[i]!;
  return token.slice(0, i) + (c === 'A' ? 'B' : 'A') + token.slice(i + 1);
}

describe('click tokens', () => {
  it('round-trips (outreach id, item id), including ids with dots, colons and Chinese', () => {
    for (const [id, item] of [
      [1, 'course-1'],
      [123456789, 'a.b:c'],
      [Number.MAX_SAFE_INTEGER, '高效能人士的七个习惯'],
      [42, 'x'.repeat(128)],
    ] as const) {
      const t = signClickToken(id, item, SECRET);
      expect(t).toMatch(/^[1-9][0-9]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
      expect(verifyClickToken(t, SECRET)).toEqual({ outreachId: id, itemId: item });
    }
  });

  it('has the documented format', () => {
    const t = signClickToken(7, 'course-1', SECRET);
    const key = createHmac('sha256', SECRET).update('rekindle.click.key.v1').digest();
    const mac = createHmac('sha256', key).update('rekindle.click.v1:7:course-1').digest().subarray(0, 16);
    expect(t).toBe(`7.${Buffer.from('course-1').toString('base64url')}.${mac.toString('base64url')}`);
  });

  it('refuses a tampered signature, item or outreach id', () => {
    const t = signClickToken(7, 'course-1', SECRET);
    expect(verifyClickToken(flip(t), SECRET)).toBeNull();
    const [id, , mac] = t.split('.');
    expect(verifyClickToken(`${id}.${Buffer.from('course-2').toString('base64url')}.${mac}`, SECRET)).toBeNull();
    expect(verifyClickToken(t.replace(/^7\./, '8.'), SECRET)).toBeNull();
    // A token for another item is valid only for that item.
    const other = signClickToken(7, 'course-2', SECRET);
    expect(verifyClickToken(other, SECRET)).toEqual({ outreachId: 7, itemId: 'course-2' });
    expect(other.split('.')[2]).not.toBe(mac);
  });

  it('refuses a token signed with another key, and accepts any of several during a rotation', () => {
    const t = signClickToken(7, 'course-1', OTHER);
    expect(verifyClickToken(t, SECRET)).toBeNull();
    expect(verifyClickToken(t, [SECRET, OTHER])).toEqual({ outreachId: 7, itemId: 'course-1' });
    expect(verifyClickToken(t, [])).toBeNull();
    expect(verifyClickToken(t, ['', SECRET])).toBeNull();
  });

  it('never accepts an unsubscribe token, nor does an unsubscribe link accept a click token', () => {
    const unsub = signUnsubscribeToken('7', SECRET);
    expect(verifyClickToken(unsub, SECRET)).toBeNull();
    // Same shape and same message as a click MAC under the unsubscribe scheme: still refused,
    // because click MACs use a key derived from the secret, not the secret itself.
    const payload = '7:course-1';
    const unsubStyleMac = createHmac('sha256', SECRET).update('rekindle.click.v1:').update(payload).digest().subarray(0, 16).toString('base64url');
    expect(verifyClickToken(`7.${Buffer.from('course-1').toString('base64url')}.${unsubStyleMac}`, SECRET)).toBeNull();
    const click = signClickToken(7, 'course-1', SECRET);
    expect(verifyUnsubscribeToken(click, SECRET)).toBeNull();
    // Two-part slices of a click token are not unsubscribe tokens either.
    const [, item, mac] = click.split('.');
    expect(verifyUnsubscribeToken(`${item}.${mac}`, SECRET)).toBeNull();
  });

  it('returns null for garbage without throwing', () => {
    const t = signClickToken(7, 'course-1', SECRET);
    const [, item, mac] = t.split('.') as [string, string, string];
    for (const bad of [
      undefined,
      null,
      42,
      {},
      ['7', item, mac],
      '',
      '.',
      '..',
      '7..',
      `7.${item}`,
      `7.${item}.${mac}.x`,
      `07.${item}.${mac}`, // not canonical decimal
      `0.${item}.${mac}`,
      `-7.${item}.${mac}`,
      `99999999999999999.${item}.${mac}`, // beyond MAX_SAFE_INTEGER
      `7.${item}=.${mac}`, // padding is not base64url
      `7.${item}.${mac}=`,
      `7.${item}.${mac.slice(0, -1)}`, // short MAC
      `7.${item}.${mac}AA`, // long MAC
      `7.${item.slice(0, -1)}${String.fromCharCode(item.charCodeAt(item.length - 1) + 1)}.${mac}`,
      `7.${Buffer.from([0xff, 0xfe]).toString('base64url')}.${mac}`, // not UTF-8
      `7.${item}.${mac}`.replace('.', '%2E'),
      '7.Y291cnNlLTE.!!!!!!!!!!!!!!!!!!!!!!',
      `7.${'A'.repeat(2000)}.${mac}`,
      '<script>alert(1)</script>',
    ]) {
      expect(() => verifyClickToken(bad, SECRET)).not.toThrow();
      expect(verifyClickToken(bad, SECRET), String(bad)).toBeNull();
    }
  });

  it('refuses to sign nonsense, saying what is wrong', () => {
    expect(() => signClickToken(0, 'i', SECRET)).toThrow(ValidationError);
    expect(() => signClickToken(1.5, 'i', SECRET)).toThrow(/positive integer/);
    expect(() => signClickToken(Number.NaN, 'i', SECRET)).toThrow(ValidationError);
    expect(() => signClickToken(1, '', SECRET)).toThrow(/itemId must not be empty/);
    expect(() => signClickToken(1, 'x'.repeat(801), SECRET)).toThrow(/800/);
    expect(() => signClickToken(1, 'i', '')).toThrow(/secret must not be empty/);
  });
});
