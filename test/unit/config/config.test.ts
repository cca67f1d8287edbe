import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configDefaults, loadConfig } from '../../../src/config.js';

describe('loadConfig', () => {
  it('starts from defaults', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(3000);
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.WEBHOOK_SECRETS).toEqual([]);
    expect(c.RISK_HIGH).toBe(0.6);
  });

  it('parses lists and numbers', () => {
    const c = loadConfig({ WEBHOOK_SECRETS: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, whsec_dGhpcyBpcyBhIHNlY29uZCBzZWNyZXQhIQ==', PORT: '8080', METRICS_ENABLED: 'no' });
    expect(c.WEBHOOK_SECRETS).toHaveLength(2);
    expect(c.PORT).toBe(8080);
    expect(c.METRICS_ENABLED).toBe(false);
    expect(loadConfig({}).SLACK_DIGEST_LANG).toBe('en');
    expect(loadConfig({ SLACK_DIGEST_LANG: 'zh' }).SLACK_DIGEST_LANG).toBe('zh');
    expect(() => loadConfig({ SLACK_DIGEST_LANG: 'fr' })).toThrow(/SLACK_DIGEST_LANG: /);
  });

  it('names every bad variable and what it expects, without echoing secrets', () => {
    let message = '';
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', WEBHOOK_SECRETS: 'hunter2', RISK_HIGH: '1.5', RESCORE_CRON: 'daily', SCHEDULE_TZ: 'Mars/Olympus' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/PORT: expected an integer between 0 and 65535 \(got "eighty"\)/);
    expect(message).toMatch(/DATABASE_URL: expected a URL starting with postgres:\/\/ or postgresql:\/\//);
    expect(message).toMatch(/WEBHOOK_SECRETS: expected comma-separated secrets of the form whsec_/);
    expect(message).not.toMatch(/hunter2/);
    expect(message).toMatch(/RISK_HIGH: expected a number between 0 and 1/);
    expect(message).toMatch(/RESCORE_CRON: expected a cron expression/);
    expect(message).toMatch(/SCHEDULE_TZ: expected an IANA time zone/);
  });

  it('checks values against each other', () => {
    expect(() => loadConfig({ RISK_HIGH: '0.3', RISK_MEDIUM: '0.5' })).toThrow(/RISK_MEDIUM: expected a threshold below RISK_HIGH/);
    expect(() => loadConfig({ ADMIN_USER: 'ops' })).toThrow(/ADMIN_USER\/ADMIN_PASSWORD: expected both or neither/);
  });

  it('.env.example lists every variable with its default', () => {
    const example = Object.fromEntries(
      readFileSync(new URL('../../../.env.example', import.meta.url), 'utf8')
        .split('\n')
        .filter((l) => /^[A-Z][A-Z0-9_]*=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    for (const [name, def] of Object.entries(configDefaults())) {
      expect(example, `${name} in .env.example`).toHaveProperty(name);
      expect(example[name], `${name} default`).toBe(def ?? '');
    }
    expect(Object.keys(example).sort()).toEqual(Object.keys(configDefaults()).sort());
  });
});
