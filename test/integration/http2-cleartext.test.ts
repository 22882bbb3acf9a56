// Prior-knowledge h2c (RFC 9113 §3.3) on an `http` listener: with `http2: { cleartext: true }` a connection
// that opens with the HTTP/2 preface is served as HTTP/2 (also when the preface arrives in pieces), while
// HTTP/1.1 clients on the same port are served as before; without it the preface is refused (505, closed)
// and HTTP/1.1 still works.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { startEchoOrigin, type EchoReply, type Origin } from '../helpers/origins.ts';

let origin: Origin;
let lb: RunningFulcrum;

before(async () => {
  origin = await startEchoOrigin({ name: 'app' });
  const routes = [{ forward: { pool: 'app' } }];
  lb = await startFulcrum({
    listeners: [
      { name: 'h2c', address: '127.0.0.1:0', http2: { cleartext: true }, routes },
      { name: 'h1only', address: '127.0.0.1:0', http2: {}, routes },
    ],
    pools: [{ name: 'app', endpoints: [{ address: origin.address }] }],
  });
});

after(async () => {
  await lb.stop(500);
  await origin.close();
});

function get(session: http2.ClientHttp2Session, path: string, body?: Buffer): Promise<{ status: number; echo: EchoReply }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path, ':method': body === undefined ? 'GET' : 'POST' }, { endStream: body === undefined });
    let status = 0;
    let text = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.setEncoding('utf8');
    req.on('data', (d: string) => (text += d));
    req.on('end', () => resolve({ status, echo: JSON.parse(text) as EchoReply }));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

test('h2c prior knowledge is served as HTTP/2 with X-Forwarded-Proto http', async () => {
  const session = http2.connect(`http://127.0.0.1:${lb.port('h2c')}`);
  try {
    const a = await get(session, '/one');
    assert.equal(a.status, 200);
    assert.equal(a.echo.url, '/one');
    assert.equal(a.echo.headers['x-forwarded-proto'], 'http');
    assert.equal(a.echo.headers.host, `127.0.0.1:${lb.port('h2c')}`);
    const b = await get(session, '/two', Buffer.alloc(100_000, 7));
    assert.equal(b.echo.method, 'POST');
    assert.equal(b.echo.bodyBytes, 100_000);
    assert.equal(session.alpnProtocol, 'h2c');
  } finally {
    session.close();
  }
});

test('HTTP/1.1 clients keep working on the h2c listener and on the one without cleartext', async () => {
  for (const name of ['h2c', 'h1only']) {
    const res = await request(lb.url('/h1', name));
    const echo = (await res.body.json()) as EchoReply;
    assert.equal(res.statusCode, 200);
    assert.equal(echo.httpVersion, '1.1');
    assert.equal(echo.url, '/h1');
  }
});

test('a preface that arrives in pieces is still recognised', async () => {
  const socket = net.connect(lb.port('h2c'), '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const frames: { type: number; flags: number; id: number }[] = [];
  let buf = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
      frames.push({ type: buf[3], flags: buf[4], id: buf.readUInt32BE(5) & 0x7fffffff });
      buf = buf.subarray(9 + buf.readUIntBE(0, 3));
    }
  });
  socket.on('error', () => {});
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
  socket.write(preface.subarray(0, 5));
  await sleep(30);
  socket.write(preface.subarray(5, 16));
  await sleep(30);
  socket.write(Buffer.concat([preface.subarray(16), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])])); // + empty SETTINGS
  // HEADERS on stream 1 (END_STREAM | END_HEADERS): :method GET, :scheme http, :path /, :authority x (HPACK)
  const block = Buffer.from([0x82, 0x86, 0x84, 0x01, 0x01, 0x78]);
  const head = Buffer.from([0, 0, block.length, 1, 0x05, 0, 0, 0, 1]);
  socket.write(Buffer.concat([Buffer.from([0, 0, 0, 4, 1, 0, 0, 0, 0]), head, block]));
  const t0 = Date.now();
  while (!frames.some((f) => f.type === 0 && f.id === 1 && (f.flags & 1) === 1) && Date.now() - t0 < 3000) await sleep(10);
  socket.destroy();
  assert.ok(frames.some((f) => f.type === 4 && (f.flags & 1) === 0), 'the server sent its SETTINGS');
  assert.ok(frames.some((f) => f.type === 1 && f.id === 1), 'a response HEADERS frame on stream 1');
  assert.ok(frames.some((f) => f.type === 0 && f.id === 1 && (f.flags & 1) === 1), 'the response body ended on stream 1');
});

test('without cleartext a prior-knowledge client is refused and the connection closed', async () => {
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(lb.port('h1only'), '127.0.0.1', () => socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00'));
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
    setTimeout(() => socket.destroy(), 3000);
  });
  assert.match(raw, /^HTTP\/1\.1 505 /);
  assert.match(raw, /x-fulcrum-reason: version_not_supported/);

  const session = http2.connect(`http://127.0.0.1:${lb.port('h1only')}`);
  const outcome = await new Promise<string>((resolve) => {
    session.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
    session.on('close', () => resolve('closed'));
    const req = session.request({ ':path': '/' });
    req.on('response', () => resolve('response'));
    req.on('error', () => {});
  });
  session.destroy();
  assert.notEqual(outcome, 'response', 'no HTTP/2 response without cleartext');
});

test('a reload that turns cleartext off refuses new prior-knowledge clients; HTTP/1.1 goes on', async () => {
  const config = (cleartext: boolean) => ({
    listeners: [{ name: 'edge', address: '127.0.0.1:0', http2: { cleartext }, routes: [{ forward: { pool: 'app' } }] }],
    pools: [{ name: 'app', endpoints: [{ address: origin.address }] }],
  });
  const edge = await startFulcrum(config(true));
  try {
    const before = http2.connect(`http://127.0.0.1:${edge.port()}`);
    assert.equal((await get(before, '/before')).status, 200);
    before.close();
    const reloaded = await edge.reload(config(false)); // same protocol and address: the listener is kept
    assert.ok(reloaded.ok, reloaded.errors.join('\n'));
    const raw = await new Promise<string>((resolve) => {
      const socket = net.connect(edge.port(), '127.0.0.1', () => socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
      const chunks: Buffer[] = [];
      socket.on('data', (d: Buffer) => chunks.push(d));
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      socket.on('error', () => {});
    });
    assert.match(raw, /^HTTP\/1\.1 505 /);
    const res = await request(`http://127.0.0.1:${edge.port()}/h1`);
    assert.equal(res.statusCode, 200);
    await res.body.text();
  } finally {
    await edge.stop(500);
  }
});

test('a graceful stop sends GOAWAY and lets the stream in flight finish', async () => {
  const edge = await startFulcrum({
    listeners: [{ name: 'edge', address: '127.0.0.1:0', http2: { cleartext: true }, routes: [{ forward: { pool: 'app' } }] }],
    pools: [{ name: 'app', endpoints: [{ address: origin.address }] }],
  });
  const session = http2.connect(`http://127.0.0.1:${edge.port()}`);
  session.on('error', () => {});
  const goaway = new Promise<number>((r) => session.once('goaway', (code: number) => r(code)));
  const inFlight = get(session, '/slow?delay=300');
  await sleep(100);
  const stopped = edge.stop(3000);
  const answer = await inFlight;
  assert.equal(answer.status, 200);
  assert.equal(answer.echo.url, '/slow?delay=300');
  assert.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR);
  const t0 = performance.now();
  await stopped;
  assert.ok(performance.now() - t0 < 2000, 'the stop did not wait for its drain timeout');
  session.destroy();
});
