/**
 * `GET /r/<token>`: the tracked item links in outreach email. A valid token records the click
 * and answers 302 to the item's own page (with UTM parameters); a tampered, malformed or
 * unknown token gets a small page saying the link is not valid — never a redirect, never a 500.
 */
import express, { type ErrorRequestHandler, type Response, type Router } from 'express';
import { verifyClickToken } from '../domain/click-token.js';
import { AppError } from '../domain/errors.js';
import type { Queryable } from '../db/client.js';
import type { Logger } from '../logger.js';
import { followClick } from '../services/click.js';

const INVALID = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>Invalid link · 链接无效</title>
<style>body{font-family:system-ui,-apple-system,"PingFang SC","Noto Sans SC",sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222;line-height:1.6}</style>
</head><body><h1>This link is not valid</h1><p>It may have been altered or cut off, or what it pointed to is no longer available. Please use the link from the email exactly as it was sent, or open the app.</p>
<h1>链接无效</h1><p>链接可能被修改或不完整，或者它指向的内容已不再提供。请使用邮件中的原始链接，或直接打开 App。</p></body></html>`;

function invalid(res: Response, status: 400 | 404): void {
  res.status(status).set('Cache-Control', 'no-store').type('html').send(INVALID);
}

export interface RedirectDeps {
  db: Queryable;
  /** The unsubscribe secret (or several during a rotation): click tokens derive their own key from it. */
  secret: string | readonly string[];
  /** `utm_source` on redirect targets (config UTM_SOURCE). */
  utmSource: string;
  /** The app's clock, for the click's `occurred_at`. */
  now?: () => number;
  log?: Logger;
}

export function redirectRouter(d: RedirectDeps): Router {
  const router = express.Router();
  const now = d.now ?? Date.now;

  router.get('/r/:token', async (req, res, next) => {
    const claims = verifyClickToken(req.params.token, d.secret);
    if (!claims) {
      invalid(res, 400);
      return;
    }
    try {
      // Link scanners in mail gateways often probe with HEAD; only a GET counts as a click.
      const r = await followClick({ db: d.db, now: () => new Date(now()), utmSource: d.utmSource }, claims, { record: req.method !== 'HEAD' });
      // no-store: every click reaches us; no-referrer: the token stays out of the item site's logs.
      res.set('Cache-Control', 'no-store').set('Referrer-Policy', 'no-referrer').redirect(302, r.location);
    } catch (e) {
      if (e instanceof AppError && (e.code === 'not_found' || e.code === 'validation')) {
        d.log?.info({ outreachId: claims.outreachId, reason: e.message }, 'click link refused');
        invalid(res, e.code === 'not_found' ? 404 : 400);
        return;
      }
      next(e);
    }
  });
  // A link cut off at the slash, or with extra path segments, is an invalid link too.
  router.get('/r{/*rest}', (_req, res) => invalid(res, 404));
  // Bad percent-encoding in the token fails in the router before the handler runs (a 400 URIError).
  const badParam: ErrorRequestHandler = (err: unknown, _req, res, next) => {
    if ((err as { status?: number }).status === 400) invalid(res, 400);
    else next(err);
  };
  router.use('/r', badParam);
  return router;
}
