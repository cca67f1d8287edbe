/**
 * Issue #16: docker-compose.yml and the Dockerfile, checked without Docker (CI has no daemon and
 * no network beyond npm): the compose file parses and keeps to the shape Compose accepts for what
 * we use, works from a clean checkout (no required .env, every interpolation has a default), every
 * variable it sets is one Rekindle reads, every command it runs exists, and the image runs the
 * compiled entry point that `npm run build` emits.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configDefaults, loadConfig } from '../../../src/config.js';

const root = join(import.meta.dirname, '../../..');
const read = (f: string) => readFileSync(join(root, f), 'utf8');

const Condition = z.enum(['service_started', 'service_healthy', 'service_completed_successfully']);
const Service = z
  .object({
    image: z.string().optional(),
    build: z.union([z.string(), z.object({ context: z.string(), dockerfile: z.string().optional() }).strict()]).optional(),
    command: z.array(z.string()).min(1).optional(),
    environment: z.record(z.string(), z.string()).optional(),
    env_file: z.array(z.object({ path: z.string(), required: z.boolean() }).strict()).optional(),
    depends_on: z.record(z.string(), z.object({ condition: Condition }).strict()).optional(),
    ports: z.array(z.string().regex(/^\d+:\d+$/)).optional(),
    volumes: z.array(z.string().regex(/^[a-z0-9_-]+:\/[\w/.-]+$/)).optional(),
    healthcheck: z.object({ test: z.array(z.string()).min(2), interval: z.string().regex(/^\d+s$/), retries: z.number().int().positive() }).strict().optional(),
    stop_grace_period: z.string().regex(/^\d+s$/).optional(),
  })
  .strict()
  .refine((s) => s.image !== undefined || s.build !== undefined, 'a service needs an image or a build');
const Compose = z
  .object({
    services: z.record(z.string(), Service),
    volumes: z.record(z.string(), z.null()).optional(),
  })
  .catchall(z.unknown())
  .refine((c) => Object.keys(c).every((k) => k === 'services' || k === 'volumes' || k.startsWith('x-')), 'top-level keys: services, volumes and x- extensions only');

const text = read('docker-compose.yml');
const compose = Compose.parse(parse(text, { merge: true }));
const ours = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);

describe('docker-compose.yml', () => {
  it('runs from a clean checkout: .env is optional and every ${VAR} has a default', () => {
    const interpolations = [...text.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1]!);
    expect(interpolations.length).toBeGreaterThan(0);
    for (const v of interpolations) expect(v, `\${${v}}`).toMatch(/^[A-Z_][A-Z0-9_]*:-/);
    expect(ours.length).toBeGreaterThanOrEqual(3);
    for (const [name, s] of ours) {
      expect(s.env_file, name).toEqual([{ path: '.env', required: false }]);
    }
  });

  it('every service it depends on exists, and the one-shot migration gates the app and the worker', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const dep of Object.keys(s.depends_on ?? {})) expect(Object.keys(compose.services), `${name} depends on ${dep}`).toContain(dep);
    }
    for (const name of ['app', 'worker']) expect(compose.services[name]!.depends_on?.migrate).toEqual({ condition: 'service_completed_successfully' });
    expect(compose.services.migrate!.command).toEqual(['migrate']);
    for (const [, s] of Object.entries(compose.services)) {
      for (const v of s.volumes ?? []) expect(Object.keys(compose.volumes ?? {})).toContain(v.slice(0, v.indexOf(':')));
    }
  });

  it('sets only variables Rekindle reads, with values its config accepts, and runs commands the CLI has', () => {
    const known = new Set(Object.keys(configDefaults()));
    const commands = new Set([...read('src/cli.ts').matchAll(/\.command\('([a-z-]+)/g)].map((m) => m[1]!));
    expect(commands).toContain('doctor');
    for (const [name, s] of ours) {
      const env = Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, v.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1')]));
      for (const k of Object.keys(env)) expect(known, `${name}: ${k}`).toContain(k);
      expect(() => loadConfig(env), name).not.toThrow();
      expect(commands, `${name}: ${s.command?.[0]}`).toContain(s.command?.[0]);
    }
    // `cp .env.example .env` as the README says: compose's own variables win over the file's.
    const example = Object.fromEntries(
      read('.env.example')
        .split('\n')
        .filter((l) => /^[A-Z][A-Z0-9_]*=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const app = Object.fromEntries(Object.entries(compose.services.app!.environment ?? {}).map(([k, v]) => [k, v.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1')]));
    expect(loadConfig({ ...example, ...app }).DATABASE_URL).toBe('postgres://rekindle:rekindle@postgres:5432/rekindle');
    // The README's `docker compose run --rm app doctor`: the app service is the HTTP server.
    expect(compose.services.app!.command).toEqual(['serve']);
    expect(compose.services.app!.ports).toContain('3000:3000');
  });

  it('the Redis it runs keeps jobs: append-only file and noeviction (what doctor checks)', () => {
    expect(compose.services.redis!.command).toEqual(expect.arrayContaining(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']));
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter(Boolean);

  it('runs the compiled entry point that bin/build.js emits, not the TypeScript sources', () => {
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "dist\/src\/cli\.js"\]$/m);
    expect(dockerfile).toMatch(/^RUN node bin\/build\.js dist$/m);
    expect(read('bin/build.js')).toContain("join(root, 'dist')");
    expect(JSON.parse(read('package.json')).scripts.start).toBe('node dist/src/cli.js serve');
    // The final stage copies no sources.
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(final).not.toMatch(/COPY (src|jobs|bin|templates)\b/);
    expect(final).not.toMatch(/tsx/);
  });

  it('copies only files that exist and that .dockerignore lets through', () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    expect(sources.length).toBeGreaterThan(5);
    for (const s of sources) {
      expect(existsSync(join(root, s)), s).toBe(true);
      expect(ignored, s).not.toContain(s);
    }
  });
});
