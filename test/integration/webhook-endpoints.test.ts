/** `rekindle webhooks …`: endpoints with their own secrets and filters, the delivery log, dead letters. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.js';

const run = promisify(execFile);

describe('rekindle webhooks', () => {
  let t: TestDatabase;
  let env: NodeJS.ProcessEnv;
  const cli = (...args: string[]) => run('node', ['bin/rekindle.js', 'webhooks', ...args], { env });
  beforeAll(async () => {
    t = await freshDatabase();
    env = { ...process.env, DATABASE_URL: t.url!, LOG_LEVEL: 'silent' };
  });
  afterAll(async () => t?.drop());

  it('adds endpoints with a fresh secret and a filter, refuses bad input, lists them', async () => {
    const added = JSON.parse((await cli('add', '--url', 'https://crm.example.com/hooks', '--events', 'coupon.issued', '--json')).stdout);
    expect(added.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{32}$/);
    const bad = await cli('add', '--url', 'ftp://x', '--json').catch((e) => e);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--url must be an http\(s\) URL/);
    const badEvent = await cli('add', '--url', 'https://x.example.com', '--events', 'coupon.issued,user.deleted').catch((e) => e);
    expect(badEvent.stderr).toMatch(/unknown event type\(s\) user.deleted/);
    const list = JSON.parse((await cli('list', '--json')).stdout);
    expect(list).toEqual([{ id: added.id, url: 'https://crm.example.com/hooks', events: ['coupon.issued'], enabled: true, pending: 0, delivered: 0, dead: 0 }]);
  });

  it('shows dead letters with every attempt, and re-opens one on request', async () => {
    const [{ id: endpoint }] = (await t.db.query<{ id: number }>('select id from webhook_endpoints limit 1')) as [{ id: number }];
    const [{ id }] = (await t.db.query<{ id: number }>(
      `insert into webhook_deliveries (endpoint_id, message_id, event_type, payload, state, attempts) values ($1, 'coupon-X', 'coupon.issued', '{}', 'dead', 2) returning id`,
      [endpoint],
    )) as [{ id: number }];
    await t.db.query(`insert into webhook_attempts (delivery_id, attempt, status, duration_ms, error) values ($1, 1, 500, 12, 'HTTP 500: down'), ($1, 2, null, 10000, 'timeout')`, [id]);
    const dead = JSON.parse((await cli('log', '--dead', '--json')).stdout);
    expect(dead).toEqual([
      {
        deliveryId: id,
        endpointId: endpoint,
        eventType: 'coupon.issued',
        messageId: 'coupon-X',
        state: 'dead',
        attempts: [
          { attempt: 1, status: 500, durationMs: 12, error: 'HTTP 500: down', at: expect.any(String) },
          { attempt: 2, status: null, durationMs: 10000, error: 'timeout', at: expect.any(String) },
        ],
      },
    ]);
    expect((await cli('log')).stdout).toMatch(/#1 500 12ms \(HTTP 500: down\), #2 error 10000ms \(timeout\)/);
    await cli('retry', String(id));
    const [row] = await t.db.query<{ state: string }>('select state from webhook_deliveries where id = $1', [id]);
    expect(row!.state).toBe('pending');
    const again = await cli('retry', String(id)).catch((e) => e);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no dead-lettered webhook delivery with id/);
  });
});
