// gRPC through Fulcrum with real @grpc/grpc-js clients and servers: an h2c listener in front of a pool with
// `protocol: h2`. Every call shape with its messages in order and its trailers (grpc-status, grpc-message,
// trailing metadata) intact; each call balanced on its own over one client connection; grpc-timeout honoured
// as the upstream timeout; UNAVAILABLE retried on another endpoint; cancellation reaching the server; local
// answers as gRPC statuses; large messages through flow control; TLS to the endpoints.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { afterEach, describe, it } from 'node:test';
import { startFulcrum, waitFor, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { echoClient, grpc, startEchoServer, unary, type EchoClient, type EchoServer, type Msg } from '../helpers/grpc-echo.ts';
import { TestCa } from '../helpers/tls-certs.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function servers(n: number): Promise<EchoServer[]> {
  const list: EchoServer[] = [];
  for (let i = 0; i < n; i++) {
    const s = await startEchoServer(`s${i}`);
    cleanups.push(() => s.close());
    list.push(s);
  }
  return list;
}

function grpcConfig(endpoints: readonly string[], pool: object = {}, listener: object = {}): unknown {
  return {
    listeners: [{ name: 'grpc', address: '127.0.0.1:0', http2: { cleartext: true }, routes: [{ forward: { pool: 'app' } }], ...listener }],
    pools: [{ name: 'app', protocol: 'h2', balancer: { algorithm: 'round-robin' }, endpoints: endpoints.map((address) => ({ address })), ...pool }],
  };
}

async function fulcrum(config: unknown): Promise<RunningFulcrum> {
  const lb = await startFulcrum(config);
  cleanups.push(() => lb.stop(500));
  return lb;
}

function client(lb: RunningFulcrum): EchoClient {
  const c = echoClient(lb.port());
  cleanups.push(() => c.close());
  return c;
}

function collect<T>(stream: NodeJS.EventEmitter): Promise<{ items: T[]; status: grpc.StatusObject }> {
  return new Promise((resolve, reject) => {
    const items: T[] = [];
    let status: grpc.StatusObject | null = null;
    let ended = false;
    const settle = (): void => {
      if (status !== null && ended) resolve({ items, status });
    };
    stream.on('data', (m: T) => items.push(m));
    stream.on('status', (s: grpc.StatusObject) => {
      status = s;
      settle();
    });
    stream.on('end', () => {
      ended = true;
      settle();
    });
    stream.on('error', (err: grpc.ServiceError) => {
      if (err.code === undefined) reject(err);
      status = { code: err.code, details: err.details, metadata: err.metadata };
      ended = true;
      settle();
    });
  });
}

describe('gRPC through an h2 pool', () => {
  it('unary calls on one client connection are balanced per call, with replies and trailing metadata intact', async () => {
    const backends = await servers(3);
    const lb = await fulcrum(grpcConfig(backends.map((b) => b.address)));
    const c = client(lb);
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => unary(c, { text: `hello ${i}`, count: i })));
    for (const [i, r] of results.entries()) {
      assert.equal(r.err, null, `call ${i}: ${r.err?.message}`);
      assert.equal(r.reply!.text, `hello ${i}`);
      assert.equal(r.reply!.count, i);
      assert.deepEqual(r.trailers!.get('x-served-by'), [r.reply!.server], 'trailing metadata from the server that answered');
    }
    for (const b of backends) assert.equal(b.calls.get('Unary'), 10, `${b.name} got an equal share of round robin`);
    const sessions = lb.rt.generation.pools.get('app')!.endpoints.map((e) => e.connections?.openCount ?? 0);
    assert.deepEqual(sessions, [1, 1, 1], 'one multiplexed connection per endpoint');
  });

  it('a server status and message reach the client unchanged', async () => {
    const [b] = await servers(1);
    b.failWith = grpc.status.NOT_FOUND;
    const lb = await fulcrum(grpcConfig([b.address]));
    const r = await unary(client(lb), { text: 'x' });
    assert.equal(r.err?.code, grpc.status.NOT_FOUND);
    assert.equal(r.err?.details, 's0 says no');
    assert.equal(b.calls.get('Unary'), 1, 'NOT_FOUND is not retried');
  });

  it('server streaming: 200 messages in order, then the status', async () => {
    const [b] = await servers(1);
    const lb = await fulcrum(grpcConfig([b.address]));
    const { items, status } = await collect<Msg>(client(lb).ServerStream({ text: 'm', count: 200 }));
    assert.equal(status.code, grpc.status.OK);
    assert.deepEqual(status.metadata.get('x-served-by'), ['s0']);
    assert.deepEqual(items.map((m) => m.count), Array.from({ length: 200 }, (_, i) => i));
  });

  it('client streaming: 100 messages summed by the server', async () => {
    const [b] = await servers(1);
    const lb = await fulcrum(grpcConfig([b.address]));
    const reply = await new Promise<Msg>((resolve, reject) => {
      const call = client(lb).ClientStream((err, r) => (err ? reject(err) : resolve(r)));
      for (let i = 1; i <= 100; i++) call.write({ text: i % 10 === 0 ? 'x' : '', count: i });
      call.end();
    });
    assert.equal(reply.count, 5050);
    assert.equal(reply.text, 'xxxxxxxxxx');
  });

  it('bidirectional: each message answered before the next is sent', async () => {
    const [b] = await servers(1);
    const lb = await fulcrum(grpcConfig([b.address]));
    const call = client(lb).Bidi();
    const answers: Msg[] = [];
    let waiting: ((m: Msg) => void) | null = null;
    call.on('data', (m: Msg) => {
      answers.push(m);
      waiting?.(m);
    });
    for (let i = 0; i < 20; i++) {
      const got = new Promise<Msg>((r) => (waiting = r));
      call.write({ text: `ping ${i}`, count: i });
      const m = await got;
      assert.equal(m.text, `PING ${i}`);
    }
    const done = collect<Msg>(call);
    call.end();
    const { status } = await done;
    assert.equal(status.code, grpc.status.OK);
    assert.equal(answers.length, 20);
  });

  it('1 MiB messages both ways pass through flow control byte-exact', async () => {
    const [b] = await servers(1);
    const lb = await fulcrum(grpcConfig([b.address]));
    const blob = Buffer.alloc(1 << 20);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 31 + 7) & 0xff;
    const c = echoClient(lb.port(), undefined);
    cleanups.push(() => c.close());
    const r = await unary(c, { text: 'big', blob }, {});
    assert.equal(r.err, null, String(r.err?.message));
    assert.ok(Buffer.compare(r.reply!.blob, blob) === 0, 'the blob came back unchanged');
  });

  it('UNAVAILABLE is retried on another endpoint (gRPC-aware retries)', async () => {
    const [bad, good] = await servers(2);
    bad.failWith = grpc.status.UNAVAILABLE;
    const lb = await fulcrum(grpcConfig([bad.address, good.address], { retries: { budget: { percent: 100 } } }));
    const c = client(lb);
    for (let i = 0; i < 10; i++) {
      const r = await unary(c, { text: `${i}` });
      assert.equal(r.err, null, `call ${i}: ${r.err?.message}`);
      assert.equal(r.reply!.server, 's1');
    }
    assert.ok((bad.calls.get('Unary') ?? 0) >= 4, `the failing server was tried (${bad.calls.get('Unary')})`);
    assert.equal(good.calls.get('Unary'), 10);
  });

  it('without UNAVAILABLE in retries.grpc the status reaches the client', async () => {
    const [bad] = await servers(1);
    bad.failWith = grpc.status.UNAVAILABLE;
    const lb = await fulcrum(grpcConfig([bad.address], { retries: { grpc: [] } }));
    const r = await unary(client(lb), { text: 'x' });
    assert.equal(r.err?.code, grpc.status.UNAVAILABLE);
    assert.equal(r.err?.details, 's0 says no');
    assert.equal(bad.calls.get('Unary'), 1);
  });

  it('grpc-timeout bounds the wait for the endpoint: DEADLINE_EXCEEDED from Fulcrum', async () => {
    // An endpoint that ignores grpc-timeout (a grpc-js server would enforce the same deadline itself and race
    // Fulcrum's answer): it holds every stream without answering.
    const held: http2.Http2Stream[] = [];
    const silent = http2.createServer();
    silent.on('stream', (stream) => {
      held.push(stream);
      stream.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      for (const stream of held) stream.destroy();
      silent.close();
    });
    const lb = await fulcrum(grpcConfig([`127.0.0.1:${(silent.address() as import('node:net').AddressInfo).port}`]));
    // a raw HTTP/2 client that sends grpc-timeout but does not enforce it itself
    const session = http2.connect(`http://127.0.0.1:${lb.port()}`);
    cleanups.push(() => session.destroy());
    const t0 = performance.now();
    const req = session.request({ ':method': 'POST', ':path': '/fulcrum.test.Echo/Unary', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '200m' });
    req.end(Buffer.from([0, 0, 0, 0, 0]));
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.on('response', resolve));
    const elapsed = performance.now() - t0;
    assert.equal(headers[':status'], 200);
    assert.equal(headers['grpc-status'], '4', 'DEADLINE_EXCEEDED');
    assert.match(decodeURIComponent(String(headers['grpc-message'])), /upstream_timeout/);
    assert.ok(elapsed >= 180 && elapsed < 1500, `answered after the call's deadline, not the pool's (${elapsed.toFixed(0)} ms)`);
    req.destroy();
  });

  it('a client cancelling a streaming call cancels it at the server', async () => {
    const [b] = await servers(1);
    const lb = await fulcrum(grpcConfig([b.address]));
    const call = client(lb).ServerStream({ text: 'endless', count: 1_000_000 });
    let seen = 0;
    await new Promise<void>((resolve) => {
      call.on('data', () => {
        if (++seen === 50) resolve();
      });
    });
    call.on('error', () => {});
    call.cancel();
    await waitFor('the server to see the cancellation', () => b.cancelled === 1, 3000);
  });

  it('answers made by Fulcrum are gRPC statuses: no endpoint → UNAVAILABLE, no route → UNIMPLEMENTED', async () => {
    const lb = await fulcrum({
      listeners: [{ name: 'grpc', address: '127.0.0.1:0', http2: { cleartext: true }, routes: [{ match: { path: { prefix: '/fulcrum.test.Echo/' } }, forward: { pool: 'app' } }] }],
      pools: [{ name: 'app', protocol: 'h2', endpoints: [] }],
    });
    const r = await unary(client(lb), { text: 'x' });
    assert.equal(r.err?.code, grpc.status.UNAVAILABLE, String(r.err?.details));
    assert.match(r.err!.details ?? '', /no_eligible_endpoint/);
    const session = http2.connect(`http://127.0.0.1:${lb.port()}`);
    cleanups.push(() => session.destroy());
    const req = session.request({ ':method': 'POST', ':path': '/other.Service/Call', 'content-type': 'application/grpc', te: 'trailers' });
    req.end(Buffer.from([0, 0, 0, 0, 0]));
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.on('response', resolve));
    assert.equal(headers['grpc-status'], '12');
  });

  it('a dead endpoint is skipped (connect failure retried) and the call succeeds', async () => {
    const [b] = await servers(1);
    const dead = await startEchoServer('dead');
    const deadAddress = dead.address;
    await dead.close();
    const lb = await fulcrum(grpcConfig([deadAddress, b.address]));
    const c = client(lb);
    for (let i = 0; i < 6; i++) {
      const r = await unary(c, { text: `${i}` });
      assert.equal(r.err, null, String(r.err?.message));
      assert.equal(r.reply!.server, 's0');
    }
  });

  it('speaks h2 over TLS to endpoints, verifying them against the pool CA', async () => {
    const ca = new TestCa();
    const leaf = ca.server('grpc', ['localhost']);
    const creds = grpc.ServerCredentials.createSsl(null, [{ private_key: readFileSync(leaf.key), cert_chain: leaf.certPem }], false);
    const b = await startEchoServer('tls', creds);
    cleanups.push(() => b.close());
    const lb = await fulcrum(grpcConfig([`localhost:${b.port}`], { tls: { ca: ca.cert, servername: 'localhost' } }));
    const r = await unary(client(lb), { text: 'secure' });
    assert.equal(r.err, null, String(r.err?.message));
    assert.equal(r.reply!.server, 'tls');
  });
});
