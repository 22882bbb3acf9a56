// L4 listeners through the config and the runtime, as an operator runs them: a tcp listener balances
// connections over a pool, a tls-passthrough listener routes by SNI, a udp listener relays datagrams; a reload
// moves new connections to another pool while an open one keeps flowing; the metrics count the traffic; a
// listener naming an unknown pool is a config error.
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { parseConfigValue } from '../../src/control/config/load.ts';
import { startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { connect, readAll, readLine, startNamedServer, startTlsServer, startUdpEchoServer, UdpClient, type TestServer, type UdpTestServer } from '../helpers/l4.ts';

let a: TestServer;
let b: TestServer;
let secure: TestServer;
let udp: UdpTestServer;
let lb: RunningFulcrum;

function config(tcpPool: string): object {
  return {
    listeners: [
      { name: 'db', protocol: 'tcp', address: '127.0.0.1:0', pool: tcpPool },
      { name: 'tls', protocol: 'tls-passthrough', address: '127.0.0.1:0', routes: [{ sni: 'api.example.com', pool: 'secure' }] },
      { name: 'dns', protocol: 'udp', address: '127.0.0.1:0', pool: 'udp' },
      { name: 'web', address: '127.0.0.1:0', routes: [{ respond: { body: 'ok' } }] },
    ],
    pools: [
      { name: 'ab', endpoints: [{ address: `127.0.0.1:${a.port}` }, { address: `127.0.0.1:${b.port}` }] },
      { name: 'bonly', endpoints: [{ address: `127.0.0.1:${b.port}` }] },
      { name: 'secure', endpoints: [{ address: `127.0.0.1:${secure.port}` }] },
      { name: 'udp', endpoints: [{ address: `127.0.0.1:${udp.port}` }] },
    ],
    admin: { address: '127.0.0.1:0' },
  };
}

before(async () => {
  a = await startNamedServer('a');
  b = await startNamedServer('b');
  secure = await startTlsServer('secure');
  udp = await startUdpEchoServer('u');
  lb = await startFulcrum(config('ab'));
});
after(async () => {
  await lb.stop(500);
  for (const s of [a, b, secure]) await s.close();
  await udp.close();
});

async function greet(): Promise<string> {
  const s = await connect(lb.port('db'));
  const line = await readLine(s);
  s.destroy();
  return line;
}

test('tcp: connections are balanced round robin over the pool', async () => {
  const seen = [await greet(), await greet(), await greet(), await greet()];
  assert.deepEqual(seen.sort(), ['a', 'a', 'b', 'b']);
});

test('tls-passthrough: the handshake reaches the endpoint chosen by SNI', async () => {
  const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: lb.port('tls'), servername: 'api.example.com', rejectUnauthorized: false }, () => resolve(s));
    s.once('error', reject);
  });
  assert.equal(socket.getPeerCertificate().subject.CN !== undefined, true);
  const line = await readLine(socket);
  assert.equal(line, 'secure api.example.com', 'the endpoint saw the SNI: the TLS session is end to end');
  socket.destroy();
});

test('udp: datagrams are relayed both ways', async () => {
  const client = new UdpClient();
  try {
    assert.equal(await client.request(lb.port('dns'), 'ping'), 'u:ping');
  } finally {
    client.socket.close();
  }
});

test('a reload moves new connections; an open one keeps flowing to its endpoint', async () => {
  const open = await connect(lb.port('db'));
  const first = await readLine(open);
  const r = await lb.reload(config('bonly'));
  assert.equal(r.ok, true, r.errors.join('\n'));
  for (let i = 0; i < 3; i++) assert.equal(await greet(), 'b');
  open.write('still here\n');
  assert.equal(await readLine(open), 'still here', `the connection to ${first} survived the reload`);
  open.destroy();
});

test('metrics count L4 traffic', async () => {
  const { host, port } = lb.rt.adminAddress!;
  const text = await (await request(`http://${host}:${port}/metrics`)).body.text();
  const accepted = Number(/fulcrum_l4_connections_total\{listener="db"\} (\d+)/.exec(text)?.[1]);
  assert.ok(accepted >= 8, `db accepted ${accepted}`);
  assert.match(text, /fulcrum_l4_udp_datagrams_received_total\{listener="dns"\} [1-9]/);
  assert.match(text, /fulcrum_l4_received_bytes_total\{listener="tls"\} [1-9]/);
});

test('an L4 listener naming an unknown pool is a config error', () => {
  const bad = config('nope') as { listeners: object[]; pools: object[] };
  assert.throws(() => parseConfigValue(bad, 'test'), /listeners\[0\]\.pool: expected the name of a pool, found "nope"/);
});

test('per-source limits: a client over its concurrent cap is refused at accept, and admitted again after one closes', async () => {
  const limited = config('ab') as { listeners: Record<string, unknown>[] };
  limited.listeners[0].limits = { perSource: { maxConnections: 2 } };
  const r = await lb.reload(limited);
  assert.equal(r.ok, true, r.errors.join('\n'));
  const first = await connect(lb.port('db'));
  const second = await connect(lb.port('db'));
  assert.ok(['a', 'b'].includes(await readLine(first)));
  await readLine(second);
  const third = await connect(lb.port('db'));
  const got = await readAll(third);
  assert.equal(got.length, 0, 'the third connection from 127.0.0.1 was closed without a greeting');
  third.destroy();
  first.destroy();
  await new Promise((r) => setTimeout(r, 100));
  const again = await connect(lb.port('db'));
  assert.ok(['a', 'b'].includes(await readLine(again)));
  again.destroy();
  second.destroy();
  const { host, port } = lb.rt.adminAddress!;
  const text = await (await request(`http://${host}:${port}/metrics`)).body.text();
  assert.match(text, /fulcrum_l4_connections_refused_total\{listener="db"\} [1-9]/);
  assert.equal((await lb.reload(config('ab'))).ok, true);
});

test('draining an endpoint closes its L4 connections when the deregistration delay ends', async () => {
  const c = config('ab') as { pools: Record<string, unknown>[] };
  c.pools[0].deregistrationDelay = '300ms';
  assert.equal((await lb.reload(c)).ok, true);
  const s = await connect(lb.port('db'));
  const name = await readLine(s);
  const port = name === 'a' ? a.port : b.port;
  const t0 = performance.now();
  assert.equal(lb.rt.setEndpointState('ab', `127.0.0.1:${port}`, 'drain'), null);
  s.write('still open\n');
  assert.equal(await readLine(s), 'still open', 'open connections keep flowing while the delay runs');
  await readAll(s);
  const ms = performance.now() - t0;
  assert.ok(ms >= 250 && ms < 2000, `closed after ${ms.toFixed(0)} ms`);
  lb.rt.setEndpointState('ab', `127.0.0.1:${port}`, 'enable');
  assert.equal((await lb.reload(config('ab'))).ok, true);
});
