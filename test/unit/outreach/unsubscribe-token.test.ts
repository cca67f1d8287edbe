import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/domain/errors.js';
import { signUnsubscribeToken, verifyUnsubscribeToken } from '../../../src/domain/unsubscribe-token.js';

const SECRET = 'test-unsubscribe-secret';

describe('unsubscribe tokens', () => {
  it('round-trips user ids, including non-ASCII ones', () => {
    for (const id of ['u1', 'user-000042', '用户_7', 'a.b@c', 'x'.repeat(200)]) {
      const token = signUnsubscribeToken(id, SECRET);
      expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
      expect(verifyUnsubscribeToken(token, SECRET)).toBe(id);
    }
  });

  it('is deterministic and URL-safe (no escaping needed in a query string)', () => {
    const t = signUnsubscribeToken('u1', SECRET);
    expect(signUnsubscribeToken('u1', SECRET)).toBe(t);
    expect(encodeURIComponent(t)).toBe(t);
  });

  it('refuses another secret, and accepts any secret of a rotation list', () => {
    const t = signUnsubscribeToken('u1', SECRET);
    expect(verifyUnsubscribeToken(t, 'other')).toBeNull();
    expect(verifyUnsubscribeToken(t, ['other', SECRET])).toBe('u1');
    expect(verifyUnsubscribeToken(t, [])).toBeNull();
    expect(verifyUnsubscribeToken(t, '')).toBeNull();
  });

  it('refuses a token whose user id was swapped for another', () => {
    const [, mac] = signUnsubscribeToken('u1', SECRET).split('.');
    const forged = `${Buffer.from('u2').toString('base64url')}.${mac}`;
    expect(verifyUnsubscribeToken(forged, SECRET)).toBeNull();
  });

  it('refuses every single-character change', () => {
    const t = signUnsubscribeToken('user-42', SECRET);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    for (let i = 0; i < t.length; i++) {
      for (const c of alphabet) {
        if (c === t[i]) continue;
        const tampered = t.slice(0, i) + c + t.slice(i + 1);
        expect(verifyUnsubscribeToken(tampered, SECRET), tampered).toBeNull();
      }
    }
  });

  it('refuses truncated, extended and malformed tokens', () => {
    const t = signUnsubscribeToken('u1', SECRET);
    const [id, mac] = t.split('.') as [string, string];
    for (const bad of [
      '',
      '.',
      id,
      `${id}.`,
      `.${mac}`,
      `${id}.${mac.slice(0, -1)}`,
      `${id}.${mac}A`,
      `${t}.x`,
      `${id}=.${mac}`,
      `${id}.${mac}==`,
      t.replace('.', '%2E'),
      ` ${t}`,
      `${t}\n`,
      'a'.repeat(5000),
    ]) {
      expect(verifyUnsubscribeToken(bad, SECRET), JSON.stringify(bad)).toBeNull();
    }
  });

  it('never throws on garbage, of any type', () => {
    for (const junk of [null, undefined, 42, {}, [], Symbol('x'), () => 1]) {
      expect(verifyUnsubscribeToken(junk, SECRET)).toBeNull();
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        expect(verifyUnsubscribeToken(s, SECRET)).toBeNull();
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it('round-trips arbitrary non-empty ids (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 80, unit: 'grapheme' }), (id) => {
        expect(verifyUnsubscribeToken(signUnsubscribeToken(id, SECRET), SECRET)).toBe(id);
      }),
      { seed: 7, numRuns: 500 },
    );
  });

  it('refuses to sign with an empty id or secret', () => {
    expect(() => signUnsubscribeToken('', SECRET)).toThrow(ValidationError);
    expect(() => signUnsubscribeToken('u1', '')).toThrow(ValidationError);
  });
});
