/**
 * The demo's Redis: the one at REDIS_URL when it answers; otherwise, when that address is on
 * this machine and `redis-server` is on the PATH, a private one on a free loopback port, with no
 * persistence, that lives as long as the demo; otherwise one clear message with the command to
 * run. Probing never lets ioredis print its "Unhandled error event" stacks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig } from '../config.js';
import { ExternalError } from '../domain/errors.js';

/** Whether a Redis answers PING at `url` within `timeoutMs`: `null` when it does, else why not. */
export async function probeRedis(url: string, timeoutMs = 1500): Promise<string | null> {
  const redis = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs });
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => (lastError = err)); // reported below, once, in our words
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect().then(() => redis.ping()),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
    ]);
    return null;
  } catch (e) {
    const err = (e as Error).message.includes('Connection is closed') && lastError ? lastError : (e as Error);
    return (err as NodeJS.ErrnoException).code ?? err.message;
  } finally {
    clearTimeout(timer);
    redis.disconnect();
  }
}

/** The full path of `command` in the directories of `pathVar`, or null. */
export function findOnPath(command: string, pathVar: string | undefined): string | null {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export interface DemoRedis {
  /** The environment the demo runs with: REDIS_URL points at the private server when one was started. */
  env: Record<string, string | undefined>;
  /** The private server's URL, or null when the configured Redis answered. */
  started: string | null;
  stop(): Promise<void>;
}

/**
 * The Redis the demo will use (see the module comment). Throws an `ExternalError` whose message
 * is everything a person needs: what was tried and the command to run.
 */
export async function ensureDemoRedis(env: Record<string, string | undefined>, say: (line: string) => void): Promise<DemoRedis> {
  const url = loadConfig(env).REDIS_URL;
  const why = await probeRedis(url);
  if (why === null) return { env, started: null, stop: async () => {} };
  const target = new URL(url);
  const port = target.port || '6379';
  const startCommand = `redis-server --daemonize yes --port ${port} --save "" --appendonly no`;
  if (!LOOPBACK.has(target.hostname)) {
    throw new ExternalError(`No Redis answers at ${target.host} (REDIS_URL; ${why}). Start that Redis, or unset REDIS_URL to use one on this machine.`, true);
  }
  const binary = findOnPath('redis-server', env.PATH);
  if (!binary) {
    throw new ExternalError(
      `No Redis answers at ${target.host} (${why}) and redis-server is not on the PATH, so the demo cannot start one of its own. Install Redis (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis), then run:\n  ${startCommand}\nor point REDIS_URL at a Redis you have.`,
      true,
    );
  }
  const own = await startPrivateRedis(binary);
  say(`no Redis answers at ${target.host}: started a private one for this demo (${binary}, 127.0.0.1:${own.port}, no persistence); it stops when the demo ends`);
  return { env: { ...env, REDIS_URL: own.url }, started: own.url, stop: own.stop };
}

/** `redis-server` on a free loopback port, nothing written to disk, stopped with the demo (or with this process). */
export async function startPrivateRedis(binary: string, opts: { args?: string[] } = {}): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--maxmemory-policy', 'noeviction', '--loglevel', 'warning', ...(opts.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: tmpdir(), // nothing is written, but a CONFIG SET never writes into the checkout either
  });
  let output = '';
  child.stdout?.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-2000)));
  child.stderr?.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-2000)));
  let exited = false;
  const exit = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  child.once('error', (err) => (output += `\n${err.message}`));
  // A demo that ends any other way (an error, Ctrl-C, SIGTERM) must not leave the server behind.
  const onExit = () => void child.kill('SIGTERM');
  const onSignal = (signal: NodeJS.Signals) => {
    child.kill('SIGTERM');
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const stop = async () => {
    process.removeListener('exit', onExit);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exit;
      clearTimeout(timer);
    }
  };
  const deadline = Date.now() + 5000;
  while ((await probeRedis(url, 500)) !== null) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new ExternalError(`could not start a private Redis with ${binary} on port ${port}: ${output.trim() || 'it did not answer within 5 s'}`, true);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, port, stop };
}
