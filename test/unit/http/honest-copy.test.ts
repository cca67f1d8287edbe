/**
 * Issue #16 (honest copy): what users read promises only what the product does. Nothing reads
 * replies to our emails, so no page or template may tell a user to reply to be unsubscribed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import type { Queryable } from '../../../src/db/client.js';
import { unsubscribeRouter } from '../../../src/http/unsubscribe.js';
import { listen, type Running } from '../../support/http.js';

/** Promises of a reply channel (English and Chinese): nothing in Rekindle reads replies. */
const REPLY_PROMISE = /\breply\b|\brespond to (this|the) email|回复/i;

describe('honest copy', () => {
  let http: Running | undefined;
  afterEach(async () => {
    await http?.close();
    http = undefined;
  });

  it('the invalid-unsubscribe-link page says nothing changed and how to retry, and promises no reply handling', async () => {
    // An invalid token never reaches the database: a db that throws proves it.
    const db = { query: () => Promise.reject(new Error('the database must not be touched')) } as unknown as Queryable;
    const app = express();
    app.use(unsubscribeRouter({ db, secret: 'a-secret-of-at-least-16-chars' }));
    http = await listen(app);
    for (const method of ['GET', 'POST']) {
      const res = await fetch(`${http.url}/unsubscribe?token=tampered`, { method });
      expect(res.status).toBe(400);
      const html = await res.text();
      expect(html).toContain('This unsubscribe link is not valid');
      expect(html).toContain('nothing was changed');
      expect(html).toContain('没有做任何更改');
      expect(html).not.toMatch(REPLY_PROMISE);
    }
  });

  it('no email template or subject line asks the reader to reply', () => {
    const dir = join(import.meta.dirname, '../../../templates');
    const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
    expect(files.length).toBeGreaterThan(8);
    for (const f of files) {
      const text = readFileSync(join(f.parentPath, f.name), 'utf8');
      expect(text, f.name).not.toMatch(REPLY_PROMISE);
    }
  });
});
