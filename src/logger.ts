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

export function createLogger(opts: { level: string; name?: string }, destination?: pino.DestinationStream): Logger {
  const root = pino(
    {
      name: opts.name ?? 'rekindle',
      level: opts.level,
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      base: { pid: process.pid },
      serializers: { err: errSerializer },
      formatters: { log: (obj) => redactDeep(obj) as Record<string, unknown> },
    },
    destination ?? pino.destination({ dest: 2, sync: false }),
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
