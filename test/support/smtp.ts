/**
 * A real SMTP server in the test process (smtp-server on 127.0.0.1, port 0) that records what
 * it receives and can be told to refuse recipients or messages, plus a small parser for the
 * raw RFC 5322 text so tests assert on the wire format rather than on nodemailer's input.
 *
 * @example
 * const smtp = await startSmtpServer();
 * const mailer = createMailer({ smtpUrl: smtp.url, outboxDir, log });
 * await mailer.send(msg);
 * const [m] = await smtp.waitForMessages(1);
 * expect(m.header('message-id')).toBe('<outreach-1@rekindle>');
 * await mailer.close();
 * await smtp.close();
 */
import { createServer, type AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

/** An SMTP reply to refuse with: `code` 4xx is transient, 5xx permanent (e.g. 550). */
export interface SmtpRejection {
  code: number;
  message: string;
}

/** One message as the server received it. */
export interface ReceivedMessage {
  /** `MAIL FROM` address. */
  from: string;
  /** `RCPT TO` addresses the server accepted. */
  to: string[];
  /** The message exactly as sent after DATA (CRLF line ends, dot-unstuffed). */
  raw: string;
  /** Unfolded header fields in order, names as written. */
  headers: RawHeader[];
  /** Everything after the blank line that ends the header block. */
  body: string;
  /** The first value of header `name` (case-insensitive), unfolded; undefined if absent. */
  header(name: string): string | undefined;
  /** Every value of header `name` (case-insensitive), in order. */
  headerAll(name: string): string[];
}

export interface RawHeader {
  name: string;
  value: string;
}

export interface TestSmtpServerOptions {
  /**
   * Decides each `RCPT TO`; return a rejection to refuse it (e.g. `{ code: 550, message:
   * 'mailbox unavailable' }`). Reassign `server.onRecipient` later to change behaviour mid-test.
   */
  onRecipient?: RecipientHook;
  /** Decides each message after its body arrived; return a rejection to refuse it (it is not recorded). */
  onMessage?: MessageHook;
  /** Largest message in bytes (SIZE extension); default 10 MB. */
  size?: number;
  /** Port to listen on; default a free one (pass the port of `unusedSmtpUrl()` to bring a "down" server up). */
  port?: number;
}

export type RecipientHook = (address: string, session: SMTPServerSession) => SmtpRejection | undefined | null;
export type MessageHook = (message: ReceivedMessage) => SmtpRejection | undefined | null;

export interface TestSmtpServer {
  /** `smtp://127.0.0.1:<port>`: give it to `createMailer({ smtpUrl })` (loopback → no STARTTLS). */
  url: string;
  host: string;
  port: number;
  /** Accepted messages, in arrival order. Clear with `messages.length = 0`. */
  readonly messages: ReceivedMessage[];
  /** Connections opened so far (a pool reuses them, so this stays small). */
  readonly connectionCount: number;
  onRecipient: RecipientHook | undefined;
  onMessage: MessageHook | undefined;
  /**
   * Resolves once at least `count` messages were accepted (all of them, oldest first).
   * @throws Error after `timeoutMs` (default 5 000) saying how many arrived
   */
  waitForMessages(count: number, timeoutMs?: number): Promise<ReceivedMessage[]>;
  /** Stops listening and drops open connections at once. */
  close(): Promise<void>;
}

function smtpError(r: SmtpRejection): Error {
  return Object.assign(new Error(r.message), { responseCode: r.code });
}

/**
 * Starts a recording SMTP server on 127.0.0.1 with a free port. No TLS, no authentication
 * required (`authOptional`, STARTTLS disabled), so nodemailer must connect with `ignoreTLS`
 * (createMailer does for loopback URLs).
 */
export async function startSmtpServer(opts: TestSmtpServerOptions = {}): Promise<TestSmtpServer> {
  const messages: ReceivedMessage[] = [];
  const waiters = new Set<() => void>();
  let connectionCount = 0;
  const state = { onRecipient: opts.onRecipient, onMessage: opts.onMessage };

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    size: opts.size ?? 10 * 1024 * 1024,
    closeTimeout: 100,
    onConnect(_session, cb) {
      connectionCount += 1;
      cb();
    },
    onRcptTo(address, session, cb) {
      const r = state.onRecipient?.(address.address, session);
      cb(r ? smtpError(r) : null);
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err) => cb(err));
      stream.on('end', () => {
        if (stream.sizeExceeded) {
          cb(smtpError({ code: 552, message: 'message exceeds fixed maximum message size' }));
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        const env = session.envelope;
        const msg = parseRawMessage(raw, {
          from: env.mailFrom ? env.mailFrom.address : '',
          to: env.rcptTo.map((r) => r.address),
        });
        const r = state.onMessage?.(msg);
        if (r) {
          cb(smtpError(r));
          return;
        }
        messages.push(msg);
        for (const w of waiters) w();
        cb(null, `OK: queued as ${messages.length}`);
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // An smtp-server 'error' event without a listener would crash the test run (e.g. a client
  // dropping its socket mid-command); such errors are the client's to report.
  server.on('error', () => {});
  const { port } = server.server.address() as AddressInfo;

  return {
    url: `smtp://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    messages,
    get connectionCount() {
      return connectionCount;
    },
    get onRecipient() {
      return state.onRecipient;
    },
    set onRecipient(h) {
      state.onRecipient = h;
    },
    get onMessage() {
      return state.onMessage;
    },
    set onMessage(h) {
      state.onMessage = h;
    },
    waitForMessages(count, timeoutMs = 5_000) {
      if (messages.length >= count) return Promise.resolve([...messages]);
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (messages.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve([...messages]);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`waited ${timeoutMs} ms for ${count} SMTP messages, got ${messages.length}`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    close() {
      return new Promise<void>((resolve) => {
        for (const c of server.connections) c._socket.destroy();
        server.close(() => resolve());
      });
    },
  };
}

/**
 * Splits a raw message into unfolded header fields and the body. Header values keep their
 * encoded words (`=?UTF-8?B?…?=`); decode them with {@link decodeHeader} when asserting text.
 */
export function parseRawMessage(raw: string, envelope: { from: string; to: string[] } = { from: '', to: [] }): ReceivedMessage {
  const normalized = raw.replace(/\r\n/g, '\n');
  const end = normalized.indexOf('\n\n');
  const head = end === -1 ? normalized : normalized.slice(0, end);
  const body = end === -1 ? '' : normalized.slice(end + 2);
  const headers: RawHeader[] = [];
  for (const line of head.split('\n')) {
    if (/^[ \t]/.test(line) && headers.length > 0) {
      // Unfolding (RFC 5322 §2.2.3) removes only the line break; the whitespace stays.
      (headers[headers.length - 1] as RawHeader).value += line;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers.push({ name: line.slice(0, colon), value: line.slice(colon + 1) });
  }
  for (const h of headers) h.value = h.value.trim();
  const all = (name: string): string[] => headers.filter((h) => h.name.toLowerCase() === name.toLowerCase()).map((h) => h.value);
  return {
    from: envelope.from,
    to: envelope.to,
    raw,
    headers,
    body,
    header: (name) => all(name)[0],
    headerAll: all,
  };
}

/** Decodes RFC 2047 encoded words (`=?UTF-8?B?…?=` and `=?UTF-8?Q?…?=`) in a header value. */
export function decodeHeader(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_m, _charset: string, enc: string, text: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(
            text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16))),
            'latin1',
          ).toString('utf8'),
    );
}

/**
 * The MIME parts of a message body (one level of multipart, enough for our html + text
 * emails), each with its content type and its decoded text.
 */
export function mimeParts(msg: ReceivedMessage): { contentType: string; text: string }[] {
  const ct = msg.header('content-type') ?? '';
  const boundary = /boundary="?([^";]+)"?/i.exec(ct)?.[1];
  if (!boundary) return [{ contentType: ct, text: decodePart(msg.header('content-transfer-encoding'), msg.body) }];
  return msg.body
    .split(`--${boundary}`)
    .slice(1)
    .filter((p) => !p.startsWith('--'))
    .map((p) => {
      const part = parseRawMessage(p.replace(/^\r?\n/, ''));
      return { contentType: part.header('content-type') ?? '', text: decodePart(part.header('content-transfer-encoding'), part.body) };
    });
}

function decodePart(encoding: string | undefined, body: string): string {
  switch ((encoding ?? '7bit').toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    case 'quoted-printable': {
      const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16)));
      return Buffer.from(bytes, 'latin1').toString('utf8');
    }
    default:
      return body;
  }
}

/**
 * An `smtp://` URL on which nothing listens (a port bound and released just now), for
 * "server is down" tests. The connection is refused at once rather than timing out.
 */
export async function unusedSmtpUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((r) => probe.close(() => r()));
  return `smtp://127.0.0.1:${port}`;
}
