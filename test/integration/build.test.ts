/**
 * Issue #16: `npm run build` emits JavaScript that runs without tsx — the CLI, the migrations it
 * reads from beside src/db/migrate.js and the email templates it reads from <outDir>/templates —
 * which is what the image and `npm start` run.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
// Inside the checkout, so the build resolves node_modules like dist/ does (.data/ is git-ignored).
const out = join(import.meta.dirname, '../../.data', `build-test-${randomBytes(4).toString('hex')}`);

describe('npm run build', () => {
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('emits a CLI that migrates a database and renders an email with plain node', async () => {
    await run(process.execPath, ['bin/build.js', out]);
    expect(existsSync(join(out, 'src/cli.js'))).toBe(true);
    expect(existsSync(join(out, 'src/cli.ts'))).toBe(false);

    const env: Record<string, string | undefined> = { ...process.env, PGLITE_DIR: join(mkdtempSync(join(tmpdir(), 'rk-build-')), 'pglite') };
    delete env.DATABASE_URL;
    delete env.NODE_OPTIONS; // no tsx loader sneaking in
    const migrated = await run(process.execPath, [join(out, 'src/cli.js'), 'migrate', '--json'], { env });
    const r = JSON.parse(migrated.stdout) as { applied: number; total: number; database: string };
    expect(r.database).toBe('pglite');
    expect(r.total).toBeGreaterThan(0);
    expect(r.applied).toBe(r.total);

    const script = `
      const { createEmailRenderer } = await import(${JSON.stringify(join(out, 'src/outreach/templates.js'))});
      const email = createEmailRenderer().render({
        kind: 'coupon', locale: 'en', timeZone: 'UTC', user: { name: 'Ada', email: 'ada@example.com' },
        recommendations: [{ itemId: 'i1', title: 'Statistics 101', reason: { kind: 'popular' } }],
        coupon: { code: 'BUILD-TEST', kind: 'percent', value: 20, currency: null, expiresAt: new Date('2026-01-15T00:00:00Z') },
        unsubscribeUrl: 'https://example.com/unsubscribe?token=t', now: new Date('2026-01-01T00:00:00Z'),
      });
      console.log(JSON.stringify(email));
    `;
    const rendered = await run(process.execPath, ['--input-type=module', '-e', script], { env });
    const email = JSON.parse(rendered.stdout) as { subject: string; text: string; html: string };
    expect(email.subject).toContain('Ada');
    expect(email.text).toContain('BUILD-TEST');
    expect(email.text).toContain('Statistics 101');
    expect(email.text).toContain('https://example.com/unsubscribe?token=t');
    expect(email.html).toContain('BUILD-TEST');
  }, 90_000);
});
