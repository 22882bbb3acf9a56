// The tcp listener over real sockets on 127.0.0.1: bytes both ways byte-exact, half-close, backpressure with the
// proxy's own buffers bounded, connect failures and timeouts moving on to the next endpoint before any byte is
// sent, all endpoints dead, idle timeout and maximum lifetime, balancing per connection (round robin; maglev
// and ring-hash keep a client on one endpoint), draining, maxConnections, endpoint counters and outlier outcomes.
import { startBlackHole } from '../helpers/black-hole.ts';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { watchedCount } from '../../src/core/deadlines.ts';
import type { TcpListener } from '../../src/l4/tcp-listener.ts';
import { EndpointState } from '../../src/upstream/endpoint.ts';
import {
  closedPort,
  closedWithin,
  connect,
  makePool,
  readAll,
  readLine,
  serve,
  startEchoServer,
  startNamedServer,
  startTcpListener,
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

function trackListener(l: TcpListener): TcpListener {
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

/** Opens a connection and returns the endpoint name the named server announced. */
async function nameVia(port: number): Promise<string> {
  const s = await client(port);
  const name = await readLine(s);
  s.destroy();
  return name;
}

describe('tcp listener', () => {
  it('carries 1 MiB each way byte-exact and counts the bytes', async () => {
    const echo = track(await startEchoServer());
    const pool = makePool('p', [echo.port]);
    const l = trackListener(await startTcpListener(pool));
    const s = await client(l.address.port);
    const sent = randomBytes(1 << 20);
    const received = readAll(s);
    s.end(sent);
    const got = await received;
    assert.equal(got.length, sent.length);
    assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(sent).digest('hex'));
    await waitFor('the connection to close', () => l.counters.active === 0);
    assert.equal(l.counters.bytesIn, 1 << 20);
    assert.equal(l.counters.bytesOut, 1 << 20);
    assert.equal(l.counters.accepted, 1);
    assert.equal(pool.endpoints[0].requests, 1);
    assert.equal(pool.endpoints[0].inFlight, 0);
  });

  it('half-close: the client ends its side and still receives everything the server sends after', async () => {
    const tail = randomBytes(256 * 1024);
    const server = track(
      await serve('half', net.createServer({ allowHalfOpen: true }), (s) => {
        let n = 0;
        s.on('data', (c: Buffer) => (n += c.length));
        s.on('end', () => {
          // the client's FIN arrived; answer afterwards, then end
          s.write(`got ${n}\n`);
          s.end(tail);
        });
      }),
    );
    const l = trackListener(await startTcpListener(makePool('p', [server.port])));
    const s = await client(l.address.port);
    const received = readAll(s);
    s.end(Buffer.alloc(5000, 1));
    const got = await received;
    assert.equal(got.subarray(0, 9).toString(), 'got 5000\n');
    assert.ok(got.subarray(9).equals(tail), 'the tail arrives intact after the client half-closed');
  });

  it('backpressure: a client that does not read stalls the server; the proxy buffers stay small', async () => {
    const total = 128 * 1024 * 1024;
    const state = { written: 0, done: false };
    const chunk = Buffer.alloc(64 * 1024, 7);
    const server = track(
      await serve('firehose', net.createServer(), (s) => {
        const pump = () => {
          while (state.written < total) {
            state.written += chunk.length;
            if (!s.write(chunk)) return void s.once('drain', pump);
          }
          state.done = true;
          s.end();
        };
        pump();
      }),
    );
    const l = trackListener(await startTcpListener(makePool('p', [server.port])));
    const s = await client(l.address.port);
    s.pause();
    await waitFor('the server to stall', () => state.written > 0);
    let last = -1;
    for (let i = 0; i < 100 && state.written !== last; i++) {
      last = state.written;
      await sleep(150);
    }
    assert.equal(state.written, last, 'the server is stalled');
    assert.ok(state.written < total, `the server stopped at ${state.written} of ${total} bytes`);
    const session = [...l.sessions][0];
    const pipe = session.pipe!;
    assert.ok(pipe.upstream.isPaused(), 'the proxy stopped reading the upstream');
    assert.ok(pipe.bufferedBytes <= 1024 * 1024, `the proxy holds ${pipe.bufferedBytes} bytes`);
    // and nothing is lost once the client reads
    let received = 0;
    s.on('data', (c: Buffer) => (received += c.length));
    s.resume();
    await waitFor('all bytes', () => received === total, 20_000);
    assert.ok(state.done);
  });

  it('bulk bytes stay byte-exact both ways while the readers stall now and then (reused read buffers)', async () => {
    // Large reads land in buffers the proxy reuses once the writer's queue is empty; readers that stop and start
    // keep writes queued, so a buffer reused too early would show up here as corrupted bytes.
    const size = 24 * 1024 * 1024;
    const up = randomBytes(size);
    const down = randomBytes(size);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    /** Hashes what `s` receives until its end, pausing 5 ms every 16 reads. */
    const stutteringRead = (s: net.Socket) =>
      new Promise<{ bytes: number; sha: string }>((resolve) => {
        const hash = createHash('sha256');
        let bytes = 0;
        let reads = 0;
        s.on('data', (c: Buffer) => {
          hash.update(c);
          bytes += c.length;
          if (++reads % 16 === 0) {
            s.pause();
            setTimeout(() => s.resume(), 5);
          }
        });
        s.once('end', () => resolve({ bytes, sha: hash.digest('hex') }));
      });
    let atServer: Promise<{ bytes: number; sha: string }> | null = null;
    const server = track(
      await serve('stutter', net.createServer({ allowHalfOpen: true }), (s) => {
        atServer = stutteringRead(s);
        s.end(down);
      }),
    );
    const l = trackListener(await startTcpListener(makePool('p', [server.port])));
    const s = await client(l.address.port);
    const atClient = stutteringRead(s);
    s.end(up);
    const [c, sv] = await Promise.all([atClient, waitFor('the server to accept', () => atServer !== null).then(() => atServer!)]);
    assert.equal(sv.bytes, size);
    assert.equal(sv.sha, sha(up), 'client → server bytes intact');
    assert.equal(c.bytes, size);
    assert.equal(c.sha, sha(down), 'server → client bytes intact');
  });

  it('a connect failure moves on to the next endpoint before any byte is sent', async () => {
    const dead = await closedPort();
    const echo = track(await startEchoServer());
    const pool = makePool('p', [dead, echo.port], 'round-robin', 3);
    const recorded: number[] = [];
    pool.outlier = { record: (_e, status) => recorded.push(status) };
    const l = trackListener(await startTcpListener(pool));
    for (let i = 0; i < 4; i++) {
      const s = await client(l.address.port);
      s.write(`hello ${i}\n`);
      assert.equal(await readLine(s), `hello ${i}`);
      s.destroy();
    }
    assert.ok(pool.endpoints[0].failures >= 1, 'the dead endpoint was tried');
    assert.equal(l.counters.connectFailures, pool.endpoints[0].failures);
    assert.equal(pool.endpoints[1].failures, 0);
    assert.ok(recorded.includes(0) && recorded.includes(200), `outlier outcomes ${recorded.join(',')}`);
    assert.equal(recorded.filter((x) => x === 200).length, 4);
    await waitFor('inFlight back to 0', () => pool.endpoints.every((e) => e.inFlight === 0));
  });

  it('a connect timeout moves on to the next endpoint', async (t) => {
    const hole = await startBlackHole();
    if (hole === null) return t.skip('this kernel accepts beyond the backlog');
    cleanups.push(() => hole.close());
    const echo = track(await startEchoServer());
    const pool = makePool('p', [hole.port, echo.port], 'round-robin', 2);
    const l = trackListener(await startTcpListener(pool, { connectTimeoutMs: 200 }));
    const t0 = performance.now();
    const s = await client(l.address.port);
    s.write('through\n');
    assert.equal(await readLine(s), 'through');
    assert.ok(performance.now() - t0 >= 150, 'waited for the connect timeout first');
    assert.equal(pool.endpoints[0].failures, 1);
  });

  it('all endpoints dead: the client is closed without a byte', async () => {
    const pool = makePool('p', [await closedPort(), await closedPort()], 'round-robin', 3);
    const l = trackListener(await startTcpListener(pool));
    const s = await client(l.address.port);
    const got = readAll(s);
    s.write('anyone?');
    assert.equal((await got).length, 0);
    await waitFor('the session to end', () => l.counters.active === 0);
    assert.equal(l.counters.upstreamUnavailable, 1);
    assert.equal(l.counters.connectFailures, 2, 'each endpoint tried once');
    assert.deepEqual(pool.endpoints.map((e) => e.inFlight), [0, 0]);
  });

  it('idle timeout closes both sides after no byte for that long', async () => {
    const echo = track(await startEchoServer());
    const l = trackListener(await startTcpListener(makePool('p', [echo.port]), { idleTimeoutMs: 200 }));
    const s = await client(l.address.port);
    s.write('ping\n');
    assert.equal(await readLine(s), 'ping');
    const ms = await closedWithin(s, 2000);
    assert.ok(ms >= 120, `closed after ${ms} ms`);
    await waitFor('the session to end', () => l.counters.active === 0);
    assert.equal(l.counters.idleTimeouts, 1);
    await waitFor('the echo server to see the close', () => echo.sockets.size === 0);
  });

  it('maxLifetime closes a busy connection', async () => {
    const echo = track(await startEchoServer());
    const l = trackListener(await startTcpListener(makePool('p', [echo.port]), { idleTimeoutMs: 10_000, maxLifetimeMs: 300 }));
    const s = await client(l.address.port);
    const timer = setInterval(() => s.writable && s.write('tick\n'), 40);
    cleanups.push(() => clearInterval(timer));
    const ms = await closedWithin(s, 2000);
    assert.ok(ms >= 200, `closed after ${ms} ms`);
    await waitFor('the session to end', () => l.counters.active === 0);
    assert.equal(l.counters.lifetimesExpired, 1);
    assert.equal(l.counters.idleTimeouts, 0);
  });

  it('round robin spreads connections across endpoints', async () => {
    const servers: TestServer[] = [];
    for (const n of ['a', 'b', 'c']) servers.push(track(await startNamedServer(n)));
    const l = trackListener(await startTcpListener(makePool('p', servers.map((x) => x.port))));
    const names: string[] = [];
    for (let i = 0; i < 6; i++) names.push(await nameVia(l.address.port));
    assert.deepEqual(names.slice(3), names.slice(0, 3));
    assert.deepEqual([...names.slice(0, 3)].sort(), ['a', 'b', 'c']);
  });

  for (const algorithm of ['maglev', 'ring-hash']) {
    it(`${algorithm} keeps a client address on one endpoint`, async () => {
      const servers: TestServer[] = [];
      for (const n of ['a', 'b', 'c', 'd']) servers.push(track(await startNamedServer(n)));
      const pool = makePool('p', servers.map((x) => x.port), algorithm);
      assert.notEqual(pool.key, null);
      const l = trackListener(await startTcpListener(pool));
      const names = new Set<string>();
      for (let i = 0; i < 8; i++) names.add(await nameVia(l.address.port));
      assert.equal(names.size, 1, `one endpoint, saw ${[...names].join(',')}`);
    });
  }

  it('a draining endpoint keeps its connection and gets no new ones', async () => {
    const a = track(await startNamedServer('a'));
    const b = track(await startNamedServer('b'));
    const pool = makePool('p', [a.port, b.port]);
    const l = trackListener(await startTcpListener(pool));
    const first = await client(l.address.port);
    assert.equal(await readLine(first), 'a');
    pool.endpoints[0].state = EndpointState.draining;
    pool.refresh();
    const names: string[] = [];
    for (let i = 0; i < 4; i++) names.push(await nameVia(l.address.port));
    assert.deepEqual(names, ['b', 'b', 'b', 'b']);
    first.write('still here\n');
    assert.equal(await readLine(first), 'still here');
    assert.equal(pool.endpoints[0].inFlight, 1);
  });

  it('maxConnections: one more is closed at once and counted; room again after a close', async () => {
    const echo = track(await startEchoServer());
    const l = trackListener(await startTcpListener(makePool('p', [echo.port]), { maxConnections: 2 }));
    const held = [await client(l.address.port), await client(l.address.port)];
    await waitFor('two sessions', () => l.counters.active === 2);
    const third = await client(l.address.port);
    const got = readAll(third);
    third.write('x');
    assert.equal((await got).length, 0);
    await closedWithin(third, 1000);
    assert.equal(l.counters.refused, 1);
    held[0].destroy();
    await waitFor('a slot', () => l.counters.active === 1);
    const fourth = await client(l.address.port);
    fourth.write('ok\n');
    assert.equal(await readLine(fourth), 'ok');
  });

  it('updateSettings: new connections use the new pool, open ones keep their endpoint', async () => {
    const a = track(await startNamedServer('a'));
    const b = track(await startNamedServer('b'));
    const l = trackListener(await startTcpListener(makePool('p', [a.port])));
    const open = await client(l.address.port);
    assert.equal(await readLine(open), 'a');
    l.updateSettings({ ...l.settings, upstream: { pool: makePool('p', [b.port]), proxyProtocol: null } });
    assert.equal(await nameVia(l.address.port), 'b');
    open.write('same\n');
    assert.equal(await readLine(open), 'same');
  });

  it('close stops accepting, closeAll ends what is open, and no deadline is left watched', async () => {
    const echo = track(await startEchoServer());
    const before = watchedCount();
    const l = await startTcpListener(makePool('p', [echo.port]), { idleTimeoutMs: 60_000 });
    const s = await client(l.address.port);
    s.write('x\n');
    assert.equal(await readLine(s), 'x');
    const port = l.address.port;
    l.close();
    await assert.rejects(connect(port), /ECONNREFUSED/);
    l.closeAll();
    await closedWithin(s, 1000);
    await waitFor('the session to end', () => l.counters.active === 0 && l.sessions.size === 0);
    assert.equal(watchedCount(), before);
  });
});
