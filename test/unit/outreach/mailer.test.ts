import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/domain/errors.js';
import {
  buildMessage,
  isRetryableMailError,
  normalizeMessageId,
  outboxFileName,
  parseAddress,
  type BuildMessageInput,
} from '../../../src/outreach/mailer.js';
import { decodeHeader, mimeParts, parseRawMessage } from '../../support/smtp.js';

const base: BuildMessageInput = {
  from: 'Rekindle <noreply@rekindle.test>',
  to: { address: 'ann@example.com', name: 'Ann' },
  content: { subject: 'Hello', html: '<p>Hello</p>', text: 'Hello' },
  messageId: '<outreach-123@rekindle>',
  unsubscribeUrl: 'https://rk.test/unsubscribe?token=abc.def',
};

/** The raw message nodemailer would put on the wire, parsed. */
async function raw(input: Partial<BuildMessageInput>) {
  const t = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  const info = await t.sendMail(buildMessage({ ...base, ...input }));
  return parseRawMessage((info.message as Buffer).toString('utf8'));
}

describe('buildMessage', () => {
  it('sets both parts, the given Message-ID and RFC 8058 one-click headers', async () => {
    const m = await raw({ unsubscribeMailto: 'unsubscribe@rekindle.test' });
    expect(m.header('message-id')).toBe('<outreach-123@rekindle>');
    expect(m.headerAll('list-unsubscribe')).toEqual(['<https://rk.test/unsubscribe?token=abc.def>, <mailto:unsubscribe@rekindle.test>']);
    expect(m.header('list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
    expect(m.header('from')).toBe('Rekindle <noreply@rekindle.test>');
    const parts = mimeParts(m);
    expect(parts.map((p) => p.contentType.split(';')[0])).toEqual(['text/plain', 'text/html']);
  });

  it('puts the one-click POST URL in List-Unsubscribe when it differs from the page', async () => {
    const m = await raw({ unsubscribePostUrl: 'https://rk.test/unsubscribe/one-click?token=abc.def' });
    expect(m.header('list-unsubscribe')).toBe('<https://rk.test/unsubscribe/one-click?token=abc.def>');
  });

  it('adds angle brackets to a bare Message-ID and refuses malformed ones', () => {
    expect(buildMessage({ ...base, messageId: 'outreach-9@rekindle' }).messageId).toBe('<outreach-9@rekindle>');
    for (const bad of ['', 'no-at-sign', '<a@b>\r\nBcc: x@evil', '<a b@c>', '<a@b@c>', '<<a@b>>', 'a@b>']) {
      expect(() => normalizeMessageId(bad), JSON.stringify(bad)).toThrow(ValidationError);
    }
  });

  it('cannot be made to add headers through the subject, a name or an address', async () => {
    const m = await raw({
      to: { address: 'ann@example.com', name: 'Ann\r\nBcc: victim@evil.test' },
      from: { address: 'noreply@rekindle.test', name: 'Rekindle\nX-Evil: 1' },
      content: { subject: 'Hi\r\nBcc: victim2@evil.test\r\n\r\nbody', html: '<p>x</p>', text: 'x' },
    });
    const names = m.headers.map((h) => h.name.toLowerCase());
    expect(names).not.toContain('bcc');
    expect(names).not.toContain('x-evil');
    expect(names.filter((n) => n === 'to')).toHaveLength(1);
    expect(decodeHeader(m.header('subject') ?? '')).toBe('Hi Bcc: victim2@evil.test body');
    expect(m.header('to')).toContain('<ann@example.com>');
    for (const to of ['ann@example.com\r\nBcc: victim@evil.test', 'a@b.c, victim@evil.test', 'Ann <a@b.c>\nBcc: x@y', '<>']) {
      expect(() => buildMessage({ ...base, to }), JSON.stringify(to)).toThrow(ValidationError);
    }
  });

  it('refuses unsubscribe URLs that are not http(s) or mailto', () => {
    expect(() => buildMessage({ ...base, unsubscribeUrl: 'javascript:alert(1)' })).toThrow(ValidationError);
    expect(() => buildMessage({ ...base, unsubscribeMailto: 'https://x.test' })).toThrow(ValidationError);
  });
});

describe('parseAddress', () => {
  it('reads the forms a config value takes', () => {
    expect(parseAddress('a@b.c')).toEqual({ address: 'a@b.c' });
    expect(parseAddress('Rekindle <rekindle@localhost>')).toEqual({ name: 'Rekindle', address: 'rekindle@localhost' });
    expect(parseAddress('"Re, kindle" <r@x.test>')).toEqual({ name: 'Re, kindle', address: 'r@x.test' });
    expect(() => parseAddress('a@b.c, d@e.f')).toThrow(ValidationError);
  });
});

describe('outboxFileName', () => {
  it('names files by the Message-ID without brackets, one-to-one and inside the folder', () => {
    expect(outboxFileName('<outreach-123@rekindle>')).toBe('outreach-123@rekindle.eml');
    expect(outboxFileName('<a/../b@x>')).toBe('a%2F..%2Fb@x.eml');
    expect(outboxFileName('<a%2Fb@x>')).not.toBe(outboxFileName('<a/b@x>'));
  });
});

describe('isRetryableMailError', () => {
  it('retries transient failures and gives up on permanent rejections', () => {
    expect(isRetryableMailError({ code: 'ECONNECTION' })).toBe(true);
    expect(isRetryableMailError({ code: 'ETIMEDOUT' })).toBe(true);
    expect(isRetryableMailError({ code: 'ESOCKET', originalCode: 'ECONNREFUSED' })).toBe(true);
    expect(isRetryableMailError({ code: 'EENVELOPE', responseCode: 451 })).toBe(true);
    expect(isRetryableMailError({ code: 'EENVELOPE', responseCode: 550 })).toBe(false);
    expect(isRetryableMailError({ code: 'EMESSAGE', responseCode: 554 })).toBe(false);
    expect(isRetryableMailError({ code: 'EPROTOCOL', responseCode: 503 })).toBe(true);
    expect(isRetryableMailError({ code: 'EMESSAGE', responseCode: 552, permanent: true })).toBe(false);
    expect(isRetryableMailError({ code: 'EENVELOPE' })).toBe(false);
    expect(isRetryableMailError({ code: 'ECONFIG' })).toBe(false);
    expect(isRetryableMailError({ code: 'EACCES' })).toBe(false);
    expect(isRetryableMailError({ code: 'ENOSPC' })).toBe(true);
  });
});
