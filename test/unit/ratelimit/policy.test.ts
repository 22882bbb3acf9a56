// The compiled policy: keys (client-ip, route, header, cookie, combined), a missing key not limited (Envoy),
// exempt CIDRs, counters; checkAll over a list; RouteRateLimits; the schema's defaults and errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileRateLimits } from '../../../src/filters/rate-limit.ts';
import { checkAll } from '../../../src/ratelimit/policy.ts';
import { rateLimitPolicySchema, rateLimitSchema } from '../../../src/ratelimit/schema.ts';
import { notLimited, type Decision } from '../../../src/ratelimit/types.ts';
import { routeRequest, type RouteRequestInit } from '../../helpers/route-request.ts';
import { policy } from './helpers.ts';

function sync(d: Decision | Promise<Decision>): Decision {
  if (d instanceof Promise) throw new Error('expected a synchronous decision');
  return d;
}

function run(p: ReturnType<typeof policy>, init: RouteRequestInit, n: number, now = 0): string {
  const req = routeRequest(init);
  let out = '';
  for (let i = 0; i < n; i++) out += sync(p.check(req, now)).allowed ? 'A' : 'R';
  return out;
}

describe('rate-limit policy keys', () => {
  it('client-ip (default): one bucket per address', () => {
    const p = policy({ limit: '2/min' });
    assert.equal(run(p, { clientAddress: '192.0.2.1' }, 3), 'AAR');
    assert.equal(run(p, { clientAddress: '192.0.2.2' }, 3), 'AAR');
  });

  it('route: one bucket for every client', () => {
    const p = policy({ limit: '2/min', key: 'route' });
    assert.equal(run(p, { clientAddress: '192.0.2.1' }, 1) + run(p, { clientAddress: '192.0.2.2' }, 2), 'AAR');
  });

  it('header: one bucket per value; a request without it is not limited', () => {
    const p = policy({ limit: '2/min', key: { header: 'X-API-Key' } });
    assert.equal(run(p, { headers: [['x-api-key', 'k1']] }, 3), 'AAR');
    assert.equal(run(p, { headers: [['x-api-key', 'k2']] }, 3), 'AAR');
    assert.equal(run(p, {}, 5), 'AAAAA');
    assert.equal(run(p, { headers: [['x-api-key', '']] }, 3), 'AAA');
    assert.equal(sync(p.check(routeRequest({}), 0)), notLimited);
    assert.equal(p.skipped, 9);
  });

  it('cookie: one bucket per value', () => {
    const p = policy({ limit: '1/min', key: { cookie: 'session' } });
    assert.equal(run(p, { headers: [['cookie', 'a=1; session=s1']] }, 2), 'AR');
    assert.equal(run(p, { headers: [['cookie', 'session=s2']] }, 2), 'AR');
  });

  it('a combined key counts each (address, header) pair apart and needs every part', () => {
    const p = policy({ limit: '1/min', key: ['client-ip', { header: 'x-api-key' }] });
    assert.equal(run(p, { clientAddress: '192.0.2.1', headers: [['x-api-key', 'k1']] }, 2), 'AR');
    assert.equal(run(p, { clientAddress: '192.0.2.2', headers: [['x-api-key', 'k1']] }, 2), 'AR');
    assert.equal(run(p, { clientAddress: '192.0.2.1', headers: [['x-api-key', 'k2']] }, 2), 'AR');
    assert.equal(run(p, { clientAddress: '192.0.2.1' }, 2), 'AA');
  });

  it('never limits exempt sources, IPv4-mapped IPv6 included', () => {
    const p = policy({ limit: '1/min', exempt: ['10.0.0.0/8', '2001:db8::/32'] });
    assert.equal(run(p, { clientAddress: '10.1.2.3' }, 3), 'AAA');
    assert.equal(run(p, { clientAddress: '::ffff:10.1.2.3' }, 3), 'AAA');
    assert.equal(run(p, { clientAddress: '2001:db8::1' }, 3), 'AAA');
    assert.equal(run(p, { clientAddress: '11.1.2.3' }, 3), 'ARR');
  });

  it('counts admitted, rejected and delayed requests', () => {
    const p = policy({ limit: '10/s', algorithm: 'leaky-bucket', burst: 2, maxDelay: '1s' });
    run(p, {}, 4);
    assert.deepEqual([p.admitted, p.delayed, p.rejected], [2, 1, 2]);
  });
});

describe('checkAll', () => {
  const perClient = { name: 'per-client', limit: '2/min' };
  const perRoute = { name: 'per-route', limit: '3/min', key: 'route' };

  it('admits only what every policy admits; the first rejection answers', () => {
    const list = rateLimitSchema.parse([perClient, perRoute]);
    const limits = compileRateLimits(list, 'api')!;
    assert.equal(limits.sync, true);
    const a = routeRequest({ clientAddress: '192.0.2.1' });
    const b = routeRequest({ clientAddress: '192.0.2.2' });
    // a memory decision is reused by the next check: read it at once
    const seq = [a, a, a, b, b].map((r) => {
      const d = sync(limits.check(r, 0));
      return d.allowed ? 'A' : d.policy!.name;
    });
    assert.deepEqual(seq, ['A', 'A', 'per-client', 'A', 'per-route']);
  });

  it('a rejection stops before later policies are charged', () => {
    const limits = compileRateLimits(rateLimitSchema.parse([perClient, perRoute]), 'api')!;
    const a = routeRequest({ clientAddress: '192.0.2.1' });
    for (let i = 0; i < 5; i++) limits.check(a, 0);
    // a was admitted twice: the route bucket holds one more for anyone
    assert.equal(sync(limits.check(routeRequest({ clientAddress: '192.0.2.9' }), 0)).allowed, true);
    assert.equal(sync(limits.check(routeRequest({ clientAddress: '192.0.2.8' }), 0)).allowed, false);
  });

  it('the binding decision is the longest delay, else the fewest remaining', () => {
    const shaped = policy({ name: 'shaped', limit: '10/s', algorithm: 'leaky-bucket' });
    const counted = policy({ name: 'counted', limit: '100/min' });
    const req = routeRequest();
    // no delay yet: the fewest remaining binds (shaped has 9 left of 10, counted 99 of 100)
    assert.equal(sync(checkAll([counted, shaped], req, 0)).policy!.name, 'shaped');
    assert.equal(sync(checkAll([policy({ name: 'tight', limit: '2/min' }), shaped], routeRequest({ clientAddress: '192.0.2.7' }), 0)).policy!.name, 'tight');
    const d = sync(checkAll([counted, shaped], req, 0));
    assert.equal(d.policy!.name, 'shaped');
    assert.equal(d.delayMs, 100);
  });

  it('an empty or absent config compiles to null', () => {
    assert.equal(compileRateLimits(undefined, 'api'), null);
  });
});

describe('rate-limit schema', () => {
  it('fills every default', () => {
    const [c] = rateLimitSchema.parse({ limit: '100/min' });
    assert.deepEqual(c, {
      name: '100-per-min',
      limit: { requests: 100, perMs: 60_000 },
      algorithm: { algorithm: 'sliding-window-counter' },
      key: ['client-ip'],
      cost: 1,
      exempt: [],
      store: { kind: 'memory', maxKeys: 100_000 },
      headers: false,
    });
  });

  it('reads rates in every form', () => {
    const parse = (limit: unknown) => rateLimitPolicySchema.parse({ limit }).limit;
    assert.deepEqual(parse('5/s'), { requests: 5, perMs: 1000 });
    assert.deepEqual(parse('5/h'), { requests: 5, perMs: 3_600_000 });
    assert.deepEqual(parse({ requests: 5, per: '10s' }), { requests: 5, perMs: 10_000 });
    assert.equal(rateLimitPolicySchema.parse({ limit: { requests: 5, per: '10s' } }).name, '5-per-10s');
    for (const bad of ['5/m', '5 /s', '0/s', '5/S', 5, { requests: 5, per: '1500ms' }, { requests: 5 }]) {
      assert.equal(rateLimitPolicySchema.safeParse({ limit: bad }).success, false, JSON.stringify(bad));
    }
  });

  it('fills the redis store defaults', () => {
    const c = rateLimitPolicySchema.parse({ limit: '1/s', store: { redis: { url: 'redis://127.0.0.1:6379' } } });
    assert.deepEqual(c.store, { kind: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'fulcrum:rl:', timeoutMs: 50, failOpen: true });
    assert.equal(rateLimitPolicySchema.parse({ limit: '1/s', algorithm: 'leaky-bucket' }).algorithm.algorithm, 'leaky-bucket');
  });

  const errors: readonly [string, Record<string, unknown>, RegExp][] = [
    ['a cost above the burst', { limit: '10/s', algorithm: 'token-bucket', burst: 2, cost: 3 }, /at most 2, the bucket capacity/],
    ['a cost above the limit', { limit: '2/s', cost: 3 }, /at most 2, the limit/],
    ['burst on a window algorithm', { limit: '2/s', algorithm: 'fixed-window', burst: 3 }, /burst/],
    ['maxDelay on a token bucket', { limit: '2/s', algorithm: 'token-bucket', maxDelay: '1s' }, /maxDelay/],
    ['a log too long', { limit: '20000/min', algorithm: 'sliding-window-log' }, /at most 10000/],
    ['maxKeys with redis', { limit: '2/s', maxKeys: 10, store: { redis: { url: 'redis://h:1' } } }, /maxKeys/],
    ['an unknown algorithm', { limit: '2/s', algorithm: 'gcra' }, /algorithm|Invalid/],
    ['a bad key', { limit: '2/s', key: 'path' }, /expected a key/],
    ['a bad url', { limit: '2/s', store: { redis: { url: 'http://h' } } }, /Redis URL|Invalid/],
  ];
  for (const [what, raw, message] of errors) {
    it(`refuses ${what}`, () => {
      const r = rateLimitPolicySchema.safeParse(raw);
      assert.equal(r.success, false);
      assert.match(JSON.stringify(r.error!.issues), message);
    });
  }

  it('refuses two policies with one name', () => {
    const r = rateLimitSchema.safeParse([{ limit: '1/s' }, { limit: '1/s', key: 'route' }]);
    assert.equal(r.success, false);
    assert.match(r.error!.issues[0].message, /unique policy name/);
  });
});
