// PROXY protocol v1 and v2 between a `fulcrum run` process and HAProxy, both ways. Clients connect from
// 127.0.0.2 so that their address differs from every hop's (127.0.0.1).
//   (a) client ─▶ HAProxy `send-proxy[-v2]` ─▶ Fulcrum tcp listener (`proxyProtocol.accept`) ─▶ pool with
//       `proxyProtocol` ─▶ a backend that parses the header: it sees the client's address and port and the
//       address the client connected to (HAProxy's); and HAProxy ─▶ Fulcrum http listener: X-Forwarded-For.
//   (b) client ─▶ Fulcrum tcp listener ─▶ pool with `proxyProtocol: v1|v2` ─▶ HAProxy `accept-proxy`, in mode
//       http (`option forwardfor` to an echoing origin) and in mode tcp (`send-proxy-v2` to the parsing backend).
// And the half-close of a client behind HAProxy: its FIN must reach the backend, and its connection end.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { startBlackHole, type BlackHole } from '../helpers/black-hole.ts';
import { readAll, readLine, startProxyProtocolServer, type TestServer } from '../helpers/l4.ts';
import { runFulcrum, startHaproxy, type FulcrumProcess, type RunningProgram } from '../helpers/l4-peers.ts';
import { startEchoOrigin, type EchoReply, type Origin } from '../helpers/origins.ts';
import { freePort } from '../helpers/redis.ts';

const clientAddress = '127.0.0.2';

let pp: TestServer;
let blackHole: BlackHole;
let origin: Origin;
let lb: FulcrumProcess;
let haproxy: RunningProgram;
/** HAProxy frontends, by name. */
const hp = new Map<string, number>();
let adminPort: number;
/** A frontend that only tells HAProxy is up: it rejects at accept, so the readiness probe never reaches Fulcrum. */
let readyPort: number;

before(async () => {
  pp = await startProxyProtocolServer('pp');
  const hole = await startBlackHole();
  assert.ok(hole !== null, 'this kernel completes connects to a full accept queue: no black hole for the slow-connect test');
  blackHole = hole;
  origin = await startEchoOrigin({ name: 'origin' });
  for (const name of ['send-v1', 'send-v2', 'send-v1-http', 'send-v2-http', 'accept-http', 'accept-tcp']) hp.set(name, await freePort());
  adminPort = await freePort();
  readyPort = await freePort();

  lb = await runFulcrum(
    [
      'listeners:',
      // (a) HAProxy in front of Fulcrum
      '  - { name: from-haproxy-v1, protocol: tcp, address: 127.0.0.1:0, pool: pp-v2, proxyProtocol: { accept: [127.0.0.0/8] } }',
      '  - { name: from-haproxy-v2, protocol: tcp, address: 127.0.0.1:0, pool: pp-v1, proxyProtocol: { accept: [127.0.0.0/8] } }',
      '  - name: from-sender-slow',
      '    protocol: tcp',
      '    address: 127.0.0.1:0',
      '    pool: pp-slow',
      '    proxyProtocol: { accept: [127.0.0.0/8] }',
      '    timeouts: { connect: 300ms }',
      '  - name: web-from-haproxy',
      '    address: 127.0.0.1:0',
      '    proxyProtocol: { accept: [127.0.0.0/8] }',
      '    routes: [{ forward: { pool: origin } }]',
      // (b) Fulcrum in front of HAProxy
      '  - { name: to-haproxy-http-v1, protocol: tcp, address: 127.0.0.1:0, pool: haproxy-http-v1 }',
      '  - { name: to-haproxy-http-v2, protocol: tcp, address: 127.0.0.1:0, pool: haproxy-http-v2 }',
      '  - { name: to-haproxy-tcp-v1, protocol: tcp, address: 127.0.0.1:0, pool: haproxy-tcp-v1 }',
      '  - { name: to-haproxy-tcp-v2, protocol: tcp, address: 127.0.0.1:0, pool: haproxy-tcp-v2 }',
      'pools:',
      `  - { name: pp-v1, proxyProtocol: v1, endpoints: [{ address: 127.0.0.1:${pp.port} }] }`,
      `  - { name: pp-v2, proxyProtocol: v2, endpoints: [{ address: 127.0.0.1:${pp.port} }] }`,
      `  - { name: pp-slow, proxyProtocol: v2, maxTries: 2, endpoints: [{ address: ${blackHole.address} }, { address: 127.0.0.1:${pp.port} }] }`,
      `  - { name: origin, endpoints: [{ address: 127.0.0.1:${origin.port} }] }`,
      `  - { name: haproxy-http-v1, proxyProtocol: v1, endpoints: [{ address: 127.0.0.1:${hp.get('accept-http')} }] }`,
      `  - { name: haproxy-http-v2, proxyProtocol: v2, endpoints: [{ address: 127.0.0.1:${hp.get('accept-http')} }] }`,
      `  - { name: haproxy-tcp-v1, proxyProtocol: v1, endpoints: [{ address: 127.0.0.1:${hp.get('accept-tcp')} }] }`,
      `  - { name: haproxy-tcp-v2, proxyProtocol: v2, endpoints: [{ address: 127.0.0.1:${hp.get('accept-tcp')} }] }`,
      `admin: { address: 127.0.0.1:${adminPort} }`,
      // connections the half-close tests leave open must not hold the stop for the default 30s
      'shutdown: { drainTimeout: 1s }',
    ].join('\n'),
  );

  const sender = (name: string, listener: string, send: string) => [
    `frontend ${name}`,
    `  bind 127.0.0.1:${hp.get(name)}`,
    `  default_backend ${name}`,
    `backend ${name}`,
    `  server fulcrum 127.0.0.1:${lb.port(listener)} ${send}`,
  ];
  haproxy = await startHaproxy(
    [
      'global',
      '  maxconn 200',
      'defaults',
      '  mode tcp',
      '  timeout connect 2s',
      '  timeout client 10s',
      '  timeout server 10s',
      'frontend ready',
      `  bind 127.0.0.1:${readyPort}`,
      '  tcp-request connection reject',
      ...sender('send-v1', 'from-haproxy-v1', 'send-proxy'),
      ...sender('send-v2', 'from-haproxy-v2', 'send-proxy-v2'),
      ...sender('send-v1-http', 'web-from-haproxy', 'send-proxy'),
      ...sender('send-v2-http', 'web-from-haproxy', 'send-proxy-v2'),
      'frontend accept-http',
      '  mode http',
      `  bind 127.0.0.1:${hp.get('accept-http')} accept-proxy`,
      '  option forwardfor',
      '  http-request set-header x-haproxy-src %[src]:%[src_port]',
      '  http-request set-header x-haproxy-dst %[dst]:%[dst_port]',
      '  default_backend origin',
      'backend origin',
      '  mode http',
      `  server origin 127.0.0.1:${origin.port}`,
      'frontend accept-tcp',
      `  bind 127.0.0.1:${hp.get('accept-tcp')} accept-proxy`,
      '  default_backend pp',
      'backend pp',
      `  server pp 127.0.0.1:${pp.port} send-proxy-v2`,
    ].join('\n'),
    [readyPort],
  );
});

after(async () => {
  await haproxy?.stop();
  await lb?.stop();
  await pp?.close();
  await blackHole?.close();
  await origin?.close();
});

interface SeenHeader {
  version: number;
  local: boolean;
  source: { address: string; port: number } | null;
  destination: { address: string; port: number } | null;
}

/** Connects from 127.0.0.2 to `port`, says a line, and returns the client's own port, what the PROXY-parsing
 *  backend at the end of the chain saw, and the echo of the line that followed the header. */
async function throughToParser(port: number): Promise<{ clientPort: number; seen: SeenHeader; echo: string }> {
  const s = await new Promise<net.Socket>((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port, localAddress: clientAddress }, () => resolve(c));
    c.once('error', reject);
  });
  try {
    s.write('hello after the header\n');
    const seen = JSON.parse(await readLine(s)) as SeenHeader;
    const echo = await readLine(s);
    return { clientPort: s.localPort!, seen, echo };
  } finally {
    s.destroy();
  }
}

/** GET from 127.0.0.2 to `port`; the echo origin's reply. */
function getFromClient(port: number): Promise<{ reply: EchoReply; clientPort: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/who', localAddress: clientAddress, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          assert.equal(res.statusCode, 200, body);
          resolve({ reply: JSON.parse(body) as EchoReply, clientPort: req.socket!.localPort! });
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('no response in 5s')));
    req.on('error', reject);
  });
}

// ---- (a) HAProxy sends, Fulcrum accepts --------------------------------------------------------------------

for (const [frontend, sent, resent] of [
  ['send-v1', 'v1', 2],
  ['send-v2', 'v2', 1],
] as const) {
  test(`HAProxy send-proxy${sent === 'v2' ? '-v2' : ''} → Fulcrum (accepts ${sent}, sends v${resent}): the backend sees the original client`, async () => {
    const { clientPort, seen, echo } = await throughToParser(hp.get(frontend)!);
    assert.equal(seen.version, resent, 'the header the backend got is the one Fulcrum built');
    assert.deepEqual(seen.source, { address: clientAddress, port: clientPort }, 'the client HAProxy accepted, not HAProxy itself');
    assert.deepEqual(seen.destination, { address: '127.0.0.1', port: hp.get(frontend) }, 'the address the client connected to: HAProxy\'s');
    assert.equal(echo, 'hello after the header', 'the bytes after the header pass on unchanged');
  });
}

for (const frontend of ['send-v1-http', 'send-v2-http']) {
  test(`HAProxy ${frontend.replace('-http', '')} → Fulcrum http listener: X-Forwarded-For names the original client`, async () => {
    const { reply } = await getFromClient(hp.get(frontend)!);
    assert.equal(reply.headers['x-forwarded-for'], clientAddress);
    assert.match(String(reply.headers.forwarded), new RegExp(`for="?${clientAddress.replaceAll('.', '\\.')}\\b`));
  });
}

// ---- (b) Fulcrum sends, HAProxy accepts --------------------------------------------------------------------

for (const version of ['v1', 'v2'] as const) {
  test(`Fulcrum proxyProtocol ${version} → HAProxy accept-proxy in mode http: option forwardfor adds the client's address`, async () => {
    const listener = `to-haproxy-http-${version}`;
    const { reply, clientPort } = await getFromClient(lb.port(listener));
    assert.equal(reply.headers['x-forwarded-for'], clientAddress);
    assert.equal(reply.headers['x-haproxy-src'], `${clientAddress}:${clientPort}`, 'HAProxy took the client port from the header too');
    assert.equal(reply.headers['x-haproxy-dst'], `127.0.0.1:${lb.port(listener)}`, 'and the address the client connected to: Fulcrum\'s listener');
  });

  test(`Fulcrum proxyProtocol ${version} → HAProxy accept-proxy in mode tcp → send-proxy-v2: the backend sees Fulcrum's client`, async () => {
    const listener = `to-haproxy-tcp-${version}`;
    const { clientPort, seen, echo } = await throughToParser(lb.port(listener));
    assert.equal(seen.version, 2, 'HAProxy\'s own header');
    assert.deepEqual(seen.source, { address: clientAddress, port: clientPort });
    assert.deepEqual(seen.destination, { address: '127.0.0.1', port: lb.port(listener) });
    assert.equal(echo, 'hello after the header');
  });
}

// ---- half-close behind a PROXY sender ----------------------------------------------------------------------

/** Fulcrum's open connections on `listener`, from its metrics. */
async function activeConnections(listener: string): Promise<number> {
  const text = await (await request(`http://127.0.0.1:${adminPort}/metrics`)).body.text();
  const m = new RegExp(`fulcrum_l4_connections_active\\{listener="${listener}"\\} (\\d+)`).exec(text);
  assert.ok(m !== null, `no active gauge for ${listener}`);
  return Number(m[1]);
}

/** Everything `s` receives until its end; null when it has not ended within `ms`. */
function readAllWithin(s: net.Socket, ms: number): Promise<string | null> {
  return Promise.race([readAll(s).then((b) => b.toString('latin1')), new Promise<null>((r) => setTimeout(() => r(null), ms).unref())]);
}

// A FIN read while Fulcrum connects upstream (after the PROXY header) must still reach the backend: the pipe
// starts after the client's 'end' was emitted (regression: it was dropped and the connection stayed open
// until timeouts.idle).
test('10 clients that send a line and half-close through HAProxy send-proxy: each gets its echo and the end, and none stays open', async () => {
  const results = await Promise.all(
    Array.from({ length: 10 }, async (_, i) => {
      const s = net.connect({ host: '127.0.0.1', port: hp.get('send-v1')!, localAddress: clientAddress, allowHalfOpen: true });
      s.on('error', () => {});
      await new Promise((r) => s.once('connect', r));
      s.end(`line ${i}\n`);
      const got = await readAllWithin(s, 1500);
      s.destroy();
      return got === null ? `client ${i}: no end within 1.5 s` : got.split('\n').slice(1).join('\n');
    }),
  );
  assert.deepEqual(results, Array.from({ length: 10 }, (_, i) => `line ${i}\n`));
  const deadline = Date.now() + 2000;
  while ((await activeConnections('from-haproxy-v1')) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await activeConnections('from-haproxy-v1'), 0, 'connections left open in Fulcrum');
});

test('a trusted PROXY sender\'s FIN that arrives while Fulcrum is still connecting upstream reaches the backend', async () => {
  // the pool's first endpoint never answers a SYN: every connection waits timeouts.connect (300ms) on it before
  // round robin moves on to the backend, so the header, the line and the FIN are all read during the connect
  for (let i = 0; i < 2; i++) {
    const s = net.connect({ host: '127.0.0.1', port: lb.port('from-sender-slow'), allowHalfOpen: true });
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    s.end(`PROXY TCP4 192.0.2.7 127.0.0.1 4000${i} 5432\r\nthe only line\n`);
    const got = await readAllWithin(s, 2000);
    s.destroy();
    assert.notEqual(got, null, `connection ${i}: the backend echoed and ended, so it saw the client's FIN`);
    const [seen, echo] = got!.split('\n');
    assert.deepEqual((JSON.parse(seen) as SeenHeader).source, { address: '192.0.2.7', port: 40000 + i });
    assert.equal(echo, 'the only line');
  }
});
