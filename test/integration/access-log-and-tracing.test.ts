// Access logs and W3C trace context end to end: JSON lines carry every field with values that match the
// traffic (status, route, pool, endpoint, retries, reason, bytes, durations); sampling, field selection and the
// combined format; a trace is started when absent, continued (same trace id, new parent id, same flags) when
// valid, restarted with its tracestate dropped when invalid, and left alone in passthrough mode; error
// bodies and log lines carry the trace id.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { flushAccessLogs } from '../../src/observability/access-log.ts';
import { startFulcrum, waitFor, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { freePort, startEchoOrigin, type EchoReply, type Origin } from '../helpers/origins.ts';

const dir = mkdtempSync(join(tmpdir(), 'fulcrum-access-'));
const agent = new Agent({ connections: 4 });
let origin: Origin;
let deadPort: number;
const running: RunningFulcrum[] = [];

before(async () => {
  origin = await startEchoOrigin({ name: 'app' });
  deadPort = await freePort();
});
after(async () => {
  for (const lb of running) await lb.stop(500);
  await origin.close();
  await agent.close();
});

function config(listener: object): object {
  return {
    listeners: [
      {
        name: 'web',
        address: '127.0.0.1:0',
        routes: [
          { name: 'dead', match: { path: { prefix: '/dead' } }, forward: { pool: 'dead' } },
          { name: 'app', match: { path: { prefix: '/app' } }, forward: { pool: 'app' } },
        ],
        ...listener,
      },
    ],
    pools: [
      { name: 'app', endpoints: [{ address: `127.0.0.1:${deadPort}` }, { address: `127.0.0.1:${origin.port}` }], balancer: { algorithm: 'round-robin' } },
      { name: 'dead', endpoints: [{ address: `127.0.0.1:${deadPort}` }], retries: { on: ['connect-failure'] }, maxTries: 1 },
    ],
  };
}

async function start(listener: object): Promise<RunningFulcrum> {
  const lb = await startFulcrum(config(listener));
  running.push(lb);
  return lb;
}

async function get(lb: RunningFulcrum, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await request(lb.url(path), { headers, dispatcher: agent });
  return { status: res.statusCode, body: await res.body.text() };
}

async function lines(file: string, count: number): Promise<Record<string, unknown>[]> {
  await waitFor(`${count} log lines in ${file}`, () => existsSync(file) && readFileSync(file, 'utf8').split('\n').filter(Boolean).length >= count, 3000).catch(async (err) => {
    await flushAccessLogs();
    throw err;
  });
  await flushAccessLogs();
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('access log', () => {
  test('JSON lines carry every field with the values of the traffic', async () => {
    const file = join(dir, 'json.log');
    const lb = await start({ accessLog: { destination: file } });
    // round robin starts on the dead endpoint for the first request: one retry
    const ok = await get(lb, '/app/items?secret=1', { host: 'shop.example.com', 'x-request-id': 'req-ok' });
    assert.equal(ok.status, 200);
    const dead = await get(lb, '/dead', { 'x-request-id': 'req-dead' });
    assert.equal(dead.status, 502);
    const none = await get(lb, '/nowhere', { 'x-request-id': 'req-404' });
    assert.equal(none.status, 404);
    const [a, b, c] = await lines(file, 3);
    assert.deepEqual(Object.keys(a).sort(), ['bytesIn', 'bytesOut', 'clientAddress', 'connectMs', 'endpoint', 'host', 'listener', 'method', 'path', 'pool', 'reason', 'requestId', 'retries', 'route', 'status', 'time', 'totalMs', 'traceId', 'ttfbMs'].sort());
    assert.equal(a.requestId, 'req-ok');
    assert.equal(a.status, 200);
    assert.equal(a.route, 'app');
    assert.equal(a.pool, 'app');
    assert.equal(a.endpoint, `127.0.0.1:${origin.port}`);
    assert.equal(a.method, 'GET');
    assert.equal(a.host, 'shop.example.com');
    assert.equal(a.path, '/app/items', 'the query is not logged');
    assert.equal(a.retries, 1);
    assert.equal(a.reason, '');
    assert.equal(a.listener, 'web');
    assert.equal(a.clientAddress, '127.0.0.1');
    assert.match(String(a.traceId), /^[0-9a-f]{32}$/);
    assert.ok(typeof a.ttfbMs === 'number' && typeof a.totalMs === 'number' && a.ttfbMs <= a.totalMs);
    assert.ok(typeof a.connectMs === 'number' && a.connectMs >= 0);
    assert.ok((a.bytesIn as number) > 50 && (a.bytesOut as number) > ok.body.length);
    assert.ok(Math.abs(Date.parse(String(a.time)) - Date.now()) < 10_000);
    assert.deepEqual([b.requestId, b.status, b.route, b.reason, b.ttfbMs], ['req-dead', 502, 'dead', 'upstream_connect_failed', null]);
    assert.deepEqual([c.requestId, c.status, c.route, c.pool, c.reason], ['req-404', 404, '', '', 'no_route']);
  });

  test('sample 0 logs nothing; fields picks and orders the fields', async () => {
    const none = join(dir, 'none.log');
    const lb0 = await start({ accessLog: { destination: none, sample: 0 } });
    for (let i = 0; i < 5; i++) await get(lb0, '/app/x');
    const picked = join(dir, 'picked.log');
    const lb1 = await start({ accessLog: { destination: picked, fields: ['status', 'path', 'requestId'] } });
    await get(lb1, '/app/y', { 'x-request-id': 'only' });
    const [line] = await lines(picked, 1);
    assert.deepEqual(Object.keys(line), ['status', 'path', 'requestId']);
    assert.deepEqual(line, { status: 200, path: '/app/y', requestId: 'only' });
    await flushAccessLogs();
    assert.equal(existsSync(none) ? readFileSync(none, 'utf8') : '', '');
  });

  test('combined format: NCSA line with referer and user agent', async () => {
    const file = join(dir, 'combined.log');
    const lb = await start({ accessLog: { destination: file, format: 'combined' } });
    await get(lb, '/app/page?x=1', { referer: 'http://ref.example/', 'user-agent': 'probe/1.0' });
    await waitFor('a combined line', () => existsSync(file) && readFileSync(file, 'utf8').includes('\n'), 3000);
    const line = readFileSync(file, 'utf8').trim();
    assert.match(line, /^127\.0\.0\.1 - - \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET \/app\/page HTTP\/1\.1" 200 \d+ "http:\/\/ref\.example\/" "probe\/1\.0"$/);
  });
});

describe('trace context', () => {
  let lb: RunningFulcrum;
  before(async () => {
    lb = await start({});
  });

  async function seen(headers: Record<string, string>): Promise<EchoReply['headers']> {
    const r = await get(lb, '/app/trace', headers);
    return (JSON.parse(r.body) as EchoReply).headers;
  }

  test('a request without traceparent starts a trace', async () => {
    const h = await seen({});
    assert.match(String(h.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const again = await seen({});
    assert.notEqual(String(again.traceparent).slice(3, 35), String(h.traceparent).slice(3, 35), 'a new trace per request');
  });

  test('a valid traceparent is continued: same trace id and flags, Fulcrum as the new parent; tracestate kept', async () => {
    const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';
    const h = await seen({ traceparent: incoming, tracestate: 'congo=t61rcWkgMzE' });
    const out = String(h.traceparent);
    assert.equal(out.slice(0, 36), '00-4bf92f3577b34da6a3ce929d0e0e4736-');
    assert.notEqual(out.slice(36, 52), '00f067aa0ba902b7');
    assert.match(out.slice(36, 52), /^[0-9a-f]{16}$/);
    assert.equal(out.slice(52), '-00');
    assert.equal(h.tracestate, 'congo=t61rcWkgMzE');
  });

  test('an invalid traceparent is replaced and its tracestate dropped', async () => {
    for (const bad of ['00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', '00-00000000000000000000000000000000-00f067aa0ba902b7-01', 'garbage']) {
      const h = await seen({ traceparent: bad, tracestate: 'a=b' });
      assert.match(String(h.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      assert.notEqual(String(h.traceparent).slice(3, 35), bad.slice(3, 35).toLowerCase());
      assert.equal(h.tracestate, undefined);
    }
  });

  test('passthrough forwards traceparent untouched and adds none', async () => {
    const pass = await start({ tracing: 'passthrough' });
    const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const r1 = JSON.parse((await get(pass, '/app/t', { traceparent: incoming })).body) as EchoReply;
    assert.equal(r1.headers.traceparent, incoming);
    const r2 = JSON.parse((await get(pass, '/app/t')).body) as EchoReply;
    assert.equal(r2.headers.traceparent, undefined);
  });

  test('error bodies name the trace id', async () => {
    const r = await get(lb, '/nowhere', { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    assert.equal(r.status, 404);
    assert.match(r.body, /\ntrace-id: 4bf92f3577b34da6a3ce929d0e0e4736\n/);
  });
});
