// The HTTP/1.1 proxy path end to end: real origins, real clients (node:http, undici, curl), real sockets.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { startEchoOrigin, rawRequest, type Origin, type EchoReply } from '../helpers/origins.ts';
import { simpleConfig, startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';

const exec = promisify(execFile);

describe('proxying HTTP/1.1 through round robin', () => {
  let origins: Origin[];
  let lb: RunningFulcrum;
  const agent = new Agent({ connections: 4 });

  before(async () => {
    origins = await Promise.all(['a', 'b', 'c'].map((name) => startEchoOrigin({ name })));
    lb = await startFulcrum(simpleConfig(origins.map((o) => o.address)));
  });
  after(async () => {
    await agent.close();
    await lb.stop();
    await Promise.all(origins.map((o) => o.close()));
  });

  test('spreads requests evenly across endpoints in turn', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 30; i++) {
      const res = await request(lb.url('/rr'), { dispatcher: agent });
      assert.equal(res.statusCode, 200);
      seen.push(((await res.body.json()) as EchoReply).name);
    }
    for (const name of ['a', 'b', 'c']) assert.equal(seen.filter((n) => n === name).length, 10);
    // in turn: every window of three consecutive picks holds all three
    for (let i = 0; i + 3 <= seen.length; i += 3) assert.deepEqual([...seen.slice(i, i + 3)].sort(), ['a', 'b', 'c']);
  });

  test('reuses upstream keep-alive connections', async () => {
    const before = lb.rt.generation.pools.get('app')!.endpoints.map((e) => e.connections?.idleCount ?? 0);
    for (let i = 0; i < 30; i++) await (await request(lb.url('/ka'), { dispatcher: agent })).body.text();
    const idle = lb.rt.generation.pools.get('app')!.endpoints.map((e) => (e.connections?.idleCount ?? 0) + (e.connections?.activeCount ?? 0));
    // sequential requests need one socket per endpoint, not one per request
    for (const n of idle) assert.ok(n >= 1 && n <= 2, `open upstream sockets per endpoint: ${idle} (before ${before})`);
  });

  test('adds forwarding headers, a request id and Via; removes hop-by-hop headers', async () => {
    // raw bytes: HTTP clients refuse to send hop-by-hop headers themselves
    const r = await rawRequest(
      lb.port(),
      `GET /h HTTP/1.1\r\nHost: 127.0.0.1:${lb.port()}\r\nX-Forwarded-For: 6.6.6.6\r\nKeep-Alive: timeout=5\r\n` +
        `X-Secret: drop-me\r\nConnection: close, X-Secret\r\nTE: trailers\r\nUpgrade: websocket\r\n\r\n`,
    );
    const [head, body] = r.response.split('\r\n\r\n');
    const echo = JSON.parse(body) as EchoReply;
    const res = { headers: Object.fromEntries(head.split('\r\n').slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 2)])) };
    assert.equal(echo.headers['x-forwarded-for'], '127.0.0.1', 'an untrusted peer cannot forge X-Forwarded-For');
    assert.equal(echo.headers['x-forwarded-proto'], 'http');
    assert.equal(echo.headers['x-forwarded-host'], `127.0.0.1:${lb.port()}`);
    assert.match(String(echo.headers['forwarded']), /^for=127\.0\.0\.1;host="127\.0\.0\.1:\d+";proto=http$/);
    assert.match(String(echo.headers['x-request-id']), /^[0-9a-f]{16}-[0-9a-f]{10,}$/);
    assert.equal(echo.headers['via'], '1.1 fulcrum');
    assert.equal(echo.headers['x-secret'], undefined, 'a header named in Connection is hop-by-hop');
    assert.equal(echo.headers['keep-alive'], undefined);
    assert.equal(echo.headers['te'], undefined);
    assert.equal(echo.headers['upgrade'], undefined);
    assert.equal(res.headers['via'], '1.1 fulcrum');
  });

  test('keeps a client-supplied request id', async () => {
    const res = await request(lb.url('/rid'), { dispatcher: agent, headers: { 'x-request-id': 'abc-123' } });
    assert.equal(((await res.body.json()) as EchoReply).headers['x-request-id'], 'abc-123');
  });

  test('streams request bodies with Content-Length and chunked framing', async () => {
    const sized = await request(lb.url('/upload'), { dispatcher: agent, method: 'POST', body: Buffer.alloc(100_000, 1) });
    assert.equal(((await sized.body.json()) as EchoReply).bodyBytes, 100_000);
    const parts = Readable.from((function* () {
      for (let i = 0; i < 5; i++) yield Buffer.alloc(10_000, 2);
    })());
    const chunked = await request(lb.url('/upload'), { dispatcher: agent, method: 'POST', body: parts });
    const echo = (await chunked.body.json()) as EchoReply;
    assert.equal(echo.bodyBytes, 50_000);
    assert.equal(echo.headers['transfer-encoding'], 'chunked');
  });

  test('streams response bodies, sized and chunked', async () => {
    const sized = await request(lb.url('/?bytes=300000'), { dispatcher: agent });
    assert.equal((await sized.body.arrayBuffer()).byteLength, 300_000);
    const chunked = await request(lb.url('/?bytes=300000&chunked=1'), { dispatcher: agent });
    assert.equal(chunked.headers['transfer-encoding'], 'chunked');
    assert.equal((await chunked.body.arrayBuffer()).byteLength, 300_000);
  });

  test('passes upstream statuses through', async () => {
    const res = await request(lb.url('/?status=503'), { dispatcher: agent });
    assert.equal(res.statusCode, 503);
    await res.body.text();
  });

  test('answers HEAD without a body and keeps the connection usable', async () => {
    const r = await rawRequest(lb.port(), `HEAD /?bytes=5000 HTTP/1.1\r\nHost: x\r\n\r\nGET /after-head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const responses = r.response.split('HTTP/1.1 ').filter(Boolean);
    assert.equal(responses.length, 2, r.response);
    assert.match(responses[0], /^200 /);
    assert.match(responses[0], /content-length: 5000\r\n/i);
    assert.ok(responses[0].endsWith('\r\n\r\n'), 'no body after a HEAD response');
    assert.match(responses[1], /"url":"\/after-head"/);
  });

  test('serves pipelined requests in order', async () => {
    const one = (p: string) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
    const r = await rawRequest(lb.port(), one('/p1') + one('/p2') + one('/p3') + 'GET /p4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const urls = [...r.response.matchAll(/"url":"(\/p\d)"/g)].map((m) => m[1]);
    assert.deepEqual(urls, ['/p1', '/p2', '/p3', '/p4']);
    assert.equal(r.closed, true);
  });

  test('speaks HTTP/1.0 to HTTP/1.0 clients (chunked responses are de-chunked, then the connection closes)', async () => {
    const r = await rawRequest(lb.port(), 'GET /?bytes=1000&chunked=1 HTTP/1.0\r\n\r\n');
    assert.match(r.response, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(r.response, /transfer-encoding/i);
    assert.equal(r.response.split('\r\n\r\n')[1].length, 1000);
    assert.equal(r.closed, true);
  });

  test('keeps HTTP/1.0 keep-alive when the client asks and the length is known', async () => {
    const r = await rawRequest(lb.port(), 'GET /k1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', { timeoutMs: 500 });
    assert.match(r.response, /connection: keep-alive/i);
    assert.equal(r.closed, false);
  });

  test('forwards Expect: 100-continue and the 100 response', async () => {
    const res = await new Promise<{ status: number; continued: boolean; body: string }>((resolve, reject) => {
      let continued = false;
      const req = http.request({ port: lb.port(), host: '127.0.0.1', method: 'POST', path: '/expect', headers: { expect: '100-continue', 'content-length': 5 } });
      req.on('continue', () => {
        continued = true;
        req.end('hello');
      });
      req.on('response', (r) => {
        let body = '';
        r.on('data', (c) => (body += c));
        r.on('end', () => resolve({ status: r.statusCode!, continued, body }));
      });
      req.on('error', reject);
    });
    assert.equal(res.status, 200);
    assert.equal(res.continued, true);
    assert.equal(JSON.parse(res.body).bodyBytes, 5);
  });

  test('works with curl', async () => {
    const { stdout } = await exec('curl', ['-s', '-H', 'X-Test: 1', lb.url('/curl')]);
    assert.equal(JSON.parse(stdout).url, '/curl');
  });

  test('answers 404 with a reason and request id when no route matches', async () => {
    const cfg = {
      listeners: [{ name: 'web', address: '127.0.0.1:0', routes: [{ match: { path: { prefix: '/api/' } }, forward: { pool: 'app' } }] }],
      pools: [{ name: 'app', endpoints: [{ address: origins[0].address }] }],
    };
    const lb2 = await startFulcrum(cfg);
    try {
      const res = await request(lb2.url('/other'));
      assert.equal(res.statusCode, 404);
      const body = await res.body.text();
      assert.match(body, /reason: no_route/);
      assert.match(body, /request-id: [0-9a-f]{16}-[0-9a-f]{10,}/);
      const ok = await request(lb2.url('/api/x'));
      assert.equal(ok.statusCode, 200);
      await ok.body.text();
    } finally {
      await lb2.stop();
    }
  });
});
