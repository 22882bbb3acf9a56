// Two Fulcrum processes (`fulcrum run`, real child processes) with one Redis-backed policy of 10/min on a real
// redis-server: together they admit 10 of 24 requests sent alternately, not 10 each — the limit is global.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { Backend } from '../helpers/backend.ts';
import { freePort } from '../helpers/origins.ts';
import { startRedis, type RedisServer } from '../helpers/redis.ts';

const main = new URL('../../src/main.ts', import.meta.url).pathname;
let redis: RedisServer;
let backend: Backend;
const children: ChildProcess[] = [];
const ports: number[] = [];

async function listening(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await sleep(50);
  }
}

before(async () => {
  redis = await startRedis();
  backend = await new Backend('app').start();
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-rl2-'));
  const prefix = `two${Date.now()}:`;
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    ports.push(port);
    const file = join(dir, `fulcrum-${i}.yaml`);
    writeFileSync(
      file,
      [
        'listeners:',
        '  - name: web',
        `    address: 127.0.0.1:${port}`,
        '    routes:',
        `      - rateLimit: { name: global, limit: 10/min, store: { redis: { url: "${redis.url}", prefix: "${prefix}", timeout: 2s } } }`,
        '        forward: { pool: app }',
        'pools:',
        '  - name: app',
        `    endpoints: [{ address: "${backend.address}" }]`,
        '',
      ].join('\n'),
    );
    children.push(spawn(process.execPath, [main, 'run', file], { stdio: 'ignore' }));
  }
  for (const port of ports) await listening(port, 15_000);
});

after(async () => {
  for (const child of children) {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  await backend.stop();
  await redis.stop();
});

test('two processes sharing Redis admit 10 of 24 requests at 10/min between them', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 24; i++) {
    const res = await request(`http://127.0.0.1:${ports[i % 2]}/`);
    await res.body.text();
    statuses.push(res.statusCode);
  }
  assert.equal(statuses.filter((s) => s === 200).length, 10, statuses.join(','));
  assert.equal(statuses.filter((s) => s === 429).length, 14);
  assert.ok(statuses.slice(0, 10).every((s) => s === 200), 'the first ten, from both processes, were admitted');
});
