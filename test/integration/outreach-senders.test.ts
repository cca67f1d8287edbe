/**
 * The senders against real servers: nodemailer's SMTP pool → an in-process smtp-server, the
 * `.eml` outbox on disk, and signed webhooks → a node:http receiver checked with the
 * `standardwebhooks` package. Assertions are on what arrived on the wire.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signUnsubscribeToken } from '../../src/domain/unsubscribe-token.js';
import { ExternalError } from '../../src/domain/errors.js';
import { silentLogger } from '../../src/logger.js';
import { buildMessage, createMailer, type Mailer } from '../../src/outreach/mailer.js';
import { renderEmail, type EmailContent } from '../../src/outreach/templates.js';
import { sendWebhook } from '../../src/outreach/webhook-sender.js';
import { TEST_SECRET } from '../support/http.js';
import { startReceiver, verifyStandardWebhook, type Receiver } from '../support/receiver.js';
import { decodeHeader, mimeParts, parseRawMessage, startSmtpServer, unusedSmtpUrl, type TestSmtpServer } from '../support/smtp.js';

const NOW = new Date();
const EVIL_NAME = '<script>alert(1)</script>\r\nBcc: x@evil.test';
const unsubscribeUrl = `https://rk.test/unsubscribe?token=${signUnsubscribeToken('u-1', 'unsub-secret')}`;

function content(over: Partial<EmailContent> = {}): EmailContent {
  return {
    kind: 'winback',
    locale: 'en',
    timeZone: 'Asia/Shanghai',
    user: { name: EVIL_NAME, email: 'ann@example.com' },
    recommendations: [
      { itemId: 'i1', title: 'Deep Work', reason: { kind: 'because_bought', itemId: 'b1' } },
      { itemId: 'i2', title: '谈判力', reason: { kind: 'similar_topic', itemId: 'i1', topic: '职场' } },
      { itemId: 'i3', title: 'Python', reason: { kind: 'popular' } },
    ],
    relatedTitles: { b1: 'The Pyramid Principle' },
    unsubscribeUrl,
    now: NOW,
    ...over,
  };
}

function message(id: number, c: EmailContent = content(), to: string | { address: string; name: string } = { address: 'ann@example.com', name: EVIL_NAME }) {
  return buildMessage({
    from: 'Rekindle <noreply@rekindle.test>',
    to,
    content: renderEmail(c),
    messageId: `<outreach-${id}@rekindle>`,
    unsubscribeUrl,
    unsubscribeMailto: 'unsubscribe@rekindle.test',
  });
}

async function sendError(p: Promise<unknown>): Promise<ExternalError> {
  const err = await p.then(
    () => {
      throw new Error('expected the send to fail');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ExternalError);
  return err as ExternalError;
}

describe('SMTP pool → smtp-server', () => {
  let smtp: TestSmtpServer;
  let mailer: Mailer;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    mailer = createMailer({ smtpUrl: smtp.url, outboxDir: '/nonexistent-unused', log: silentLogger });
    await mailer.verify();
  });
  afterAll(async () => {
    await mailer.close();
    await smtp.close();
  });
  afterEach(() => {
    smtp.messages.length = 0;
    smtp.onRecipient = undefined;
    smtp.onMessage = undefined;
  });

  it('delivers a win-back with both parts, the exact Message-ID and one-click unsubscribe headers', async () => {
    const res = await mailer.send(message(1));
    expect(res).toMatchObject({ messageId: '<outreach-1@rekindle>', accepted: ['ann@example.com'] });
    expect(res.response).toMatch(/^250 /);
    const [m] = await smtp.waitForMessages(1);
    expect(m!.to).toEqual(['ann@example.com']);
    expect(m!.headerAll('message-id')).toEqual(['<outreach-1@rekindle>']);
    expect(m!.headerAll('list-unsubscribe')).toEqual([`<${unsubscribeUrl}>, <mailto:unsubscribe@rekindle.test>`]);
    expect(m!.headerAll('list-unsubscribe-post')).toEqual(['List-Unsubscribe=One-Click']);

    const parts = mimeParts(m!);
    expect(parts.map((p) => p.contentType.split(';')[0])).toEqual(['text/plain', 'text/html']);
    const [text, html] = parts.map((p) => p.text) as [string, string];
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('Because you bought “The Pyramid Principle”');
    expect(text).toContain('Hi <script>alert(1)</script> Bcc: x@evil.test,');
    expect(text).toContain(`Unsubscribe: ${unsubscribeUrl}`);
  });

  it('lets no CR/LF in a name or subject add a header or a recipient', async () => {
    await mailer.send(message(2));
    const [m] = await smtp.waitForMessages(1);
    const names = m!.headers.map((h) => h.name.toLowerCase());
    expect(names).not.toContain('bcc');
    for (const h of ['from', 'to', 'subject', 'message-id', 'list-unsubscribe', 'list-unsubscribe-post']) {
      expect(names.filter((n) => n === h), h).toHaveLength(1);
    }
    expect(m!.to).toEqual(['ann@example.com']);
    expect(decodeHeader(m!.header('subject')!)).toBe('<script>alert(1)</script> Bcc: x@evil.test, we picked a few courses for you');
    // Every line of the raw header block starts a field or continues a folded one.
    const head = m!.raw.slice(0, m!.raw.indexOf('\r\n\r\n')).split('\r\n');
    for (const line of head) expect(line, line).toMatch(/^([ \t]|[A-Za-z-]+:( |$))/);
  });

  it('delivers a Chinese coupon email with code, yuan amount and local expiry', async () => {
    const expiresAt = new Date(NOW.getTime() + 7 * 86_400_000);
    const c = content({
      kind: 'coupon',
      locale: 'zh-CN',
      user: { name: '小明', email: 'xm@example.com' },
      coupon: { code: 'WB-7KQ2-M9XT', kind: 'amount', value: 3000, currency: 'CNY', expiresAt },
    });
    await mailer.send(message(3, c, { address: 'xm@example.com', name: '小明' }));
    const [m] = await smtp.waitForMessages(1);
    expect(m!.header('message-id')).toBe('<outreach-3@rekindle>');
    expect(decodeHeader(m!.header('subject')!)).toBe('小明，送你一张¥30.00 优惠券，7 天内有效');
    const [text, html] = mimeParts(m!).map((p) => p.text) as [string, string];
    const local = new Intl.DateTimeFormat('zh-CN', { dateStyle: 'long', timeZone: 'Asia/Shanghai' }).format(expiresAt);
    for (const part of [text, html]) {
      expect(part).toContain('WB-7KQ2-M9XT');
      expect(part).toContain('¥30.00');
      expect(part).toContain(local);
      expect(part).toContain('相似主题：职场');
    }
  });

  it('sends many messages concurrently through the pool on few connections', async () => {
    const before = smtp.connectionCount;
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => mailer.send(message(100 + i))));
    expect(new Set(results.map((r) => r.messageId)).size).toBe(40);
    const got = await smtp.waitForMessages(40);
    expect(new Set(got.map((m) => m.header('message-id'))).size).toBe(40);
    expect(smtp.connectionCount - before).toBeLessThanOrEqual(5);
  });

  it('turns a 550 mailbox-unavailable rejection into a non-retryable ExternalError', async () => {
    smtp.onRecipient = (address) => ({ code: 550, message: `5.1.1 <${address}>: mailbox unavailable` });
    const err = await sendError(mailer.send(message(4)));
    expect(err.retryable).toBe(false);
    expect(err.details).toMatchObject({ responseCode: 550, command: 'RCPT TO', response: '550 5.1.1 <[address]>: mailbox unavailable' });
    expect(JSON.stringify(err.details)).not.toContain('ann@example.com');
    expect(err.message).toContain('<outreach-4@rekindle>');
    expect(err.message).toContain('550');
    expect(smtp.messages).toHaveLength(0);
  });

  it('turns a permanent rejection after DATA into a non-retryable ExternalError', async () => {
    smtp.onMessage = () => ({ code: 554, message: '5.7.1 message refused' });
    expect((await sendError(mailer.send(message(5)))).retryable).toBe(false);
  });

  it('turns a 4xx reply into a retryable ExternalError, and the pool keeps working', async () => {
    smtp.onRecipient = () => ({ code: 451, message: '4.3.0 try again later' });
    expect((await sendError(mailer.send(message(6)))).retryable).toBe(true);
    smtp.onRecipient = undefined;
    await mailer.send(message(6));
    expect((await smtp.waitForMessages(1))[0]!.header('message-id')).toBe('<outreach-6@rekindle>');
  });
});

describe('SMTP server down', () => {
  it('fails sends and verify with a retryable ExternalError, then delivers once the server is up', async () => {
    const url = await unusedSmtpUrl();
    const down = createMailer({ smtpUrl: url, outboxDir: '/nonexistent-unused', log: silentLogger });
    try {
      const err = await sendError(down.send(message(7)));
      expect(err.retryable).toBe(true);
      expect((await sendError(down.verify())).retryable).toBe(true);
    } finally {
      await down.close();
    }
    const smtp = await startSmtpServer();
    const up = createMailer({ smtpUrl: smtp.url, outboxDir: '/nonexistent-unused', log: silentLogger });
    try {
      await up.send(message(7));
      expect((await smtp.waitForMessages(1))[0]!.header('message-id')).toBe('<outreach-7@rekindle>');
    } finally {
      await up.close();
      await smtp.close();
    }
  });
});

describe('outbox fallback (no SMTP_URL)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rk-outbox-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes one .eml per Message-ID: sending the same row twice leaves one file', async () => {
    const outboxDir = join(dir, 'nested', 'outbox');
    const mailer = createMailer({ outboxDir, log: silentLogger });
    await mailer.verify();
    const first = await mailer.send(message(8));
    const second = await mailer.send(message(8));
    await mailer.send(message(9, content({ kind: 'coupon', coupon: { code: 'ABC-123', kind: 'percent', value: 20, currency: null, expiresAt: new Date(NOW.getTime() + 86_400_000) } })));
    await mailer.close();

    expect(first.messageId).toBe('<outreach-8@rekindle>');
    expect(second.accepted).toEqual(['ann@example.com']);
    expect((await readdir(outboxDir)).sort()).toEqual(['outreach-8@rekindle.eml', 'outreach-9@rekindle.eml']);
    const raw = await readFile(join(outboxDir, 'outreach-8@rekindle.eml'), 'utf8');
    const m = parseRawMessage(raw);
    expect(m.header('message-id')).toBe('<outreach-8@rekindle>');
    expect(m.header('list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
    expect(m.headers.map((h) => h.name.toLowerCase())).not.toContain('bcc');
    expect(mimeParts(m).map((p) => p.contentType.split(';')[0])).toEqual(['text/plain', 'text/html']);
    const coupon = parseRawMessage(await readFile(join(outboxDir, 'outreach-9@rekindle.eml'), 'utf8'));
    expect(mimeParts(coupon)[0]!.text).toContain('Offer:       20% off');
  });

  it('reports an unwritable outbox as a non-retryable ExternalError', async () => {
    const file = join(dir, 'not-a-dir');
    await (await import('node:fs/promises')).writeFile(file, 'x');
    const mailer = createMailer({ outboxDir: join(file, 'outbox'), log: silentLogger });
    expect((await sendError(mailer.send(message(10)))).retryable).toBe(false);
    await mailer.close();
  });
});

describe('signed webhooks → HTTP receiver', () => {
  let rx: Receiver;
  beforeAll(async () => {
    rx = await startReceiver();
  });
  afterAll(async () => {
    await rx.close();
  });
  afterEach(() => {
    rx.requests.length = 0;
  });

  const delivery = (over: Partial<Parameters<typeof sendWebhook>[0]> = {}) =>
    sendWebhook({
      url: `${rx.url}/hooks/rekindle`,
      secret: TEST_SECRET,
      messageId: 'msg_coupon_42',
      eventType: 'coupon.issued',
      payload: { userId: 'u-1', code: 'WB-7KQ2-M9XT', value: 3000, currency: 'CNY' },
      now: Date.now,
      allowPrivate: true, // the receiver is on loopback
      ...over,
    });

  it('answers 500 then 200: a retryable failure, then a delivery the package verifies', async () => {
    rx.respondWith({ status: 500, body: 'database is down' }, 200);
    const first = await delivery();
    expect(first).toMatchObject({ ok: false, status: 500, retryable: true, error: 'HTTP 500: database is down' });
    const second = await delivery();
    expect(second).toMatchObject({ ok: true, status: 200, retryable: false });
    expect(second.error).toBeUndefined();
    expect(second.durationMs).toBeGreaterThanOrEqual(0);

    const reqs = await rx.waitForRequests(2);
    expect(reqs.map((r) => r.status)).toEqual([500, 200]);
    for (const r of reqs) {
      expect(r.method).toBe('POST');
      expect(r.path).toBe('/hooks/rekindle');
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['webhook-id']).toBe('msg_coupon_42');
      const payload = verifyStandardWebhook(r, TEST_SECRET);
      expect(payload.type).toBe('coupon.issued');
      expect(payload.data).toEqual({ userId: 'u-1', code: 'WB-7KQ2-M9XT', value: 3000, currency: 'CNY' });
      expect(new Date(payload.timestamp).getTime()).toBeGreaterThan(0);
    }
    expect(() => verifyStandardWebhook(reqs[1]!, 'whsec_dGhpcyBpcyBhIHNlY29uZCBzZWNyZXQhIQ==')).toThrow();
  });

  it('does not retry a 4xx other than 408/429', async () => {
    rx.respondWith(400, 410, 408, 429);
    expect(await delivery()).toMatchObject({ ok: false, status: 400, retryable: false });
    expect(await delivery()).toMatchObject({ ok: false, status: 410, retryable: false });
    expect(await delivery()).toMatchObject({ ok: false, status: 408, retryable: true });
    expect(await delivery()).toMatchObject({ ok: false, status: 429, retryable: true });
  });

  it('times out a hanging receiver (retryable, no status)', async () => {
    rx.respondWith({ status: 200, delayMs: 2_000 });
    const res = await delivery({ timeoutMs: 150 });
    expect(res).toMatchObject({ ok: false, status: null, retryable: true, error: 'timed out after 150 ms' });
    expect(res.durationMs).toBeGreaterThanOrEqual(100);
  });

  it('treats a refused connection as retryable', async () => {
    const url = (await unusedSmtpUrl()).replace('smtp://', 'http://');
    expect(await delivery({ url })).toMatchObject({ ok: false, status: null, retryable: true, error: 'network error: ECONNREFUSED' });
  });
});
