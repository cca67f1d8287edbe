/**
 * Who may ask the bot what. One global Bolt middleware checks every command, event and
 * button click against the workspace, channel and user allowlists (an empty list lets
 * everyone through), refuses politely and ephemerally, audits the refusal, and otherwise puts
 * a {@link Viewer} in the context: whether this reader may see personal data and whether they
 * are an admin. Admin intents are checked where they run (answers.ts), with the viewer.
 *
 * Direct messages with the bot are not subject to the channel allowlist: only the asker
 * reads the answer there, and they passed the user allowlist. In shared channels (app
 * mentions) personal data is always masked, since the other members were never vetted.
 *
 * The workspace allowlist checks the author's own team (`user_team`, an event's `team`, a
 * click's `user.team_id`) as well as the workspace the request came through: in a Slack
 * Connect channel a guest from another organisation arrives through our workspace, and user
 * ids are only unique within an organisation, so the user allowlist alone would not stop them.
 */
import type { AnyMiddlewareArgs, Middleware } from '@slack/bolt';
import { z } from 'zod';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Queryable } from '../db/client.js';
import { audit } from '../services/audit.js';
import { texts } from './blocks.js';
import { detectLang, type Lang } from './intent.js';

export interface AccessPolicy {
  readonly teams: ReadonlySet<string>;
  readonly channels: ReadonlySet<string>;
  readonly users: ReadonlySet<string>;
  readonly piiUsers: ReadonlySet<string>;
  readonly adminUsers: ReadonlySet<string>;
}

export function policyFromConfig(c: Pick<Config, 'SLACK_ALLOWED_TEAMS' | 'SLACK_ALLOWED_CHANNELS' | 'SLACK_ALLOWED_USERS' | 'SLACK_PII_USERS' | 'SLACK_ADMIN_USERS'>): AccessPolicy {
  return {
    teams: new Set(c.SLACK_ALLOWED_TEAMS),
    channels: new Set(c.SLACK_ALLOWED_CHANNELS),
    users: new Set(c.SLACK_ALLOWED_USERS),
    piiUsers: new Set(c.SLACK_PII_USERS),
    adminUsers: new Set(c.SLACK_ADMIN_USERS),
  };
}

/** Where a request came from. */
export interface Requester {
  kind: 'command' | 'event' | 'action' | 'other';
  /** e.g. `/retain`, `app_mention`, `digest_claim`. */
  name: string;
  /** The author's own team (workspace); for a Slack Connect guest, their home workspace. */
  teamId: string | undefined;
  /** The workspace the request came through (the payload's `team_id`). */
  workspaceId: string | undefined;
  channelId: string | undefined;
  userId: string | undefined;
  /** A direct message with the bot. */
  isDm: boolean;
  /** Text to pick the refusal's language from. */
  text: string;
}

export type DenyReason = 'team' | 'channel' | 'user';

export type AccessDecision = { ok: true } | { ok: false; reason: DenyReason };

/**
 * The allowlists, in order: workspace (the author's team and, when known, the workspace the
 * request came through), user, then channel (DMs exempt).
 */
export function checkAccess(p: AccessPolicy, r: Pick<Requester, 'teamId' | 'channelId' | 'userId' | 'isDm'> & { workspaceId?: string | undefined }): AccessDecision {
  if (p.teams.size > 0) {
    if (r.teamId === undefined || !p.teams.has(r.teamId)) return { ok: false, reason: 'team' };
    if (r.workspaceId !== undefined && !p.teams.has(r.workspaceId)) return { ok: false, reason: 'team' };
  }
  if (r.userId === undefined || (p.users.size > 0 && !p.users.has(r.userId))) return { ok: false, reason: 'user' };
  if (p.channels.size > 0 && !r.isDm && (r.channelId === undefined || !p.channels.has(r.channelId))) return { ok: false, reason: 'channel' };
  return { ok: true };
}

/** What the listeners know about the reader, set by {@link accessMiddleware}. */
export interface Viewer {
  /** `slack:<team>/<user>`: the audit actor. */
  actor: string;
  teamId: string | undefined;
  channelId: string | undefined;
  userId: string;
  isDm: boolean;
  /** May see names and emails unmasked (where the answer is private to them). */
  pii: boolean;
  admin: boolean;
}

export const VIEWER_KEY = 'rekindleViewer';

export function actorOf(teamId: string | undefined, userId: string | undefined): string {
  return `slack:${teamId ?? '-'}/${userId ?? '-'}`;
}

const id = z.string().min(1).max(64).optional();
const CommandBody = z.object({ command: z.string(), team_id: id, user_team: id, channel_id: id, user_id: id, text: z.string().default('') });
const EventBody = z.object({
  team_id: id,
  event: z.object({ type: z.string(), user: id, user_team: id, team: id, channel: id, channel_type: z.string().optional(), text: z.string().optional() }),
});
const ActionBody = z.object({
  type: z.string(),
  team: z.object({ id }).nullish(),
  user: z.object({ id, team_id: id }),
  channel: z.object({ id }).nullish(),
  container: z.object({ channel_id: id }).partial().nullish(),
  actions: z.array(z.object({ action_id: z.string() })).default([]),
  message: z.object({ text: z.string().optional() }).nullish(),
});

/** Reads the requester from any payload Bolt hands the middleware. */
export function requesterOf(body: unknown): Requester {
  const c = CommandBody.safeParse(body);
  if (c.success) {
    const channel = c.data.channel_id;
    return {
      kind: 'command',
      name: c.data.command,
      teamId: c.data.user_team ?? c.data.team_id,
      workspaceId: c.data.team_id,
      channelId: channel,
      userId: c.data.user_id,
      isDm: channel?.startsWith('D') ?? false,
      text: c.data.text,
    };
  }
  const e = EventBody.safeParse(body);
  if (e.success) {
    const ev = e.data.event;
    return {
      kind: 'event',
      name: ev.type,
      // `user_team` on mentions, `team` on messages: the author's home workspace.
      teamId: ev.user_team ?? ev.team ?? e.data.team_id,
      workspaceId: e.data.team_id,
      channelId: ev.channel,
      userId: ev.user,
      isDm: ev.channel_type === 'im' || (ev.channel?.startsWith('D') ?? false),
      text: ev.text ?? '',
    };
  }
  const a = ActionBody.safeParse(body);
  if (a.success) {
    const channel = a.data.channel?.id ?? a.data.container?.channel_id;
    return {
      kind: 'action',
      name: a.data.actions[0]?.action_id ?? a.data.type,
      teamId: a.data.user.team_id ?? a.data.team?.id,
      workspaceId: a.data.team?.id ?? undefined,
      channelId: channel,
      userId: a.data.user.id,
      isDm: channel?.startsWith('D') ?? false,
      text: a.data.message?.text ?? '',
    };
  }
  return { kind: 'other', name: 'unknown', teamId: undefined, workspaceId: undefined, channelId: undefined, userId: undefined, isDm: false, text: '' };
}

export function refusalText(reason: DenyReason, lang: Lang): string {
  return texts(lang).denied[reason];
}

/**
 * The access middleware. Refusals are acknowledged at once (commands and clicks must be
 * acked within 3 s), answered ephemerally, and audited as `access.denied`.
 */
export function accessMiddleware(d: { policy: AccessPolicy; db: Queryable; log: Logger }): Middleware<AnyMiddlewareArgs> {
  return async (args) => {
    const { body, context, client, next } = args;
    const r = requesterOf(body);
    if (r.kind === 'other') {
      await next();
      return;
    }
    // Events the bot never answers: no user (bot messages, edits) or channel chatter (only DMs
    // and mentions are questions). Dropped silently rather than refused, so nobody is nagged.
    if (r.kind === 'event' && (r.userId === undefined || (r.name === 'message' && !r.isDm))) return;
    const decision = checkAccess(d.policy, r);
    if (decision.ok) {
      const userId = r.userId as string;
      const viewer: Viewer = {
        actor: actorOf(r.teamId, userId),
        teamId: r.teamId,
        channelId: r.channelId,
        userId,
        isDm: r.isDm,
        // Slash-command answers are ephemeral and DMs private; mentions answer in a shared thread.
        pii: d.policy.piiUsers.has(userId) && (r.kind !== 'event' || r.isDm),
        admin: d.policy.adminUsers.has(userId),
      };
      context[VIEWER_KEY] = viewer;
      await next();
      return;
    }
    const lang = detectLang(r.text);
    const message = refusalText(decision.reason, lang);
    const a = args as unknown as { ack?: (m?: unknown) => Promise<void>; respond?: (m: unknown) => Promise<unknown> };
    if (a.ack) await a.ack();
    d.log.info({ reason: decision.reason, kind: r.kind, name: r.name, team: r.teamId, workspace: r.workspaceId, channel: r.channelId, user: r.userId }, 'slack request refused');
    await audit(d.db, {
      actor: actorOf(r.teamId, r.userId),
      action: 'access.denied',
      target: `${r.kind}:${r.name}`,
      allowed: false,
      details: { reason: decision.reason, teamId: r.teamId ?? null, workspaceId: r.workspaceId ?? null, channelId: r.channelId ?? null },
    });
    if (a.respond) {
      await a.respond({ response_type: 'ephemeral', replace_original: false, text: message });
    } else if (r.channelId && r.userId) {
      if (r.isDm) await client.chat.postMessage({ channel: r.channelId, text: message });
      else await client.chat.postEphemeral({ channel: r.channelId, user: r.userId, text: message });
    }
  };
}

/** The viewer the access middleware put in the context (listeners run only after it). */
export function viewerOf(context: Record<string, unknown>): Viewer {
  const v = context[VIEWER_KEY] as Viewer | undefined;
  if (!v) throw new Error('no viewer in the Bolt context: the access middleware must run before listeners');
  return v;
}
