// HTTP/2 clients over TLS (ALPN h2) in front of HTTP/1.1 endpoints: an https listener with `http2` negotiates
// h2 with node:http2 clients and http/1.1 with HTTP/1.1 clients on the same port; 1 MiB uploads and downloads
// arrive byte-exact (content-length and chunked, request bodies with and without content-length); HEAD, 204 and
// 304 carry no body; large header lists pass; chunked trailers become HTTP/2 trailers; connection-specific
// response fields are dropped; the endpoint sees plain HTTP/1.1 with Host from :authority, X-Forwarded-Proto
// https, joined cookies and no pseudo-headers.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { TestCa } from '../helpers/tls-certs.ts';

const MiB = 1024 * 1024;

/** Deterministic, non-repeating bytes: a corrupted, reordered or shifted byte changes the hash. */
function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + i) >>> 0;
    b[i] = x & 0xff;
  }
  return b;
}
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const oneMiB = pattern(MiB);

interface Seen {
  method: string;
  url: string;
  httpVersion: string;
  rawHeaders: string[];
  headers: http.IncomingHttpHeaders;
  bodyBytes: number;
  sha: string;
}

/** An HTTP/1.1 origin with a route per behaviour under test. */
function startOrigin(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  // node:http refuses heads over 16 KiB by default; the large-header test sends 20 KiB
  const server = http.createServer({ maxHeaderSize: 65536 }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      switch (url.pathname) {
        case '/download': {
          res.setHeader('content-type', 'application/octet-stream');
          res.setHeader('connection', 'keep-alive');
          res.setHeader('keep-alive', 'timeout=5');
          if (url.searchParams.get('chunked') === '1') {
            res.setHeader('trailer', 'x-checksum');
            for (let at = 0; at < oneMiB.length; at += 100_000) res.write(oneMiB.subarray(at, at + 100_000));
            res.addTrailers({ 'x-checksum': sha(oneMiB) });
            res.end();
          } else {
            res.setHeader('content-length', oneMiB.length);
            res.end(oneMiB);
          }
          return;
        }
        case '/status': {
          const status = Number(url.searchParams.get('code'));
          if (status === 304) res.setHeader('etag', '"v1"');
          res.writeHead(status).end();
          return;
        }
        case '/big-headers': {
          for (let i = 0; i < 20; i++) res.setHeader(`x-big-${i}`, String(i).repeat(1000).slice(0, 1000));
          res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
          res.end('ok');
          return;
        }
        default: {
          const seen: Seen = { method: req.method ?? '', url: req.url ?? '', httpVersion: req.httpVersion, rawHeaders: req.rawHeaders, headers: req.headers, bodyBytes: body.length, sha: sha(body) };
          const json = JSON.stringify(seen);
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
          res.end(json);
        }
      }
    });
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () => {
          for (const s of sockets) s.destroy();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}

interface H2Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  trailers: http2.IncomingHttpHeaders | null;
}

function h2request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer | Buffer[]): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: body === undefined });
    let status = 0;
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | null = null;
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      status = Number(h[':status']);
      head = h;
    });
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status, headers: head, body: Buffer.concat(chunks), trailers }));
    req.on('error', reject);
    if (body !== undefined) {
      for (const piece of Array.isArray(body) ? body : [body]) req.write(piece);
      req.end();
    }
  });
}

let ca: TestCa;
let origin: { port: number; close(): Promise<void> };
let lb: RunningFulcrum;
let session: http2.ClientHttp2Session;
let authority: string;

before(async () => {
  ca = new TestCa();
  const site = ca.server('site', ['localhost']);
  origin = await startOrigin();
  lb = await startFulcrum({
    listeners: [
      {
        name: 'secure',
        protocol: 'https',
        address: '127.0.0.1:0',
        tls: { certificates: [{ cert: site.cert, key: site.key }] },
        http2: {},
        routes: [{ forward: { pool: 'app' } }],
      },
    ],
    pools: [{ name: 'app', endpoints: [{ address: `127.0.0.1:${origin.port}` }] }],
  });
  authority = `localhost:${lb.port()}`;
  session = http2.connect(`https://${authority}`, { ca: ca.pem });
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
});

after(async () => {
  session.close();
  await lb.stop(500);
  await origin.close();
});

describe('ALPN', () => {
  test('an h2 client negotiates h2; an HTTP/1.1 client negotiates http/1.1 on the same listener and is served', async () => {
    assert.equal(session.alpnProtocol, 'h2');
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: lb.port(), servername: 'localhost', ca: ca.pem, ALPNProtocols: ['http/1.1'] }, () => resolve(s));
      s.once('error', reject);
    });
    assert.equal(socket.alpnProtocol, 'http/1.1');
    socket.destroy();
    const agent = new Agent({ connect: { ca: ca.pem, servername: 'localhost' } });
    try {
      const res = await request(`https://127.0.0.1:${lb.port()}/h1?x=1`, { dispatcher: agent, headers: { host: 'localhost' } });
      const seen = (await res.body.json()) as Seen;
      assert.equal(res.statusCode, 200);
      assert.equal(seen.url, '/h1?x=1');
      assert.equal(seen.headers['via'], '1.1 fulcrum');
    } finally {
      await agent.close();
    }
  });
});

describe('HTTP/2 → HTTP/1.1', () => {
  test('the endpoint sees HTTP/1.1: Host from :authority, X-Forwarded-Proto https, joined cookies, no pseudo-headers', async () => {
    const r = await h2request(session, { ':path': '/look?q=1', cookie: ['a=1', 'b=2'], 'x-custom': 'yes', 'user-agent': 'h2-test' });
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body.toString()) as Seen;
    assert.equal(seen.httpVersion, '1.1');
    assert.equal(seen.method, 'GET');
    assert.equal(seen.url, '/look?q=1');
    assert.equal(seen.headers.host, authority);
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['x-forwarded-host'], authority);
    assert.match(String(seen.headers.forwarded), /proto=https/);
    assert.equal(seen.headers.via, '2 fulcrum');
    assert.equal(seen.headers.cookie, 'a=1; b=2', 'cookie fields joined with "; " (RFC 9113 §8.2.3)');
    assert.equal(seen.headers['x-custom'], 'yes');
    assert.ok(typeof seen.headers['x-request-id'] === 'string' && seen.headers['x-request-id'].length > 0);
    assert.match(String(seen.headers.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const names = seen.rawHeaders.filter((_, i) => i % 2 === 0);
    assert.ok(!names.some((n) => n.startsWith(':')), `no pseudo-headers upstream: ${names.join(', ')}`);
    assert.equal(names.filter((n) => n.toLowerCase() === 'cookie').length, 1);
    assert.equal(r.headers.via, '1.1 fulcrum');
  });

  test('GET: 1 MiB download byte-exact (content-length), connection-specific fields dropped', async () => {
    const r = await h2request(session, { ':path': '/download' });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, MiB);
    assert.equal(sha(r.body), sha(oneMiB));
    assert.equal(r.headers['content-length'], String(MiB));
    assert.equal(r.headers.connection, undefined);
    assert.equal(r.headers['keep-alive'], undefined);
  });

  test('GET: 1 MiB chunked download is de-chunked byte-exact, and its trailers arrive as HTTP/2 trailers', async () => {
    const r = await h2request(session, { ':path': '/download?chunked=1' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['transfer-encoding'], undefined);
    assert.equal(sha(r.body), sha(oneMiB));
    assert.ok(r.trailers !== null, 'trailers received');
    assert.equal(r.trailers['x-checksum'], sha(oneMiB));
  });

  test('POST: 1 MiB upload byte-exact with content-length and without (chunked upstream)', async () => {
    const withLength = await h2request(session, { ':method': 'POST', ':path': '/upload', 'content-length': String(MiB) }, oneMiB);
    const a = JSON.parse(withLength.body.toString()) as Seen;
    assert.equal(a.bodyBytes, MiB);
    assert.equal(a.sha, sha(oneMiB));
    assert.equal(a.headers['content-length'], String(MiB));
    assert.equal(a.headers['transfer-encoding'], undefined);

    const pieces = [oneMiB.subarray(0, 1000), oneMiB.subarray(1000, 300_000), oneMiB.subarray(300_000)];
    const streamed = await h2request(session, { ':method': 'POST', ':path': '/upload' }, pieces);
    const b = JSON.parse(streamed.body.toString()) as Seen;
    assert.equal(b.bodyBytes, MiB);
    assert.equal(b.sha, sha(oneMiB));
    assert.equal(b.headers['transfer-encoding'], 'chunked');

    const empty = await h2request(session, { ':method': 'POST', ':path': '/upload' });
    const c = JSON.parse(empty.body.toString()) as Seen;
    assert.equal(c.bodyBytes, 0);
    assert.equal(c.headers['content-length'], '0');
  });

  test('HEAD gets the head with the length and no body; 204 and 304 carry no body', async () => {
    const head = await h2request(session, { ':method': 'HEAD', ':path': '/download' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(MiB));
    assert.equal(head.body.length, 0);
    const noContent = await h2request(session, { ':path': '/status?code=204' });
    assert.equal(noContent.status, 204);
    assert.equal(noContent.body.length, 0);
    const notModified = await h2request(session, { ':path': '/status?code=304', 'if-none-match': '"v1"' });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.etag, '"v1"');
    assert.equal(notModified.body.length, 0);
  });

  test('large header lists pass both ways (20 KiB each way); Set-Cookie stays separate fields', async () => {
    const headers: http2.OutgoingHttpHeaders = { ':path': '/look' };
    for (let i = 0; i < 20; i++) headers[`x-req-${i}`] = 'v'.repeat(1000);
    const r = await h2request(session, headers);
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body.toString()) as Seen;
    for (let i = 0; i < 20; i++) assert.equal(seen.headers[`x-req-${i}`], 'v'.repeat(1000));
    const big = await h2request(session, { ':path': '/big-headers' });
    assert.equal(big.status, 200);
    for (let i = 0; i < 20; i++) assert.equal(String(big.headers[`x-big-${i}`]).length, 1000);
    assert.deepEqual(big.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
  });

  test('a request with a forged X-Forwarded-For from an untrusted client has it replaced', async () => {
    const r = await h2request(session, { ':path': '/look', 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'http' });
    const seen = JSON.parse(r.body.toString()) as Seen;
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
  });

  test('many streams over one connection reuse keep-alive upstream connections', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => h2request(session, { ':path': `/n/${i}` })));
    for (const [i, a] of answers.entries()) {
      assert.equal(a.status, 200);
      assert.equal((JSON.parse(a.body.toString()) as Seen).url, `/n/${i}`);
    }
  });
});
