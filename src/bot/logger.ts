/**
 * Bolt's `Logger` over our pino logger, so Bolt, its receiver and its WebClient log through
 * the one root logger (structured, redacted) instead of the console. Bolt logs free-form
 * strings; they go in `msg` under `module: 'slack'`.
 */
import { format } from 'node:util';
import { LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from '../logger.js';

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
  const text = (msg: unknown[]): string => format(...msg);
  return {
    debug: (...msg: unknown[]) => child.debug(text(msg)),
    info: (...msg: unknown[]) => child.info(text(msg)),
    warn: (...msg: unknown[]) => child.warn(text(msg)),
    error: (...msg: unknown[]) => child.error(text(msg)),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: (name: string) => {
      child = log.child({ module: 'slack', component: name });
    },
  };
}
