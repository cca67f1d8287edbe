/**
 * The one typed configuration, parsed from the environment with zod. This is the only
 * module that reads `process.env`-shaped input; entry points call `loadConfig` once and
 * pass the result on. Every variable, its default and meaning is listed in `.env.example`.
 */
import { z } from 'zod';
import { ConfigError } from './domain/errors.js';

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, `expected an integer between ${min} and ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `expected an integer between ${min} and ${max}`).max(max, `expected an integer between ${min} and ${max}`));

const fraction = z
  .string()
  .trim()
  .regex(/^(0(\.\d+)?|1(\.0+)?)$/, 'expected a number between 0 and 1')
  .transform(Number);

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['1', '0', 'true', 'false', 'yes', 'no'].includes(v), 'expected true or false')
  .transform((v) => ['1', 'true', 'yes'].includes(v));

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol.replace(/:$/, ''));
      } catch {
        return false;
      }
    }, `expected a URL starting with ${protocols.map((p) => `${p}://`).join(' or ')}`);

const secretList = z
  .string()
  .trim()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^whsec_[A-Za-z0-9+/=]{24,}$/, 'expected comma-separated secrets of the form whsec_<base64, at least 18 bytes>')));

/** Comma-separated secrets of our own (not whsec_): the first signs, all verify (rotation). */
const textSecrets = z
  .string()
  .trim()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
  .pipe(z.array(z.string().min(16, 'expected secrets of at least 16 characters each (several: comma-separated, the first signs)')));

/** Stripe's endpoint signing secrets (`whsec_…` from the dashboard or `stripe listen`), comma-separated: all verify (rotation). */
const stripeSecrets = z
  .string()
  .trim()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^whsec_[A-Za-z0-9]{16,}$/, 'expected comma-separated Stripe signing secrets of the form whsec_… (Dashboard → Developers → Webhooks → your endpoint → Signing secret)')));

/** Segment's shared secrets, comma-separated: all verify (rotation). */
const segmentSecrets = z
  .string()
  .trim()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
  .pipe(z.array(z.string().min(8, 'expected comma-separated shared secrets of at least 8 characters each')));

/** Which of our event types a Segment `track` name may be mapped to with SEGMENT_EVENT_MAP. */
export const SEGMENT_MAPPABLE = ['lesson_progress', 'view', 'signup', 'subscription_cancel', 'payment_failed'] as const;

/** `Track Name=our_type,…` → a map from the track name to our event type. */
const segmentEventMap = z
  .string()
  .trim()
  .transform((v, ctx) => {
    const out: Record<string, (typeof SEGMENT_MAPPABLE)[number]> = {};
    for (const pair of v.split(',').map((p) => p.trim()).filter(Boolean)) {
      const at = pair.lastIndexOf('=');
      const name = pair.slice(0, at).trim();
      const type = pair.slice(at + 1).trim();
      if (at <= 0 || name === '' || !(SEGMENT_MAPPABLE as readonly string[]).includes(type)) {
        ctx.addIssue({ code: 'custom', message: `expected comma-separated "Track Name=type" pairs with type one of ${SEGMENT_MAPPABLE.join(', ')}; "${pair}" is not one` });
        return z.NEVER;
      }
      out[name] = type as (typeof SEGMENT_MAPPABLE)[number];
    }
    return out;
  });

const list = z
  .string()
  .trim()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean));

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
const cron = z.string().trim().regex(/^(\S+\s+){4,5}\S+$/, 'expected a cron expression with 5 or 6 fields, e.g. "0 3 * * *"');
const timeZone = z
  .string()
  .trim()
  .refine((v) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: v });
      return true;
    } catch {
      return false;
    }
  }, 'expected an IANA time zone such as Asia/Shanghai');

/** Variables, their parsers and defaults (a default is a string, parsed like the real thing). */
const spec = {
  DATABASE_URL: { schema: url(['postgres', 'postgresql']).optional(), default: undefined },
  PGLITE_DIR: { schema: z.string().min(1), default: '.data/pglite' },
  DATABASE_POOL_SIZE: { schema: int(1, 100), default: '10' },
  REDIS_URL: { schema: url(['redis', 'rediss']), default: 'redis://127.0.0.1:6379' },
  QUEUE_PREFIX: { schema: z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, _ or -'), default: 'rekindle' },
  HOST: { schema: z.string().min(1), default: '0.0.0.0' },
  PORT: { schema: int(0, 65535), default: '3000' },
  PUBLIC_BASE_URL: { schema: url(['http', 'https']).optional(), default: undefined },
  // Unset: info, or warn for a command a person reads on a terminal (src/cli/console.ts).
  LOG_LEVEL: { schema: logLevel.optional(), default: undefined },
  // auto: JSON for serve and worker and whenever stdout is not a terminal; one readable line per warning for the other commands on a terminal.
  LOG_FORMAT: { schema: z.enum(['auto', 'json', 'pretty']), default: 'auto' },
  WEBHOOK_SECRETS: { schema: secretList, default: '' },
  WEBHOOK_TOLERANCE_SECONDS: { schema: int(1, 86_400), default: '300' },
  INGEST_MAX_BODY_BYTES: { schema: int(1024, 64 * 1024 * 1024), default: '4194304' },
  INGEST_MAX_INFLIGHT: { schema: int(1, 10_000), default: '64' },
  STRIPE_WEBHOOK_SECRET: { schema: stripeSecrets, default: '' },
  SEGMENT_WEBHOOK_SECRET: { schema: segmentSecrets, default: '' },
  SEGMENT_EVENT_MAP: { schema: segmentEventMap, default: 'Lesson Completed=lesson_progress,Video Content Completed=lesson_progress' },
  INGEST_SOURCE: { schema: z.string().regex(/^[a-z0-9_.-]+$/, 'expected lowercase letters, digits, _ . -'), default: 'default' },
  SMTP_URL: { schema: url(['smtp', 'smtps']).optional(), default: undefined },
  SMTP_FROM: { schema: z.string().min(3), default: 'Rekindle <rekindle@localhost>' },
  OUTBOX_DIR: { schema: z.string().min(1), default: 'outbox' },
  // The signing secret: UNSUBSCRIBE_SECRETS' first, or UNSUBSCRIBE_SECRET's first when it holds a list (see loadConfig).
  UNSUBSCRIBE_SECRET: { schema: textSecrets.transform((l) => l[0]).optional(), default: undefined },
  // Every accepted unsubscribe secret, the signing one first (filled from UNSUBSCRIBE_SECRET when that is the one given).
  UNSUBSCRIBE_SECRETS: { schema: textSecrets, default: '' },
  SLACK_SIGNING_SECRET: { schema: z.string().min(1).optional(), default: undefined },
  SLACK_BOT_TOKEN: { schema: z.string().regex(/^xox[bp]-/, 'expected a bot token starting with xoxb-').optional(), default: undefined },
  SLACK_APP_TOKEN: { schema: z.string().regex(/^xapp-/, 'expected an app-level token starting with xapp-').optional(), default: undefined },
  SLACK_API_URL: { schema: url(['http', 'https']), default: 'https://slack.com/api/' },
  SLACK_MODE: { schema: z.enum(['http', 'socket']), default: 'http' },
  SLACK_ALLOWED_TEAMS: { schema: list, default: '' },
  SLACK_ALLOWED_CHANNELS: { schema: list, default: '' },
  SLACK_ALLOWED_USERS: { schema: list, default: '' },
  SLACK_PII_USERS: { schema: list, default: '' },
  SLACK_ADMIN_USERS: { schema: list, default: '' },
  SLACK_DIGEST_CHANNEL: { schema: z.string().regex(/^[CG][A-Z0-9]{2,}$/, 'expected a Slack channel id such as C0123456').optional(), default: undefined },
  SLACK_DIGEST_LANG: { schema: z.enum(['en', 'zh']), default: 'en' },
  /** OpenAI-compatible chat-completions URL for the bot's optional fallback; unset: off, nothing leaves the machine. */
  LLM_URL: { schema: url(['http', 'https']).optional(), default: undefined },
  LLM_MODEL: { schema: z.string().trim().min(1).max(200).optional(), default: undefined },
  LLM_API_KEY: { schema: z.string().trim().min(1).optional(), default: undefined },
  /** How long the bot waits for the model before answering without it (Slack users wait too). */
  LLM_TIMEOUT_MS: { schema: int(100, 10_000), default: '1500' },
  ADMIN_USER: { schema: z.string().min(1).optional(), default: undefined },
  ADMIN_PASSWORD: { schema: z.string().min(8, 'expected at least 8 characters').optional(), default: undefined },
  CHURN_HORIZON_DAYS: { schema: int(7, 730), default: '90' },
  CHURN_MIN_USERS: { schema: int(1, 10_000_000), default: '200' },
  CHURN_MIN_POSITIVES: { schema: int(1, 1_000_000), default: '20' },
  CHURN_MIN_HISTORY_DAYS: { schema: int(1, 3650), default: '180' },
  CHURN_TRAIN_SAMPLE: { schema: int(1000, 10_000_000), default: '150000' },
  CHURN_L2: { schema: z.string().regex(/^\d+(\.\d+)?$/, 'expected a non-negative number').transform(Number), default: '1' },
  RISK_HIGH: { schema: fraction, default: '0.6' },
  RISK_MEDIUM: { schema: fraction, default: '0.3' },
  PERSONAS_K: { schema: int(0, 30), default: '0' },
  RECOMMEND_TOP_N: { schema: int(1, 50), default: '10' },
  RESCORE_CRON: { schema: cron, default: '0 3 * * *' },
  SCHEDULE_TZ: { schema: timeZone, default: 'UTC' },
  WORKER_CONCURRENCY: { schema: int(1, 64), default: '8' },
  METRICS_ENABLED: { schema: bool, default: 'true' },
  METRICS_HOST: { schema: z.string().min(1), default: '127.0.0.1' },
  METRICS_PORT: { schema: int(0, 65535), default: '9465' },
  METRICS_TOKEN: { schema: z.string().trim().min(16, 'expected at least 16 characters').optional(), default: undefined },
  WORKER_METRICS_PORT: { schema: int(0, 65535), default: '9464' },
  RECOMMEND_CRON: { schema: cron.optional(), default: undefined },
  SWEEP_CRON: { schema: cron, default: '*/5 * * * *' },
  SETTLE_CRON: { schema: cron, default: '17 * * * *' },
  OUTREACH_CAMPAIGN: { schema: z.string().regex(/^[a-z0-9_-]{1,40}$/, 'expected lowercase letters, digits, _ or -'), default: 'default' },
  HOLDOUT_FRACTION: { schema: fraction, default: '0.1' },
  FREQUENCY_CAP_DAYS: { schema: int(0, 365), default: '14' },
  QUIET_HOURS: { schema: z.string().regex(/^(off|([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d)$/, 'expected HH:MM-HH:MM, e.g. 22:00-08:00, or off'), default: '22:00-08:00' },
  COUPON_KIND: { schema: z.enum(['percent', 'amount']), default: 'percent' },
  COUPON_VALUE: { schema: int(1, 10_000_000), default: '20' },
  COUPON_CURRENCY: { schema: z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code such as CNY'), default: 'CNY' },
  COUPON_EXPIRY_DAYS: { schema: int(1, 365), default: '14' },
  CONVERSION_WINDOW_DAYS: { schema: int(1, 365), default: '14' },
  DELIVERY_MAX_ATTEMPTS: { schema: int(1, 50), default: '8' },
  WEBHOOK_ALLOW_PRIVATE: { schema: bool, default: 'false' },
  DELIVERY_BACKOFF_MS: { schema: int(10, 86_400_000), default: '30000' },
  DELIVERY_LEASE_SECONDS: { schema: int(1, 3600), default: '120' },
  JOB_LOCK_SECONDS: { schema: int(2, 3600), default: '30' },
  OUTREACH_POLICY: { schema: z.enum(['tiers', 'uplift', 'auto']), default: 'auto' },
  COUPON_BUDGET: { schema: z.string().trim().regex(/^\d+$/, 'expected a whole amount in minor units of COUPON_CURRENCY (empty: no limit)').transform(Number).optional(), default: undefined },
  COUPON_BUDGET_DAYS: { schema: int(0, 366), default: '0' },
  EMAIL_LIMIT: { schema: int(0, 100_000_000).optional(), default: undefined },
  EMAIL_COST_MINOR: { schema: z.string().trim().regex(/^\d+(\.\d+)?$/, 'expected a non-negative cost per email in minor units').transform(Number), default: '0' },
  EXPLORE_FRACTION: { schema: fraction, default: '0.05' },
  UPLIFT_MIN_ROWS: { schema: int(10, 10_000_000), default: '200' },
  UPLIFT_MIN_CONVERSIONS: { schema: int(1, 1_000_000), default: '20' },
  UTM_SOURCE: { schema: z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/, 'expected letters, digits, _ . -'), default: 'rekindle' },
} as const;

type Spec = typeof spec;
export type Config = { [K in keyof Spec]: z.output<Spec[K]['schema']> };

/** Names every variable that is wrong and what it expects; nothing starts with a bad config. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, { schema, default: def }] of Object.entries(spec) as [string, { schema: z.ZodType; default: string | undefined }][]) {
    const raw = env[name];
    const value = raw === undefined || raw === '' ? def : raw;
    const r = schema.safeParse(value);
    if (r.success) out[name] = r.data;
    else problems.push(`${name}: ${r.error.issues[0]?.message ?? 'invalid'}${value !== undefined && !/SECRET|PASSWORD|TOKEN|URL/.test(name) ? ` (got "${value}")` : ''}`);
  }
  const cfg = out as Config;
  if (problems.length === 0 && cfg.RISK_MEDIUM >= cfg.RISK_HIGH) problems.push('RISK_MEDIUM: expected a threshold below RISK_HIGH');
  if (problems.length === 0 && cfg.SLACK_MODE === 'socket' && !cfg.SLACK_APP_TOKEN) problems.push('SLACK_APP_TOKEN: expected an app-level token (xapp-…) when SLACK_MODE is socket');
  if (problems.length === 0 && cfg.COUPON_KIND === 'percent' && cfg.COUPON_VALUE > 100) problems.push('COUPON_VALUE: expected a percentage from 1 to 100 when COUPON_KIND is percent');
  if (problems.length === 0 && (cfg.LLM_URL === undefined) !== (cfg.LLM_MODEL === undefined)) problems.push('LLM_URL/LLM_MODEL: expected both or neither');
  if (problems.length === 0 && (cfg.ADMIN_USER === undefined) !== (cfg.ADMIN_PASSWORD === undefined))
    problems.push('ADMIN_USER/ADMIN_PASSWORD: expected both or neither');
  if (problems.length === 0) {
    // One list of unsubscribe secrets, the signing one first, whichever variable holds it.
    if (cfg.UNSUBSCRIBE_SECRET !== undefined && cfg.UNSUBSCRIBE_SECRETS.length > 0)
      problems.push('UNSUBSCRIBE_SECRET/UNSUBSCRIBE_SECRETS: expected one or the other (UNSUBSCRIBE_SECRETS=new,old rotates)');
    else if (cfg.UNSUBSCRIBE_SECRETS.length > 0) out.UNSUBSCRIBE_SECRET = cfg.UNSUBSCRIBE_SECRETS[0];
    else if (cfg.UNSUBSCRIBE_SECRET !== undefined) out.UNSUBSCRIBE_SECRETS = textSecrets.parse(env.UNSUBSCRIBE_SECRET);
  }
  if (problems.length) throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`, problems);
  return cfg;
}

/**
 * Settings that parse but are probably a mistake: each a sentence for a start-up warning. Email
 * over SMTP carries RFC 8058 one-click unsubscribe headers, which mail providers honour only
 * for an https URL; without one, the unsubscribe button in Gmail or Outlook does not appear.
 */
export function configWarnings(c: Config): string[] {
  const out: string[] = [];
  if (c.SMTP_URL && !c.PUBLIC_BASE_URL?.startsWith('https://'))
    out.push(
      `PUBLIC_BASE_URL is ${c.PUBLIC_BASE_URL ? 'not https' : 'unset (links go to http://localhost)'} while SMTP_URL sends real email: one-click unsubscribe (RFC 8058) needs an https URL users can reach`,
    );
  return out;
}

/** Whether a variable was given (not left to its default). */
export function isExplicit(env: Record<string, string | undefined>, name: keyof Config): boolean {
  return env[name] !== undefined && env[name] !== '';
}

/** Variable names with their defaults, for `.env.example` and the README table. */
export function configDefaults(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, v.default]));
}
