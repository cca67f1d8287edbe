/**
 * Issue #16, the first run as a person sees it: the demo on a pseudo-terminal prints its story
 * and no JSON log lines; with no Redis at REDIS_URL it starts a private redis-server (and stops
 * it); with no redis-server either it fails with one message and the command to run.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { probeRedis } from '../../src/cli/demo-redis.js';
import { uniquePrefix } from '../support/jobs.js';

const run = promisify(execFile);

/** A loopback port nobody listens on (taken and released). */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function demoEnv(dir: string, redisPort: number): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    PGLITE_DIR: join(dir, 'pglite'),
    OUTBOX_DIR: join(dir, 'outbox'),
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    QUEUE_PREFIX: uniquePrefix(),
  };
  // What a newcomer has: no database URL, no log settings.
  for (const k of ['DATABASE_URL', 'LOG_LEVEL', 'LOG_FORMAT', 'NO_COLOR', 'CI']) delete env[k];
  return env;
}

describe('rekindle demo, as a person runs it', () => {
  it('on a terminal with no Redis at REDIS_URL: starts a private redis-server, tells the story without JSON logs, and stops it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rk-demo-tty-'));
    const port = await unusedPort();
    // script(1) runs the demo on a pseudo-terminal: stdout and stderr are both TTYs, as in a shell.
    const cmd = `${process.execPath} bin/rekindle.js demo --users 300 --seed 2`;
    const r = await run('script', ['-q', '-e', '-c', cmd, '/dev/null'], { env: demoEnv(dir, port), maxBuffer: 16 * 1024 * 1024 });
    const lines = r.stdout.replace(/\r/g, '').split('\n');

    const started = lines.find((l) => l.startsWith(`no Redis answers at 127.0.0.1:${port}: started a private one for this demo`));
    expect(started).toBeDefined();
    expect(lines.some((l) => l.startsWith('Rekindle demo — done in'))).toBe(true);
    expect(lines.some((l) => /^Cycle c\d+-[0-9a-f]+: \d+ planned, \d+ held out to measure uplift, \d+ sent, 0 failed/.test(l))).toBe(true);
    // No machine log line anywhere on the console.
    const jsonLines = lines.filter((l) => /^\s*\{.*"level"\s*:/.test(l) || /"msg"\s*:/.test(l));
    expect(jsonLines).toEqual([]);
    expect(r.stdout).not.toMatch(/ioredis/);

    // The private server is gone with the demo.
    const privatePort = /127\.0\.0\.1:(\d+), no persistence/.exec(started!)?.[1];
    expect(privatePort).toBeDefined();
    expect(Number(privatePort)).not.toBe(port);
    expect(await probeRedis(`redis://127.0.0.1:${privatePort}`, 500)).not.toBeNull();
  }, 120_000);

  it('with no Redis and no redis-server on the PATH: one message with the command to run, exit 1, no stack', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rk-demo-nored-'));
    const port = await unusedPort();
    const env = { ...demoEnv(dir, port), PATH: join(dir, 'empty-bin') };
    const r = await run(process.execPath, ['bin/rekindle.js', 'demo', '--users', '300'], { env }).then(
      () => {
        throw new Error('the demo should have failed');
      },
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `rekindle: No Redis answers at 127.0.0.1:${port} (ECONNREFUSED) and redis-server is not on the PATH, so the demo cannot start one of its own. ` +
        `Install Redis (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis), then run:\n` +
        `  redis-server --daemonize yes --port ${port} --save "" --appendonly no\n` +
        `or point REDIS_URL at a Redis you have.\n`,
    );
  }, 60_000);
});
