/**
 * The Slack bot: a Bolt app whose listeners only ack, parse, call the insights service and
 * format (answers.ts, blocks.ts). HTTP mode hands back an express router serving
 * `POST /slack/events` through Bolt's ExpressReceiver (signature checked, `processBeforeResponse:
 * false` so acks go out at once); Socket Mode connects out with the app token instead.
 *
 * Slack wants an ack within 3 s. Every listener acks first, then does the slow work and
 * answers through `respond()` (the command's response_url) or the Web API.
 */
import { App, ExpressReceiver, type Logger as BoltLogger } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import express, { type Router } from 'express';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import { ConfigError } from '../domain/errors.js';
import type { Logger } from '../logger.js';
import { createInsights } from '../services/insights.js';
import { accessMiddleware, policyFromConfig, viewerOf, type Viewer } from './access.js';
import { cleanText, detectLang } from './intent.js';
import { answerIntent, type Answer, type AnswerDeps, type Chart } from './answers.js';
import { context as contextBlock, texts, withExamples } from './blocks.js';
import { DIGEST_ACTIONS, handleDigestClick, postDigest, type DigestActionId } from './digest.js';
import { parseCommand, type Lang } from './intent.js';
import { ASK_ACTION, badChoiceMessage, didYouMeanMessage, outOfScopeMessage } from './ask.js';
import { defaultClassifier } from './classifier.js';
import { createLlmFallback } from './llm.js';
import { parseChoice } from './intent-schema.js';
import { understand, type Understanding } from './understand.js';
import { boltLogger } from './logger.js';

export interface SlackBotOptions {
  config: Config;
  db: Database;
  log: Logger;
  /** Job producers; without them `rescore` answers that it cannot queue from this process. */
  queues?: { enqueueRescore(): Promise<string> } | undefined;
  now?: () => Date;
  /** Language of the digest posted to SLACK_DIGEST_CHANNEL (default English). */
  digestLang?: Lang;
}

export interface SlackBot {
  /** HTTP mode: serves `POST /slack/events`; mount it on the main express app before any body parser. */
  router?: Router;
  app: App;
  /** Socket Mode: connects. HTTP mode: checks the token (auth.test) and logs the outcome. Both precompute the overview. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Posts the digest of a finished rescore run to SLACK_DIGEST_CHANNEL (once per run). */
  postDigest(runId: number): Promise<void>;
}

/** How long the bot reuses overview and segment totals (a new rescore invalidates them sooner). */
export const AGGREGATE_CACHE_MS = 5 * 60_000;

/** Slash command the manifest registers. */
export const SLASH_COMMAND = '/retain';

/**
 * A slash command's text read as a question when it is not a subcommand: two words or more, or
 * any Chinese. A single mistyped word ("overveiw") keeps the command parser's own "did you mean".
 */
function isQuestionLike(text: string): boolean {
  const t = cleanText(text).replace(/^\/?retain\b\s?/i, '');
  return t.split(' ').filter((w) => w.length > 0).length >= 2 || detectLang(t) === 'zh';
}

export function createSlackBot(o: SlackBotOptions): SlackBot {
  const c = o.config;
  if (!c.SLACK_BOT_TOKEN) throw new ConfigError('SLACK_BOT_TOKEN: expected a bot token (xoxb-…) to run the Slack bot');
  const log = o.log.child({ module: 'bot' });
  const logger: BoltLogger = boltLogger(o.log);
  const now = o.now ?? (() => new Date());
  // Bounded retries: a request Slack keeps failing should fail the answer, not hang it for minutes.
  const clientOptions = { slackApiUrl: c.SLACK_API_URL, retryConfig: { retries: 3, factor: 2, minTimeout: 250, maxTimeout: 4000 } };

  let router: Router | undefined;
  let app: App;
  if (c.SLACK_MODE === 'http') {
    if (!c.SLACK_SIGNING_SECRET) throw new ConfigError('SLACK_SIGNING_SECRET: expected the app signing secret when SLACK_MODE is http');
    router = express.Router();
    const receiver = new ExpressReceiver({ signingSecret: c.SLACK_SIGNING_SECRET, endpoints: '/slack/events', processBeforeResponse: false, router, logger });
    app = new App({ token: c.SLACK_BOT_TOKEN, receiver, logger, clientOptions });
  } else {
    if (!c.SLACK_APP_TOKEN) throw new ConfigError('SLACK_APP_TOKEN: expected an app-level token (xapp-…) when SLACK_MODE is socket');
    app = new App({ token: c.SLACK_BOT_TOKEN, appToken: c.SLACK_APP_TOKEN, socketMode: true, logger, clientOptions });
  }

  const insights = createInsights({ db: o.db, now, conversionWindowDays: c.CONVERSION_WINDOW_DAYS, aggregateCacheMs: AGGREGATE_CACHE_MS });
  const deps: AnswerDeps = { db: o.db, insights, log, now, currency: c.COUPON_CURRENCY, conversionWindowDays: c.CONVERSION_WINDOW_DAYS, queues: o.queues };
  const digestDeps = { db: o.db, log, currency: c.COUPON_CURRENCY, conversionWindowDays: c.CONVERSION_WINDOW_DAYS, now };

  /** An answer, or the apology when building it failed (logged with the error). */
  async function safely(lang: Lang, where: Record<string, unknown>, build: () => Promise<Answer>): Promise<Answer> {
    try {
      return await build();
    } catch (err) {
      log.error({ err, ...where }, 'answer failed');
      return { ...withExamples(texts(lang).failed, lang), charts: [] };
    }
  }

  const llm = c.LLM_URL && c.LLM_MODEL ? createLlmFallback({ url: c.LLM_URL, model: c.LLM_MODEL, apiKey: c.LLM_API_KEY, timeoutMs: c.LLM_TIMEOUT_MS, log }) : undefined;
  const understandDeps = { classifier: defaultClassifier(), knownUserIds: (ids: readonly string[]) => insights.knownUserIds(ids), llm };

  function answerFor(parsed: ReturnType<typeof parseCommand>, viewer: Viewer): Promise<Answer> {
    const where = { actor: viewer.actor };
    if (parsed.ok) return safely(parsed.lang, { ...where, intent: parsed.intent.kind }, () => answerIntent(deps, parsed.intent, parsed.lang, viewer));
    return Promise.resolve({ ...withExamples(parsed.error, parsed.lang), charts: [] });
  }

  /** The answer to an understood question: run it, ask which reading, or say what the bot does. */
  function answerUnderstood(u: Understanding, viewer: Viewer): Promise<Answer> {
    switch (u.kind) {
      case 'answer':
        log.debug({ actor: viewer.actor, intent: u.intent.kind, via: u.via }, 'question understood');
        return safely(u.lang, { actor: viewer.actor, intent: u.intent.kind }, () => answerIntent(deps, u.intent, u.lang, viewer));
      case 'invalid':
        return Promise.resolve({ ...withExamples(u.error, u.lang), charts: [] });
      case 'did_you_mean':
        return Promise.resolve({ ...didYouMeanMessage(u.options, u.lang), charts: [] });
      case 'out_of_scope':
        return Promise.resolve({ ...outOfScopeMessage(u.examples, u.lang), charts: [] });
    }
  }

  /** Understands a question; when that fails (the database is down), the apology. */
  async function understood(text: string, viewer: Viewer): Promise<Answer> {
    let u: Understanding;
    try {
      u = await understand(understandDeps, text);
    } catch (err) {
      log.error({ err, actor: viewer.actor }, 'understanding the question failed');
      const lang = detectLang(text);
      return { ...withExamples(texts(lang).failed, lang), charts: [] };
    }
    return answerUnderstood(u, viewer);
  }

  /** The bot's DM with `userId` (conversations.open is idempotent: the same channel every time). */
  async function dmWith(client: WebClient, userId: string): Promise<string> {
    const im = await client.conversations.open({ users: userId });
    if (!im.channel?.id) throw new Error(`conversations.open gave no channel for ${userId}`);
    return im.channel.id;
  }

  /** Uploads charts where the question was asked; when the bot may not post there, to the asker's DM. */
  async function uploadCharts(client: WebClient, charts: readonly Chart[], where: { channel: string; threadTs?: string | undefined; userId: string }): Promise<void> {
    for (const chart of charts) {
      const png = await chart.render();
      const file = { file: png, filename: chart.filename, title: chart.title, alt_text: chart.title };
      const upload = (channel: string, threadTs?: string) =>
        threadTs ? client.files.uploadV2({ ...file, channel_id: channel, thread_ts: threadTs }) : client.files.uploadV2({ ...file, channel_id: channel });
      try {
        await upload(where.channel, where.threadTs);
      } catch (err) {
        const code = (err as { data?: { error?: string } }).data?.error;
        if (code !== 'not_in_channel' && code !== 'channel_not_found') throw err;
        log.info({ channel: where.channel, code }, 'cannot post in the channel: chart sent by DM');
        await upload(await dmWith(client, where.userId));
      }
    }
  }

  app.error(async (err) => {
    log.error({ err }, 'slack listener failed');
  });

  app.use(accessMiddleware({ policy: policyFromConfig(c), db: o.db, log }));

  app.command(SLASH_COMMAND, async ({ command, ack, respond, client, context }) => {
    await ack(); // first, always: the work below may take longer than Slack's 3 s
    const viewer = viewerOf(context);
    const parsed = parseCommand(command.text ?? '');
    // Not a subcommand ("/retain courses for u1074"): read it as a question; its error stays
    // the answer unless the question is understood or worth a "did you mean".
    let a: Answer | undefined;
    if (!parsed.ok && isQuestionLike(command.text ?? '')) {
      const u = await understand(understandDeps, command.text ?? '').catch((err: unknown) => {
        log.error({ err, actor: viewer.actor }, 'understanding the command failed');
        return undefined;
      });
      if (u && (u.kind === 'answer' || u.kind === 'did_you_mean')) a = await answerUnderstood(u, viewer);
    }
    a ??= await answerFor(parsed, viewer);
    const blocks = a.charts.length ? [...a.blocks, contextBlock(texts(parsed.lang).chartsByDm)] : a.blocks;
    await respond({ response_type: 'ephemeral', text: a.text, blocks });
    if (a.charts.length) {
      try {
        // The answer is ephemeral (only the asker sees it): its charts go to the asker's DM with
        // the bot, never into the channel, where everyone would see what only they asked for.
        const dm = await dmWith(client, viewer.userId);
        await uploadCharts(client, a.charts, { channel: dm, userId: viewer.userId });
      } catch (err) {
        log.error({ err, actor: viewer.actor }, 'chart upload failed');
        await respond({ response_type: 'ephemeral', text: texts(parsed.lang).chartFailed });
      }
    }
  });

  async function answerMessage(client: WebClient, viewer: Viewer, e: { text: string; channel: string; ts: string; threadTs?: string | undefined }): Promise<void> {
    const a = await understood(e.text, viewer);
    await client.chat.postMessage({ channel: e.channel, ...(e.threadTs ? { thread_ts: e.threadTs } : {}), text: a.text, blocks: a.blocks, unfurl_links: false });
    if (a.charts.length) await uploadCharts(client, a.charts, { channel: e.channel, threadTs: e.threadTs, userId: viewer.userId });
  }

  app.event('app_mention', async ({ event, client, context }) => {
    // In a DM the same text also arrives as message.im, which answers it.
    if (event.channel.startsWith('D')) return;
    const viewer = viewerOf(context);
    await answerMessage(client, viewer, { text: event.text, channel: event.channel, ts: event.ts, threadTs: event.thread_ts ?? event.ts });
  });

  app.event('message', async ({ event, client, context }) => {
    if (event.channel_type !== 'im' || event.subtype !== undefined || 'bot_id' in event) return;
    const viewer = viewerOf(context);
    await answerMessage(client, viewer, { text: event.text ?? '', channel: event.channel, ts: event.ts });
  });

  app.action(new RegExp(`^(${Object.keys(DIGEST_ACTIONS).join('|')})$`), async ({ ack, action, body, client, context, respond }) => {
    await ack();
    if (action.type !== 'button' || !('action_id' in action) || body.type !== 'block_actions') return;
    const viewer = viewerOf(context);
    const note = await handleDigestClick(
      { ...digestDeps, client },
      {
        actionId: action.action_id as DigestActionId,
        value: action.value ?? '',
        actor: viewer.actor,
        slackUserId: viewer.userId,
        channel: body.container?.channel_id as string | undefined,
        ts: body.container?.message_ts as string | undefined,
      },
    );
    if (note) await respond({ response_type: 'ephemeral', replace_original: false, text: note });
  });

  // "Did you mean" buttons: the clicker's own access was checked by the middleware, and the
  // intent runs as theirs (admin intents checked and audited in answerIntent). The answer is
  // ephemeral, so only the clicker sees it; charts go to their DM, as for a slash command.
  app.action(ASK_ACTION, async ({ ack, action, client, context, respond }) => {
    await ack();
    if (action.type !== 'button') return;
    const viewer = viewerOf(context);
    const choice = parseChoice(action.value ?? '');
    if (!choice) {
      log.warn({ actor: viewer.actor }, 'did-you-mean button with an invalid value');
      const m = badChoiceMessage('en');
      await respond({ response_type: 'ephemeral', replace_original: false, text: m.text, blocks: m.blocks });
      return;
    }
    log.info({ actor: viewer.actor, intent: choice.intent.kind }, 'did-you-mean chosen');
    const a = await safely(choice.lang, { actor: viewer.actor, intent: choice.intent.kind }, () => answerIntent(deps, choice.intent, choice.lang, viewer));
    const blocks = a.charts.length ? [...a.blocks, contextBlock(texts(choice.lang).chartsByDm)] : a.blocks;
    await respond({ response_type: 'ephemeral', replace_original: false, text: a.text, blocks });
    if (a.charts.length) {
      try {
        await uploadCharts(client, a.charts, { channel: await dmWith(client, viewer.userId), userId: viewer.userId });
      } catch (err) {
        log.error({ err, actor: viewer.actor }, 'chart upload failed');
      }
    }
  });

  return {
    ...(router ? { router } : {}),
    app,
    async start() {
      // Warm the aggregate cache in the background: the first overview after a restart is then instant.
      insights.overview().catch((err: unknown) => log.warn({ err }, 'could not precompute the overview'));
      if (c.SLACK_MODE === 'socket') {
        await app.start();
        log.info('slack bot connected (socket mode)');
        return;
      }
      try {
        const who = await app.client.auth.test();
        log.info({ team: who.team_id, botUser: who.user_id }, 'slack bot ready (http mode, POST /slack/events)');
      } catch (err) {
        // Not fatal: Slack may be unreachable right now; every request re-checks the token.
        log.error({ err }, 'slack auth.test failed: check SLACK_BOT_TOKEN and SLACK_API_URL');
      }
    },
    async stop() {
      if (c.SLACK_MODE === 'socket') await app.stop();
    },
    async postDigest(runId: number) {
      await postDigest({ ...digestDeps, client: app.client, channel: c.SLACK_DIGEST_CHANNEL, lang: o.digestLang ?? 'en' }, runId);
    },
  };
}
