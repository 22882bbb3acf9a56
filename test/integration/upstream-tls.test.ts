// Pools that speak TLS to their endpoints (re-encryption): requests reach a real https backend with the
// configured SNI and CA; a certificate from an untrusted CA fails the connect (502) unless verification is off;
// a backend that requires client certificates accepts the pool's; new connections resume the TLS session.
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { TestCa, type Issued } from '../helpers/tls-certs.ts';

let ca: TestCa;
let other: TestCa;
let serverCert: Issued;
let clientCert: Issued;
const servers: https.Server[] = [];
const running: RunningFulcrum[] = [];

interface Seen {
  servername: string | false;
  reused: boolean;
  clientSubject: string;
  proto: string;
}

async function backend(requireClientCert: boolean): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = https.createServer(
    { cert: readFileSync(serverCert.cert), key: readFileSync(serverCert.key), ca: ca.pem, requestCert: requireClientCert, rejectUnauthorized: requireClientCert },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      const peer = socket.getPeerCertificate();
      seen.push({ servername: (socket as TLSSocket & { servername: string | false }).servername, reused: socket.isSessionReused(), clientSubject: String(peer?.subject?.CN ?? ''), proto: String(req.headers['x-forwarded-proto']) });
      res.end('secure hello');
    },
  );
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { port: (server.address() as AddressInfo).port, seen };
}

before(() => {
  ca = new TestCa();
  other = new TestCa('Other CA');
  serverCert = ca.server('backend', ['backend.test']);
  clientCert = ca.client('fulcrum', '/CN=fulcrum-pool');
});
after(async () => {
  for (const lb of running) await lb.stop(500);
  for (const s of servers) await new Promise<void>((resolve) => s.close(() => resolve()));
});

async function start(port: number, tls: object, pool: object = {}): Promise<RunningFulcrum> {
  const lb = await startFulcrum({
    listeners: [{ name: 'web', address: '127.0.0.1:0', routes: [{ forward: { pool: 'secure' } }] }],
    pools: [{ name: 'secure', endpoints: [{ address: `127.0.0.1:${port}` }], tls, retries: { on: ['connect-failure'] }, ...pool }],
  });
  running.push(lb);
  return lb;
}

async function get(lb: RunningFulcrum): Promise<{ status: number; body: string; reason: unknown }> {
  const res = await request(lb.url('/'));
  return { status: res.statusCode, body: await res.body.text(), reason: res.headers['x-fulcrum-reason'] };
}

test('requests reach an https endpoint with the configured SNI and CA', async () => {
  const b = await backend(false);
  const lb = await start(b.port, { ca: ca.cert, servername: 'backend.test' });
  const r = await get(lb);
  assert.deepEqual([r.status, r.body], [200, 'secure hello']);
  assert.equal(b.seen[0].servername, 'backend.test');
  assert.equal(b.seen[0].proto, 'http', 'X-Forwarded-Proto tells the client side, not the upstream side');
});

test('an endpoint certificate from an untrusted CA fails the connect; verify: false accepts it', async () => {
  const b = await backend(false);
  const strict = await start(b.port, { ca: other.cert, servername: 'backend.test' });
  const r = await get(strict);
  assert.equal(r.status, 502);
  assert.equal(r.reason, 'upstream_connect_failed');
  assert.equal(b.seen.length, 0);
  const lax = await start(b.port, { verify: false });
  assert.equal((await get(lax)).status, 200);
});

test('mTLS to endpoints: the pool presents its client certificate', async () => {
  const b = await backend(true);
  const without = await start(b.port, { ca: ca.cert, servername: 'backend.test' });
  assert.equal((await get(without)).status, 502);
  const withCert = await start(b.port, { ca: ca.cert, servername: 'backend.test', cert: clientCert.cert, key: clientCert.key });
  assert.equal((await get(withCert)).status, 200);
  assert.equal(b.seen.at(-1)!.clientSubject, 'fulcrum-pool');
});

test('new connections to an endpoint resume its TLS session', async () => {
  const b = await backend(false);
  // no keep-alive reuse: every request opens a new TLS connection
  const lb = await start(b.port, { ca: ca.cert, servername: 'backend.test' }, { connections: { idleTimeout: '0' } });
  for (let i = 0; i < 4; i++) assert.equal((await get(lb)).status, 200);
  assert.equal(b.seen[0].reused, false);
  assert.ok(b.seen.slice(1).some((s) => s.reused), JSON.stringify(b.seen));
});

test('a missing CA file is a config error', async () => {
  await assert.rejects(start(1, { ca: '/nonexistent/ca.pem' }), /pools\[0\]\.tls\.ca: cannot read \/nonexistent\/ca\.pem/);
});

test('https health checks verify the endpoint: healthy with the right CA, unhealthy with another', async () => {
  const b = await backend(false);
  const health = (ca: string) => ({ https: { path: '/health', servername: 'backend.test', ca }, interval: '100ms', timeout: '1s', rise: 1, fall: 1, initialState: 'unhealthy' });
  const good = await start(b.port, { ca: ca.cert, servername: 'backend.test' }, { health: health(ca.cert) });
  const bad = await start(b.port, { ca: ca.cert, servername: 'backend.test' }, { health: health(other.cert) });
  const state = (lb: RunningFulcrum) => lb.rt.generation.pools.get('secure')!.endpoints[0].state;
  const t0 = performance.now();
  const badEndpoint = () => bad.rt.generation.pools.get('secure')!.endpoints[0];
  while ((state(good) !== 0 || badEndpoint().probes < 2) && performance.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 50));
  assert.equal(state(good), 0, 'healthy');
  assert.equal(state(bad), 1, 'unhealthy: the certificate does not verify against the other CA');
  assert.match(String(bad.rt.generation.pools.get('secure')!.endpoints[0].lastProbe), /CERT|certificate|verify|issuer/i);
});
