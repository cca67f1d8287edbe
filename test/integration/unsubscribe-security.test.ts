/**
 * Issue #15 finding 10: the unsubscribe form posts to PUBLIC_BASE_URL (a path prefix survives),
 * every configured unsubscribe secret is accepted (rotation; the first signs) by unsubscribe and
 * the click redirect alike, and start-up warns when SMTP mail would carry non-https links.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startHttp, type RunningServer } from '../../src/cli/server-runtime.js';
import { signClickToken } from '../../src/domain/click-token.js';
import { signUnsubscribeToken } from '../../src/domain/unsubscribe-token.js';
import { createLogger, silentLogger } from '../../src/logger.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { uniquePrefix } from '../support/jobs.js';

const NEW = 'rotated-in-unsubscribe-secret-0123456789';
const OLD = 'rotated-out-unsubscribe-secret-0123456789';
const OTHER = 'never-configured-unsubscribe-secret-0123';

describe('unsubscribe behind a path prefix, with rotated secrets', () => {
  let t: TestDatabase;
  let http: RunningServer;
  const base = () => ({ DATABASE_URL: t.url, REDIS_URL: inject('redisUrl'), QUEUE_PREFIX: uniquePrefix() });
  beforeAll(async () => {
    t = await freshDatabase();
    await t.db.query(`insert into users (id, email) values ('unsub-old', 'old@example.com'), ('unsub-new', 'new@example.com')`);
    const config = loadConfig({ ...base(), PUBLIC_BASE_URL: 'https://retain.example.com/rekindle/', UNSUBSCRIBE_SECRETS: `${NEW},${OLD}` });
    http = await startHttp({ config, log: silentLogger, db: t.db, close: async () => {} }, { port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await http?.close();
    await t?.drop();
  });

  it('the confirmation form posts to PUBLIC_BASE_URL, not to the root', async () => {
    const token = signUnsubscribeToken('unsub-new', NEW);
    const res = await fetch(`${http.url}/unsubscribe?token=${token}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain(`<form method="post" action="https://retain.example.com/rekindle/unsubscribe?token=${token}">`);
  });

  it('accepts a link signed with any configured secret, and no other', async () => {
    const viaOld = await fetch(`${http.url}/unsubscribe?token=${signUnsubscribeToken('unsub-old', OLD)}`, { method: 'POST' });
    expect(viaOld.status).toBe(200);
    // Issue #16: it promises what unsubscribing does (no more outreach), not "no email ever".
    const done = await viaOld.text();
    expect(done).toContain('You will no longer receive win-back emails or coupons from us.');
    expect(done).not.toContain('We will not email you again');
    const [u] = await t.db.query<{ unsubscribed_at: Date | null }>(`select unsubscribed_at from users where id = 'unsub-old'`);
    expect(u!.unsubscribed_at).not.toBeNull();
    expect((await fetch(`${http.url}/unsubscribe?token=${signUnsubscribeToken('unsub-new', NEW)}`, { method: 'POST' })).status).toBe(200);
    expect((await fetch(`${http.url}/unsubscribe?token=${signUnsubscribeToken('unsub-new', OTHER)}`, { method: 'POST' })).status).toBe(400);
  });

  it('the click redirect accepts the same secrets (an unknown outreach row is 404, a bad signature 400)', async () => {
    const redirect = (secret: string) => fetch(`${http.url}/r/${signClickToken(987654, 'course-1', secret)}`, { redirect: 'manual' });
    expect((await redirect(OLD)).status).toBe(404);
    expect((await redirect(NEW)).status).toBe(404);
    expect((await redirect(OTHER)).status).toBe(400);
  });

  it('UNSUBSCRIBE_SECRET may hold the list too', async () => {
    const config = loadConfig({ ...base(), UNSUBSCRIBE_SECRET: `${NEW},${OLD}` });
    const other = await startHttp({ config, log: silentLogger, db: t.db, close: async () => {} }, { port: 0, host: '127.0.0.1' });
    try {
      expect((await fetch(`${other.url}/unsubscribe?token=${signUnsubscribeToken('unsub-new', OLD)}`, { method: 'POST' })).status).toBe(200);
      // Without PUBLIC_BASE_URL the form stays root-relative (links then point at this server anyway).
      const html = await (await fetch(`${other.url}/unsubscribe?token=${signUnsubscribeToken('unsub-new', NEW)}`)).text();
      expect(html).toContain('action="/unsubscribe?token=');
    } finally {
      await other.close();
    }
  });

  it('warns at start-up when SMTP mail would carry non-https unsubscribe links (RFC 8058)', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const log = createLogger({ level: 'warn' }, sink);
    const config = loadConfig({ ...base(), SMTP_URL: 'smtp://mail.example.com:587', PUBLIC_BASE_URL: 'http://retain.example.com', UNSUBSCRIBE_SECRET: NEW });
    const other = await startHttp({ config, log, db: t.db, close: async () => {} }, { port: 0, host: '127.0.0.1' });
    await other.close();
    const warnings = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40);
    expect(warnings.map((w) => w.msg).join('\n')).toMatch(/PUBLIC_BASE_URL.*https.*RFC 8058/);
  });
});
