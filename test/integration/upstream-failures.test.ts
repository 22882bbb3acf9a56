// What clients see when endpoints fail, are full, are slow or close connections, and when clients are slow
// or go away — and that Fulcrum keeps serving afterwards: no crash, `inFlight` back to 0, no upstream socket
// left open. Real origins and real clients on 127.0.0.1; the connect timeout uses a listening socket whose
// accept queue is full (the kernel drops further SYNs), so the connect really hangs.
import { startBlackHole } from '../helpers/black-hole.ts';
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { watchedCount } from '../../src/core/deadlines.ts';
import type { EndpointConnections } from '../../src/http/upstream-connections.ts';
import type { Endpoint } from '../../src/upstream/endpoint.ts';
import { simpleConfig, startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import {
  freePort,
  rawRequest,
  startCloseMidBodyOrigin,
  startEchoOrigin,
  startGarbageOrigin,
  startHangOrigin,
  startRawOrigin,
  startResetOrigin,
  type EchoReply,
  type Origin,
} from '../helpers/origins.ts';

// ---- helpers -------------------------------------------------------------------------------------------------

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  ms: number;
}

async function get(url: string, dispatcher: Agent, options: { headers?: Record<string, string>; method?: string; body?: string } = {}): Promise<Reply> {
  const t0 = performance.now();
  const res = await request(url, { dispatcher, method: (options.method ?? 'GET') as 'GET', headers: options.headers, body: options.body });
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body, ms: performance.now() - t0 };
}

/** A reply Fulcrum made itself: the status, the reason code in the header and the body, and the request id. */
function assertLocalReply(r: Reply, status: number, reason: string, requestId?: string): void {
  assert.equal(r.status, status, `status (body: ${r.body})`);
  assert.equal(r.headers['x-fulcrum-reason'], reason);
  assert.match(r.body, new RegExp(`reason: ${reason}\\n`));
  if (requestId !== undefined) assert.match(r.body, new RegExp(`request-id: ${requestId}\\n`));
  else assert.match(r.body, /request-id: [0-9a-f]{16}-[0-9a-f]{10,}\n/);
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

function endpointsOf(lb: RunningFulcrum, pool = 'app'): readonly Endpoint[] {
  const p = lb.rt.generation.pools.get(pool);
  assert.ok(p !== undefined, `pool ${pool}`);
  return p.endpoints;
}

function connectionsOf(e: Endpoint): EndpointConnections {
  assert.ok(e.connections !== null, `${e.key} has connections`);
  return e.connections as EndpointConnections;
}

function describeEndpoints(endpoints: readonly Endpoint[]): string {
  return endpoints
    .map((e) => `${e.key} inFlight=${e.inFlight} active=${e.connections?.activeCount ?? 0} idle=${e.connections?.idleCount ?? 0}`)
    .join('; ');
}

/** Every endpoint of the pool is back at rest: nothing in flight and no upstream socket in use. */
async function assertSettled(lb: RunningFulcrum, pool = 'app'): Promise<void> {
  const endpoints = endpointsOf(lb, pool);
  const atRest = () => endpoints.every((e) => e.inFlight === 0 && (e.connections?.activeCount ?? 0) === 0);
  await waitFor(`pool ${pool} at rest (${describeEndpoints(endpoints)})`, atRest);
}

function sum(endpoints: readonly Endpoint[], field: 'failures' | 'requests'): number {
  return endpoints.reduce((n, e) => n + e[field], 0);
}

/** A plain client socket with what it received so far, for tests that act mid-response. */
interface RawClient {
  readonly socket: net.Socket;
  received(): string;
  bytes(): number;
  closed(): boolean;
  whenClosed(timeoutMs: number): Promise<boolean>;
}

async function rawClient(port: number): Promise<RawClient> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  const chunks: Buffer[] = [];
  let bytes = 0;
  let closed = false;
  let keep = true;
  socket.on('data', (c: Buffer) => {
    bytes += c.length;
    if (keep) chunks.push(c);
    if (bytes > 1 << 20) keep = false; // only the start is ever inspected
  });
  socket.on('error', () => {});
  const closedPromise = new Promise<void>((resolve) => socket.on('close', () => {
    closed = true;
    resolve();
  }));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return {
    socket,
    received: () => Buffer.concat(chunks).toString('latin1'),
    bytes: () => bytes,
    closed: () => closed,
    whenClosed: async (timeoutMs) => {
      await Promise.race([closedPromise, sleep(timeoutMs)]);
      return closed;
    },
  };
}


// ---- connect failures --------------------------------------------------------------------------------------

describe('upstream connect failures', () => {
  let good: Origin;
  const agent = new Agent({ connections: 8 });

  before(async () => {
    good = await startEchoOrigin({ name: 'good' });
  });
  after(async () => {
    await agent.close();
    await good.close();
  });

  test('a refused connect moves on to the next endpoint, and the request succeeds', async () => {
    const closed = await freePort();
    const lb = await startFulcrum(simpleConfig([`127.0.0.1:${closed}`, good.address]));
    const served = good.requests;
    try {
      for (let i = 0; i < 10; i++) {
        const r = await get(lb.url(`/retry-${i}`), agent);
        assert.equal(r.status, 200, r.body);
        assert.equal((JSON.parse(r.body) as EchoReply).name, 'good');
      }
      const [refused, ok] = endpointsOf(lb);
      assert.ok(refused.failures >= 5, `the refused endpoint was tried (${refused.failures} failures)`);
      assert.equal(ok.failures, 0);
      assert.equal(good.requests - served, 10, 'every request reached the good endpoint exactly once');
      await assertSettled(lb);
    } finally {
      await lb.stop();
    }
  });

  test('answers 502 upstream_connect_failed, with the request id, when every endpoint refuses', async () => {
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    const lb = await startFulcrum(simpleConfig(ports.map((p) => `127.0.0.1:${p}`)));
    try {
      const r = await get(lb.url('/all-refused'), agent, { headers: { 'x-request-id': 'refused-42' } });
      assertLocalReply(r, 502, 'upstream_connect_failed', 'refused-42');
      const endpoints = endpointsOf(lb);
      assert.deepEqual(endpoints.map((e) => e.failures), [1, 1, 1], 'maxTries 3 (the default): each endpoint tried once');
      const again = await get(lb.url('/all-refused'), agent);
      assertLocalReply(again, 502, 'upstream_connect_failed');
      await assertSettled(lb);
    } finally {
      await lb.stop();
    }
  });

  test('with maxTries: 1 a refused connect is answered 502 at once, without trying another endpoint', async () => {
    const ports = await Promise.all([freePort(), freePort()]);
    const lb = await startFulcrum(simpleConfig(ports.map((p) => `127.0.0.1:${p}`), { pool: { maxTries: 1 } }));
    try {
      const r = await get(lb.url('/one-try'), agent);
      assertLocalReply(r, 502, 'upstream_connect_failed');
      assert.ok(r.ms < 1000, `answered in ${r.ms.toFixed(0)} ms`);
      assert.equal(sum(endpointsOf(lb), 'failures'), 1, 'one connect attempt');
      await assertSettled(lb);
    } finally {
      await lb.stop();
    }
  });

  test('a connect that times out moves on to the next endpoint; when every try times out the reply is 504 upstream_timeout', async (t) => {
    const hole = await startBlackHole();
    if (hole === null) {
      t.skip('this kernel completes loopback connects to a full accept queue; no real connect timeout possible');
      return;
    }
    try {
      const lb = await startFulcrum(
        simpleConfig([hole.address, good.address], { pool: { timeouts: { connect: '300ms' } }, balancer: { algorithm: 'round-robin' } }),
      );
      try {
        // Two requests: round robin starts one of them on the black hole.
        for (let i = 0; i < 2; i++) {
          const r = await get(lb.url(`/ct-${i}`), agent);
          assert.equal(r.status, 200, r.body);
          assert.equal((JSON.parse(r.body) as EchoReply).name, 'good');
        }
        const [holeEndpoint] = endpointsOf(lb);
        assert.ok(holeEndpoint.failures >= 1, 'the black hole was tried and timed out');
        await assertSettled(lb);
      } finally {
        await lb.stop();
      }

      const only = await startFulcrum(simpleConfig([hole.address], { pool: { timeouts: { connect: '300ms' } } }));
      try {
        const r = await get(only.url('/ct-only'), agent);
        assertLocalReply(r, 504, 'upstream_timeout');
        assert.ok(r.ms >= 200 && r.ms < 1500, `answered after ${r.ms.toFixed(0)} ms (connect timeout 300ms)`);
        await assertSettled(only);
      } finally {
        await only.stop();
      }
    } finally {
      await hole.close();
    }
  });
});

// ---- nothing to pick -----------------------------------------------------------------------------------------

describe('a pool with no eligible endpoint', () => {
  const agent = new Agent();
  after(() => agent.close());

  test('an empty pool answers 503 no_eligible_endpoint', async () => {
    const lb = await startFulcrum(simpleConfig([]));
    try {
      const r = await get(lb.url('/empty'), agent, { headers: { 'x-request-id': 'empty-1' } });
      assertLocalReply(r, 503, 'no_eligible_endpoint', 'empty-1');
      const again = await get(lb.url('/empty'), agent);
      assertLocalReply(again, 503, 'no_eligible_endpoint');
    } finally {
      await lb.stop();
    }
  });

  test('a pool whose endpoints all have weight 0 answers 503 no_eligible_endpoint and sends nothing upstream', async () => {
    const origin = await startEchoOrigin({ name: 'zero' });
    const lb = await startFulcrum(simpleConfig([], { pool: { endpoints: [{ address: origin.address, weight: 0 }] } }));
    try {
      const r = await get(lb.url('/zero'), agent);
      assertLocalReply(r, 503, 'no_eligible_endpoint');
      assert.equal(origin.requests, 0);
      assert.equal(endpointsOf(lb)[0].requests, 0);
    } finally {
      await lb.stop();
      await origin.close();
    }
  });
});

// ---- broken upstreams ----------------------------------------------------------------------------------------

describe('broken upstreams', () => {
  const names = ['reset', 'garbage', 'hang', 'midbody'] as const;
  const broken = new Map<string, Origin>();
  let good: Origin;
  let lb: RunningFulcrum;
  const agent = new Agent({ connections: 8 });

  before(async () => {
    broken.set('reset', await startResetOrigin());
    broken.set('garbage', await startGarbageOrigin());
    broken.set('hang', await startHangOrigin());
    broken.set('midbody', await startCloseMidBodyOrigin());
    good = await startEchoOrigin({ name: 'good' });
    lb = await startFulcrum({
      listeners: [
        {
          name: 'web',
          address: '127.0.0.1:0',
          routes: [
            ...names.map((n) => ({ match: { path: { prefix: `/${n}/` } }, forward: { pool: n } })),
            { forward: { pool: 'app' } },
          ],
        },
      ],
      pools: [
        ...names.map((n) => ({ name: n, endpoints: [{ address: broken.get(n)!.address }], timeouts: { response: '300ms' } })),
        { name: 'app', endpoints: [{ address: good.address }] },
      ],
    });
  });
  after(async () => {
    await agent.close();
    await lb.stop();
    await Promise.all([...broken.values(), good].map((o) => o.close()));
  });

  /** The next requests, on a kept-alive connection and on a new one, are served normally. */
  async function assertStillServing(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      const r = await get(lb.url(`/after-${i}`), agent);
      assert.equal(r.status, 200, r.body);
      assert.equal((JSON.parse(r.body) as EchoReply).url, `/after-${i}`);
    }
    const fresh = await rawRequest(lb.port(), 'GET /after-fresh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(fresh.response, /^HTTP\/1\.1 200 /);
    assert.match(fresh.response, /"url":"\/after-fresh"/);
    await assertSettled(lb, 'app');
  }

  test('an upstream that resets the connection: 502 upstream_reset, then business as usual', async () => {
    const r = await get(lb.url('/reset/x'), agent, { headers: { 'x-request-id': 'reset-1' } });
    assertLocalReply(r, 502, 'upstream_reset', 'reset-1');
    const [endpoint] = endpointsOf(lb, 'reset');
    assert.equal(endpoint.failures, 3, 'a reset is retried (retries.on) up to maxTries, here on the only endpoint');
    await assertSettled(lb, 'reset');
    const again = await get(lb.url('/reset/y'), agent);
    assertLocalReply(again, 502, 'upstream_reset');
    await assertSettled(lb, 'reset');
    assert.equal(connectionsOf(endpoint).idleCount, 0, 'a reset socket is not kept');
    await assertStillServing();
  });

  test('an upstream that answers with garbage: 502 upstream_bad_response, then business as usual', async () => {
    const r = await get(lb.url('/garbage/x'), agent);
    assertLocalReply(r, 502, 'upstream_bad_response');
    await assertSettled(lb, 'garbage');
    assert.equal(connectionsOf(endpointsOf(lb, 'garbage')[0]).idleCount, 0, 'a socket that spoke garbage is not kept');
    await assertStillServing();
  });

  test('an upstream that never answers: 504 upstream_timeout after timeouts.response, then business as usual', async () => {
    const r = await get(lb.url('/hang/x'), agent);
    assertLocalReply(r, 504, 'upstream_timeout');
    assert.ok(r.ms >= 200 && r.ms < 1000, `answered after ${r.ms.toFixed(0)} ms (response timeout 300ms)`);
    const [endpoint] = endpointsOf(lb, 'hang');
    assert.equal(endpoint.failures, 1);
    await assertSettled(lb, 'hang');
    assert.equal(connectionsOf(endpoint).idleCount, 0, 'the socket that timed out is closed, not kept');
    await assertStillServing();
  });

  test('an upstream that closes mid-body: the client sees the body cut short and the connection closed, not a hang', async () => {
    const t0 = performance.now();
    const r = await rawRequest(lb.port(), 'GET /midbody/x HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 3000 });
    const ms = performance.now() - t0;
    assert.equal(r.closed, true, 'the client connection is closed');
    assert.ok(ms < 1500, `closed after ${ms.toFixed(0)} ms`);
    assert.match(r.response, /^HTTP\/1\.1 200 /);
    assert.match(r.response, /content-length: 1000\r\n/i);
    const body = r.response.slice(r.response.indexOf('\r\n\r\n') + 4);
    assert.equal(body, '0123456789', 'only the bytes the upstream sent');
    const [endpoint] = endpointsOf(lb, 'midbody');
    assert.equal(endpoint.failures, 1);
    await assertSettled(lb, 'midbody');
    assert.equal(connectionsOf(endpoint).idleCount, 0);
    await assertStillServing();
  });
});

// ---- the upstream connection queue -------------------------------------------------------------------------

describe('the upstream connection queue (maxConnections, maxQueue, queueTimeout)', () => {
  let origin: Origin;
  const agent = new Agent({ connections: 16 });

  before(async () => {
    origin = await startEchoOrigin({ name: 'slow' });
  });
  after(async () => {
    await agent.close();
    await origin.close();
  });

  function queued(connections: object): Promise<RunningFulcrum> {
    return startFulcrum(simpleConfig([origin.address], { pool: { connections } }));
  }

  test('a request that finds the one connection busy and the queue full gets 503 queue_full at once', async () => {
    const lb = await queued({ maxConnections: 1, maxQueue: 1, queueTimeout: '2s' });
    try {
      const [endpoint] = endpointsOf(lb);
      const first = get(lb.url('/first?delay=600'), agent);
      await waitFor('the first request to hold the connection', () => endpoint.inFlight === 1);
      const second = get(lb.url('/second'), agent);
      await waitFor('the second request to wait in the queue', () => connectionsOf(endpoint).queueLength === 1);
      const third = await get(lb.url('/third'), agent, { headers: { 'x-request-id': 'full-3' } });
      assertLocalReply(third, 503, 'queue_full', 'full-3');
      assert.ok(third.ms < 300, `answered after ${third.ms.toFixed(0)} ms, without waiting`);
      assert.equal((await first).status, 200);
      const s = await second;
      assert.equal(s.status, 200, 'the queued request is served once the connection frees');
      assert.equal((JSON.parse(s.body) as EchoReply).url, '/second');
      await assertSettled(lb);
      assert.equal(origin.requests >= 2, true);
    } finally {
      await lb.stop();
    }
  });

  test('a queued request whose wait passes queueTimeout gets 503 queue_timeout', async () => {
    const lb = await queued({ maxConnections: 1, maxQueue: 1, queueTimeout: '200ms' });
    try {
      const [endpoint] = endpointsOf(lb);
      const first = get(lb.url('/first?delay=1000'), agent);
      await waitFor('the first request to hold the connection', () => endpoint.inFlight === 1);
      const second = await get(lb.url('/second'), agent, { headers: { 'x-request-id': 'late-2' } });
      assertLocalReply(second, 503, 'queue_timeout', 'late-2');
      // the sweep runs every 50 ms, so the timeout fires within about 50 ms of when it is due
      assert.ok(second.ms >= 140 && second.ms < 600, `timed out after ${second.ms.toFixed(0)} ms (queueTimeout 200ms)`);
      assert.equal(connectionsOf(endpoint).queueLength, 0);
      assert.equal((await first).status, 200);
      await assertSettled(lb);
    } finally {
      await lb.stop();
    }
  });

  test('queued requests are served in arrival order as the connection frees, over that one connection', async () => {
    const lb = await queued({ maxConnections: 1, maxQueue: 4, queueTimeout: '3s' });
    try {
      const [endpoint] = endpointsOf(lb);
      const done: string[] = [];
      const send = (name: string, delay: number) =>
        get(lb.url(`/${name}?delay=${delay}`), agent).then((r) => {
          assert.equal(r.status, 200, r.body);
          done.push((JSON.parse(r.body) as EchoReply).url.split('?')[0]);
        });
      const all = [send('first', 300)];
      await waitFor('the first request to hold the connection', () => endpoint.inFlight === 1);
      for (const [i, name] of ['b', 'c', 'd', 'e'].entries()) {
        all.push(send(name, 20));
        await waitFor(`${name} to be queued`, () => connectionsOf(endpoint).queueLength === i + 1);
      }
      await Promise.all(all);
      assert.deepEqual(done, ['/first', '/b', '/c', '/d', '/e']);
      await assertSettled(lb);
      const c = connectionsOf(endpoint);
      assert.equal(c.idleCount + c.activeCount, 1, 'never more than maxConnections sockets');
    } finally {
      await lb.stop();
    }
  });

  test('a client that gives up while queued leaves the queue, and the wait of those before it is unchanged', async () => {
    const lb = await queued({ maxConnections: 1, maxQueue: 2, queueTimeout: '400ms' });
    try {
      const [endpoint] = endpointsOf(lb);
      const first = get(lb.url('/first?delay=1500'), agent);
      await waitFor('the first request to hold the connection', () => endpoint.inFlight === 1);
      const conns = connectionsOf(endpoint);
      const t0 = performance.now();
      const second = get(lb.url('/second'), agent);
      await waitFor('the second request to be queued', () => conns.queueLength === 1);
      await sleep(250);
      const quitter = await rawClient(lb.port());
      quitter.socket.write('GET /quitter HTTP/1.1\r\nHost: x\r\n\r\n');
      await waitFor('the quitter to be queued', () => conns.queueLength === 2);
      await sleep(50);
      quitter.socket.resetAndDestroy();
      await waitFor('the quitter to leave the queue', () => conns.queueLength === 1);
      const r = await second;
      const waited = performance.now() - t0;
      assertLocalReply(r, 503, 'queue_timeout');
      // Due at 400 ms after it was queued (the sweep adds up to ~50 ms); a queue that credited the
      // quitter's later arrival time to it would time it out ~250 ms late.
      assert.ok(waited < 560, `the second request timed out after ${waited.toFixed(0)} ms (queueTimeout 400ms)`);
      assert.equal((await first).status, 200);
      await assertSettled(lb);
      assert.equal(conns.queueLength, 0);
    } finally {
      await lb.stop();
    }
  });
});

// ---- stale keep-alive connections --------------------------------------------------------------------------

/**
 * Raw origin answering one request per connection with a keep-alive response (`ok`, no `Connection: close`);
 * what it does next is `then`: `end` closes right after the response, `close-on-next` / `reset-on-next` close
 * (FIN / RST) when a second request arrives on the connection, without answering it.
 */
function startOneShotOrigin(then: 'end' | 'close-on-next' | 'reset-on-next'): Promise<Origin> {
  return startRawOrigin((socket) => {
    let buffered = '';
    let answered = false;
    socket.on('data', (chunk: Buffer) => {
      if (answered) {
        if (then === 'reset-on-next') socket.resetAndDestroy();
        else socket.end();
        return;
      }
      buffered += chunk.toString('latin1');
      const headEnd = buffered.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const length = /\r\ncontent-length: *(\d+)/i.exec(buffered.slice(0, headEnd));
      if (length !== null && buffered.length < headEnd + 4 + Number(length[1])) return;
      answered = true;
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok');
      if (then === 'end') socket.end();
    });
  });
}

describe('stale keep-alive upstream connections', () => {
  const agent = new Agent();
  after(() => agent.close());

  test('an origin that closes each connection right after its response: requests in sequence keep succeeding', async () => {
    const origin = await startOneShotOrigin('end');
    const lb = await startFulcrum(simpleConfig([origin.address]));
    try {
      for (let i = 0; i < 40; i++) {
        const r = await get(lb.url(`/seq-${i}`), agent);
        assert.equal(r.status, 200, `request ${i}: ${r.body}`);
        assert.equal(r.body, 'ok');
      }
      assert.equal(origin.requests, 40, 'one upstream connection per request');
      await assertSettled(lb);
    } finally {
      await lb.stop();
      await origin.close();
    }
  });

  for (const how of ['close-on-next', 'reset-on-next'] as const) {
    test(`a reused connection the origin ${how === 'close-on-next' ? 'closes (FIN)' : 'resets (RST)'} instead of answering: GET is retried once on a fresh connection`, async () => {
      const origin = await startOneShotOrigin(how);
      const lb = await startFulcrum(simpleConfig([origin.address]));
      try {
        for (let i = 0; i < 20; i++) {
          const r = await get(lb.url(`/stale-${i}`), agent);
          assert.equal(r.status, 200, `request ${i}: ${r.body}`);
          assert.equal(r.body, 'ok');
        }
        // request 1 opens a connection; every later one first tries the idle one, then a fresh one
        assert.equal(origin.requests, 20);
        await assertSettled(lb);
      } finally {
        await lb.stop();
        await origin.close();
      }
    });
  }

  test('a non-idempotent request (POST) on a reused connection the origin closed is not replayed: 502 upstream_reset', async () => {
    const origin = await startOneShotOrigin('close-on-next');
    const lb = await startFulcrum(simpleConfig([origin.address]));
    try {
      const first = await get(lb.url('/post-1'), agent, { method: 'POST', body: 'hello' });
      assert.equal(first.status, 200);
      await waitFor('the connection to be idle', () => connectionsOf(endpointsOf(lb)[0]).idleCount === 1);
      const second = await get(lb.url('/post-2'), agent, { method: 'POST', body: 'hello' });
      assertLocalReply(second, 502, 'upstream_reset');
      assert.equal(origin.requests, 1, 'no second connection: the POST was not sent again');
      await assertSettled(lb);
      const third = await get(lb.url('/post-3'), agent, { method: 'POST', body: 'hello' });
      assert.equal(third.status, 200, 'the next POST goes out on a fresh connection');
    } finally {
      await lb.stop();
      await origin.close();
    }
  });

  test('an origin with a short keep-alive timeout (node:http, 30 ms): requests spaced around it all succeed', async () => {
    // node:http closes idle sockets after keepAliveTimeout; requests arriving around that moment race the close.
    const origin = await startEchoOrigin({ name: 'short-ka' });
    const server = (origin as unknown as { server: { keepAliveTimeout: number; keepAliveTimeoutBuffer: number } }).server;
    server.keepAliveTimeout = 30;
    server.keepAliveTimeoutBuffer = 0; // Node adds 1 s to the socket's real idle timeout by default
    const lb = await startFulcrum(simpleConfig([origin.address]));
    try {
      for (let i = 0; i < 40; i++) {
        const r = await get(lb.url(`/ka-${i}`), agent);
        assert.equal(r.status, 200, `request ${i}: ${r.body}`);
        await sleep(20 + (i % 5) * 5); // 20..40 ms: some before the origin's close, some after
      }
      await assertSettled(lb);
    } finally {
      await lb.stop();
      await origin.close();
    }
  });
});

// ---- client timeouts ---------------------------------------------------------------------------------------

describe('client timeouts (requestHeader, keepAlive, request)', () => {
  let origin: Origin;
  let lb: RunningFulcrum;

  before(async () => {
    origin = await startEchoOrigin({ name: 'o' });
    lb = await startFulcrum(
      simpleConfig([origin.address], { listener: { timeouts: { requestHeader: '300ms', keepAlive: '300ms', request: '300ms' } } }),
    );
  });
  after(async () => {
    await lb.stop();
    await origin.close();
  });

  test('a request head sent byte by byte slower than requestHeader gets 408 request_header_timeout, then the connection closes', async () => {
    const client = await rawClient(lb.port());
    const head = 'GET /slowloris HTTP/1.1\r\nHost: x\r\nX-Padding: 0123456789\r\n\r\n';
    const t0 = performance.now();
    for (let i = 0; i < head.length && !client.closed(); i++) {
      client.socket.write(head[i]);
      await sleep(40); // the whole head would take ~2.4 s
    }
    const closed = await client.whenClosed(2000);
    const ms = performance.now() - t0;
    assert.equal(closed, true, 'the connection is closed');
    assert.match(client.received(), /^HTTP\/1\.1 408 /);
    assert.match(client.received(), /reason: request_header_timeout\n/);
    assert.ok(ms >= 200 && ms < 1000, `closed after ${ms.toFixed(0)} ms (requestHeader 300ms)`);
    assert.equal(origin.requests, 0, 'nothing went upstream');
  });

  test('an idle keep-alive connection is closed after keepAlive; a request in time restarts the clock', async () => {
    const client = await rawClient(lb.port());
    const responses = () => client.received().split('HTTP/1.1 ').length - 1;
    client.socket.write('GET /ka-1 HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor('the first response', () => client.received().includes('"url":"/ka-1"'));
    await sleep(180);
    client.socket.write('GET /ka-2 HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor('the second response', () => client.received().includes('"url":"/ka-2"'));
    const t0 = performance.now();
    assert.equal(responses(), 2);
    assert.equal(client.closed(), false, 'still open after a request within keepAlive');
    const closed = await client.whenClosed(2000);
    const ms = performance.now() - t0;
    assert.equal(closed, true, 'closed when idle for keepAlive');
    assert.ok(ms >= 200 && ms < 1000, `closed after ${ms.toFixed(0)} ms idle (keepAlive 300ms)`);
    assert.equal(responses(), 2, 'closed quietly, without a reply');
  });

  test('an exchange longer than the request timeout gets 504 request_timeout; the upstream socket is closed', async () => {
    const agent = new Agent();
    try {
      const r = await get(lb.url('/?delay=1500'), agent, { headers: { 'x-request-id': 'slow-1' } });
      assertLocalReply(r, 504, 'request_timeout', 'slow-1');
      assert.ok(r.ms >= 200 && r.ms < 1000, `answered after ${r.ms.toFixed(0)} ms (request 300ms)`);
      assert.equal(r.headers['connection'], 'close');
      await assertSettled(lb);
      assert.equal(connectionsOf(endpointsOf(lb)[0]).idleCount, 0, 'the socket that still owes a response is not kept');
      const ok = await get(lb.url('/?delay=20'), agent);
      assert.equal(ok.status, 200);
      await assertSettled(lb);
    } finally {
      await agent.close();
    }
  });
});

describe('timeouts after a quiet period with no open connection', () => {
  // With no connection left to watch, the 50 ms deadline sweep stops; a timeout set on the next connection
  // must still count from when it is set, not from the last sweep before the quiet spell.
  const quietMs = 800;
  const cases = [
    { timeout: 'listeners[].timeouts.request', overrides: { listener: { timeouts: { request: '600ms' } } }, sendAfterMs: 0 },
    { timeout: 'pools[].timeouts.response', overrides: { pool: { timeouts: { response: '600ms' } } }, sendAfterMs: 0 },
    { timeout: 'listeners[].timeouts.requestHeader', overrides: { listener: { timeouts: { requestHeader: '600ms' } } }, sendAfterMs: 200 },
  ];
  for (const c of cases) {
    test(`the first exchange after the quiet spell gets its whole ${c.timeout} (600ms)`, async () => {
      await waitFor('no connection to be watched for timeouts', () => watchedCount() === 0, 5000);
      const origin = await startEchoOrigin({ name: 'quiet' });
      const lb = await startFulcrum(simpleConfig([origin.address], c.overrides));
      try {
        await sleep(quietMs); // longer than the timeout
        const client = await rawClient(lb.port());
        const t0 = performance.now();
        if (c.sendAfterMs > 0) await sleep(c.sendAfterMs);
        client.socket.write('GET /?delay=250 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
        await client.whenClosed(3000);
        const ms = performance.now() - t0;
        const status = /^HTTP\/1\.1 (\d+)/.exec(client.received())?.[1] ?? 'none (connection closed without a reply)';
        const reason = /reason: (\w+)/.exec(client.received())?.[1];
        assert.equal(status, '200', `${c.sendAfterMs} ms idle + a 250 ms exchange within 600ms: got ${status}${reason ? ` ${reason}` : ''} after ${ms.toFixed(0)} ms`);
      } finally {
        await lb.stop();
        await origin.close();
      }
    });
  }
});

// ---- clients that go away -------------------------------------------------------------------------------------

describe('clients that go away mid-exchange', () => {
  let origin: Origin;
  let lb: RunningFulcrum;
  const agent = new Agent();

  before(async () => {
    origin = await startEchoOrigin({ name: 'big' });
    lb = await startFulcrum(simpleConfig([origin.address]));
  });
  after(async () => {
    await agent.close();
    await lb.stop();
    await origin.close();
  });

  /** Ten requests with bodies checked to the byte: a socket left mid-response in the pool would garble them. */
  async function assertCleanResponses(): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const res = await request(lb.url(`/?bytes=${100_000 + i}`), { dispatcher: agent });
      assert.equal(res.statusCode, 200);
      const body = Buffer.from(await res.body.arrayBuffer());
      assert.equal(body.length, 100_000 + i);
      assert.ok(body.every((b) => b === 0x78), 'only filler bytes');
    }
    await assertSettled(lb);
  }

  test('a client that closes while a large body streams: the upstream socket is closed, not pooled', async () => {
    const client = await rawClient(lb.port());
    client.socket.write('GET /?bytes=500000000 HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor('the first megabyte', () => client.bytes() > 1 << 20, 5000);
    client.socket.destroy();
    const [endpoint] = endpointsOf(lb);
    await assertSettled(lb);
    assert.equal(connectionsOf(endpoint).idleCount, 0, 'the half-read upstream socket is not returned to the idle stack');
    await assertCleanResponses();
  });

  test('a client that stops reading and then resets: the paused upstream socket is closed, not pooled', async () => {
    const client = await rawClient(lb.port());
    client.socket.write('GET /?bytes=500000000 HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor('the response to start', () => client.bytes() > 0, 5000);
    client.socket.pause(); // buffers fill, Fulcrum pauses the upstream
    await sleep(300);
    const [endpoint] = endpointsOf(lb);
    assert.equal(endpoint.inFlight, 1);
    client.socket.resetAndDestroy();
    await assertSettled(lb);
    assert.equal(connectionsOf(endpoint).idleCount, 0);
    await assertCleanResponses();
  });

  test('a client that resets mid-upload: the upstream socket holding half a request is closed, not pooled', async () => {
    const client = await rawClient(lb.port());
    client.socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n');
    const piece = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 16; i++) client.socket.write(piece); // 1 MiB of 10
    const [endpoint] = endpointsOf(lb);
    await waitFor('the upload to reach the endpoint', () => endpoint.inFlight === 1);
    await sleep(100);
    client.socket.resetAndDestroy();
    await assertSettled(lb);
    assert.equal(connectionsOf(endpoint).idleCount, 0);
    await assertCleanResponses();
  });
});
