/**
 * Issue #15, findings 4 and 8 on outbound webhooks: a receiver's answer is read only up to a
 * limit; private, loopback and link-local targets are refused (after DNS, every address, and
 * the connection goes to the address that was checked) unless WEBHOOK_ALLOW_PRIVATE; a refused
 * target is dead-lettered at once, and `rekindle webhooks add` refuses it up front.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ValidationError } from '../../src/domain/errors.js';
import { silentLogger } from '../../src/logger.js';
import { createMailer } from '../../src/outreach/mailer.js';
import { sendWebhook } from '../../src/outreach/webhook-sender.js';
import { deliverWebhook } from '../../src/services/deliver.js';
import { outreachSettings } from '../../src/services/outreach-settings.js';
import { addEndpoint } from '../../src/services/webhook-endpoints.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { TEST_SECRET } from '../support/http.js';
import { startReceiver, type Receiver } from '../support/receiver.js';

const run = promisify(execFile);

/** A receiver that answers `status` and then streams its body for as long as anyone reads. */
async function endlessReceiver(status: number): Promise<{ url: string; written: () => number; closed: Promise<void>; close(): Promise<void> }> {
  let written = 0;
  let onClosed: () => void = () => {};
  const closed = new Promise<void>((r) => (onClosed = r));
  const chunk = Buffer.alloc(16 * 1024, 'x');
  const server: Server = createServer((req, res) => {
    req.resume();
    res.writeHead(status, { 'content-type': 'text/plain' });
    const pump = (): void => {
      while (!res.destroyed) {
        written += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
    };
    res.on('close', onClosed);
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    written: () => written,
    closed,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const attempt = (url: string, over: Partial<Parameters<typeof sendWebhook>[0]> = {}) =>
  sendWebhook({ url, secret: TEST_SECRET, messageId: 'msg_egress', eventType: 'coupon.issued', payload: { a: 1 }, now: Date.now, allowPrivate: true, ...over });

describe('finding 4: reading a receiver answer', () => {
  it('reads at most 64 KB of an endless error body, then hangs up', async () => {
    const rx = await endlessReceiver(500);
    try {
      const started = Date.now();
      const res = await attempt(rx.url, { timeoutMs: 8_000 });
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(res).toMatchObject({ ok: false, status: 500, retryable: true });
      expect(res.error).toMatch(/^HTTP 500: x{100,200}$/);
      await rx.closed;
      // Whatever was in flight when we hung up: nowhere near what a slow read would have taken in.
      expect(rx.written()).toBeLessThan(16 * 1024 * 1024);
    } finally {
      await rx.close();
    }
  });

  it('does not wait for the end of an endless 2xx body either', async () => {
    const rx = await endlessReceiver(200);
    try {
      const started = Date.now();
      const res = await attempt(rx.url, { timeoutMs: 8_000 });
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(res).toMatchObject({ ok: true, status: 200, retryable: false });
      await rx.closed;
    } finally {
      await rx.close();
    }
  });
});

describe('finding 8: private targets', () => {
  let rx: Receiver;
  beforeAll(async () => {
    rx = await startReceiver();
  });
  afterAll(async () => rx?.close());

  it('refuses loopback and names the address and the setting, without a request', async () => {
    rx.requests.length = 0;
    const res = await attempt(`${rx.url}/hooks`, { allowPrivate: false });
    expect(res).toMatchObject({ ok: false, status: null, retryable: false });
    expect(res.error).toMatch(/refused: 127\.0\.0\.1 is a loopback address.*WEBHOOK_ALLOW_PRIVATE/);
    // A name is checked after it resolves.
    const byName = await attempt(`${rx.url.replace('127.0.0.1', 'localhost')}/hooks`, { allowPrivate: false });
    expect(byName).toMatchObject({ ok: false, status: null, retryable: false, error: expect.stringMatching(/localhost resolves to .*loopback/) });
    // The default is to refuse.
    expect(await attempt(`${rx.url}/hooks`, { allowPrivate: undefined })).toMatchObject({ ok: false, retryable: false });
    expect(rx.requests).toHaveLength(0);
    expect(await attempt(`${rx.url}/hooks`, { allowPrivate: true })).toMatchObject({ ok: true, status: 200 });
  });

  it('connects to the address it checked (DNS is asked once, so a rebinding answer cannot switch it)', async () => {
    rx.requests.length = 0;
    const port = new URL(rx.url).port;
    let lookups = 0;
    const lookup = async (host: string) => {
      lookups++;
      expect(host).toBe('hooks.rebind.test');
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const res = await attempt(`http://hooks.rebind.test:${port}/x`, { lookup });
    expect(res).toMatchObject({ ok: true, status: 200 });
    expect(lookups).toBe(1);
    const [req] = await rx.waitForRequests(1);
    expect(req!.headers.host).toBe(`hooks.rebind.test:${port}`);
    // With private targets refused, the same answer is refused and nothing is sent.
    const refused = await attempt(`http://hooks.rebind.test:${port}/x`, { lookup, allowPrivate: false });
    expect(refused).toMatchObject({ ok: false, retryable: false, error: expect.stringMatching(/hooks\.rebind\.test resolves to 127\.0\.0\.1/) });
    expect(rx.requests).toHaveLength(1);
  });

  describe('with a database', () => {
    let t: TestDatabase;
    beforeAll(async () => {
      t = await freshDatabase();
    });
    afterAll(async () => t?.drop());

    it('dead-letters a delivery to a refused target on its first attempt, with the reason in the log', async () => {
      rx.requests.length = 0;
      const [{ id: endpoint }] = (await t.db.query<{ id: number }>(`insert into webhook_endpoints (url, secret, event_types) values ($1, $2, '{}') returning id`, [`${rx.url}/hooks`, TEST_SECRET])) as [{ id: number }];
      const [{ id }] = (await t.db.query<{ id: number }>(
        `insert into webhook_deliveries (endpoint_id, message_id, event_type, payload, next_attempt_at) values ($1, 'egress-1', 'coupon.issued', '{}', now()) returning id`,
        [endpoint],
      )) as [{ id: number }];
      const settings = outreachSettings(loadConfig({ DELIVERY_MAX_ATTEMPTS: '5' }));
      const mailer = createMailer({ outboxDir: 'outbox-test', log: silentLogger });
      try {
        expect(await deliverWebhook({ db: t.db, log: silentLogger, mailer, now: () => new Date() }, settings, Number(id))).toBe('dead');
      } finally {
        await mailer.close();
      }
      const [row] = await t.db.query<{ state: string; attempts: number }>('select state, attempts from webhook_deliveries where id = $1', [id]);
      expect(row).toEqual({ state: 'dead', attempts: 1 });
      const [a] = await t.db.query<{ status: number | null; error: string }>('select status, error from webhook_attempts where delivery_id = $1', [id]);
      expect(a!.status).toBeNull();
      expect(a!.error).toMatch(/refused: 127\.0\.0\.1 is a loopback address/);
      expect(rx.requests).toHaveLength(0);
    });

    it('addEndpoint refuses a private target up front unless private targets are allowed', async () => {
      for (const url of ['http://127.0.0.1:8080/hooks', 'http://[::1]/hooks', 'http://10.1.2.3/hooks', 'http://169.254.169.254/latest', 'http://localhost:9/hooks']) {
        const e = await addEndpoint(t.db, { url }).catch((err: unknown) => err);
        expect(e, url).toBeInstanceOf(ValidationError);
        expect((e as Error).message, url).toMatch(/private|loopback|link-local/);
        expect((e as Error).message, url).toMatch(/WEBHOOK_ALLOW_PRIVATE/);
      }
      const ok = await addEndpoint(t.db, { url: 'http://127.0.0.1:8080/hooks' }, { allowPrivate: true });
      expect(ok.id).toBeGreaterThan(0);
    });

    it('`rekindle webhooks add` refuses a private URL with exit status 2', async () => {
      const env = { ...process.env, DATABASE_URL: t.url!, LOG_LEVEL: 'silent', WEBHOOK_ALLOW_PRIVATE: '' };
      const bad = await run('node', ['bin/rekindle.js', 'webhooks', 'add', '--url', 'http://192.168.0.10/hooks'], { env }).catch((e) => e);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/192\.168\.0\.10 is a private address/);
      const allowed = await run('node', ['bin/rekindle.js', 'webhooks', 'add', '--url', 'http://192.168.0.10/hooks', '--json'], { env: { ...env, WEBHOOK_ALLOW_PRIVATE: 'true' } });
      const { id } = JSON.parse(allowed.stdout) as { id: number };
      expect(id).toBeGreaterThan(0);
      // Rotation retires the old endpoint with `webhooks disable`.
      expect((await run('node', ['bin/rekindle.js', 'webhooks', 'disable', String(id)], { env })).stdout).toMatch(new RegExp(`endpoint ${id} disabled`));
      const [row] = await t.db.query<{ enabled: boolean }>('select enabled from webhook_endpoints where id = $1', [id]);
      expect(row!.enabled).toBe(false);
    });
  });
});
