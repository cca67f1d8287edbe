/** The root logger keeps secrets, credentials in URLs and emails out of every line, at any depth. */
import { describe, expect, it } from 'vitest';
import { createLogger, scrubUrlCredentials } from '../../src/logger.js';

function capture(level = 'debug') {
  const lines: string[] = [];
  const log = createLogger({ level }, { write: (s: string) => void lines.push(s) });
  return { log, lines, all: () => lines.join('') };
}

const SECRETS = {
  UNSUBSCRIBE_SECRET: 'unsub-secret-0123456789abcdef',
  SLACK_APP_TOKEN: 'xapp-1-A0APP-123-deadbeef',
  SLACK_BOT_TOKEN: 'xoxb-111-222-botsecret',
  SLACK_SIGNING_SECRET: 'signing-secret-value',
  WEBHOOK_SECRETS: ['whsec_c2VjcmV0LW9uZQ=='],
  ADMIN_PASSWORD: 'correct horse battery',
  DATABASE_URL: 'postgres://rekindle:db-pass-42@db.internal:5432/rekindle',
  SMTP_URL: 'smtps://mailer:smtp-pass-43@smtp.internal:465',
  REDIS_URL: 'redis://:redis-pass-44@cache.internal:6379',
};
const LEAKS = ['unsub-secret', 'xapp-1-A0APP', 'botsecret', 'signing-secret-value', 'c2VjcmV0LW9uZQ', 'correct horse', 'db-pass-42', 'smtp-pass-43', 'redis-pass-44'];

describe('log redaction', () => {
  it('redacts every secret of the config, and the passwords in its URLs', () => {
    const { log, all } = capture();
    log.info({ config: SECRETS }, 'config loaded');
    for (const leak of LEAKS) expect(all()).not.toContain(leak);
    const line = JSON.parse(all()) as { config: Record<string, unknown> };
    // The URLs keep their host (useful in an incident), lose their password.
    expect(line.config.DATABASE_URL).toBe('postgres://rekindle:[redacted]@db.internal:5432/rekindle');
    expect(line.config.SMTP_URL).toBe('smtps://mailer:[redacted]@smtp.internal:465');
  });

  it('redacts tokens, secrets, passwords and emails at any depth, and secrets at the top level', () => {
    const { log, all } = capture();
    log.info(
      {
        a: { b: { c: { d: { token: 'deep-token-1', password: 'deep-pass-2', apiKey: 'deep-key-3', email: 'deep@example.com' } } } },
        list: [{ clientSecret: 'deep-secret-4' }, { nested: [{ authorization: 'Bearer deep-bearer-5' }] }],
        UNSUBSCRIBE_SECRET: 'top-secret-6',
        SLACK_APP_TOKEN: 'xapp-top-7',
        url: 'https://user:url-pass-8@example.com/path',
        note: 'connecting to postgres://app:inline-pass-9@10.0.0.5/db',
      },
      'nested',
    );
    for (const leak of ['deep-token-1', 'deep-pass-2', 'deep-key-3', 'deep@example.com', 'deep-secret-4', 'deep-bearer-5', 'top-secret-6', 'xapp-top-7', 'url-pass-8', 'inline-pass-9']) {
      expect(all()).not.toContain(leak);
    }
    // Non-secret neighbours survive.
    expect(all()).toContain('10.0.0.5/db');
  });

  it('redacts what a child logger binds', () => {
    const { log, all } = capture();
    log.child({ module: 'x', config: { SMTP_URL: SECRETS.SMTP_URL, deep: { deeper: { apiKey: 'child-key-11' } } } }).info('hello');
    expect(all()).not.toContain('smtp-pass-43');
    expect(all()).not.toContain('child-key-11');
    expect(all()).toContain('"module":"x"');
  });

  it('strips credentials from error messages and stacks', () => {
    const { log, all } = capture();
    const err = new Error('connect ECONNREFUSED for postgres://rekindle:err-pass-10@db.internal:5432/rekindle');
    log.error({ err }, 'database failed');
    expect(all()).not.toContain('err-pass-10');
    expect(all()).toContain('db.internal:5432');
    expect(JSON.parse(all()).err.type).toBe('Error');
  });

  it('strips user:password@ from URLs, leaving everything else', () => {
    expect(scrubUrlCredentials('postgres://u:p@h:5432/d')).toBe('postgres://u:[redacted]@h:5432/d');
    expect(scrubUrlCredentials('redis://:p@h')).toBe('redis://:[redacted]@h');
    expect(scrubUrlCredentials('see https://example.com/a@b and mailto:x@y.z')).toBe('see https://example.com/a@b and mailto:x@y.z');
    expect(scrubUrlCredentials('plain text')).toBe('plain text');
  });

  it('does not change what it logs', () => {
    const { log } = capture();
    const payload = { config: { ...SECRETS }, nested: { token: 't' } };
    log.info(payload, 'x');
    expect(payload.config.DATABASE_URL).toBe(SECRETS.DATABASE_URL);
    expect(payload.nested.token).toBe('t');
  });
});
