// PROXY protocol through the tcp and tls-passthrough listeners, with real peers: v1 and v2 headers sent to a
// backend that parses them and says what it saw; headers accepted from trusted peers (the carried address is
// what the endpoint is told and what a hash balancer hashes), refused from untrusted ones; a trusted peer that
// sends garbage or nothing is closed; a header cut into 1-byte writes; a header followed by a ClientHello.
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseCidr } from '../../src/core/address.ts';
import { hashString } from '../../src/core/hash.ts';
import type { StreamListener } from '../../src/l4/stream-listener.ts';
import type { StreamListenerSettings } from '../../src/l4/settings.ts';
import { buildProxyHeaderV1, buildProxyHeaderV2 } from '../../src/l4/proxy-protocol.ts';
import { beginPick, PickContext } from '../../src/upstream/balancing/types.ts';
import {
  closedWithin,
  connect,
  makePool,
  readAll,
  readLine,
  startEchoServer,
  startNamedServer,
  startProxyProtocolServer,
  startTcpListener,
  startTlsListener,
  startTlsServer,
  testCert,
  waitFor,
  type TestServer,
} from '../helpers/l4.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function track<T extends { close(): unknown }>(x: T): T {
  cleanups.push(() => x.close());
  return x;
}

function trackListener<L extends StreamListener<StreamListenerSettings>>(l: L): L {
  cleanups.push(() => {
    l.close();
    l.closeAll();
  });
  return l;
}

async function client(port: number): Promise<net.Socket> {
  const s = await connect(port);
  cleanups.push(() => s.destroy());
  return s;
}

const loopback = [parseCidr('127.0.0.0/8')!];
const elsewhere = [parseCidr('10.0.0.0/8')!];

interface Seen {
  version?: number;
  local?: boolean;
  source?: { address: string; port: number } | null;
  destination?: { address: string; port: number } | null;
  invalid?: string;
}

describe('PROXY protocol to endpoints', () => {
  for (const version of ['v1', 'v2'] as const) {
    it(`sends a ${version} header first: the endpoint sees the client's address and port`, async () => {
      const backend = track(await startProxyProtocolServer());
      const l = trackListener(await startTcpListener(makePool('p', [backend.port]), {}, version));
      const s = await client(l.address.port);
      const seen = JSON.parse(await readLine(s)) as Seen;
      assert.equal(seen.version, version === 'v1' ? 1 : 2);
      assert.deepEqual(seen.source, { address: '127.0.0.1', port: s.localPort });
      assert.deepEqual(seen.destination, { address: '127.0.0.1', port: l.address.port });
      s.write('after the header\n');
      assert.equal(await readLine(s), 'after the header');
      assert.equal(l.counters.bytesIn, 'after the header\n'.length, 'the header is not counted as client bytes');
    });
  }
});

describe('PROXY protocol from trusted peers', () => {
  it('the carried address is what the endpoint is told', async () => {
    const backend = track(await startProxyProtocolServer());
    const l = trackListener(await startTcpListener(makePool('p', [backend.port]), { acceptProxyFrom: loopback }, 'v2'));
    const s = await client(l.address.port);
    s.write('PROXY TCP4 203.0.113.7 198.51.100.1 4242 5432\r\nhello\n');
    const seen = JSON.parse(await readLine(s)) as Seen;
    assert.deepEqual(seen.source, { address: '203.0.113.7', port: 4242 });
    assert.deepEqual(seen.destination, { address: '198.51.100.1', port: 5432 });
    assert.equal(await readLine(s), 'hello', 'the bytes after the header were kept and forwarded');
  });

  it('the carried address is what a hash balancer hashes', async () => {
    const servers: TestServer[] = [];
    for (const n of ['a', 'b', 'c', 'd']) servers.push(track(await startNamedServer(n)));
    const ports = servers.map((x) => x.port);
    const pool = makePool('p', ports, 'maglev');
    const oracle = makePool('p', ports, 'maglev'); // the same table, picked directly
    const l = trackListener(await startTcpListener(pool, { acceptProxyFrom: loopback }));
    const expected: string[] = [];
    const actual: string[] = [];
    for (let i = 1; i <= 8; i++) {
      const address = `198.51.100.${i * 17}`;
      const ctx = new PickContext();
      beginPick(ctx);
      ctx.hash = hashString(address);
      ctx.hasHash = true;
      expected.push(servers[ports.indexOf(oracle.pick(ctx)!.port)].name);
      const s = await client(l.address.port);
      s.write(buildProxyHeaderV1({ address, port: 1000 + i }, { address: '192.0.2.1', port: 5432 }));
      actual.push(await readLine(s));
      s.destroy();
    }
    assert.ok(new Set(expected).size > 1, 'the addresses map to more than one endpoint');
    assert.deepEqual(actual, expected);
  });

  it('a header written 1 byte at a time, and a v2 LOCAL header (the real address is used)', async () => {
    const backend = track(await startProxyProtocolServer());
    const l = trackListener(await startTcpListener(makePool('p', [backend.port]), { acceptProxyFrom: loopback }, 'v1'));
    const s = await client(l.address.port);
    s.setNoDelay(true);
    for (const byte of buildProxyHeaderV2({ address: '::1', port: 7 }, { address: '::2', port: 8 })) {
      s.write(Buffer.from([byte]));
      await sleep(1);
    }
    const seen = JSON.parse(await readLine(s)) as Seen;
    assert.deepEqual(seen.source, { address: '::1', port: 7 });
    const local = await client(l.address.port);
    local.write(Buffer.from('0d0a0d0a000d0a515549540a20000000', 'hex'));
    const seenLocal = JSON.parse(await readLine(local)) as Seen;
    assert.deepEqual(seenLocal.source, { address: '127.0.0.1', port: local.localPort });
  });

  it('garbage instead of a header: closed and counted', async () => {
    const echo = track(await startEchoServer());
    const l = trackListener(await startTcpListener(makePool('p', [echo.port]), { acceptProxyFrom: loopback }));
    const s = await client(l.address.port);
    const got = readAll(s);
    s.write('SSH-2.0-OpenSSH_9.6\r\n');
    assert.equal((await got).length, 0);
    await waitFor('the counter', () => l.counters.proxyHeadersRejected === 1);
    assert.equal(echo.connections, 0, 'no endpoint was contacted');
  });

  it('no header within timeouts.proxyHeader: closed and counted', async () => {
    const echo = track(await startEchoServer());
    const l = trackListener(await startTcpListener(makePool('p', [echo.port]), { acceptProxyFrom: loopback, proxyHeaderTimeoutMs: 200 }));
    const s = await client(l.address.port);
    s.write('PROXY TCP4 1.2.3.4'); // started, never finished
    const ms = await closedWithin(s, 2000);
    assert.ok(ms >= 120, `closed after ${ms} ms`);
    await waitFor('the counter', () => l.counters.proxyHeaderTimeouts === 1);
    assert.equal(echo.connections, 0);
  });

  it('tls-passthrough: a header, then the ClientHello routed by SNI', async () => {
    const api = track(await startTlsServer('api'));
    const l = trackListener(await startTlsListener([{ sni: ['api.example.com'], target: makePool('api', [api.port]) }], null, { acceptProxyFrom: loopback }));
    const raw = await client(l.address.port);
    raw.write(buildProxyHeaderV2({ address: '203.0.113.9', port: 9 }, { address: '192.0.2.1', port: 443 }));
    const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const t = tls.connect({ socket: raw, servername: 'api.example.com', ca: testCert }, () => resolve(t));
      t.once('error', reject);
    });
    assert.equal(await readLine(s as unknown as net.Socket), 'api api.example.com');
    const session = [...l.sessions][0];
    assert.equal(session.source.address, '203.0.113.9');
  });
});

describe('PROXY protocol from untrusted peers', () => {
  for (const [what, header] of [
    ['v1', Buffer.from('PROXY TCP4 203.0.113.7 198.51.100.1 4242 5432\r\n')],
    ['v2', buildProxyHeaderV2({ address: '203.0.113.7', port: 1 }, { address: '198.51.100.1', port: 2 })],
  ] as const) {
    it(`a ${what} header from a peer outside accept: closed and counted, nothing forwarded`, async () => {
      const echo = track(await startEchoServer());
      const l = trackListener(await startTcpListener(makePool('p', [echo.port]), { acceptProxyFrom: elsewhere }));
      const s = await client(l.address.port);
      const got = readAll(s);
      // in two writes: the first only a prefix of the signature
      s.write(header.subarray(0, 3));
      await sleep(20);
      s.write(Buffer.concat([header.subarray(3), Buffer.from('data\n')]));
      assert.equal((await got).length, 0, 'nothing came back from the echo endpoint');
      await waitFor('the counter', () => l.counters.proxyHeadersRejected === 1);
    });
  }

  it('their ordinary bytes pass, including ones that start like a signature', async () => {
    const echo = track(await startEchoServer());
    const l = trackListener(await startTcpListener(makePool('p', [echo.port]), { acceptProxyFrom: elsewhere }));
    for (const line of ['hello', 'PROXIMITY', 'PRO']) {
      const s = await client(l.address.port);
      s.write(`${line}\n`);
      assert.equal(await readLine(s), line);
    }
    const short = await client(l.address.port);
    const got = readAll(short);
    short.end('PR'); // a prefix of the signature, then FIN: forwarded as is
    assert.equal((await got).toString(), 'PR');
    assert.equal(l.counters.proxyHeadersRejected, 0);
  });

  it('tls-passthrough: a header from an untrusted peer is refused before any routing', async () => {
    const api = track(await startTlsServer('api'));
    const l = trackListener(await startTlsListener([{ sni: ['api.example.com'], target: makePool('api', [api.port]) }], null, { acceptProxyFrom: elsewhere }));
    const s = await client(l.address.port);
    const got = readAll(s);
    s.write(buildProxyHeaderV1({ address: '203.0.113.7', port: 1 }, { address: '198.51.100.1', port: 2 }));
    assert.equal((await got).length, 0);
    await waitFor('the counter', () => l.counters.proxyHeadersRejected === 1);
    assert.equal(api.connections, 0);
  });
});
