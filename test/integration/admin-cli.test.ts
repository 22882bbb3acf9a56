// `fulcrum status` and `fulcrum endpoints weight` as an operator runs them: real child processes against a
// running balancer's admin listener, the token taken from --token, $FULCRUM_ADMIN_TOKEN or --config, and the
// documented exit codes when the token is missing, the value is invalid or nobody listens.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Backend } from '../helpers/backend.ts';
import { endpointOf, simpleConfig, startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { freePort } from '../helpers/origins.ts';

const main = new URL('../../src/main.ts', import.meta.url).pathname;
const token = 'cli-test-token-0123456789';
let a: Backend;
let b: Backend;
let lb: RunningFulcrum;
let admin: string;

async function fulcrum(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const childEnv = { ...process.env, ...env };
  if (env.FULCRUM_ADMIN_TOKEN === undefined) delete childEnv.FULCRUM_ADMIN_TOKEN;
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

before(async () => {
  a = await new Backend('a').start();
  b = await new Backend('b').start();
  const config = simpleConfig([a.address, b.address], { balancer: { algorithm: 'weighted-round-robin' } }) as { admin?: unknown };
  config.admin = { address: '127.0.0.1:0', token };
  lb = await startFulcrum(config);
  const { host, port } = lb.rt.adminAddress!;
  admin = `${host}:${port}`;
  for (let i = 0; i < 6; i++) await (await fetch(lb.url('/'))).text();
});
after(async () => {
  await lb.stop();
  await a.stop();
  await b.stop();
});

test('`fulcrum status` prints a table of pools and endpoints, and the raw JSON with --json', async () => {
  const table = await fulcrum(['status', '--admin', admin]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^generation 1$/m);
  assert.match(table.stdout, /^pool app \(weighted-round-robin\)\s+2\/2 eligible · 0 in flight · 6 requests · 0 failures$/m);
  assert.match(table.stdout, /ENDPOINT\s+STATE\s+WEIGHT\s+IN-FLIGHT\s+REQUESTS\s+FAILURES/);
  for (const backend of [a, b]) {
    assert.match(table.stdout, new RegExp(`^  ${backend.address.replace(/\./g, '\\.')}\\s+healthy\\s+1\\s+0\\s+3\\s+0$`, 'm'));
  }
  const json = await fulcrum(['status', '--admin', admin, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { generation: number; pools: { endpoints: { address: string }[] }[] };
  assert.equal(parsed.generation, 1);
  assert.deepEqual(parsed.pools[0].endpoints.map((e) => e.address), [a.address, b.address]);
});

test('`fulcrum endpoints weight` sets a weight with the token from --token, the environment or --config', async () => {
  const byFlag = await fulcrum(['endpoints', 'weight', 'app', a.address, '0', '--admin', admin, '--token', token]);
  assert.equal(byFlag.code, 0, byFlag.stderr);
  assert.equal(byFlag.stdout, `app ${a.address}: weight 0\n`);
  assert.equal(endpointOf(lb, a.address).weight, 0);

  const byEnv = await fulcrum(['endpoints', 'weight', 'app', a.address, '4', '--admin', admin], { FULCRUM_ADMIN_TOKEN: token });
  assert.equal(byEnv.code, 0, byEnv.stderr);
  assert.equal(endpointOf(lb, a.address).weight, 4);

  const file = join(mkdtempSync(join(tmpdir(), 'fulcrum-admin-cli-')), 'fulcrum.yaml');
  writeFileSync(file, `listeners: []\nadmin:\n  address: ${admin}\n  token: ${token}\n`);
  const byConfig = await fulcrum(['endpoints', 'weight', 'app', a.address, '2', '--config', file]);
  assert.equal(byConfig.code, 0, byConfig.stderr);
  assert.equal(endpointOf(lb, a.address).weight, 2);

  const status = await fulcrum(['status', '--config', file]);
  assert.match(status.stdout, new RegExp(`^  ${a.address.replace(/\./g, '\\.')}\\s+healthy\\s+2\\s`, 'm'));
});

test('exit codes: 5 without the token, 1 for a value the balancer refuses, 2 for misuse, 4 when unreachable', async () => {
  const noToken = await fulcrum(['endpoints', 'weight', 'app', a.address, '3', '--admin', admin]);
  assert.equal(noToken.code, 5);
  assert.match(noToken.stderr, /actions need the admin token/);
  const wrong = await fulcrum(['endpoints', 'drain', 'app', a.address, '--admin', admin, '--token', 'not-the-right-token']);
  assert.equal(wrong.code, 5);
  assert.match(wrong.stderr, /wrong admin token/);
  assert.equal(endpointOf(lb, a.address).weight, 2, 'refused: nothing changed');
  assert.equal(endpointOf(lb, a.address).state, 0);

  const range = await fulcrum(['endpoints', 'weight', 'app', a.address, '300', '--admin', admin, '--token', token]);
  assert.equal(range.code, 1);
  assert.match(range.stderr, /weight: expected an integer 0\.\.256, found 300/);
  const unknown = await fulcrum(['endpoints', 'weight', 'app', '127.0.0.1:1', '3', '--admin', admin, '--token', token]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /has no endpoint/);

  const misuse = await fulcrum(['endpoints', 'weight', 'app', a.address, 'heavy', '--admin', admin]);
  assert.equal(misuse.code, 2);
  const statusMisuse = await fulcrum(['status', 'extra']);
  assert.equal(statusMisuse.code, 2);
  const unreachable = await fulcrum(['status', '--admin', `127.0.0.1:${await freePort()}`]);
  assert.equal(unreachable.code, 4);
  assert.match(unreachable.stderr, /cannot reach the admin listener/);
});

test('`fulcrum endpoints add` and `remove` change the pool through the admin API', async () => {
  const c = await new Backend('c').start();
  try {
    const added = await fulcrum(['endpoints', 'add', 'app', c.address, '3', '--admin', admin, '--token', token]);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout, `app ${c.address}: added\n`);
    assert.equal(endpointOf(lb, c.address).weight, 3);
    const dup = await fulcrum(['endpoints', 'add', 'app', c.address, '--admin', admin, '--token', token]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /already has endpoint/);
    const removed = await fulcrum(['endpoints', 'remove', 'app', c.address, '--admin', admin, '--token', token]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(lb.rt.generation.pools.get('app')!.endpoints.some((e) => e.key === c.address), false);
  } finally {
    await c.stop();
  }
});

test('`fulcrum routes` lists routes; `routes split` on a single-pool route is refused with exit 1', async () => {
  const list = await fulcrum(['routes', '--admin', admin]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^web\s+web-0\s+forward\s+app$/m);
  const split = await fulcrum(['routes', 'split', 'web-0', 'app=1', '--admin', admin, '--token', token]);
  assert.equal(split.code, 1);
  assert.match(split.stderr, /only a weighted forward/);
  const bad = await fulcrum(['routes', 'split', 'web-0', 'app:1', '--admin', admin]);
  assert.equal(bad.code, 2);
});
