/**
 * The email transport: message assembly with the headers bulk senders need, and sending
 * through an SMTP pool (`SMTP_URL`) or, without one, into `.eml` files in an outbox folder.
 *
 * Exactly-once note: a crash between the server accepting a message and the caller marking
 * its row sent cannot be closed here. What this module guarantees is the deterministic
 * Message-ID the caller gives (receivers and the outbox dedupe on it) and that a send either
 * resolves after the server's 250 reply or rejects with an `ExternalError` whose `retryable`
 * says whether sending the same message again can succeed.
 */
import { randomBytes } from 'node:crypto';
import { access, constants, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer, { type Mail, type NodemailerError, type SMTPPoolOptions } from 'nodemailer';
import { AppError, ExternalError, ValidationError } from '../domain/errors.js';
import type { Logger } from '../logger.js';
import { cleanName, singleLine } from './text.js';

/** An email address with an optional display name. */
export interface EmailAddress {
  address: string;
  name?: string | null;
}

/** A rendered email: what `renderEmail` returns. */
export interface MessageContent {
  subject: string;
  html: string;
  text: string;
}

export interface BuildMessageInput {
  from: EmailAddress | string;
  to: EmailAddress | string;
  content: MessageContent;
  /**
   * Deterministic id derived from the outreach row, e.g. `<outreach-123@rekindle>` (the angle
   * brackets are added when missing). Receivers dedupe on it and the outbox names files by it.
   */
  messageId: string;
  /** The unsubscribe page (GET shows a confirmation); the `List-Unsubscribe` URI unless `unsubscribePostUrl` is given. */
  unsubscribeUrl: string;
  /**
   * Where mail clients POST `List-Unsubscribe=One-Click` (RFC 8058) — goes into
   * `List-Unsubscribe` instead of `unsubscribeUrl` when the one-click endpoint differs.
   */
  unsubscribePostUrl?: string | null;
  /** Optional `mailto:` alternative in `List-Unsubscribe` (an address or a `mailto:` URI). */
  unsubscribeMailto?: string | null;
}

/** What a successful send reports. */
export interface SendResult {
  /** The Message-ID header as sent, with angle brackets. */
  messageId: string;
  accepted: string[];
  /** The server's final reply (SMTP) or where the file was written (outbox). */
  response: string;
}

export interface Mailer {
  /**
   * Sends one message built by {@link buildMessage}.
   * @throws ValidationError when the message has no Message-ID
   * @throws ExternalError with `retryable` false for permanent rejections (5xx), true otherwise
   */
  send(msg: Mail.Options): Promise<SendResult>;
  /** Checks the SMTP server answers and accepts our login, or that the outbox is writable. */
  verify(): Promise<void>;
  /** Closes pooled connections; sends after this fail. */
  close(): Promise<void>;
}

export interface MailerOptions {
  /**
   * `smtp://` or `smtps://` URL with optional credentials and nodemailer query options
   * (`?ignoreTLS=true`, `?maxConnections=10`…; query options win over the defaults here).
   * Unset: `.eml` files in `outboxDir`.
   */
  smtpUrl?: string | null;
  outboxDir: string;
  /** Used as given: pass `log.child({ module: 'mailer' })`. Addresses are never logged. */
  log: Logger;
}

// Printable ASCII except "<", ">" and "@": the characters allowed on each side of a msg-id
// (RFC 5322 §3.6.4 dot-atom-text, plus the few specials real-world ids use).
const MSG_ID = /^<([\x21-\x3b\x3d\x3f\x41-\x7e]{1,200})@([\x21-\x3b\x3d\x3f\x41-\x7e]{1,200})>$/;
// No whitespace, controls or address specials anywhere; exactly one "@".
const ADDRESS = /^[^\s\p{Cc}@<>()",;:\\[\]]{1,64}@[^\s\p{Cc}@<>()",;:\\[\]]{1,253}$/u;

/** `<id@host>` from `id@host` or `<id@host>`. @throws ValidationError for anything else */
export function normalizeMessageId(messageId: string): string {
  const withBrackets = messageId.startsWith('<') ? messageId : `<${messageId}>`;
  if (!MSG_ID.test(withBrackets)) {
    throw new ValidationError(`Message-ID must look like <id@host> with no spaces or controls, got ${JSON.stringify(messageId)}`);
  }
  return withBrackets;
}

/**
 * `{ name, address }` from `addr@host`, `Name <addr@host>` or `"Name" <addr@host>`.
 * @throws ValidationError for anything else (several addresses, groups, stray controls)
 */
export function parseAddress(input: EmailAddress | string, what = 'email'): EmailAddress {
  if (typeof input !== 'string') return input;
  const m = /^\s*(?:"([^"\p{Cc}]*)"|([^"<>\p{Cc}]*?))\s*<([^<>]*)>\s*$/u.exec(input);
  if (m) return { name: m[1] ?? m[2] ?? null, address: m[3] as string };
  if (ADDRESS.test(input)) return { address: input };
  throw new ValidationError(`${what} must be "addr@host" or "Name <addr@host>"`);
}

function address(input: EmailAddress | string, what: string): { name: string; address: string } | string {
  const a = parseAddress(input, what);
  if (!ADDRESS.test(a.address)) throw new ValidationError(`${what} address is not a plain email address`);
  const name = cleanName(a.name ?? null, 80);
  return name ? { name, address: a.address } : a.address;
}

function listUrl(raw: string, what: string, protocols: readonly string[]): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ValidationError(`${what} is not a valid URL`);
  }
  if (!protocols.includes(u.protocol)) throw new ValidationError(`${what} must use ${protocols.join(' or ')}`);
  // URL serialisation percent-encodes spaces, controls, "<" and ">", so the href cannot end
  // the header's <…> early or start a new header line.
  return u.href;
}

/**
 * A complete message: HTML and text parts, the given Message-ID, RFC 2369 `List-Unsubscribe`
 * and RFC 8058 `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
 *
 * Header injection: the subject and display names are collapsed to one line (controls become
 * spaces) and addresses must be plain `local@domain`, so nothing the user controls can start
 * a header line; nodemailer then encodes non-ASCII as RFC 2047 words.
 * @throws ValidationError for a malformed address, Message-ID or unsubscribe URL
 */
export function buildMessage(input: BuildMessageInput): Mail.Options {
  const messageId = normalizeMessageId(input.messageId);
  const httpUrl = listUrl(input.unsubscribePostUrl || input.unsubscribeUrl, 'unsubscribe URL', ['https:', 'http:']);
  listUrl(input.unsubscribeUrl, 'unsubscribeUrl', ['https:', 'http:']);
  const unsubscribe: string[] = [httpUrl];
  if (input.unsubscribeMailto) {
    const raw = input.unsubscribeMailto.startsWith('mailto:') ? input.unsubscribeMailto : `mailto:${input.unsubscribeMailto}`;
    const href = listUrl(raw, 'unsubscribeMailto', ['mailto:']);
    let to = '';
    try {
      to = decodeURIComponent(href.slice('mailto:'.length).split('?')[0] ?? '');
    } catch {
      // malformed percent-encoding: refused below
    }
    if (!ADDRESS.test(to)) {
      throw new ValidationError('unsubscribeMailto must be an address or mailto:address[?subject=…]');
    }
    unsubscribe.push(href);
  }
  return {
    from: address(input.from, 'from'),
    to: address(input.to, 'to'),
    subject: singleLine(input.content.subject, 250),
    text: input.content.text,
    html: input.content.html,
    messageId,
    // One header with both URIs (RFC 2369 §3.2); a flat array would make one header per URI.
    list: { unsubscribe: [unsubscribe] },
    headers: { 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
    // Content never names files or URLs to inline; refuse them outright.
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/**
 * The outreach mailer. With `smtpUrl`: a nodemailer SMTP pool (5 connections, 1000 messages
 * per connection, 10 s connect/greeting and 30 s socket timeouts). A plain `smtp://` URL to a
 * loopback host skips STARTTLS (`ignoreTLS`), as local test servers need; remote `smtp://`
 * servers still get opportunistic STARTTLS so credentials are not sent in clear when the
 * server offers TLS. Without `smtpUrl`: one `.eml` file per Message-ID in `outboxDir`,
 * written atomically, so re-sending a row overwrites its file rather than adding one.
 */
export function createMailer(opts: MailerOptions): Mailer {
  const log = opts.log;
  return opts.smtpUrl ? smtpMailer(opts.smtpUrl, log) : outboxMailer(opts.outboxDir, log);
}

function smtpMailer(smtpUrl: string, log: Logger): Mailer {
  let url: URL;
  try {
    url = new URL(smtpUrl);
  } catch {
    throw new ValidationError('SMTP URL is not a valid URL');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new ValidationError('SMTP URL must start with smtp:// or smtps://');
  const options: SMTPPoolOptions & { pool: true } = {
    url: smtpUrl,
    pool: true,
    maxConnections: 5,
    // Reconnecting every 100 messages (nodemailer's default) cost a third of the throughput
    // against a local server; a relay with a lower limit is set with ?maxMessages=N.
    maxMessages: 1000,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    dnsTimeout: 10_000,
    logger: false,
    disableFileAccess: true,
    disableUrlAccess: true,
  };
  if (url.protocol === 'smtp:' && LOOPBACK.has(url.hostname)) options.ignoreTLS = true;
  const transport = nodemailer.createTransport(options);
  return {
    async send(msg) {
      const messageId = requireMessageId(msg);
      try {
        const info = await transport.sendMail(msg);
        log.debug({ messageId, transport: 'smtp' }, 'email sent');
        return { messageId: info.messageId, accepted: info.accepted.map(String), response: info.response };
      } catch (err) {
        throw failed(err, `SMTP send of ${messageId}`, log, messageId);
      }
    },
    async verify() {
      try {
        await transport.verify();
      } catch (err) {
        throw failed(err, 'SMTP verify', log);
      }
    },
    async close() {
      transport.close();
    },
  };
}

function outboxMailer(outboxDir: string, log: Logger): Mailer {
  const transport = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: 'windows',
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  let ready: Promise<unknown> | undefined;
  return {
    async send(msg) {
      const messageId = requireMessageId(msg);
      const file = join(outboxDir, outboxFileName(messageId));
      // A unique temp name then rename: a reader never sees half a file, and two workers
      // racing on the same row leave one complete file.
      const tmp = join(outboxDir, `.${randomBytes(6).toString('hex')}.tmp`);
      let tmpMayExist = false;
      try {
        ready ??= mkdir(outboxDir, { recursive: true });
        await ready;
        const info = await transport.sendMail(msg);
        tmpMayExist = true;
        await writeFile(tmp, info.message as Buffer);
        await rename(tmp, file);
        log.debug({ messageId, transport: 'outbox', file }, 'email written');
        return {
          messageId: info.messageId,
          accepted: (info.envelope.to ?? []).map(String),
          response: `written to ${file}`,
        };
      } catch (err) {
        ready = undefined;
        if (tmpMayExist) {
          await rm(tmp, { force: true }).catch((rmErr: unknown) => {
            // The send error below is the one that matters; a stray temp file is only noted.
            log.warn({ err: rmErr, file: tmp }, 'could not remove outbox temp file');
          });
        }
        throw failed(err, `writing ${messageId} to the outbox`, log, messageId);
      }
    },
    async verify() {
      try {
        await mkdir(outboxDir, { recursive: true });
        await access(outboxDir, constants.W_OK);
      } catch (err) {
        throw failed(err, `outbox ${outboxDir}`, log);
      }
    },
    async close() {
      transport.close();
    },
  };
}

function requireMessageId(msg: Mail.Options): string {
  if (!msg.messageId) throw new ValidationError('refusing to send without a Message-ID: build messages with buildMessage');
  return normalizeMessageId(msg.messageId);
}

/**
 * The outbox file name of a Message-ID: the id without brackets, with every character outside
 * `[A-Za-z0-9._@+-]` percent-encoded (so the mapping is one-to-one and no id escapes the folder).
 */
export function outboxFileName(messageId: string): string {
  const bare = normalizeMessageId(messageId).slice(1, -1);
  const safe = Array.from(Buffer.from(bare, 'utf8'))
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9._@+-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
  return `${safe}.eml`;
}

// Errors that say nothing was (or could be) delivered because of the message or our setup:
// sending the same message again will fail the same way.
const PERMANENT_CODES = new Set([
  'EENVELOPE',
  'ECONFIG',
  'EFILEACCESS',
  'EURLACCESS',
  'EOTP',
  'ENOAUTH',
  'EMAXRECIPIENTS',
  'EREQUIRETLS',
  // file system, outbox mode
  'EACCES',
  'EPERM',
  'EROFS',
  'ENOTDIR',
  'EISDIR',
]);

/**
 * Whether sending again can succeed: an SMTP reply decides by its class (4xx transient, 5xx
 * permanent except 503, RFC 5321 §4.2.1); without a reply, connection failures and timeouts
 * are transient and configuration or envelope errors are not.
 */
export function isRetryableMailError(err: unknown): boolean {
  const e = err as Partial<NodemailerError> | null;
  if (!e || typeof e !== 'object') return true;
  if (typeof e.responseCode === 'number' && e.responseCode >= 400) {
    if (typeof e.permanent === 'boolean') return !e.permanent;
    return e.responseCode < 500 || e.responseCode === 503;
  }
  return !(typeof e.code === 'string' && PERMANENT_CODES.has(e.code));
}

function failed(err: unknown, what: string, log: Logger, messageId?: string): AppError {
  if (err instanceof AppError) return err;
  const e = (err ?? {}) as Partial<NodemailerError>;
  const retryable = isRetryableMailError(err);
  const reply = typeof e.responseCode === 'number' ? ` (${e.responseCode}${e.command ? ` at ${e.command}` : ''})` : '';
  const message = `${what} failed${reply}: ${e.code ?? 'error'}${retryable ? ', will retry' : ', permanent'}`;
  log.warn({ messageId, code: e.code, responseCode: e.responseCode, command: e.command, retryable }, 'email send failed');
  // Server replies often quote the recipient ("550 <ann@…>: no such user"); these details end
  // up in logs and job failure reasons, so addresses are masked.
  return new ExternalError(message, retryable, {
    code: e.code,
    responseCode: e.responseCode,
    command: e.command,
    response: maskAddresses(e.response),
    cause: maskAddresses(e.message),
  });
}

function maskAddresses(s: string | undefined): string | undefined {
  return s?.replace(/[^\s<>"'(),;:]+@[^\s<>"'(),;:]+/g, '[address]');
}
