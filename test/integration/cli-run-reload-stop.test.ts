// The `fulcrum` command as an operator uses it: run a config file, reload it by SIGHUP and by
// `fulcrum reload` (a broken file keeps the running generation), stop gracefully on SIGTERM with a request
// still in flight, and report usage and start errors with the documented exit codes.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { freePort, startEchoOrigin, type EchoReply, type Origin } from '../helpers/origins.ts';

const main = new URL('../../src/main.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'fulcrum-cli-'));

function fulcrum(args: string[], env: Record<string, string> = {}): ChildProcess & { output: () => string } {
  const childEnv: Record<string, string | undefined> = { ...process.env, FULCRUM_ADMIN_TOKEN: undefined, ...env };
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  return Object.assign(child, { output: () => out });
}

async function exitOf(child: ChildProcess, timeoutMs = 15_000): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = await once(child, 'exit');
  clearTimeout(timer);
  return code as number | null;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error('condition not met in time');
}

let a: Origin;
let b: Origin;
let port: number;
let adminPort: number;
const token = 'cli-admin-token-0123456789';

function yaml(endpoints: Origin[], extra = ''): string {
  return [
    'listeners:',
    '  - name: web',
    `    address: 127.0.0.1:${port}`,
    '    routes:',
    '      - forward: { pool: app }',
    'pools:',
    '  - name: app',
    '    endpoints:',
    ...endpoints.map((o) => `      - address: ${o.address}`),
    'admin:',
    `  address: 127.0.0.1:${adminPort}`,
    `  token: ${token}`,
    'shutdown:',
    '  drainTimeout: 5s',
    extra,
  ].join('\n');
}

async function generation(): Promise<number> {
  const res = await request(`http://127.0.0.1:${adminPort}/status`);
  return ((await res.body.json()) as { generation: number }).generation;
}

async function backendName(): Promise<string> {
  const res = await request(`http://127.0.0.1:${port}/who`);
  return ((await res.body.json()) as EchoReply).name;
}

before(async () => {
  a = await startEchoOrigin({ name: 'a' });
  b = await startEchoOrigin({ name: 'b' });
  port = await freePort();
  adminPort = await freePort();
});
after(async () => {
  await a.close();
  await b.close();
});

test('run, reload by SIGHUP and by `fulcrum reload`, keep the old config on a bad one, stop on SIGTERM', async () => {
  const file = join(dir, 'run.yaml');
  writeFileSync(file, yaml([a]));
  const child = fulcrum(['run', file]);
  try {
    await waitFor(async () => (await generation()) === 1);
    assert.equal(await backendName(), 'a');

    writeFileSync(file, yaml([b]));
    child.kill('SIGHUP');
    await waitFor(async () => (await generation()) === 2);
    assert.equal(await backendName(), 'b');

    // a broken file: rejected with its position, the running generation keeps serving
    writeFileSync(file, yaml([b]).replace(`address: ${b.address}`, 'address: nowhere'));
    const rejected = fulcrum(['reload', file]);
    assert.equal(await exitOf(rejected), 1);
    assert.match(rejected.output(), /run\.yaml:\d+:\d+: pools\[0\]\.endpoints\[0\]\.address: expected host:port/);
    assert.equal(await generation(), 2);
    assert.equal(await backendName(), 'b');

    writeFileSync(file, yaml([a]));
    const accepted = fulcrum(['reload', file]);
    assert.equal(await exitOf(accepted), 0, accepted.output());
    assert.match(accepted.output(), /generation 3/);
    assert.equal(await backendName(), 'a');

    // through the admin API a reload needs the token (here read from the file); without it: 401, exit 5
    const refused = fulcrum(['reload', '--admin', `127.0.0.1:${adminPort}`]);
    assert.equal(await exitOf(refused), 5, refused.output());
    assert.match(refused.output(), /actions need the admin token/);
    assert.equal(await generation(), 3);

    // graceful stop: a slow request in flight still completes, then the process exits 0
    const slow = request(`http://127.0.0.1:${port}/?delay=400`);
    await sleep(100);
    child.kill('SIGTERM');
    const res = await slow;
    assert.equal(res.statusCode, 200);
    assert.equal(((await res.body.json()) as EchoReply).name, 'a');
    assert.equal(await exitOf(child), 0, child.output());
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('`fulcrum run` exits 1 on an invalid config and 3 when its address is taken', async () => {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'listeners: []\npools: []\n');
  const invalid = fulcrum(['run', bad]);
  assert.equal(await exitOf(invalid), 1);
  assert.match(invalid.output(), /bad\.yaml:1:\d+: listeners/);

  const busy = join(dir, 'busy.yaml');
  writeFileSync(busy, yaml([a]).replace(`127.0.0.1:${port}`, `127.0.0.1:${a.port}`).replace(/admin:\n(?:  .*\n)+/, ''));
  const taken = fulcrum(['run', busy]);
  assert.equal(await exitOf(taken), 3, taken.output());
  assert.match(taken.output(), /EADDRINUSE/);
});

test('`fulcrum` prints usage, version, and exits 2 on an unknown command', async () => {
  const help = fulcrum(['--help']);
  assert.equal(await exitOf(help), 0);
  assert.match(help.output(), /fulcrum run CONFIG/);
  const version = fulcrum(['--version']);
  assert.equal(await exitOf(version), 0);
  assert.match(version.output(), /^fulcrum \d+\.\d+\.\d+/);
  const unknown = fulcrum(['frobnicate']);
  assert.equal(await exitOf(unknown), 2);
  const unreachable = fulcrum(['reload', '--admin', `127.0.0.1:${await freePort()}`]);
  assert.equal(await exitOf(unreachable), 4);
});

test('`fulcrum endpoints drain|enable` change an endpoint of a running balancer', async () => {
  const file = join(dir, 'endpoints.yaml');
  writeFileSync(file, yaml([a, b]));
  const child = fulcrum(['run', file]);
  try {
    await waitFor(async () => (await generation()) === 1);
    const stateOf = async (address: string) => {
      const res = await request(`http://127.0.0.1:${adminPort}/status`);
      const body = (await res.body.json()) as { pools: { endpoints: { address: string; state: string }[] }[] };
      return body.pools[0].endpoints.find((e) => e.address === address)!.state;
    };
    const drain = fulcrum(['endpoints', 'drain', 'app', a.address, '--config', file]);
    assert.equal(await exitOf(drain), 0, drain.output());
    assert.equal(await stateOf(a.address), 'draining');
    for (let i = 0; i < 6; i++) assert.equal(await backendName(), 'b', 'a draining endpoint takes no new requests');
    const enable = fulcrum(['endpoints', 'enable', 'app', a.address, '--admin', `127.0.0.1:${adminPort}`], { FULCRUM_ADMIN_TOKEN: token });
    assert.equal(await exitOf(enable), 0, enable.output());
    assert.equal(await stateOf(a.address), 'healthy');
    const unknown = fulcrum(['endpoints', 'drain', 'app', '127.0.0.1:1', '--config', file]);
    assert.equal(await exitOf(unknown), 1);
    assert.match(unknown.output(), /has no endpoint/);
    const misuse = fulcrum(['endpoints', 'explode', 'app', a.address]);
    assert.equal(await exitOf(misuse), 2);
  } finally {
    child.kill('SIGTERM');
    await exitOf(child);
  }
});
