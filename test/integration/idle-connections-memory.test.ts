// 10,000 idle keep-alive client connections, each having served one request, must cost Fulcrum at most
// 50 MB of RSS. Fulcrum runs in its own process so its RSS can be read from /proc.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startEchoOrigin } from '../helpers/origins.ts';

const CONNECTIONS = 10_000;
const BATCH = 250;

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** Opens a keep-alive connection, sends one request and resolves once the full response is in. */
function oneRequest(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let got = '';
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write('GET /idle HTTP/1.1\r\nHost: x\r\n\r\n'));
    socket.on('data', (d: string) => {
      got += d;
      const end = got.indexOf('\r\n\r\n');
      const m = /content-length: (\d+)/i.exec(got);
      if (end >= 0 && m !== null && got.length >= end + 4 + Number(m[1])) {
        socket.removeAllListeners('data');
        resolve(socket);
      }
    });
    socket.on('error', reject);
  });
}

test(`${CONNECTIONS} idle keep-alive connections add at most 50 MB`, { timeout: 120_000 }, async () => {
  const origin = await startEchoOrigin({ name: 'idle' });
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-idle-'));
  const file = join(dir, 'idle.yaml');
  writeFileSync(
    file,
    `listeners:\n  - name: web\n    address: 127.0.0.1:${port}\n    timeouts: { keepAlive: 10m }\n    routes: [{ forward: { pool: app } }]\n` +
      `pools:\n  - name: app\n    endpoints: [{ address: ${origin.address} }]\n`,
  );
  const child = spawn(process.execPath, [new URL('../../bin/fulcrum.js', import.meta.url).pathname, 'run', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const sockets: net.Socket[] = [];
  try {
    // wait for the listener, then warm up so the baseline includes code and pools that any load creates
    for (let i = 0; i < 100; i++) {
      const s = await oneRequest(port).catch(() => null);
      if (s !== null) {
        s.destroy();
        break;
      }
      await sleep(50);
    }
    for (let i = 0; i < 20; i++) (await oneRequest(port)).destroy();
    await sleep(200);
    const baseline = rssBytes(child.pid!);
    for (let i = 0; i < CONNECTIONS; i += BATCH) {
      sockets.push(...(await Promise.all(Array.from({ length: BATCH }, () => oneRequest(port)))));
    }
    await sleep(500);
    const loaded = rssBytes(child.pid!);
    const added = loaded - baseline;
    assert.equal(sockets.length, CONNECTIONS);
    assert.ok(sockets.every((s) => !s.destroyed), 'every connection is still open (kept alive)');
    assert.ok(added <= 50 * 1024 * 1024, `RSS grew by ${(added / 1048576).toFixed(1)} MB for ${CONNECTIONS} idle connections`);
    process.stdout.write(`# ${CONNECTIONS} idle connections: RSS ${(baseline / 1048576).toFixed(1)} → ${(loaded / 1048576).toFixed(1)} MB\n`);
  } finally {
    for (const s of sockets) s.destroy();
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    await origin.close();
    assert.equal(code, 0, stderr);
  }
});
