// The tcp and http checks against real peers on 127.0.0.1: what counts as healthy (status in the expected
// ranges, body containing the text), what each failure reads as (`status 503`, `connect ECONNREFUSED`, …),
// the request a probe sends (method, path, Host, extra headers), `port`, abort, and that no socket is left open.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Endpoint } from '../../../../src/upstream/endpoint.ts';
import { HttpCheck, parseStatusRanges, schema as httpSchema, statusExpected } from '../../../../src/upstream/health/check/http.ts';
import { TcpCheck } from '../../../../src/upstream/health/check/tcp.ts';
import { freePort, startHangOrigin, type Origin } from '../../../helpers/origins.ts';

function endpoint(port: number): Endpoint {
  return new Endpoint(`127.0.0.1:${port}`, '127.0.0.1', port, 1);
}

function httpCheck(options: Record<string, unknown>, port: number | null = null, host: string | null = null): HttpCheck {
  return new HttpCheck(httpSchema.parse(options), { port, host });
}

const signal = () => AbortSignal.timeout(2000);

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

describe('http check', () => {
  let server: http.Server;
  let port: number;
  const seen: Seen[] = [];
  const open = new Set<net.Socket>();

  before(async () => {
    // /status/NNN answers NNN; /body/TEXT answers TEXT; /big answers 1 MiB of "x" then "needle"
    server = http.createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      const url = req.url ?? '/';
      if (url.startsWith('/status/')) res.writeHead(parseInt(url.slice(8), 10)).end();
      else if (url.startsWith('/body/')) res.writeHead(200).end(decodeURIComponent(url.slice(6)));
      else if (url === '/big') res.writeHead(200).end('x'.repeat(1 << 20) + 'needle');
      else res.writeHead(200).end('ok');
    });
    server.on('connection', (s: net.Socket) => {
      open.add(s);
      s.on('close', () => open.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('parses expected statuses: single codes, ranges, comma lists and lists', () => {
    assert.deepEqual(parseStatusRanges('200-399'), [[200, 399]]);
    assert.deepEqual(parseStatusRanges(204), [[204, 204]]);
    assert.deepEqual(parseStatusRanges('200,204, 300-302'), [[200, 200], [204, 204], [300, 302]]);
    assert.deepEqual(parseStatusRanges([200, '500-503']), [[200, 200], [500, 503]]);
    for (const bad of ['399-200', '600', '20', 'ok', [], '', null, {}]) assert.equal(parseStatusRanges(bad), undefined, JSON.stringify(bad));
    assert.equal(statusExpected(302, [[200, 399]]), true);
    assert.equal(statusExpected(400, [[200, 399]]), false);
  });

  it('default: GET / with Host = the endpoint, 200-399 healthy, 4xx/5xx not', async () => {
    const e = endpoint(port);
    assert.deepEqual(await httpCheck({}).probe(e, signal()), { ok: true, detail: 'status 200' });
    const last = seen.at(-1)!;
    assert.equal(last.method, 'GET');
    assert.equal(last.url, '/');
    assert.equal(last.headers.host, `127.0.0.1:${port}`);
    assert.deepEqual(await httpCheck({ path: '/status/302' }).probe(e, signal()), { ok: true, detail: 'status 302' });
    assert.deepEqual(await httpCheck({ path: '/status/404' }).probe(e, signal()), { ok: false, detail: 'status 404' });
    assert.deepEqual(await httpCheck({ path: '/status/503' }).probe(e, signal()), { ok: false, detail: 'status 503' });
  });

  it('expect, method, host and headers are honoured', async () => {
    const e = endpoint(port);
    const check = httpCheck({ path: '/status/503?x=1', method: 'HEAD', host: 'app.internal', headers: { 'X-Probe': 'yes', Host: 'ignored' }, expect: [503] });
    assert.deepEqual(await check.probe(e, signal()), { ok: true, detail: 'status 503' });
    const last = seen.at(-1)!;
    assert.equal(last.method, 'HEAD');
    assert.equal(last.url, '/status/503?x=1');
    assert.equal(last.headers.host, 'app.internal');
    assert.equal(last.headers['x-probe'], 'yes');
    assert.equal(last.headers['user-agent'], 'fulcrum-health-check');
    assert.deepEqual(await httpCheck({ path: '/status/200', expect: '204,500-599' }).probe(e, signal()), { ok: false, detail: 'status 200' });
  });

  it('bodyContains: found is healthy; missing, or beyond the first 64 KiB, is not', async () => {
    const e = endpoint(port);
    assert.equal((await httpCheck({ path: '/body/all%20good', bodyContains: 'good' }).probe(e, signal())).ok, true);
    assert.deepEqual(await httpCheck({ path: '/body/degraded', bodyContains: 'good' }).probe(e, signal()), {
      ok: false,
      detail: 'status 200, body lacks "good"',
    });
    assert.equal((await httpCheck({ path: '/big', bodyContains: 'needle' }).probe(e, signal())).ok, false);
  });

  it('bodyMatches: a regular expression over the body; an invalid one is a config error', async () => {
    const e = endpoint(port);
    assert.equal((await httpCheck({ path: '/body/status:%20ok%20(3%20checks)', bodyMatches: 'status: ok \\(\\d+ checks\\)' }).probe(e, signal())).ok, true);
    assert.deepEqual(await httpCheck({ path: '/body/status:%20degraded', bodyMatches: '^status: ok' }).probe(e, signal()), {
      ok: false,
      detail: 'status 200, body does not match /^status: ok/',
    });
    assert.equal(httpSchema.safeParse({ bodyMatches: '(' }).success, false);
  });

  it('port probes another port of the same host', async () => {
    const closed = await freePort();
    assert.deepEqual(await httpCheck({}, port).probe(endpoint(closed), signal()), { ok: true, detail: 'status 200' });
    assert.equal(seen.at(-1)!.headers.host, `127.0.0.1:${port}`);
  });

  it('a closed port is "connect ECONNREFUSED"; every probe socket is closed afterwards', async () => {
    const closed = await freePort();
    assert.deepEqual(await httpCheck({}).probe(endpoint(closed), signal()), { ok: false, detail: 'connect ECONNREFUSED' });
    const deadline = Date.now() + 2000;
    while (open.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(open.size, 0, 'server-side sockets still open');
  });

  it('an endpoint that never answers is left when the signal aborts', async () => {
    const hang: Origin = await startHangOrigin();
    try {
      const t0 = performance.now();
      const r = await httpCheck({}).probe(endpoint(hang.port), AbortSignal.timeout(100));
      assert.deepEqual(r, { ok: false, detail: 'aborted' });
      assert.ok(performance.now() - t0 < 1000);
    } finally {
      await hang.close();
    }
  });
});

describe('tcp check', () => {
  it('a listening port is healthy, a closed one is "connect ECONNREFUSED"', async () => {
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const check = new TcpCheck({ port: null, host: null });
      assert.deepEqual(await check.probe(endpoint(port), signal()), { ok: true, detail: 'connected' });
      const closed = await freePort();
      assert.deepEqual(await check.probe(endpoint(closed), signal()), { ok: false, detail: 'connect ECONNREFUSED' });
      assert.deepEqual(await new TcpCheck({ port, host: null }).probe(endpoint(closed), signal()), { ok: true, detail: 'connected' });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('`address` probes another host: the endpoint 127.0.0.2 is judged by a probe to 127.0.0.1', async () => {
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const elsewhere = new Endpoint(`127.0.0.2:${port}`, '127.0.0.2', port, 1);
      assert.deepEqual(await new TcpCheck({ port: null, host: '127.0.0.1' }).probe(elsewhere, signal()), { ok: true, detail: 'connected' });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('an already aborted signal fails at once', async () => {
    const r = await new TcpCheck({ port: null, host: null }).probe(endpoint(1), AbortSignal.abort());
    assert.deepEqual(r, { ok: false, detail: 'aborted' });
  });
});
