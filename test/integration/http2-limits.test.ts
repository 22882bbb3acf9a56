// HTTP/2 limits and floods: SETTINGS_MAX_CONCURRENT_STREAMS is advertised (node's client then queues the
// streams beyond it) and enforced on a client that ignores it (REFUSED_STREAM before it acknowledged the
// SETTINGS, GOAWAY PROTOCOL_ERROR after); SETTINGS_MAX_HEADER_LIST_SIZE is advertised and a larger list gets
// 431, as does a list with more fields than `limits.maxHeaders`; a rapid-reset client (HEADERS + RST_STREAM in
// a tight loop, CVE-2023-44487) and one that cancels streams in flight both get GOAWAY(ENHANCE_YOUR_CALM) and
// lose their connection, while another client on the same listener keeps working.
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { startFulcrum, waitFor, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { startEchoOrigin, type Origin } from '../helpers/origins.ts';
import { TestCa } from '../helpers/tls-certs.ts';

const T = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, GOAWAY: 7 } as const;
const E = { PROTOCOL_ERROR: 1, CANCEL: 8, REFUSED_STREAM: 7, ENHANCE_YOUR_CALM: 11 } as const;
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function frame(type: number, flags: number, id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(id, 5);
  return Buffer.concat([h, payload]);
}
/** HPACK string literal, no Huffman (RFC 7541 §5.2), lengths under 127. */
function str(s: string): Buffer {
  return Buffer.concat([Buffer.from([s.length]), Buffer.from(s, 'latin1')]);
}
/** GET `path` with :scheme `scheme`: static-table indices 2 (GET), 6/7 (http/https); :path and :authority literal. */
function requestBlock(path: string, scheme: 'http' | 'https'): Buffer {
  return Buffer.concat([Buffer.from([0x82, scheme === 'http' ? 0x86 : 0x87, 0x04]), str(path), Buffer.from([0x01]), str('localhost')]);
}
const END_STREAM_HEADERS = 0x05;
const rst = (id: number, code: number): Buffer => frame(T.RST_STREAM, 0, id, Buffer.from([0, 0, 0, code]));

interface Frame {
  type: number;
  flags: number;
  id: number;
  payload: Buffer;
}

/** A hand-driven HTTP/2 client: writes what it is told, ignoring the server's limits; records every frame. */
class RawClient {
  readonly socket: net.Socket;
  readonly frames: Frame[];
  closed: boolean;
  private buf: Buffer;

  constructor(socket: net.Socket) {
    this.socket = socket;
    this.frames = [];
    this.closed = false;
    this.buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 9 && this.buf.length >= 9 + this.buf.readUIntBE(0, 3)) {
        const len = this.buf.readUIntBE(0, 3);
        this.frames.push({ type: this.buf[3], flags: this.buf[4], id: this.buf.readUInt32BE(5) & 0x7fffffff, payload: this.buf.subarray(9, 9 + len) });
        this.buf = this.buf.subarray(9 + len);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => (this.closed = true));
  }

  static async h2c(port: number): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    return RawClient.start(socket);
  }

  static async h2(port: number, ca: Buffer): Promise<RawClient> {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca, ALPNProtocols: ['h2'] });
    await new Promise((r) => socket.once('secureConnect', r));
    assert.equal(socket.alpnProtocol, 'h2');
    return RawClient.start(socket);
  }

  private static async start(socket: net.Socket): Promise<RawClient> {
    const c = new RawClient(socket);
    socket.write(Buffer.concat([PREFACE, frame(T.SETTINGS, 0, 0)]));
    await waitFor('server SETTINGS', () => c.frames.some((f) => f.type === T.SETTINGS && (f.flags & 1) === 0), 3000);
    return c;
  }

  ackSettings(): void {
    this.socket.write(frame(T.SETTINGS, 1, 0));
  }

  goaway(): { lastStreamId: number; code: number } | null {
    const g = this.frames.find((f) => f.type === T.GOAWAY);
    return g === undefined ? null : { lastStreamId: g.payload.readUInt32BE(0) & 0x7fffffff, code: g.payload.readUInt32BE(4) };
  }

  resetsOf(code: number): number[] {
    return this.frames.filter((f) => f.type === T.RST_STREAM && f.payload.readUInt32BE(0) === code).map((f) => f.id);
  }
}

/** An HTTP/1.1 endpoint that holds every request `delayMs` and records the most it held at once. */
async function startHolding(delayMs: number): Promise<{ address: string; requests: number; peak: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = http.createServer();
  let inFlight = 0;
  const h = {
    address: '',
    requests: 0,
    peak: 0,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    h.requests++;
    h.peak = Math.max(h.peak, ++inFlight);
    req.resume();
    setTimeout(() => {
      inFlight--;
      res.writeHead(200, { 'content-length': 2 }).end('ok');
    }, delayMs);
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  h.address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return h;
}

function get(session: http2.ClientHttp2Session, path: string, headers: http2.OutgoingHttpHeaders = {}): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path, ...headers });
    let status = 0;
    let head: http2.IncomingHttpHeaders = {};
    let body = '';
    req.on('response', (h) => ((status = Number(h[':status'])), (head = h)));
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => resolve({ status, headers: head, body }));
    req.on('error', reject);
  });
}

let origin: Origin;
const running: RunningFulcrum[] = [];
before(async () => {
  origin = await startEchoOrigin({ name: 'app' });
});
after(async () => {
  for (const lb of running) await lb.stop(500);
  await origin.close();
});

async function start(listener: object, endpoint = origin.address): Promise<RunningFulcrum> {
  const lb = await startFulcrum({
    listeners: [{ name: 'edge', address: '127.0.0.1:0', routes: [{ forward: { pool: 'app' } }], ...listener }],
    pools: [{ name: 'app', endpoints: [{ address: endpoint }] }],
  });
  running.push(lb);
  return lb;
}

describe('maxConcurrentStreams (default 128)', () => {
  test('advertised: node’s client queues beyond it, the endpoint never holds more than 128, all 200 complete', async () => {
    const holding = await startHolding(300);
    const lb = await start({ http2: { cleartext: true } }, holding.address);
    const session = http2.connect(`http://127.0.0.1:${lb.port()}`);
    try {
      const settings = await new Promise<http2.Settings>((r) => session.once('remoteSettings', r));
      assert.equal(settings.maxConcurrentStreams, 128);
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => get(session, `/q/${i}`)));
      assert.ok(answers.every((a) => a.status === 200));
      assert.equal(holding.requests, 200);
      assert.ok(holding.peak <= 128 && holding.peak > 64, `at most 128 at once, saw ${holding.peak}`);
    } finally {
      session.close();
      await holding.close();
    }
  });

  test('enforced: the 129th stream is refused (REFUSED_STREAM) before SETTINGS are acknowledged, a GOAWAY (PROTOCOL_ERROR) after', async () => {
    const holding = await startHolding(400);
    const lb = await start({ http2: { cleartext: true } }, holding.address);
    try {
      const early = await RawClient.h2c(lb.port());
      const burst: Buffer[] = [];
      for (let i = 0; i < 129; i++) burst.push(frame(T.HEADERS, END_STREAM_HEADERS, 1 + 2 * i, requestBlock(`/early/${i}`, 'http')));
      early.socket.write(Buffer.concat(burst));
      await waitFor('a reset of stream 257', () => early.resetsOf(E.REFUSED_STREAM).length > 0, 3000);
      assert.deepEqual(early.resetsOf(E.REFUSED_STREAM), [257]);
      early.ackSettings();
      await waitFor('128 responses', () => early.frames.filter((f) => f.type === T.DATA && (f.flags & 1) === 1).length === 128, 5000);
      assert.equal(holding.peak, 128);
      early.socket.destroy();

      const late = await RawClient.h2c(lb.port());
      late.ackSettings();
      await sleep(50);
      const more: Buffer[] = [];
      for (let i = 0; i < 129; i++) more.push(frame(T.HEADERS, END_STREAM_HEADERS, 1 + 2 * i, requestBlock(`/late/${i}`, 'http')));
      late.socket.write(Buffer.concat(more));
      await waitFor('GOAWAY', () => late.goaway() !== null, 3000);
      assert.deepEqual(late.goaway(), { lastStreamId: 255, code: E.PROTOCOL_ERROR });
      await waitFor('the connection closed', () => late.closed, 3000);
    } finally {
      await holding.close();
    }
  });
});

describe('header list limits', () => {
  test('maxHeaderListSize is advertised and a larger list is reset (ENHANCE_YOUR_CALM) without reaching the endpoint', async () => {
    const lb = await start({ http2: { cleartext: true, maxHeaderListSize: '16kb' } });
    const session = http2.connect(`http://127.0.0.1:${lb.port()}`);
    try {
      const settings = await new Promise<http2.Settings>((r) => session.once('remoteSettings', r));
      assert.equal(settings.maxHeaderListSize, 16 * 1024);
      await sleep(20); // our SETTINGS ACK reached the server: the limit is in force
      const before = origin.requests;
      const err = await get(session, '/big', { 'x-big': 'a'.repeat(20_000) }).then(
        () => null,
        (e: NodeJS.ErrnoException) => e,
      );
      assert.equal(err?.code, 'ERR_HTTP2_STREAM_ERROR');
      assert.match(String(err?.message), /NGHTTP2_ENHANCE_YOUR_CALM/);
      assert.equal(origin.requests, before);
      const fine = await get(session, '/fine', { 'x-ok': 'a'.repeat(8_000) });
      assert.equal(fine.status, 200, 'the connection is still usable');
    } finally {
      session.close();
    }
  });

  test('more fields than limits.maxHeaders: 431 headers_too_large', async () => {
    const lb = await start({ http2: { cleartext: true }, limits: { maxHeaders: 20 } });
    const session = http2.connect(`http://127.0.0.1:${lb.port()}`);
    try {
      const headers: http2.OutgoingHttpHeaders = {};
      for (let i = 0; i < 21; i++) headers[`x-h${i}`] = 'v';
      const r = await get(session, '/many', headers);
      assert.equal(r.status, 431);
      assert.equal(r.headers['x-fulcrum-reason'], 'headers_too_large');
      delete headers['x-h20'];
      assert.equal((await get(session, '/fewer', headers)).status, 200);
    } finally {
      session.close();
    }
  });
});

describe('reset floods', () => {
  let ca: TestCa;
  let lb: RunningFulcrum;
  before(async () => {
    ca = new TestCa();
    const site = ca.server('site', ['localhost']);
    lb = await start({
      protocol: 'https',
      tls: { certificates: [{ cert: site.cert, key: site.key }] },
      http2: { maxResetsPer10s: 200 },
    });
  });

  test('rapid reset: HEADERS + RST_STREAM in a tight loop gets GOAWAY(ENHANCE_YOUR_CALM); another client keeps working', async () => {
    const bystander = http2.connect(`https://localhost:${lb.port()}`, { ca: ca.pem });
    bystander.on('error', () => {});
    try {
      assert.equal((await get(bystander, '/before')).status, 200);
      const attacker = await RawClient.h2(lb.port(), ca.pem);
      attacker.ackSettings();
      // 2,000 streams opened and cancelled within about a second, 20 at a time
      let sent = 0;
      const t0 = performance.now();
      while (sent < 2000 && !attacker.closed && attacker.goaway() === null) {
        const batch: Buffer[] = [];
        for (let i = 0; i < 20; i++, sent++) {
          const id = 1 + 2 * sent;
          batch.push(frame(T.HEADERS, END_STREAM_HEADERS, id, requestBlock(`/flood/${sent}`, 'https')), rst(id, E.CANCEL));
        }
        attacker.socket.write(Buffer.concat(batch));
        await sleep(10);
      }
      await waitFor('the attacker’s connection closed', () => attacker.closed, 3000);
      const elapsed = performance.now() - t0;
      assert.deepEqual(attacker.goaway()?.code, E.ENHANCE_YOUR_CALM, `GOAWAY ${JSON.stringify(attacker.goaway())}`);
      assert.ok(sent < 2000, `cut off after ${sent} streams (${elapsed.toFixed(0)} ms)`);
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => get(bystander, `/after/${i}`)));
      assert.ok(answers.every((a) => a.status === 200), 'the other client is unaffected');
    } finally {
      bystander.close();
    }
  });

  test('a client that cancels streams in flight is cut off the same way', async () => {
    const session = http2.connect(`https://localhost:${lb.port()}`, { ca: ca.pem });
    const goaway = new Promise<number>((r) => session.once('goaway', (code: number) => r(code)));
    session.on('error', () => {});
    let cancelled = 0;
    while (!session.closed && !session.destroyed && cancelled < 400) {
      const batch = Array.from({ length: 20 }, () => {
        const req = session.request({ ':path': '/?delay=1000' });
        req.on('error', () => {});
        return req;
      });
      // cancel once the streams reached the proxy (their requests went upstream)
      const seen = origin.requests + 20;
      await waitFor('the requests upstream', () => origin.requests >= seen || session.destroyed, 3000);
      for (const req of batch) req.close(http2.constants.NGHTTP2_CANCEL);
      cancelled += 20;
      await sleep(5);
    }
    assert.equal(await Promise.race([goaway, sleep(3000).then(() => -1)]), E.ENHANCE_YOUR_CALM);
    assert.ok(cancelled <= 240, `cut off after ${cancelled} cancelled streams`);
    await waitFor('the session closed', () => session.destroyed || session.closed, 3000);
  });
});
