// L7 routing end to end over real sockets: every matcher type picks its pool, priority beats file order, no
// match is 404; a 95/5 canary split lands 5% ± 1% of 10,000 requests; a sticky split keeps a user on one
// version; a blue-green flip by reload under load fails no request; redirects, fixed responses, header edits,
// path and host rewrites (as the backend sees them), source allow/deny and a per-route timeout.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { startEchoOrigin, type EchoReply, type Origin } from '../helpers/origins.ts';

const agent = new Agent({ connections: 16 });
const origins = new Map<string, Origin>();
let lb: RunningFulcrum;

const names = ['web', 'api', 'admin', 'canary', 'stable', 'blue', 'green', 'beta', 'internal', 'slow'];

function pools(): object[] {
  return names.map((name) => ({ name, endpoints: [{ address: `127.0.0.1:${origins.get(name)!.port}` }] }));
}

function config(routes: object[], listener: object = {}): object {
  return { listeners: [{ name: 'edge', address: '127.0.0.1:0', routes, ...listener }], pools: pools() };
}

const routes = [
  { name: 'health', match: { path: { exact: '/healthz' } }, respond: { status: 200, body: 'ok\n', headers: { 'cache-control': 'no-store' } } },
  { name: 'old-docs', match: { path: { prefix: '/docs' } }, redirect: { status: 301, host: 'docs.example.com', path: '/v2${path}' } },
  { name: 'to-https', match: { host: 'secure.example.com' }, redirect: { scheme: 'https' } },
  { name: 'admin', match: { path: { prefix: '/admin' } }, allow: ['10.0.0.0/8'], forward: { pool: 'admin' } },
  { name: 'blocked', match: { path: { prefix: '/blocked' } }, deny: ['127.0.0.0/8'], forward: { pool: 'web' } },
  { name: 'internal', match: { source: ['192.168.0.0/16'] }, forward: { pool: 'internal' } },
  { name: 'beta-cookie', match: { cookies: { beta: '1' } }, forward: { pool: 'beta' } },
  { name: 'canary-header', match: { headers: { 'x-canary': 'true' } }, forward: { pool: 'canary' } },
  { name: 'api-v2', match: { host: ['api.example.com', '*.api.example.com'], path: { prefix: '/v2' }, method: ['GET', 'HEAD'] }, rewrite: { path: { replacePrefix: { from: '/v2', to: '/internal/v2' } }, host: 'api.internal' }, requestHeaders: { set: { 'x-route': '${route}', 'x-client': '${client_ip}' }, remove: ['x-secret'] }, responseHeaders: { set: { 'x-served-by': '${endpoint}' }, remove: ['x-origin'] }, forward: { pool: 'api' } },
  { name: 'api-write', match: { host: 'api.example.com', method: 'POST' }, forward: { pool: 'stable' } },
  { name: 'debug-query', match: { query: { debug: { regex: '^(1|true)$' } } }, forward: { pool: 'canary' } },
  { name: 'static', match: { path: { glob: '/static/**/*.css' } }, forward: { pool: 'stable' } },
  { name: 'reports', match: { path: { regex: '/reports/[0-9]{4}' } }, rewrite: { path: { stripPrefix: '/reports' } }, forward: { pool: 'stable' } },
  { name: 'not-json', match: { path: { prefix: '/data' }, not: { headers: { accept: { regex: '.*json.*' } } } }, respond: { status: 406, body: 'json only\n' } },
  { name: 'either', match: { any: [{ headers: { 'x-a': { present: true } } }, { query: { a: { present: true } } }] }, forward: { pool: 'canary' } },
  { name: 'slow', match: { path: { prefix: '/slow' } }, timeouts: { response: '150ms' }, forward: { pool: 'slow' } },
  { name: 'urgent', priority: 10, match: { headers: { 'x-urgent': { present: true } } }, forward: { pool: 'stable' } },
  { name: 'site', match: { host: 'www.example.com' }, forward: { pool: 'web' } },
];

before(async () => {
  for (const name of names) origins.set(name, await startEchoOrigin({ name }));
  lb = await startFulcrum(config(routes, { trustedProxies: ['127.0.0.1/32'] }));
});

after(async () => {
  await lb.stop(500);
  for (const o of origins.values()) await o.close();
  await agent.close();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  echo: EchoReply | null;
}

async function send(path: string, options: { method?: string; headers?: Record<string, string> } = {}, on: RunningFulcrum = lb): Promise<Answer> {
  const res = await request(on.url(path), { method: (options.method ?? 'GET') as 'GET', headers: options.headers, dispatcher: agent });
  const body = await res.body.text();
  const json = res.headers['content-type'] === 'application/json';
  return { status: res.statusCode, headers: res.headers, body, echo: json ? (JSON.parse(body) as EchoReply) : null };
}

const pool = (a: Answer): string | undefined => a.echo?.name;

describe('matching', () => {
  test('host (exact, wildcard, any case and port), path prefix on segment boundaries and method', async () => {
    assert.equal(pool(await send('/v2/users', { headers: { host: 'API.Example.com:8443' } })), 'api');
    assert.equal(pool(await send('/v2/users', { headers: { host: 'eu.api.example.com' } })), 'api');
    assert.equal(pool(await send('/v2', { headers: { host: 'api.example.com' } })), 'api');
    assert.equal((await send('/v2x', { headers: { host: 'api.example.com' } })).status, 404, '/v2x is not under /v2');
    assert.equal((await send('/v2/users', { headers: { host: 'api.example.com' }, method: 'DELETE' })).status, 404);
    assert.equal(pool(await send('/anything', { headers: { host: 'api.example.com' }, method: 'POST' })), 'stable');
    assert.equal(pool(await send('/', { headers: { host: 'www.example.com' } })), 'web');
  });

  test('headers, cookies, query, glob and regex paths, not and any', async () => {
    assert.equal(pool(await send('/', { headers: { 'x-canary': 'true' } })), 'canary');
    assert.equal((await send('/', { headers: { 'x-canary': 'TRUE' } })).status, 404, 'exact values are case-sensitive');
    assert.equal(pool(await send('/', { headers: { cookie: 'a=1; beta=1' } })), 'beta');
    assert.equal(pool(await send('/?x=1&debug=true')), 'canary');
    assert.equal((await send('/?debug=yes')).status, 404);
    assert.equal(pool(await send('/static/css/site/main.css')), 'stable');
    assert.equal((await send('/static/main.js')).status, 404);
    assert.equal(pool(await send('/reports/2026')), 'stable');
    assert.equal((await send('/reports/20x6')).status, 404);
    assert.equal((await send('/data/1', { headers: { accept: 'text/html' } })).status, 406);
    assert.equal((await send('/data/1', { headers: { accept: 'application/json' } })).status, 404);
    assert.equal(pool(await send('/', { headers: { 'x-a': '' } })), 'canary');
    assert.equal(pool(await send('/?a')), 'canary');
  });

  test('source CIDR uses the client address resolved through trusted proxies', async () => {
    assert.equal(pool(await send('/', { headers: { 'x-forwarded-for': '192.168.4.2' } })), 'internal');
    assert.equal((await send('/', { headers: { 'x-forwarded-for': '192.169.0.1' } })).status, 404);
  });

  test('a higher priority wins over file order; no match is 404 no_route', async () => {
    assert.equal(pool(await send('/', { headers: { 'x-urgent': '1', 'x-canary': 'true' } })), 'stable');
    const miss = await send('/nowhere');
    assert.equal(miss.status, 404);
    assert.equal(miss.headers['x-fulcrum-reason'], 'no_route');
  });
});

describe('actions', () => {
  test('respond: fixed status, headers and body; HEAD gets the head only', async () => {
    const r = await send('/healthz');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'ok\n');
    assert.equal(r.headers['cache-control'], 'no-store');
    const head = await send('/healthz', { method: 'HEAD' });
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], '3');
  });

  test('redirect: a new host and path with the query kept; an https upgrade keeps host and target', async () => {
    const r = await send('/docs/intro?lang=en');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, 'http://docs.example.com/v2/docs/intro?lang=en');
    const up = await send('/login?next=/home', { headers: { host: 'secure.example.com' } });
    assert.equal(up.status, 302);
    assert.equal(up.headers.location, 'https://secure.example.com/login?next=/home');
  });

  test('rewrites and request header edits reach the backend; response edits reach the client', async () => {
    const r = await send('/v2/users?page=2', { headers: { host: 'api.example.com', 'x-secret': 's3cret', 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(r.status, 200, JSON.stringify(r));
    const echo = r.echo!;
    assert.equal(echo.url, '/internal/v2/users?page=2');
    assert.equal(echo.headers.host, 'api.internal');
    assert.equal(echo.headers['x-forwarded-host'], 'api.example.com', 'the original host travels in X-Forwarded-Host');
    assert.equal(echo.headers['x-route'], 'api-v2');
    assert.equal(echo.headers['x-client'], '203.0.113.9');
    assert.equal(echo.headers['x-secret'], undefined);
    assert.equal(r.headers['x-origin'], undefined, 'removed from the response');
    assert.equal(r.headers['x-served-by'], `127.0.0.1:${origins.get('api')!.port}`);
    const stripped = await send('/reports/2026?q=1');
    assert.equal(stripped.echo!.url, '/2026?q=1');
  });

  test('allow and deny by source: 403 forbidden', async () => {
    const denied = await send('/admin/users');
    assert.equal(denied.status, 403);
    assert.equal(denied.headers['x-fulcrum-reason'], 'forbidden');
    assert.equal(pool(await send('/admin/users', { headers: { 'x-forwarded-for': '10.1.2.3' } })), 'admin');
    assert.equal((await send('/blocked')).status, 403);
  });

  test('a per-route response timeout overrides the pool: 504 after 150ms', async () => {
    const t0 = performance.now();
    const r = await send('/slow?delay=1000');
    assert.equal(r.status, 504);
    const ms = performance.now() - t0;
    assert.ok(ms >= 100 && ms < 800, `answered after ${ms.toFixed(0)} ms`);
    assert.equal((await send('/slow?delay=10')).status, 200);
  });
});

describe('splits', () => {
  test('a 95/5 canary sends 5% ± 1% of 10,000 requests to the canary', async () => {
    const split = await startFulcrum(config([{ forward: { pools: [{ pool: 'stable', weight: 95 }, { pool: 'canary', weight: 5 }] } }]));
    try {
      const before = origins.get('canary')!.requests;
      const total = 10_000;
      let done = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (done < total) {
            done++;
            const res = await request(split.url('/'), { dispatcher: agent });
            await res.body.dump();
            assert.equal(res.statusCode, 200);
          }
        }),
      );
      const share = (origins.get('canary')!.requests - before) / total;
      assert.ok(Math.abs(share - 0.05) <= 0.01, `canary share ${(share * 100).toFixed(2)}%`);
    } finally {
      await split.stop(500);
    }
  });

  test('a sticky split keeps each user on one version', async () => {
    const split = await startFulcrum(config([{ forward: { pools: [{ pool: 'blue', weight: 50 }, { pool: 'green', weight: 50 }], sticky: { cookie: 'user' } } }]));
    try {
      const seen = new Map<string, Set<string>>();
      for (let u = 0; u < 40; u++) {
        for (let i = 0; i < 3; i++) {
          const name = pool(await send('/', { headers: { cookie: `user=u${u}` } }, split))!;
          seen.set(`u${u}`, (seen.get(`u${u}`) ?? new Set()).add(name));
        }
      }
      for (const [user, set] of seen) assert.equal(set.size, 1, `${user} saw ${[...set].join(', ')}`);
      const onBlue = [...seen.values()].filter((s) => s.has('blue')).length;
      assert.ok(onBlue > 5 && onBlue < 35, `${onBlue} of 40 users on blue`);
    } finally {
      await split.stop(500);
    }
  });

  test('a blue-green flip by reload under load fails no request', async () => {
    const weights = (blue: number, green: number) => config([{ name: 'bg', forward: { pools: [{ pool: 'blue', weight: blue }, { pool: 'green', weight: green }] } }]);
    const bg = await startFulcrum(weights(100, 0));
    try {
      const by = new Map<string, number>();
      const failures: string[] = [];
      let stop = false;
      const deadline = performance.now() + 10_000;
      const load = Promise.all(
        Array.from({ length: 8 }, async () => {
          while (!stop && performance.now() < deadline) {
            try {
              const a = await send('/', {}, bg);
              if (a.status !== 200) failures.push(`status ${a.status}`);
              else by.set(pool(a)!, (by.get(pool(a)!) ?? 0) + 1);
            } catch (err) {
              failures.push(String(err));
            }
          }
        }),
      );
      await new Promise((r) => setTimeout(r, 300));
      const flipped = await bg.reload(weights(0, 100));
      assert.equal(flipped.ok, true, flipped.errors.join('\n'));
      const greenAtFlip = by.get('green') ?? 0;
      await new Promise((r) => setTimeout(r, 300));
      stop = true;
      await load;
      assert.deepEqual(failures, []);
      assert.equal(greenAtFlip, 0, 'no request reached green before the flip');
      assert.ok((by.get('blue') ?? 0) > 0 && (by.get('green') ?? 0) > 0, JSON.stringify([...by]));
    } finally {
      await bg.stop(500);
    }
  });
});
