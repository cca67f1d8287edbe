/** Real HTTP on loopback: start an express app on port 0 and post signed deliveries to it. */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { Express } from 'express';
import { Webhook } from 'standardwebhooks';

export interface Running {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function listen(app: Express | Parameters<typeof createServer>[1]): Promise<Running> {
  const server = createServer(app as Parameters<typeof createServer>[1]);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A secret in the Standard Webhooks format. */
export const TEST_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
export const ROTATED_SECRET = 'whsec_dGhpcyBpcyBhIHNlY29uZCBzZWNyZXQhIQ==';

let seq = 0;

/** Signs with the `standardwebhooks` package (an implementation independent of ours). */
export function signedHeaders(body: string, opts: { secret?: string; id?: string; at?: Date } = {}): Record<string, string> {
  const id = opts.id ?? `msg_${Date.now()}_${++seq}`;
  const at = opts.at ?? new Date();
  const signature = new Webhook(opts.secret ?? TEST_SECRET).sign(id, at, body);
  return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signature };
}

export async function postSigned(
  url: string,
  payload: unknown,
  opts: { secret?: string; at?: Date; contentType?: string; raw?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any }> {
  const body = opts.raw ?? JSON.stringify(payload);
  const res = await fetch(`${url}/webhooks/events`, {
    method: 'POST',
    headers: { 'content-type': opts.contentType ?? 'application/json', ...signedHeaders(body, opts), ...opts.headers },
    body,
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* keep the text: a test asserting on it will show it */
  }
  return { status: res.status, body: json };
}
