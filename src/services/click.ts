/**
 * Click tracking: the signed links outreach email puts on recommended items, and what a click
 * on one does — record one `email_click` event (through the same `writeBatch` the webhook
 * ingest uses) and name the item's own page, with UTM parameters, as the redirect target.
 *
 * The target is only ever the stored URL of an item we linked: a token names an outreach row and
 * an item under our signature (only delivery mints them), the row must have been emailed, and
 * the item's stored URL must be a plain http(s) URL. Anything else is a NotFoundError or
 * ValidationError, never a redirect somewhere else. The link keeps working after the user's
 * recommendations change (a click often comes days later, after a refresh or the purchase).
 */
import { createHash } from 'node:crypto';
import { signClickToken, type ClickClaims } from '../domain/click-token.js';
import { NotFoundError, ValidationError } from '../domain/errors.js';
import { EmailClickEvent, HttpUrl, MAX_ID_LENGTH, toRecords } from '../domain/events.js';
import type { Queryable } from '../db/client.js';
import { eventKey, writeBatch } from '../store/events.js';

/** The `source` of the events we record ourselves; with the deterministic id, a repeated click is a duplicate. */
export const CLICK_SOURCE = 'rekindle';

/** What signing a link needs: where `/r/<token>` is served, and the secret (the unsubscribe one; the token derives its own key). */
export interface ClickLinks {
  publicBaseUrl: string;
  secret: string;
}

/** `${publicBaseUrl}/r/<token>` for `itemId` in the email of outreach row `outreachId`. */
export function clickUrl(links: ClickLinks, outreachId: number, itemId: string): string {
  return `${links.publicBaseUrl.replace(/\/+$/, '')}/r/${signClickToken(outreachId, itemId, links.secret)}`;
}

/**
 * The tracked link for a recommended item, or `null` when the item has no URL the redirect
 * would follow (none stored, or not a plain http(s) URL): such an item is shown without a link.
 */
export function itemClickUrl(links: ClickLinks, outreachId: number, item: { itemId: string; url?: string | null }): string | null {
  return item.url && isRedirectable(item.url) ? clickUrl(links, outreachId, item.itemId) : null;
}

/**
 * An absolute http(s) URL with a host and no user name or password: `https://shop.test@evil.test/`
 * reads like one site and goes to another, so it is refused even though it parses.
 */
export function isRedirectable(url: string): boolean {
  if (!HttpUrl.safeParse(url).success) return false;
  const u = new URL(url);
  return u.username === '' && u.password === '';
}

const UTM_KEYS = new Set(['utm_source', 'utm_medium', 'utm_campaign', 'utm_content']);

function queryKey(pair: string): string {
  const raw = pair.split('=', 1)[0]!.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/**
 * `url` with `utm_source`, `utm_medium=email`, `utm_campaign` and `utm_content` appended. The
 * existing query is kept byte for byte (no re-encoding of the product's own parameters) except
 * for any of those four keys, which ours replace so the visit is attributed to this email; the
 * fragment is kept.
 */
export function withUtm(url: string, utm: { source: string; campaign: string; content: string }): string {
  const u = new URL(url);
  const kept = u.search
    .slice(1)
    .split('&')
    .filter((p) => p !== '' && !UTM_KEYS.has(queryKey(p)));
  const ours = [
    ['utm_source', utm.source],
    ['utm_medium', 'email'],
    ['utm_campaign', utm.campaign],
    ['utm_content', utm.content],
  ].map(([k, v]) => `${k}=${encodeURIComponent(v!)}`);
  u.search = [...kept, ...ours].join('&');
  return u.href;
}

/** The event id of a click: one per (outreach row, item), within the Id limit (MAX_ID_LENGTH). */
export function clickEventId(outreachId: number, itemId: string): string {
  const id = `click-${outreachId}-${itemId}`;
  return id.length <= MAX_ID_LENGTH ? id : `click-${outreachId}-h${createHash('sha256').update(itemId, 'utf8').digest('hex').slice(0, 32)}`;
}

export interface ClickDeps {
  db: Queryable;
  /** The service clock: the click's `occurred_at` (a simulated clock moves it). */
  now: () => Date;
  /** `utm_source` on redirect targets (config UTM_SOURCE). */
  utmSource: string;
}

export interface ClickResult {
  /** The redirect target: the item's stored URL with UTM parameters. */
  location: string;
  userId: string;
  campaign: string;
  /** True when this click wrote the event; false for a repeat (or when not recording). */
  recorded: boolean;
}

/**
 * Follows a verified click token: checks that the token's outreach row was emailed and the item
 * has a plain http(s) page, records the `email_click` event (unless
 * `record: false`, for HEAD requests link scanners send), and returns the redirect target.
 * @throws NotFoundError for an unknown or never-emailed outreach row, an unknown item, or an
 *   item without a URL
 * @throws ValidationError when the item's stored URL is not a plain http(s) URL
 */
export async function followClick(d: ClickDeps, claims: ClickClaims, opts: { record?: boolean } = {}): Promise<ClickResult> {
  const { outreachId, itemId } = claims;
  const [row] = await d.db.query<{ user_id: string; campaign: string; state: string; holdout: boolean; item_exists: boolean; url: string | null }>(
    `select o.user_id, o.campaign, o.state, o.holdout, i.id is not null as item_exists, i.url
     from outreach o left join items i on i.id = $2
     where o.id = $1`,
    [outreachId, itemId],
  );
  if (!row) throw new NotFoundError(`outreach ${outreachId} does not exist`);
  // Only deliver signs click tokens, right after claiming the row (state sending, then sent).
  if (row.holdout || (row.state !== 'sending' && row.state !== 'sent')) {
    throw new NotFoundError(`outreach ${outreachId} was never emailed (state ${row.state}${row.holdout ? ', holdout' : ''})`);
  }
  if (!row.item_exists) throw new NotFoundError(`item ${itemId} does not exist (click on outreach ${outreachId})`);
  if (!row.url) throw new NotFoundError(`item ${itemId} has no URL (click on outreach ${outreachId})`);
  if (!isRedirectable(row.url)) throw new ValidationError(`item ${itemId} has a stored URL that is not a plain http(s) URL (click on outreach ${outreachId})`);
  const location = withUtm(row.url, { source: d.utmSource, campaign: row.campaign, content: itemId });

  let recorded = false;
  if (opts.record !== false) {
    const event = EmailClickEvent.parse({
      id: clickEventId(outreachId, itemId),
      type: 'email_click',
      user_id: row.user_id,
      item_id: itemId,
      occurred_at: d.now().toISOString(),
    });
    const r = toRecords(event, CLICK_SOURCE);
    const inserted = await writeBatch(d.db, { events: [r.event], users: [r.user], items: r.item ? [r.item] : [] });
    recorded = inserted.has(eventKey(r.event.source, r.event.eventId));
  }
  return { location, userId: row.user_id, campaign: row.campaign, recorded };
}
