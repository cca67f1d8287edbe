/** The pino root logger. Modules take `log.child({ module })`; secrets, tokens and emails are redacted. */
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'secret',
  '*.secret',
  'token',
  '*.token',
  'password',
  '*.password',
  'email',
  '*.email',
  'req.headers.authorization',
  'req.headers["webhook-signature"]',
  'req.headers["x-slack-signature"]',
  'config.WEBHOOK_SECRETS',
  'config.SLACK_BOT_TOKEN',
  'config.SLACK_SIGNING_SECRET',
  'config.ADMIN_PASSWORD',
];

export function createLogger(opts: { level: string; name?: string }, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      name: opts.name ?? 'rekindle',
      level: opts.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    destination ?? pino.destination({ dest: 2, sync: false }),
  );
}

/** A logger that drops everything: for tests and commands with user-facing output only. */
export const silentLogger: Logger = pino({ level: 'silent' });
