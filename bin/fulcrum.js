#!/usr/bin/env node
// The `fulcrum` bin. Fulcrum is TypeScript run by Node's type stripping (Node 26, pinned through the npm
// package `node`); when the Node running this file is older, re-run under the project's own Node 26.
// The compile cache keeps stripped and compiled modules on disk: later starts skip the TypeScript
// transform entirely, which also keeps its ~25 MB out of the balancer's resident memory.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const major = Number(process.versions.node.split('.')[0]);
if (major >= 26) {
  module.enableCompileCache?.();
  await import(main);
} else {
  const local = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(local)) {
    process.stderr.write('fulcrum needs Node.js 26: run `npm ci` in the fulcrum directory first\n');
    process.exit(2);
  }
  const child = spawn(local, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  // pass reload and stop signals on to the balancer
  for (const signal of ['SIGHUP', 'SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
}
