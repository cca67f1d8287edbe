#!/usr/bin/env node
// `npm run build [-- <outDir>]`: compiles src/ and jobs/ to JavaScript (tsconfig.build.json) and
// copies what the code reads at run time beside it — the SQL migrations (read next to
// src/db/migrate.js) and the email templates (read at <outDir>/templates) — so
// `node <outDir>/src/cli.js` runs without tsx. The image and `npm start` run dist/.
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = resolve(process.argv[2] ?? join(root, 'dist'));
const tsc = join(root, 'node_modules/typescript/bin/tsc');

rmSync(outDir, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', outDir], { stdio: 'inherit' });
cpSync(join(root, 'src/db/migrations'), join(outDir, 'src/db/migrations'), { recursive: true });
cpSync(join(root, 'templates'), join(outDir, 'templates'), { recursive: true });
process.stdout.write(`built ${outDir}\n`);
