// Routes and their actions for HTTP/2 streams: host and path routes pick their pools; `respond`, `redirect`
// and a source `deny` answer on the stream with the same status, headers and body an HTTP/1.1 client gets;
// no route is 404; a weighted split lands its share; header edits and rewrites apply; a sticky cookie sent
// as separate cookie fields still pins; upstream failures: a dead endpoint is retried on another, all dead is
// 502 with x-fulcrum-reason, a circuit breaker's cap is 503 circuit_open.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { freePort, startEchoOrigin, type EchoReply, type Origin } from '../helpers/origins.ts';

interface Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
  echo: EchoReply | null;
}

function send(session: http2.ClientHttp2Session, path: string, headers: http2.OutgoingHttpHeaders = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path, ...headers });
    let status = 0;
    let head: http2.IncomingHttpHeaders = {};
    let body = '';
    req.on('response', (h) => ((status = Number(h[':status'])), (head = h)));
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => resolve({ status, headers: head, body, echo: head['content-type'] === 'application/json' ? (JSON.parse(body) as EchoReply) : null }));
    req.on('error', reject);
  });
}

const origins = new Map<string, Origin>();
const names = ['web', 'api', 'stable', 'canary', 'blue', 'green'];
let dead: string[];
const running: RunningFulcrum[] = [];
const sessions: http2.ClientHttp2Session[] = [];

before(async () => {
  for (const name of names) origins.set(name, await startEchoOrigin({ name }));
  dead = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
});
after(async () => {
  for (const s of sessions) s.close();
  for (const lb of running) await lb.stop(500);
  for (const o of origins.values()) await o.close();
});

async function start(routes: object[], pools: object[] = []): Promise<{ lb: RunningFulcrum; session: http2.ClientHttp2Session }> {
  const lb = await startFulcrum({
    listeners: [{ name: 'edge', address: '127.0.0.1:0', http2: { cleartext: true }, routes }],
    pools: [...names.map((name) => ({ name, endpoints: [{ address: origins.get(name)!.address }] })), ...pools],
  });
  running.push(lb);
  const session = http2.connect(`http://127.0.0.1:${lb.port()}`);
  session.on('error', () => {});
  sessions.push(session);
  return { lb, session };
}

describe('routes and actions', () => {
  let session: http2.ClientHttp2Session;
  before(async () => {
    ({ session } = await start([
      { name: 'health', match: { path: { exact: '/healthz' } }, respond: { status: 200, body: 'ok\n', headers: { 'cache-control': 'no-store' } } },
      { name: 'old', match: { path: { prefix: '/docs' } }, redirect: { status: 301, host: 'docs.example.com', path: '/v2${path}' } },
      { name: 'blocked', match: { path: { prefix: '/blocked' } }, deny: ['127.0.0.0/8'], forward: { pool: 'web' } },
      {
        name: 'api',
        match: { host: 'api.example.com', path: { prefix: '/v2' } },
        rewrite: { path: { replacePrefix: { from: '/v2', to: '/internal/v2' } } },
        requestHeaders: { set: { 'x-route': '${route}', 'x-scheme': '${scheme}' }, remove: ['x-secret'] },
        responseHeaders: { set: { 'x-served-by': '${endpoint}' }, remove: ['x-origin'] },
        forward: { pool: 'api' },
      },
      { name: 'cookie', match: { cookies: { beta: '1' } }, forward: { pool: 'canary' } },
      { name: 'site', match: { host: 'www.example.com' }, forward: { pool: 'web' } },
    ]));
  });

  test('host and path routes pick their pools; edits and rewrites apply; no route is 404', async () => {
    const api = await send(session, '/v2/users?x=1', { ':authority': 'api.example.com', 'x-secret': 's' });
    assert.equal(api.echo?.name, 'api');
    assert.equal(api.echo?.url, '/internal/v2/users?x=1');
    assert.equal(api.echo?.headers['x-route'], 'api');
    assert.equal(api.echo?.headers['x-scheme'], 'http');
    assert.equal(api.echo?.headers['x-secret'], undefined);
    assert.equal(api.headers['x-origin'], undefined);
    assert.equal(api.headers['x-served-by'], origins.get('api')!.address);
    const site = await send(session, '/', { ':authority': 'WWW.example.com:8080' });
    assert.equal(site.echo?.name, 'web');
    const none = await send(session, '/', { ':authority': 'nowhere.example.com' });
    assert.equal(none.status, 404);
    assert.equal(none.headers['x-fulcrum-reason'], 'no_route');
    assert.match(none.body, /reason: no_route/);
  });

  test('cookie routes see every cookie field (HTTP/2 may split them)', async () => {
    const r = await send(session, '/', { ':authority': 'x.example.com', cookie: ['a=1', 'beta=1', 'c=3'] });
    assert.equal(r.echo?.name, 'canary');
    assert.equal(r.echo?.headers.cookie, 'a=1; beta=1; c=3');
  });

  test('respond: fixed status, headers and body; HEAD gets the head only', async () => {
    const r = await send(session, '/healthz');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'ok\n');
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(r.headers['content-length'], '3');
    const head = await send(session, '/healthz', { ':method': 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  test('redirect: status and Location built from the request', async () => {
    const r = await send(session, '/docs/intro?lang=en', { ':authority': 'www.example.com' });
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, 'http://docs.example.com/v2/docs/intro?lang=en');
    assert.match(r.body, /location: http:\/\/docs\.example\.com/);
  });

  test('deny by source: 403 forbidden with its reason', async () => {
    const r = await send(session, '/blocked/page');
    assert.equal(r.status, 403);
    assert.equal(r.headers['x-fulcrum-reason'], 'forbidden');
    assert.match(r.body, /request-id: /);
  });
});

test('a weighted split lands its share per stream', async () => {
  const { session } = await start([{ forward: { pools: [{ pool: 'stable', weight: 80 }, { pool: 'canary', weight: 20 }] } }]);
  const answers = await Promise.all(Array.from({ length: 500 }, (_, i) => send(session, `/s/${i}`)));
  const canary = answers.filter((a) => a.echo?.name === 'canary').length;
  const stable = answers.filter((a) => a.echo?.name === 'stable').length;
  assert.equal(canary + stable, 500);
  assert.ok(canary > 60 && canary < 140, `canary got ${canary} of 500 (20% expected)`);
});

test('a sticky cookie pins a client even when its cookie arrives among split cookie fields', async () => {
  const { session } = await start([{ forward: { pool: 'bg' } }], [
    { name: 'bg', endpoints: [{ address: origins.get('blue')!.address }, { address: origins.get('green')!.address }], sticky: { cookie: { name: 'SRV' } } },
  ]);
  const first = await send(session, '/');
  const setCookie = String(first.headers['set-cookie']);
  assert.match(setCookie, /^SRV=/);
  const pin = setCookie.split(';')[0];
  for (let i = 0; i < 10; i++) {
    const r = await send(session, `/again/${i}`, { cookie: ['theme=dark', pin] });
    assert.equal(r.echo?.name, first.echo?.name);
    assert.equal(r.headers['set-cookie'], undefined, 'no new cookie when the pinned endpoint served');
  }
});

describe('upstream failures', () => {
  test('a dead endpoint is retried on a live one; all dead is 502 with x-fulcrum-reason', async () => {
    const { lb, session } = await start([{ match: { path: { prefix: '/dead' } }, forward: { pool: 'dead' } }, { forward: { pool: 'mixed' } }], [
      { name: 'mixed', endpoints: [{ address: dead[0] }, { address: origins.get('web')!.address }] },
      { name: 'dead', endpoints: dead.map((address) => ({ address })) },
    ]);
    for (let i = 0; i < 6; i++) {
      const r = await send(session, `/m/${i}`);
      assert.equal(r.status, 200);
      assert.equal(r.echo?.name, 'web');
    }
    const deadEndpoint = lb.rt.generation.pools.get('mixed')!.endpoints.find((e) => e.key === dead[0])!;
    assert.ok(deadEndpoint.failures >= 1, 'the dead endpoint was tried');
    const r = await send(session, '/dead/x');
    assert.equal(r.status, 502);
    assert.equal(r.headers['x-fulcrum-reason'], 'upstream_connect_failed');
    assert.match(r.body, /^502 Bad Gateway\nreason: upstream_connect_failed\n/);
  });

  test('the circuit breaker’s maxRequests is 503 circuit_open', async () => {
    const { session } = await start([{ forward: { pool: 'tight' } }], [
      { name: 'tight', endpoints: [{ address: origins.get('stable')!.address }], circuitBreakers: { maxRequests: 2 } },
    ]);
    const answers = await Promise.all(Array.from({ length: 5 }, () => send(session, '/?delay=300')));
    const open = answers.filter((a) => a.status === 503);
    assert.equal(answers.filter((a) => a.status === 200).length, 2);
    assert.equal(open.length, 3);
    assert.equal(open[0].headers['x-fulcrum-reason'], 'circuit_open');
    assert.equal(open[0].headers['x-fulcrum-limit'], 'max_requests');
  });
});
