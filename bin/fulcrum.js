#!/usr/bin/env node
// The `fulcrum` bin. Fulcrum is TypeScript run by Node's type stripping (Node 26, pinned through the npm
// package `node`); when the Node running this file is older, re-run under the project's own Node 26.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const major = Number(process.versions.node.split('.')[0]);
if (major >= 26) {
  await import(main);
} else {
  const local = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(local)) {
    process.stderr.write('fulcrum needs Node.js 26: run `npm ci` in the fulcrum directory first\n');
    process.exit(2);
  }
  const r = spawnSync(local, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
