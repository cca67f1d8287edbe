/**
 * Bolt's `Logger` over our pino logger, so Bolt, its receiver and its WebClient log through
 * the one root logger (structured, redacted) instead of the console. Bolt logs free-form
 * strings; they go in `msg` under `module: 'slack'`, after {@link scrubBoltMessage}.
 *
 * pino's redaction works on fields, not inside a message, and at debug level Bolt puts whole
 * payloads in the message: every incoming request body (`App.processEvent`), every Web API
 * request and result (the answers, with names and emails unmasked for PII readers), every
 * ack body. Those payloads are cut out; what is left has emails masked and tokens removed.
 */
import { format } from 'node:util';
import { LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import { scrubUrlCredentials, type Logger } from '../logger.js';
import { maskEmail } from './mask.js';

const EMAIL = /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}/g;
const SLACK_TOKEN = /\b(xox[a-z]|xapp)-[A-Za-z0-9-]{1,250}/g;
/** response_url and incoming-webhook URLs are bearer credentials. */
const SLACK_HOOK = /https:\/\/hooks\.slack\.com\/[^\s"'<>]{1,500}/g;

/**
 * A Bolt log message made safe to keep: from the first `{` or `[` on (a JSON payload, an
 * inspected object) replaced by its length, emails masked (`a***@example.com`), Slack tokens,
 * response URLs and URL passwords removed. Names can only be told apart from other words
 * inside a payload, which is why payloads go whole.
 */
export function scrubBoltMessage(message: string): string {
  const i = message.search(/[{[]/);
  const kept = i < 0 ? message : `${message.slice(0, i)}[${message.length - i} characters omitted]`;
  return scrubUrlCredentials(kept)
    .replace(SLACK_HOOK, 'https://hooks.slack.com/[redacted]')
    .replace(SLACK_TOKEN, '$1-[redacted]')
    .replace(EMAIL, (e) => maskEmail(e) ?? '***');
}

/** The Bolt level that lets through what pino's level lets through. */
export function boltLevelFor(pinoLevel: string): LogLevel {
  switch (pinoLevel) {
    case 'trace':
    case 'debug':
      return LogLevel.DEBUG;
    case 'info':
      return LogLevel.INFO;
    case 'warn':
      return LogLevel.WARN;
    default:
      return LogLevel.ERROR;
  }
}

/**
 * Wraps `log` as a Bolt logger. `setLevel` only changes what Bolt reports through
 * `getLevel`: pino's own level still filters, so Bolt can never log more than the app allows.
 */
export function boltLogger(log: Logger): BoltLogger {
  let level = boltLevelFor(log.level);
  let child = log.child({ module: 'slack' });
  const text = (msg: unknown[]): string => scrubBoltMessage(format(...msg));
  return {
    // Bolt calls these whatever the level: format and scrub only what pino will write.
    debug: (...msg: unknown[]) => void (child.isLevelEnabled('debug') && child.debug(text(msg))),
    info: (...msg: unknown[]) => void (child.isLevelEnabled('info') && child.info(text(msg))),
    warn: (...msg: unknown[]) => void (child.isLevelEnabled('warn') && child.warn(text(msg))),
    error: (...msg: unknown[]) => void (child.isLevelEnabled('error') && child.error(text(msg))),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: (name: string) => {
      child = log.child({ module: 'slack', component: name });
    },
  };
}
