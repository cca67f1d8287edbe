/**
 * `GET /unsubscribe?token=…` shows a confirmation page; `POST /unsubscribe?token=…` (the
 * RFC 8058 one-click request mail clients send, or the page's button) unsubscribes at once.
 * A tampered or malformed token gets a clear page and changes nothing.
 */
import express, { type Router } from 'express';
import { verifyUnsubscribeToken } from '../domain/unsubscribe-token.js';
import type { Queryable } from '../db/client.js';
import { unsubscribe } from '../services/unsubscribe.js';

const page = (title: string, body: string) => `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${title}</title>
<style>body{font-family:system-ui,-apple-system,"PingFang SC","Noto Sans SC",sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222;line-height:1.6}button{font-size:1rem;padding:.6rem 1.4rem;border:0;border-radius:.4rem;background:#c0392b;color:#fff;cursor:pointer}</style>
</head><body>${body}</body></html>`;

const INVALID = page(
  'Invalid link · 链接无效',
  `<h1>This unsubscribe link is not valid</h1><p>It may have been altered or cut off, so nothing was changed. Please open the unsubscribe link at the bottom of the email again; if your mail app breaks it across lines, copy the whole link into your browser's address bar.</p>
<h1>退订链接无效</h1><p>链接可能被修改或不完整，因此没有做任何更改。请重新打开邮件底部的退订链接；如果邮件应用把链接截断了，请把完整链接复制到浏览器地址栏中打开。</p>`,
);

const escapeAttr = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export interface UnsubscribeDeps {
  db: Queryable;
  /** The secret, or every accepted one during a rotation (the first signs; any verifies). */
  secret: string | readonly string[];
  /**
   * PUBLIC_BASE_URL: the confirmation form posts there, so a path prefix in front of us (a
   * reverse proxy at https://example.com/retain/) is kept. Unset: a root-relative form.
   */
  publicBaseUrl?: string | undefined;
  now?: () => number;
  onUnsubscribed?: () => void;
}

export function unsubscribeRouter(d: UnsubscribeDeps): Router {
  const router = express.Router();
  const action = `${escapeAttr((d.publicBaseUrl ?? '').replace(/\/+$/, ''))}/unsubscribe?token=`;
  const form = express.urlencoded({ extended: false, limit: '4kb' });

  router.get('/unsubscribe', (req, res) => {
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    if (!verifyUnsubscribeToken(token, d.secret)) {
      res.status(400).type('html').send(INVALID);
      return;
    }
    // The token goes back only as a form field value; base64url cannot break out of the attribute.
    res
      .status(200)
      .type('html')
      .send(
        page(
          'Unsubscribe · 退订',
          `<h1>Stop these emails? · 不再接收这类邮件？</h1>
<p>You will no longer receive win-back emails or coupons from us. · 你将不再收到我们的召回邮件和优惠券。</p>
<form method="post" action="${action}${token}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe · 退订</button></form>`,
        ),
      );
  });

  router.post('/unsubscribe', form, async (req, res, next) => {
    try {
      const token = typeof req.query.token === 'string' ? req.query.token : '';
      const userId = verifyUnsubscribeToken(token, d.secret);
      if (!userId) {
        res.status(400).type('html').send(INVALID);
        return;
      }
      await unsubscribe(d.db, userId, new Date((d.now ?? Date.now)()));
      d.onUnsubscribed?.();
      res.status(200).type('html').send(page('Unsubscribed · 已退订', `<h1>You are unsubscribed · 已退订</h1><p>You will no longer receive win-back emails or coupons from us. · 你将不再收到我们的召回邮件和优惠券。</p>`));
    } catch (e) {
      next(e);
    }
  });
  return router;
}
