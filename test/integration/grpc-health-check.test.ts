// The grpc health check against real peers on 127.0.0.1: a @grpc/grpc-js server implementing
// grpc.health.v1.Health (statuses per service set by the test), over h2c and over TLS, and node:http2 peers
// that answer what a test scripts (404, wrong content-type, malformed or oversized messages, nothing at all).
// Proves: healthy only on HTTP 200 + grpc-status 0 + SERVING, each failure's detail, abort settles promptly,
// no connection outlives its probe, and through the scheduler a NOT_SERVING endpoint goes down after `fall`
// probes and comes back after `rise`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { stateEvents, type StateEvent } from '../../src/core/events.ts';
import { Endpoint, EndpointState } from '../../src/upstream/endpoint.ts';
import { decodeCheckResponse, encodeCheckRequest, grpcCheck, maxResponseBytes } from '../../src/upstream/health/check/grpc.ts';
import type { HealthCheck } from '../../src/upstream/health/types.ts';
import { endpointOf, simpleConfig, startFulcrum, waitFor } from '../helpers/fulcrum.ts';
import { freePort, startEchoOrigin } from '../helpers/origins.ts';
import { TestCa } from '../helpers/tls-certs.ts';

const protoPath = fileURLToPath(new URL('../fixtures/grpc/health.proto', import.meta.url));
const definition = protoLoader.loadSync(protoPath, { enums: String, defaults: true });
const healthService = (grpc.loadPackageDefinition(definition) as any).grpc.health.v1.Health.service as grpc.ServiceDefinition;
/** protobufjs's own encoder for HealthCheckResponse, to cross-check the hand-written decoder. */
const encodeResponse = (definition['grpc.health.v1.Health'] as any).Check.responseSerialize as (m: object) => Buffer;

function endpoint(port: number): Endpoint {
  return new Endpoint(`127.0.0.1:${port}`, '127.0.0.1', port, 1);
}

function check(options: Record<string, unknown> = {}, port: number | null = null, host: string | null = null): HealthCheck {
  return grpcCheck.create(grpcCheck.schema.parse(options), { port, host });
}

const signal = () => AbortSignal.timeout(3000);

/** Sockets open in this process (clients and accepted server sides); listeners are TCPServerWrap. */
const openSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

/** Waits (bounded) until no socket is open beyond `baseline`: every probe's connection was closed. */
async function noLeak(baseline: number): Promise<void> {
  await waitFor(`sockets back to ${baseline}`, () => openSockets() <= baseline, 2000);
}

/** A grpc-js server whose Health/Check answers `statuses` (service → ServingStatus name); NOT_FOUND for a
 *  service not in it, as the reference implementation does. Without `health`, it serves nothing. */
class HealthPeer {
  readonly statuses = new Map<string, string>([['', 'SERVING']]);
  /** Answers given, by status name or `NOT_FOUND`. */
  readonly answers = new Map<string, number>();
  readonly services: string[] = [];
  readonly authorities: string[] = [];
  private readonly server = new grpc.Server();
  port = 0;

  constructor(health = true) {
    if (!health) return;
    this.server.addService(healthService, {
      Check: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        this.services.push(call.request.service);
        this.authorities.push(call.getHost());
        const status = this.statuses.get(call.request.service);
        this.count(status ?? 'NOT_FOUND');
        if (status === undefined) callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
        else callback(null, { status });
      },
      Watch: (call: grpc.ServerWritableStream<unknown, unknown>) => call.end(),
    });
  }

  count(what: string): void {
    this.answers.set(what, (this.answers.get(what) ?? 0) + 1);
  }

  async start(credentials = grpc.ServerCredentials.createInsecure()): Promise<this> {
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', credentials, (err, port) => (err ? reject(err) : resolve(port))),
    );
    return this;
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

/** A node:http2 cleartext server that hands every stream to `reply`, tracking its sessions. */
class ScriptedPeer {
  reply: (stream: http2.ServerHttp2Stream) => void = () => {};
  readonly sessions = new Set<http2.ServerHttp2Session>();
  /** Request headers of every stream received. */
  readonly heads: http2.IncomingHttpHeaders[] = [];
  private readonly server = http2.createServer();
  port = 0;

  async start(): Promise<this> {
    this.server.on('session', (s) => {
      this.sessions.add(s);
      s.on('close', () => this.sessions.delete(s));
      s.on('error', () => {});
    });
    this.server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      this.heads.push(headers);
      stream.on('error', () => {});
      this.reply(stream);
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** A 200 application/grpc reply with `body`, then trailers `grpc-status: <status>`. */
  static grpcReply(body: Buffer, trailers: Record<string, string> = { 'grpc-status': '0' }) {
    return (stream: http2.ServerHttp2Stream): void => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers(trailers));
      stream.end(body);
    };
  }

  stop(): Promise<void> {
    for (const s of this.sessions) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** `message` framed as one gRPC length-prefixed message. */
function framed(message: Buffer, flag = 0): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flag;
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

describe('grpc check: wire format', () => {
  it('encodes HealthCheckRequest as one length-prefixed message (field 1 omitted when empty)', () => {
    assert.deepEqual([...encodeCheckRequest('')], [0, 0, 0, 0, 0]);
    assert.deepEqual([...encodeCheckRequest('a.b')], [0, 0, 0, 0, 5, 0x0a, 3, 0x61, 0x2e, 0x62]);
    // a 200-byte name needs a two-byte varint length: 200 = 0xc8 0x01
    const long = encodeCheckRequest('s'.repeat(200));
    assert.deepEqual([...long.subarray(0, 8)], [0, 0, 0, 0, 203, 0x0a, 0xc8, 0x01]);
    assert.equal(long.length, 5 + 203);
    // and protobufjs reads back what was written, multi-byte UTF-8 included
    const decode = (definition['grpc.health.v1.Health'] as any).Check.requestDeserialize as (b: Buffer) => { service: string };
    assert.equal(decode(encodeCheckRequest('dépôt.v1').subarray(5)).service, 'dépôt.v1');
  });

  it('decodes what protobufjs encodes, skipping unknown fields', () => {
    for (const [name, value] of [['UNKNOWN', 0], ['SERVING', 1], ['NOT_SERVING', 2], ['SERVICE_UNKNOWN', 3]] as const) {
      assert.equal(decodeCheckResponse(framed(encodeResponse({ status: name }))), value, name);
    }
    // unknown fields of every wire type around field 1 (a newer server's additions) are skipped
    const extra = Buffer.from([0x10, 0x96, 0x01, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x22, 2, 0x68, 0x69, 0x2d, 1, 2, 3, 4]);
    assert.equal(decodeCheckResponse(framed(Buffer.concat([extra, Buffer.from([0x08, 0x01]), extra]))), 1);
  });

  it('names what is wrong with a message that is not a HealthCheckResponse', () => {
    assert.equal(decodeCheckResponse(Buffer.alloc(0)), 'no response message');
    assert.equal(decodeCheckResponse(Buffer.from([0, 0, 0])), 'malformed message: truncated prefix');
    assert.equal(decodeCheckResponse(framed(Buffer.from([0x08, 0x01]), 1)), 'malformed message: compressed');
    assert.equal(decodeCheckResponse(framed(Buffer.from([0x08, 0x01])).subarray(0, 6)), 'malformed message: truncated');
    assert.equal(decodeCheckResponse(Buffer.concat([framed(Buffer.from([0x08, 0x01])), Buffer.from([0])])), 'malformed message: trailing bytes');
    assert.equal(decodeCheckResponse(framed(Buffer.from([0x0a, 0x01, 0x01]))), 'malformed message: status has wire type 2');
    assert.equal(decodeCheckResponse(framed(Buffer.from([0x08, 0x80]))), 'malformed message: bad varint');
    assert.equal(decodeCheckResponse(framed(Buffer.from([0x12, 0x05, 0x01]))), 'malformed message: field overruns message');
    assert.equal(decodeCheckResponse(framed(Buffer.from([0x13]))), 'malformed message: wire type 3');
  });
});

describe('grpc check against a grpc-js Health server (h2c)', () => {
  let peer: HealthPeer;
  let bare: HealthPeer;
  before(async () => {
    peer = await new HealthPeer().start();
    bare = await new HealthPeer(false).start();
  });
  after(() => {
    peer.stop();
    bare.stop();
  });

  it('SERVING for the whole server: healthy; the request names service "" and the endpoint as :authority', async () => {
    const baseline = openSockets();
    const r = await check().probe(endpoint(peer.port), signal());
    assert.deepEqual(r, { ok: true, detail: 'SERVING' });
    assert.equal(peer.services.at(-1), '');
    assert.equal(peer.authorities.at(-1), `127.0.0.1:${peer.port}`);
    await noLeak(baseline);
  });

  it('a named service: SERVING is healthy; NOT_SERVING, UNKNOWN and SERVICE_UNKNOWN are not', async () => {
    const c = check({ service: 'shop.Cart' });
    const e = endpoint(peer.port);
    peer.statuses.set('shop.Cart', 'SERVING');
    assert.deepEqual(await c.probe(e, signal()), { ok: true, detail: 'SERVING' });
    assert.equal(peer.services.at(-1), 'shop.Cart');
    for (const status of ['NOT_SERVING', 'UNKNOWN', 'SERVICE_UNKNOWN']) {
      peer.statuses.set('shop.Cart', status);
      assert.deepEqual(await c.probe(e, signal()), { ok: false, detail: status });
    }
    // the whole server is still SERVING: the check asks only about its service
    assert.deepEqual(await check().probe(e, signal()), { ok: true, detail: 'SERVING' });
  });

  it('a service the server does not know: grpc-status 5 (NOT_FOUND)', async () => {
    const r = await check({ service: 'no.Such' }).probe(endpoint(peer.port), signal());
    assert.deepEqual(r, { ok: false, detail: 'grpc-status 5 (NOT_FOUND)' });
  });

  it('a server without the health service: grpc-status 12 (UNIMPLEMENTED)', async () => {
    const baseline = openSockets();
    const r = await check().probe(endpoint(bare.port), signal());
    assert.deepEqual(r, { ok: false, detail: 'grpc-status 12 (UNIMPLEMENTED)' });
    await noLeak(baseline);
  });

  it('authority, and health.port / health.address overrides, are honoured', async () => {
    const dead = await freePort();
    const r = await check({ authority: 'cart.internal:50051' }, peer.port, '127.0.0.1').probe(new Endpoint('x', '127.0.0.2', dead, 1), signal());
    assert.deepEqual(r, { ok: true, detail: 'SERVING' });
    assert.equal(peer.authorities.at(-1), 'cart.internal:50051');
  });

  it('an HTTP/1.1 server is not healthy', async () => {
    const origin = await startEchoOrigin({ name: 'h1' });
    try {
      assert.deepEqual(await check().probe(endpoint(origin.port), signal()), { ok: false, detail: 'read ERR_HTTP2_ERROR' });
    } finally {
      await origin.close();
    }
  });

  it('connection refused: connect ECONNREFUSED', async () => {
    const r = await check().probe(endpoint(await freePort()), signal());
    assert.deepEqual(r, { ok: false, detail: 'connect ECONNREFUSED' });
  });

  it('one connection per probe, each closed: many probes leave no socket open', async () => {
    const baseline = openSockets();
    const c = check();
    for (let i = 0; i < 20; i++) assert.equal((await c.probe(endpoint(peer.port), signal())).ok, true);
    await noLeak(baseline);
  });
});

describe('grpc check over TLS', () => {
  const ca = new TestCa();
  const other = new TestCa('Other CA');
  const issued = ca.server('grpc', ['grpc.test']);
  let peer: HealthPeer;
  before(async () => {
    const credentials = grpc.ServerCredentials.createSsl(null, [{ private_key: readFileSync(issued.key), cert_chain: issued.certPem }], false);
    peer = await new HealthPeer().start(credentials);
  });
  after(() => peer.stop());

  it('verified against the CA for servername: healthy', async () => {
    const baseline = openSockets();
    const r = await check({ tls: true, ca: ca.cert, servername: 'grpc.test' }).probe(endpoint(peer.port), signal());
    assert.deepEqual(r, { ok: true, detail: 'SERVING' });
    await noLeak(baseline);
  });

  it('a wrong CA or a wrong name fails at connect; verify: false accepts any certificate', async () => {
    const wrongCa = await check({ tls: true, ca: other.cert, servername: 'grpc.test' }).probe(endpoint(peer.port), signal());
    assert.deepEqual(wrongCa, { ok: false, detail: 'connect UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    const wrongName = await check({ tls: true, ca: ca.cert, servername: 'other.test' }).probe(endpoint(peer.port), signal());
    assert.deepEqual(wrongName, { ok: false, detail: 'connect ERR_TLS_CERT_ALTNAME_INVALID' });
    const unverified = await check({ tls: true, ca: other.cert, verify: false }).probe(endpoint(peer.port), signal());
    assert.deepEqual(unverified, { ok: true, detail: 'SERVING' });
  });

  it('cleartext against a TLS server, or TLS against a cleartext one, is not healthy', async () => {
    const baseline = openSockets();
    const cleartext = await check().probe(endpoint(peer.port), signal());
    assert.equal(cleartext.ok, false, cleartext.detail);
    const h2c = await new HealthPeer().start();
    try {
      const r = await check({ tls: true, ca: ca.cert, servername: 'grpc.test' }).probe(endpoint(h2c.port), signal());
      assert.equal(r.ok, false, r.detail);
      assert.match(r.detail, /^connect /);
      assert.equal((await check().probe(endpoint(h2c.port), signal())).ok, true, 'the same peer in cleartext');
    } finally {
      h2c.stop();
    }
    await noLeak(baseline);
  });
});

describe('grpc check against scripted HTTP/2 peers', () => {
  let peer: ScriptedPeer;
  before(async () => {
    peer = await new ScriptedPeer().start();
  });
  after(() => peer.stop());

  const probe = () => check().probe(endpoint(peer.port), signal());
  const serving = framed(Buffer.from([0x08, 0x01]));

  it('sends POST /grpc.health.v1.Health/Check, application/grpc, te: trailers, one framed request', async () => {
    let body = Buffer.alloc(0);
    peer.reply = (stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.once('end', () => {
        body = Buffer.concat(chunks);
        ScriptedPeer.grpcReply(serving)(stream);
      });
    };
    assert.deepEqual(await check({ service: 'x' }).probe(endpoint(peer.port), signal()), { ok: true, detail: 'SERVING' });
    const seen = peer.heads.at(-1)!;
    assert.equal(seen[':method'], 'POST');
    assert.equal(seen[':path'], '/grpc.health.v1.Health/Check');
    assert.equal(seen[':scheme'], 'http');
    assert.equal(seen['content-type'], 'application/grpc');
    assert.equal(seen.te, 'trailers');
    assert.deepEqual([...body], [...encodeCheckRequest('x')]);
  });

  it('an HTTP status other than 200: status 404', async () => {
    peer.reply = (stream) => stream.respond({ ':status': 404 }, { endStream: true });
    assert.deepEqual(await probe(), { ok: false, detail: 'status 404' });
  });

  it('a reply that is not application/grpc', async () => {
    peer.reply = (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'text/html' });
      stream.end('<p>ok</p>');
    };
    assert.deepEqual(await probe(), { ok: false, detail: 'content-type text/html' });
  });

  it('trailers-only replies carry grpc-status in the headers', async () => {
    peer.reply = (stream) => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14' }, { endStream: true });
    assert.deepEqual(await probe(), { ok: false, detail: 'grpc-status 14 (UNAVAILABLE)' });
  });

  it('SERVING in the message but grpc-status not 0, or missing: not healthy', async () => {
    peer.reply = ScriptedPeer.grpcReply(serving, { 'grpc-status': '13', 'grpc-message': 'boom' });
    assert.deepEqual(await probe(), { ok: false, detail: 'grpc-status 13 (INTERNAL)' });
    peer.reply = ScriptedPeer.grpcReply(serving, { 'x-other': '1' });
    assert.deepEqual(await probe(), { ok: false, detail: 'no grpc-status' });
    peer.reply = ScriptedPeer.grpcReply(serving);
    assert.deepEqual(await probe(), { ok: true, detail: 'SERVING' });
  });

  it('malformed, empty, out-of-range and oversized messages are not healthy', async () => {
    peer.reply = ScriptedPeer.grpcReply(serving.subarray(0, 6));
    assert.deepEqual(await probe(), { ok: false, detail: 'malformed message: truncated' });
    peer.reply = ScriptedPeer.grpcReply(Buffer.alloc(0));
    assert.deepEqual(await probe(), { ok: false, detail: 'no response message' });
    peer.reply = ScriptedPeer.grpcReply(framed(Buffer.from([0x08, 0x07])));
    assert.deepEqual(await probe(), { ok: false, detail: 'serving status 7' });
    const baseline = openSockets();
    peer.reply = ScriptedPeer.grpcReply(framed(Buffer.alloc(64 * 1024)));
    assert.deepEqual(await probe(), { ok: false, detail: `response over ${maxResponseBytes} bytes` });
    await noLeak(baseline);
    await waitFor('the peer to see every session close', () => peer.sessions.size === 0, 2000);
  });

  it('a stream reset before the reply: not healthy', async () => {
    peer.reply = (stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    const r = await probe();
    assert.equal(r.ok, false);
    assert.match(r.detail, /^(stream reset \(code 7\)|read ERR_HTTP2_STREAM_ERROR)$/, r.detail);
  });

  it('a peer that never answers: the probe settles promptly on abort and its session is closed', async () => {
    const baseline = openSockets();
    let streams = 0;
    peer.reply = () => streams++;
    const controller = new AbortController();
    const pending = check().probe(endpoint(peer.port), controller.signal);
    await waitFor('the request to arrive', () => streams === 1, 2000);
    assert.equal(peer.sessions.size, 1);
    const t0 = performance.now();
    controller.abort();
    const r = await pending;
    assert.deepEqual(r, { ok: false, detail: 'aborted' });
    assert.ok(performance.now() - t0 < 100, 'settled at once');
    await waitFor('the peer to see the session close', () => peer.sessions.size === 0, 2000);
    await noLeak(baseline);
  });

  it('an already aborted signal opens nothing', async () => {
    const baseline = openSockets();
    let streams = 0;
    peer.reply = () => streams++;
    assert.deepEqual(await check().probe(endpoint(peer.port), AbortSignal.abort()), { ok: false, detail: 'aborted' });
    await sleep(50);
    assert.equal(streams, 0);
    assert.equal(openSockets(), baseline);
  });
});

describe('grpc check driven by the scheduler', () => {
  const intervalMs = 100;
  const rise = 2;
  const fall = 2;
  /** Timer lateness on a busy two-core machine. */
  const slackMs = 1500;

  it('NOT_SERVING takes the endpoint down after `fall` probes; SERVING brings it back after `rise`', async () => {
    const a = await new HealthPeer().start();
    const b = await new HealthPeer().start();
    for (const p of [a, b]) p.statuses.set('shop.Cart', 'SERVING');
    const addresses = [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`];
    const health = { grpc: { service: 'shop.Cart' }, interval: `${intervalMs}ms`, timeout: '500ms', rise, fall };
    const lb = await startFulcrum(simpleConfig(addresses, { pool: { health } }));
    const events: { event: StateEvent; answers: number }[] = [];
    const unsubscribe = stateEvents.subscribe((event) => {
      if (event.kind !== 'health' || event.endpoint !== addresses[0]) return;
      // counted at the moment of the transition: how many answers of the new kind a's server had given
      events.push({ event, answers: a.answers.get(event.to === 'unhealthy' ? 'NOT_SERVING' : 'SERVING') ?? 0 });
    });
    try {
      const ea = endpointOf(lb, addresses[0]);
      const pool = lb.rt.generation.pools.get('app')!;
      await waitFor('first probes', () => (a.answers.get('SERVING') ?? 0) >= 1 && (b.answers.get('SERVING') ?? 0) >= 1, intervalMs * 2 + slackMs);
      assert.equal(ea.state, EndpointState.healthy);

      a.statuses.set('shop.Cart', 'NOT_SERVING');
      await waitFor('a unhealthy', () => ea.state === EndpointState.unhealthy, intervalMs * 1.1 * (fall + 1) + slackMs);
      assert.equal(events.length, 1);
      assert.equal(events[0].event.reason, `${fall} failed checks: NOT_SERVING`);
      assert.equal(events[0].answers, fall, 'down on exactly the fall-th NOT_SERVING answer');
      assert.deepEqual(pool.eligible.map((e) => e.key), [addresses[1]]);
      assert.equal(ea.lastProbe, 'NOT_SERVING');

      a.answers.set('SERVING', 0);
      a.statuses.set('shop.Cart', 'SERVING');
      await waitFor('a healthy again', () => ea.state === EndpointState.healthy, intervalMs * 1.1 * (rise + 1) + slackMs);
      assert.equal(events.length, 2);
      assert.equal(events[1].event.reason, `${rise} successful checks: SERVING`);
      assert.equal(events[1].answers, rise, 'up on exactly the rise-th SERVING answer');
      assert.deepEqual(pool.eligible.map((e) => e.key), addresses);
      assert.equal(ea.healthTransitions, 2);
      assert.equal(b.answers.get('NOT_SERVING') ?? 0, 0);
    } finally {
      unsubscribe();
      await lb.stop(500);
      a.stop();
      b.stop();
    }
  });
});
