/** Issue #15: the settings behind findings 2, 5, 8 and 10, their defaults and checks. */
import { describe, expect, it } from 'vitest';
import { configWarnings, loadConfig } from '../../../src/config.js';

const NEW = 'new-unsubscribe-secret-0123456789';
const OLD = 'old-unsubscribe-secret-0123456789';

describe('security settings', () => {
  it('metrics listen on loopback by default, on their own port, optionally behind a token', () => {
    const c = loadConfig({});
    expect(c.METRICS_HOST).toBe('127.0.0.1');
    expect(c.METRICS_PORT).toBe(9465);
    expect(c.METRICS_TOKEN).toBeUndefined();
    expect(loadConfig({ METRICS_TOKEN: 'a-long-enough-metrics-token' }).METRICS_TOKEN).toBe('a-long-enough-metrics-token');
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN: expected at least 16 characters/);
  });

  it('caps in-flight webhook bodies and refuses private webhook targets by default', () => {
    const c = loadConfig({});
    expect(c.INGEST_MAX_INFLIGHT).toBe(64);
    expect(c.WEBHOOK_ALLOW_PRIVATE).toBe(false);
    expect(loadConfig({ WEBHOOK_ALLOW_PRIVATE: 'true' }).WEBHOOK_ALLOW_PRIVATE).toBe(true);
  });

  it('accepts several unsubscribe secrets; the first signs', () => {
    expect(loadConfig({ UNSUBSCRIBE_SECRETS: `${NEW}, ${OLD}` })).toMatchObject({ UNSUBSCRIBE_SECRET: NEW, UNSUBSCRIBE_SECRETS: [NEW, OLD] });
    expect(loadConfig({ UNSUBSCRIBE_SECRET: `${NEW},${OLD}` })).toMatchObject({ UNSUBSCRIBE_SECRET: NEW, UNSUBSCRIBE_SECRETS: [NEW, OLD] });
    expect(loadConfig({ UNSUBSCRIBE_SECRET: NEW })).toMatchObject({ UNSUBSCRIBE_SECRET: NEW, UNSUBSCRIBE_SECRETS: [NEW] });
    expect(loadConfig({})).toMatchObject({ UNSUBSCRIBE_SECRET: undefined, UNSUBSCRIBE_SECRETS: [] });
    expect(() => loadConfig({ UNSUBSCRIBE_SECRETS: `${NEW},short` })).toThrow(/UNSUBSCRIBE_SECRETS: expected .*at least 16 characters/);
    expect(() => loadConfig({ UNSUBSCRIBE_SECRET: NEW, UNSUBSCRIBE_SECRETS: OLD })).toThrow(/UNSUBSCRIBE_SECRET\/UNSUBSCRIBE_SECRETS: expected one or the other/);
  });

  it('warns when email goes out over SMTP and unsubscribe links are not https (RFC 8058)', () => {
    expect(configWarnings(loadConfig({ SMTP_URL: 'smtp://mail.example.com:587', PUBLIC_BASE_URL: 'http://retain.example.com' })).join('\n')).toMatch(
      /PUBLIC_BASE_URL.*https.*RFC 8058/,
    );
    expect(configWarnings(loadConfig({ SMTP_URL: 'smtp://mail.example.com:587' })).join('\n')).toMatch(/PUBLIC_BASE_URL/);
    expect(configWarnings(loadConfig({ SMTP_URL: 'smtp://mail.example.com:587', PUBLIC_BASE_URL: 'https://retain.example.com' }))).toEqual([]);
    // The outbox folder (no SMTP_URL) sends nothing: no warning.
    expect(configWarnings(loadConfig({ PUBLIC_BASE_URL: 'http://localhost:3000' }))).toEqual([]);
  });
});
