// HTTP/1.1 clients through a pool with `protocol: h2` (translation HTTP/1.1 → HTTP/2 → HTTP/1.1): real
// node:http2 endpoints (h2c) behind Fulcrum, node:http and raw-socket clients in front. Bodies both ways
// byte-exact whatever the framing, HTTP/2 trailers as chunked trailers, HEAD and 204, an HTTP/1.0 client,
// per-request balancing over one multiplexed connection per endpoint, an upgrade request kept in HTTP mode,
// and a stream reset answered 502.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface H2Origin {
  readonly name: string;
  readonly address: string;
  /** Requests seen: method, path, the fields, body digest and length. */
  readonly seen: { method: string; path: string; headers: http2.IncomingHttpHeaders; bodyLength: number; sha: string }[];
  /** Sessions (connections) accepted. */
  sessions: number;
}

/** An h2c endpoint: /echo answers the body's length and digest, /stream answers `n` bytes without a length
 *  plus trailers, /head-and-204 paths, /reset resets the stream. */
async function startH2Origin(name: string): Promise<H2Origin> {
  const server = http2.createServer();
  const o = { name, address: '', seen: [], sessions: 0 } as unknown as H2Origin & { address: string };
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    o.sessions++;
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    stream.on('error', () => {}); // the /reset stream's own close
    const path = String(headers[':path']);
    const hash = createHash('sha256');
    let length = 0;
    stream.on('data', (c: Buffer) => {
      hash.update(c);
      length += c.length;
    });
    stream.on('end', () => {
      const sha = hash.digest('hex');
      o.seen.push({ method: String(headers[':method']), path, headers, bodyLength: length, sha });
      if (path === '/reset') return stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      if (path === '/no-content') return stream.respond({ ':status': 204, 'x-origin': name }, { endStream: true });
      if (path.startsWith('/stream')) {
        const n = Number(new URL(path, 'http://x').searchParams.get('n') ?? '0');
        stream.respond({ ':status': 200, 'x-origin': name }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'done', 'x-count': String(n) }));
        const block = Buffer.alloc(16384, 0x61);
        let left = n;
        const pump = (): void => {
          while (left > 0) {
            const take = Math.min(left, block.length);
            left -= take;
            if (!stream.write(block.subarray(0, take))) return void stream.once('drain', pump);
          }
          stream.end();
        };
        return pump();
      }
      const body = JSON.stringify({ origin: name, method: headers[':method'], path, length, sha, authority: headers[':authority'], te: headers.te ?? null });
      stream.respond({ ':status': 200, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-origin': name });
      stream.end(headers[':method'] === 'HEAD' ? undefined : body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  o.address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  );
  return o;
}

async function fulcrum(endpoints: readonly string[]): Promise<RunningFulcrum> {
  const lb = await startFulcrum({
    listeners: [{ name: 'web', address: '127.0.0.1:0', routes: [{ forward: { pool: 'app' } }] }],
    pools: [{ name: 'app', protocol: 'h2', balancer: { algorithm: 'round-robin' }, endpoints: endpoints.map((address) => ({ address })) }],
  });
  cleanups.push(() => lb.stop(500));
  return lb;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  trailers: NodeJS.Dict<string>;
  body: Buffer;
}

function request(port: number, options: http.RequestOptions, body?: Buffer | Buffer[], agent?: http.Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, agent: agent ?? false, ...options }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, trailers: res.trailers, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    if (Array.isArray(body)) {
      for (const b of body) req.write(b);
      req.end();
    } else req.end(body);
  });
}

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed) & 0xff;
  return b;
}

describe('HTTP/1.1 clients to an h2 pool', () => {
  it('a GET reaches the HTTP/2 endpoint with :authority from Host, and the answer comes back with its length', async () => {
    const o = await startH2Origin('a');
    const lb = await fulcrum([o.address]);
    const r = await request(lb.port(), { path: '/echo?x=1', headers: { host: 'app.test' } });
    assert.equal(r.status, 200);
    const j = JSON.parse(r.body.toString()) as { method: string; path: string; authority: string };
    assert.deepEqual([j.method, j.path, j.authority], ['GET', '/echo?x=1', 'app.test']);
    assert.equal(r.headers['content-length'], String(r.body.length));
    assert.equal(r.headers['x-origin'], 'a');
    const fields = o.seen[0].headers;
    assert.equal(fields.host, undefined, 'Host became :authority');
    assert.equal(fields.connection, undefined);
    assert.ok(String(fields['x-forwarded-for']).includes('127.0.0.1'));
  });

  it('request bodies arrive byte-exact, with a content-length and chunked (de-chunked on the way)', async () => {
    const o = await startH2Origin('a');
    const lb = await fulcrum([o.address]);
    const body = pattern(300_000, 7);
    const sha = createHash('sha256').update(body).digest('hex');
    const withLength = await request(lb.port(), { method: 'POST', path: '/echo', headers: { 'content-length': body.length } }, body);
    assert.equal(JSON.parse(withLength.body.toString()).sha, sha);
    const pieces = [body.subarray(0, 1000), body.subarray(1000, 150_000), body.subarray(150_000)];
    const chunked = await request(lb.port(), { method: 'POST', path: '/echo', headers: { 'transfer-encoding': 'chunked' } }, pieces);
    const j = JSON.parse(chunked.body.toString()) as { sha: string; length: number };
    assert.equal(j.length, body.length);
    assert.equal(j.sha, sha);
    assert.equal(o.seen[1].headers['transfer-encoding'], undefined);
  });

  it('an answer without a length is chunked to the client, and its HTTP/2 trailers become chunked trailers', async () => {
    const o = await startH2Origin('a');
    const lb = await fulcrum([o.address]);
    const r = await request(lb.port(), { path: '/stream?n=100000', headers: { te: 'trailers' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.equal(r.body.length, 100_000);
    assert.ok(r.body.every((c) => c === 0x61));
    assert.deepEqual({ checksum: r.trailers['x-checksum'], count: r.trailers['x-count'] }, { checksum: 'done', count: '100000' });
  });

  it('HEAD and 204 answers have no body, and the connection stays usable', async () => {
    const o = await startH2Origin('a');
    const lb = await fulcrum([o.address]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    const head = await request(lb.port(), { method: 'HEAD', path: '/echo' }, undefined, agent);
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    const none = await request(lb.port(), { path: '/no-content' }, undefined, agent);
    assert.equal(none.status, 204);
    const after = await request(lb.port(), { path: '/echo' }, undefined, agent);
    assert.equal(after.status, 200);
    assert.equal(JSON.parse(after.body.toString()).path, '/echo');
  });

  it('an HTTP/1.0 client gets the unframed answer ended by the close', async () => {
    const o = await startH2Origin('a');
    const lb = await fulcrum([o.address]);
    const raw = await new Promise<string>((resolve, reject) => {
      const s = net.connect(lb.port(), '127.0.0.1', () => s.write('GET /stream?n=5000 HTTP/1.0\r\nHost: x\r\n\r\n'));
      const parts: Buffer[] = [];
      s.on('data', (c: Buffer) => parts.push(c));
      s.on('end', () => resolve(Buffer.concat(parts).toString('latin1')));
      s.on('error', reject);
    });
    const [head, body] = raw.split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(head, /transfer-encoding/i);
    assert.equal(body, 'a'.repeat(5000));
  });

  it('requests on one keep-alive client connection are balanced over the endpoints, one HTTP/2 connection each', async () => {
    const a = await startH2Origin('a');
    const b = await startH2Origin('b');
    const lb = await fulcrum([a.address, b.address]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    cleanups.push(() => agent.destroy());
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => request(lb.port(), { path: `/echo?i=${i}` }, undefined, agent)));
    const by = new Map<string, number>();
    for (const r of answers) by.set(String(r.headers['x-origin']), (by.get(String(r.headers['x-origin'])) ?? 0) + 1);
    assert.deepEqual([by.get('a'), by.get('b')], [20, 20]);
    assert.deepEqual([a.sessions, b.sessions], [1, 1], 'streams share one connection per endpoint');
  });

  it('an upgrade request goes as a plain request and the client stays in HTTP mode', async () => {
    const o = await startH2Origin('a');
    const lb = await fulcrum([o.address]);
    const r = await request(lb.port(), { path: '/echo', headers: { connection: 'upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' } });
    assert.equal(r.status, 200);
    assert.equal(o.seen[0].headers.upgrade, undefined);
    assert.equal(JSON.parse(r.body.toString()).path, '/echo');
  });

  it('a stream reset by the endpoint is a 502 for the client', async () => {
    const o = await startH2Origin('a');
    const lb = await fulcrum([o.address]);
    const r = await request(lb.port(), { method: 'POST', path: '/reset', headers: { 'content-length': 2 } }, Buffer.from('hi'));
    assert.equal(r.status, 502);
    const again = await request(lb.port(), { path: '/echo' });
    assert.equal(again.status, 200, 'the session is still usable');
  });
});
