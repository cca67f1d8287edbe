/**
 * The pino root logger. Modules take `log.child({ module })`. Nothing secret reaches a line:
 *
 * - fields whose name says secret, token, password, API key, signature, authorization or
 *   cookie, and emails, are `[redacted]` at any depth ({@link redactDeep}, run on every logged
 *   object; the `redact` paths below are a second net that also covers serialized errors);
 * - credentials in URLs (`postgres://user:pass@host`, `smtps://…`, `redis://:pass@…`) lose
 *   their password wherever they appear, in fields and in error messages and stacks, so an
 *   incident still shows which host failed.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

const CENSOR = '[redacted]';

/** Names that hold secrets (`UNSUBSCRIBE_SECRET`, `SLACK_APP_TOKEN`, `webhookSecrets`, `x-slack-signature`, `apiKey`…). */
const SECRET_KEY = /(secret|token|passw(?:or)?d|passphrase|authorization|cookie|api[-_]?key|private[-_]?key|signature|credentials?)s?$/i;
/** Personal data logged by mistake. */
const EMAIL_KEY = /^e-?mails?$/i;

/** Fixed paths, cheap for pino to apply; {@link redactDeep} covers every depth. */
const DEEP = ['secret', 'token', 'password', 'email', 'authorization', 'UNSUBSCRIBE_SECRET', 'SLACK_APP_TOKEN', 'SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'WEBHOOK_SECRETS', 'ADMIN_PASSWORD', 'METRICS_TOKEN'];
export const REDACT_PATHS = [
  ...DEEP.flatMap((k) => [k, `*.${k}`]),
  'req.headers.authorization',
  'req.headers["webhook-signature"]',
  'req.headers["x-slack-signature"]',
];

const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]{0,30}:\/\/)([^\s:/?#@]{0,256}):([^\s/?#@]{1,256})@/gi;

/** `postgres://user:pass@host/db` → `postgres://user:[redacted]@host/db`, anywhere in `s`; the rest unchanged. */
export function scrubUrlCredentials(s: string): string {
  return s.includes('://') ? s.replace(URL_CREDENTIALS, `$1$2:${CENSOR}@`) : s;
}

const MAX_DEPTH = 12;

function isPlainObject(v: object): v is Record<string, unknown> {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A copy of `value` with secret-named and email fields censored and URL credentials scrubbed,
 * at any depth. Only plain objects and arrays are walked; errors are left to the `err`
 * serializer, other objects (dates, buffers) are kept as they are. Never changes `value`.
 */
export function redactDeep(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return scrubUrlCredentials(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH || seen.has(value)) return value;
  if (Array.isArray(value)) {
    seen.add(value);
    return value.map((v) => redactDeep(v, depth + 1, seen));
  }
  if (!isPlainObject(value)) return value;
  seen.add(value);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    // Secrets are strings (or lists and objects of them); a flag such as `token: true` says nothing.
    const sensitive = SECRET_KEY.test(k) || EMAIL_KEY.test(k);
    out[k] = sensitive && v !== null && v !== undefined && typeof v !== 'boolean' && typeof v !== 'number' ? CENSOR : redactDeep(v, depth + 1, seen);
  }
  return out;
}

/** pino's error serializer, with URL credentials scrubbed from the message, stack and any other field. */
function errSerializer(err: unknown): unknown {
  const serialized = pino.stdSerializers.err(err as Error) as unknown;
  if (serialized === null || typeof serialized !== 'object') return redactDeep(serialized);
  // The serialized error (and its causes) are not plain objects: walk a plain copy.
  let plain: unknown;
  try {
    plain = JSON.parse(JSON.stringify(serialized)) as unknown;
  } catch {
    plain = { ...(serialized as Record<string, unknown>) };
  }
  return redactDeep(plain);
}

/** How log lines look: JSON for machines (services, pipes, files), one readable line for a person at a terminal. */
export type LogFormat = 'json' | 'pretty';

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLOURS: Record<number, string> = { 10: '90', 20: '90', 30: '36', 40: '33', 50: '31', 60: '31' };
/** pino's own fields, shown in the line's head or not at all. */
const HEAD_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'module', 'v']);

function showValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (v !== null && typeof v === 'object') {
    const e = v as { type?: unknown; message?: unknown };
    // A serialized error: its type and message (the stack is for JSON logs and --verbose with LOG_FORMAT=json).
    if (typeof e.message === 'string') return JSON.stringify(`${typeof e.type === 'string' ? `${e.type}: ` : ''}${e.message}`);
  }
  return JSON.stringify(v) ?? String(v);
}

/**
 * One pino JSON line as one line for a person: `12:03:04 WARN [mailer] message key=value …`.
 * Fields are already redacted (the logger formats before it serializes); a line that is not
 * JSON passes through unchanged.
 */
export function formatPrettyLine(line: string, colour = false): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const level = typeof o.level === 'number' ? o.level : 30;
  const time = typeof o.time === 'number' ? new Date(o.time).toISOString().slice(11, 19) : '';
  const name = LEVEL_NAMES[level] ?? String(level);
  const head = colour ? `\x1b[${LEVEL_COLOURS[level] ?? '0'}m${name}\x1b[0m` : name;
  const fields = Object.entries(o)
    .filter(([k, v]) => !HEAD_FIELDS.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${showValue(v)}`);
  const module = typeof o.module === 'string' ? ` [${o.module}]` : '';
  const msg = typeof o.msg === 'string' ? ` ${o.msg}` : '';
  return `${time} ${head}${module}${msg}${fields.length ? ` ${fields.join(' ')}` : ''}\n`;
}

/** A pino destination that writes {@link formatPrettyLine} lines to `stream` (stderr by default). */
export function prettyDestination(stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr, colour = Boolean(stream.isTTY)): pino.DestinationStream {
  return { write: (line: string) => void stream.write(formatPrettyLine(line, colour)) };
}

export function createLogger(opts: { level: string; name?: string; format?: LogFormat; colour?: boolean }, destination?: pino.DestinationStream): Logger {
  const root = pino(
    {
      name: opts.name ?? 'rekindle',
      level: opts.level,
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      base: { pid: process.pid },
      serializers: { err: errSerializer },
      formatters: { log: (obj) => redactDeep(obj) as Record<string, unknown> },
    },
    destination ?? (opts.format === 'pretty' ? prettyDestination(process.stderr, opts.colour ?? Boolean(process.stderr.isTTY)) : pino.destination({ dest: 2, sync: false })),
  );
  // pino never formats what log.child() binds, so redact it on the way in. Children inherit
  // from their parent (Object.create), so every descendant goes through this one method.
  type Child = (this: Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions) => Logger;
  const child = root.child as unknown as Child;
  const redactingChild: Child = function (bindings, options) {
    return child.call(this, redactDeep(bindings) as pino.Bindings, options);
  };
  root.child = redactingChild as unknown as Logger['child'];
  return root;
}

/** A logger that drops everything: for tests and commands with user-facing output only. */
export const silentLogger: Logger = pino({ level: 'silent' });
