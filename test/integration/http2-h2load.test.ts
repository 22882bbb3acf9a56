// Many concurrent streams from a real HTTP/2 load generator: h2load (Debian's nghttp2-client) opens 2 h2c
// connections with up to 100 streams each and sends 2,000 requests through Fulcrum. Every request succeeds,
// and they are spread evenly over the endpoints — with HTTP/1.1 endpoints, and with HTTP/2 endpoints behind
// a `protocol: h2` pool, where they share one multiplexed connection per endpoint.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Counted {
  readonly address: string;
  requests: number;
  connections: number;
}

async function h1Endpoint(name: string): Promise<Counted> {
  const c = { address: '', requests: 0, connections: 0 };
  const server = http.createServer((req, res) => {
    c.requests++;
    req.resume();
    res.end(name);
  });
  server.on('connection', () => c.connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  c.address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return c;
}

async function h2Endpoint(name: string): Promise<Counted> {
  const c = { address: '', requests: 0, connections: 0 };
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    c.connections++;
    sessions.add(s);
  });
  server.on('stream', (stream: http2.ServerHttp2Stream) => {
    c.requests++;
    stream.on('error', () => {});
    stream.respond({ ':status': 200 });
    stream.end(name);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  c.address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  cleanups.push(() => {
    for (const s of sessions) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return c;
}

async function fulcrum(endpoints: readonly Counted[], pool: object = {}): Promise<RunningFulcrum> {
  const lb = await startFulcrum({
    listeners: [{ name: 'h2c', address: '127.0.0.1:0', http2: { cleartext: true }, routes: [{ forward: { pool: 'app' } }] }],
    pools: [{ name: 'app', balancer: { algorithm: 'round-robin' }, endpoints: endpoints.map((e) => ({ address: e.address })), ...pool }],
  });
  cleanups.push(() => lb.stop(500));
  return lb;
}

/** Runs h2load (bounded: -n requests, and a 60 s kill) and returns its summary counts. */
function h2load(port: number, requests: number): Promise<{ done: number; succeeded: number; failed: number; errored: number; status2xx: number }> {
  return new Promise((resolve, reject) => {
    execFile('h2load', ['-n', String(requests), '-c', '2', '-m', '100', `http://127.0.0.1:${port}/`], { timeout: 60_000 }, (err, stdout) => {
      if (err) return reject(new Error(`h2load failed: ${err.message}\n${stdout}`));
      const req = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(stdout);
      const codes = /status codes: (\d+) 2xx/.exec(stdout);
      if (req === null || codes === null) return reject(new Error(`unexpected h2load output:\n${stdout}`));
      resolve({ done: Number(req[2]), succeeded: Number(req[3]), failed: Number(req[4]), errored: Number(req[5]), status2xx: Number(codes[1]) });
    });
  });
}

describe('h2load: 2 connections × 100 streams', () => {
  it('2,000 requests to HTTP/1.1 endpoints: all answered 2xx, spread evenly', async () => {
    const endpoints = [await h1Endpoint('a'), await h1Endpoint('b'), await h1Endpoint('c')];
    const lb = await fulcrum(endpoints);
    const r = await h2load(lb.port(), 2000);
    assert.deepEqual(r, { done: 2000, succeeded: 2000, failed: 0, errored: 0, status2xx: 2000 });
    const counts = endpoints.map((e) => e.requests);
    assert.equal(counts.reduce((a, b) => a + b, 0), 2000);
    for (const n of counts) assert.ok(Math.abs(n - 2000 / 3) <= 2, `round robin shares: ${counts}`);
  });

  it('2,000 requests to HTTP/2 endpoints of an h2 pool: all 2xx, one connection per endpoint', async () => {
    const endpoints = [await h2Endpoint('a'), await h2Endpoint('b')];
    const lb = await fulcrum(endpoints, { protocol: 'h2' });
    const r = await h2load(lb.port(), 2000);
    assert.deepEqual(r, { done: 2000, succeeded: 2000, failed: 0, errored: 0, status2xx: 2000 });
    assert.deepEqual(endpoints.map((e) => e.requests), [1000, 1000]);
    assert.deepEqual(endpoints.map((e) => e.connections), [1, 1], '200 concurrent streams fit on one connection per endpoint (100 streams each)');
  });
});
