// Rate limiting through the HTTP data plane: a route policy answers 429 with Retry-After and the IETF
// RateLimit headers past its limit; keys keep clients apart; a listener policy is shared by its routes; a
// leaky bucket delays instead of refusing; a reload keeps the buckets; metrics count every result; and two
// Fulcrum instances on one real redis-server admit the limit between them, not twice it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { Backend } from '../helpers/backend.ts';
import { startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { startRedis, type RedisServer } from '../helpers/redis.ts';
import { sharedRedisClients } from '../../src/filters/rate-limit.ts';

const agent = new Agent({ connections: 16 });
let backend: Backend;
const running: RunningFulcrum[] = [];

before(async () => {
  backend = await new Backend('app').start();
});
after(async () => {
  for (const lb of running) await lb.stop(500);
  await sharedRedisClients.closeAll();
  await backend.stop();
  await agent.close();
});

function config(routes: object[], listener: object = {}): object {
  return {
    listeners: [{ name: 'web', address: '127.0.0.1:0', routes, ...listener }],
    pools: [{ name: 'app', endpoints: [{ address: backend.address }] }],
  };
}

async function start(c: object): Promise<RunningFulcrum> {
  const lb = await startFulcrum(c);
  running.push(lb);
  return lb;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function get(lb: RunningFulcrum, path = '/', headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(lb.url(path), { dispatcher: agent, headers });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

describe('memory store', () => {
  test('past the limit: 429 with Retry-After, RateLimit-Policy, RateLimit and the reason; keys keep clients apart', async () => {
    const lb = await start(config([{ name: 'api', rateLimit: { name: 'per-key', limit: '3/min', algorithm: 'fixed-window', key: { header: 'x-api-key' } }, forward: { pool: 'app' } }]));
    const a = [];
    for (let i = 0; i < 5; i++) a.push(await get(lb, '/', { 'x-api-key': 'alice' }));
    assert.deepEqual(a.map((r) => r.status), [200, 200, 200, 429, 429]);
    const refused = a[3];
    assert.equal(refused.headers['x-fulcrum-reason'], 'rate_limited');
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${refused.headers['retry-after']}`);
    assert.match(String(refused.headers['ratelimit-policy']), /"per-key";q=3;w=60/);
    assert.match(String(refused.headers.ratelimit), /"per-key";r=0;t=\d+/);
    assert.match(refused.body, /rate_limited/);
    assert.equal((await get(lb, '/', { 'x-api-key': 'bob' })).status, 200, 'another key has its own bucket');
    assert.equal((await get(lb, '/')).status, 200, 'a request without the key is not limited (Envoy)');
  });

  test('a listener policy is shared by its routes; a route policy adds to it', async () => {
    const lb = await start(
      config(
        [
          { name: 'one', match: { path: { prefix: '/one' } }, forward: { pool: 'app' } },
          { name: 'two', match: { path: { prefix: '/two' } }, rateLimit: { name: 'tight', limit: '1/min', algorithm: 'fixed-window', key: 'route' }, forward: { pool: 'app' } },
        ],
        { rateLimit: { name: 'site', limit: '4/min', algorithm: 'fixed-window' } },
      ),
    );
    const statuses = [];
    for (const path of ['/one', '/two', '/two', '/one', '/one', '/one']) statuses.push((await get(lb, path)).status);
    // site is charged for every request it admits, even one a later policy turns away (as Envoy charges
    // every descriptor): /one, /two, /two (refused by tight), /one use its 4; /two's own policy admits one
    assert.deepEqual(statuses, [200, 200, 429, 200, 429, 429]);
  });

  test('headers: true adds RateLimit headers to admitted responses', async () => {
    const lb = await start(config([{ rateLimit: { limit: '10/min', headers: true }, forward: { pool: 'app' } }]));
    const r = await get(lb);
    assert.equal(r.status, 200);
    assert.match(String(r.headers.ratelimit), /r=9/);
    assert.match(String(r.headers['ratelimit-policy']), /q=10;w=60/);
  });

  test('a leaky bucket delays requests to its rate instead of refusing them', async () => {
    const lb = await start(config([{ rateLimit: { limit: '5/s', algorithm: 'leaky-bucket', burst: 10, maxDelay: '2s' }, forward: { pool: 'app' } }]));
    const t0 = performance.now();
    const done = await Promise.all(Array.from({ length: 4 }, () => get(lb).then((r) => ({ status: r.status, ms: performance.now() - t0 }))));
    assert.deepEqual(done.map((d) => d.status), [200, 200, 200, 200]);
    const times = done.map((d) => d.ms).sort((x, y) => x - y);
    assert.ok(times[3] - times[0] >= 450, `spread over ${(times[3] - times[0]).toFixed(0)} ms: 5/s → about 200 ms apart`);
  });

  test('a reload with the same policy keeps its buckets; metrics count every result', async () => {
    const c = config([{ name: 'r', rateLimit: { name: 'p', limit: '2/min', algorithm: 'fixed-window' }, forward: { pool: 'app' } }]);
    const lb = await start({ ...c, admin: { address: '127.0.0.1:0' } });
    assert.deepEqual([(await get(lb)).status, (await get(lb)).status, (await get(lb)).status], [200, 200, 429]);
    assert.equal((await lb.reload(c)).ok, true);
    assert.equal((await get(lb)).status, 429, 'still limited after the reload');
    const { host, port } = lb.rt.adminAddress!;
    const metrics = await (await request(`http://${host}:${port}/metrics`)).body.text();
    assert.match(metrics, /fulcrum_ratelimit_requests_total\{route="r",policy="p",result="admitted"\} 2/);
    assert.match(metrics, /fulcrum_ratelimit_requests_total\{route="r",policy="p",result="rejected"\} 2/);
    assert.match(metrics, /fulcrum_downstream_local_replies_total\{listener="web",reason="rate_limited"\} 2/);
  });
});

describe('redis store', () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await sharedRedisClients.closeAll();
    await redis.stop();
  });

  test('two Fulcrum instances sharing Redis admit the limit between them, not twice it', async () => {
    const c = config([{ name: 'api', rateLimit: { name: 'shared', limit: '10/min', store: { redis: { url: redis.url, prefix: `t${Date.now()}:`, timeout: '5s' } } }, forward: { pool: 'app' } }]);
    const [a, b] = [await start(c), await start(c)];
    const statuses = await Promise.all(Array.from({ length: 24 }, (_, i) => get(i % 2 === 0 ? a : b).then((r) => r.status)));
    assert.equal(statuses.filter((s) => s === 200).length, 10, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 429).length, 14);
    for (const lb of [a, b]) for (const p of lb.rt.generation.rateLimitPolicies.values()) assert.equal(p.redis?.failures, 0, 'no check failed open');
  });
});
