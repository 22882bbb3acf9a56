// The Redis store against a real redis-server: every algorithm's Lua script decides exactly as the memory store
// for the same checks (one injected clock; then the server's own clock, with limits that cannot refill during
// the test); two instances sharing 100/min admit exactly 100 of 250 concurrent checks; keys carry the hash tag
// and a TTL; a slow or stopped Redis fails open (or closed when configured) and checks recover when it is back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { setQuiet } from '../../src/core/log.ts';
import { compileRateLimit, type RateLimitPolicy } from '../../src/ratelimit/policy.ts';
import { rateLimitPolicySchema } from '../../src/ratelimit/schema.ts';
import { RedisClientPool } from '../../src/ratelimit/store/redis.ts';
import type { Decision } from '../../src/ratelimit/types.ts';
import { rejectReply } from '../../src/ratelimit/reply.ts';
import { routeRequest } from '../helpers/route-request.ts';
import { startRedis, type RedisServer } from '../helpers/redis.ts';

let server: RedisServer;
let admin: Redis;
const open: { policy: RateLimitPolicy }[] = [];
let prefixes = 0;

function fields(d: Decision) {
  const { allowed, delayMs, limit, remaining, resetMs, retryAfterMs } = d;
  return { allowed, delayMs, limit, remaining, resetMs, retryAfterMs };
}

/** A memory policy and a Redis policy (its own connection) from the same options. */
function pair(raw: Record<string, unknown>, redis: Record<string, unknown> = {}) {
  const prefix = `t${++prefixes}:`;
  const memory = compileRateLimit(rateLimitPolicySchema.parse(raw), 'api');
  const shared = compileRateLimit(
    rateLimitPolicySchema.parse({ ...raw, store: { redis: { url: server.url, prefix, timeout: '2s', ...redis } } }),
    'api',
    { redisClients: new RedisClientPool() },
  );
  open.push({ policy: shared });
  return { memory, shared, prefix };
}

/** Checks until Redis answers (a decision with a policy): the client connects and reconnects by itself. */
async function untilAnswered(policy: RateLimitPolicy, key: string): Promise<Decision> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const failures = policy.redis?.failures ?? 0;
    const d = await policy.limiter.take(key, 1, 0);
    // answered by Redis: no failure counted (a fail-open answer comes from the local fallback and counts one)
    if (d.policy !== null && (policy.redis?.failures ?? 0) === failures) return d;
    if (Date.now() > deadline) throw new Error(`${policy.name}: no answer from Redis`);
    await sleep(50);
  }
}

/** Checks until the store fails (a fail-open answer, or a failure counted). */
async function untilFailing(policy: RateLimitPolicy): Promise<Decision> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const failures = policy.redis!.failures;
    const d = await policy.limiter.take('k', 1, 0);
    if (policy.redis!.failures > failures) return d;
    if (Date.now() > deadline) throw new Error(`${policy.name}: Redis still answering`);
    await sleep(50);
  }
}

const algorithms: readonly Record<string, unknown>[] = [
  { limit: '10/s', algorithm: 'token-bucket', burst: 3 },
  { limit: '10/s', algorithm: 'leaky-bucket', burst: 5, maxDelay: '300ms' },
  { limit: '3/s', algorithm: 'fixed-window' },
  { limit: '3/s', algorithm: 'sliding-window-log' },
  { limit: '10/s', algorithm: 'sliding-window-counter' },
  { limit: '7/min', algorithm: 'sliding-window-counter' },
];

before(async () => {
  setQuiet(true);
  server = await startRedis();
  admin = new Redis(server.url);
});

after(async () => {
  for (const { policy } of open) policy.close();
  admin.disconnect();
  await server.stop();
  setQuiet(false);
});

describe('redis store: same decisions as the memory store', () => {
  const base = 1_700_000_000_000; // a realistic epoch: stored state must keep every digit
  for (const raw of algorithms) {
    it(`${raw.algorithm} ${raw.limit}: scripted edges and random sequences (fixed seed)`, async () => {
      const { memory, shared } = pair(raw);
      shared.redis!.callerClock = true;
      const scripted = [0, 0, 0, 0, 37, 99, 100, 100, 250, 250, 250, 300, 999, 1000, 1000, 1001, 1999, 2000, 5000, 5000];
      const compare = async (key: string, steps: readonly { t: number; cost: number }[]) => {
        for (const { t, cost } of steps) {
          const expected = fields(memory.limiter.take(key, cost, base + t) as Decision);
          const actual = fields(await shared.limiter.take(key, cost, base + t));
          assert.deepEqual(actual, expected, `${key} at +${t} ms, cost ${cost}`);
        }
      };
      await compare('scripted', scripted.map((t, i) => ({ t, cost: 1 + (i % 3 === 2 ? 1 : 0) })));
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 1, max: 3 })), { minLength: 1, maxLength: 40 }), async (steps) => {
          let t = 0;
          await compare(`random-${run++}`, steps.map(([gap, cost]) => ({ t: (t += gap), cost })));
        }),
        { seed: 31337, numRuns: 25 },
      );
    });
  }
});

describe('redis store: server clock', () => {
  // limits that cannot refill or roll over while the test runs, so the server's clock and ours agree
  const slow: readonly Record<string, unknown>[] = [
    { limit: '5/h', algorithm: 'token-bucket' },
    { limit: '5/h', algorithm: 'leaky-bucket', maxDelay: '1h' },
    { limit: { requests: 5, per: '24h' }, algorithm: 'fixed-window' },
    { limit: '5/h', algorithm: 'sliding-window-log' },
    { limit: '5/h', algorithm: 'sliding-window-counter' },
  ];
  for (const raw of slow) {
    it(`${raw.algorithm}: admits the same requests with the same remaining counts`, async () => {
      const { memory, shared } = pair(raw);
      const now = Date.now();
      for (let i = 0; i < 8; i++) {
        const cost = i === 3 ? 2 : 1;
        const m = memory.limiter.take('k', cost, now) as Decision;
        const expected = { allowed: m.allowed, remaining: m.remaining, delayMs: m.delayMs };
        const r = await shared.limiter.take('k', cost, now);
        assert.equal(r.allowed, expected.allowed, `check ${i}`);
        assert.equal(r.remaining, expected.remaining, `check ${i}`);
        // the server's clock has moved on a little: a delay may be a few ms shorter
        assert.ok(r.delayMs <= expected.delayMs && r.delayMs > expected.delayMs - 5_000, `check ${i}: delay ${r.delayMs} vs ${expected.delayMs}`);
      }
    });
  }

  it('two instances sharing 100/min admit exactly 100 of 250 concurrent checks', async () => {
    for (const raw of [{ limit: '100/min' }, { limit: '100/min', algorithm: 'sliding-window-log' }, { limit: '100/h', burst: 100, algorithm: 'token-bucket' }]) {
      const { shared: a, prefix } = pair(raw);
      const b = compileRateLimit(
        rateLimitPolicySchema.parse({ ...raw, store: { redis: { url: server.url, prefix, timeout: '5s' } } }),
        'api',
        { redisClients: new RedisClientPool() },
      );
      open.push({ policy: b });
      const req = routeRequest({ clientAddress: '198.51.100.7' });
      const checks = Array.from({ length: 250 }, (_, i) => (i % 2 === 0 ? a : b).check(req, Date.now()) as Promise<Decision>);
      const decisions = await Promise.all(checks);
      assert.equal(decisions.filter((d) => d.allowed).length, 100, JSON.stringify(raw));
      assert.equal(a.redis!.failures + b.redis!.failures, 0);
      assert.equal(a.admitted + b.admitted, 100);
    }
  });
});

describe('redis keys', () => {
  it('carry the hash tag, never the key text, and a TTL', async () => {
    for (const raw of algorithms) {
      const { shared, prefix } = pair({ ...raw, key: { header: 'x-api-key' } });
      await shared.check(routeRequest({ headers: [['x-api-key', 'secret-key-1']] }), Date.now());
      await shared.limiter.take('secret-key-2', 1, Date.now());
      const keys = await admin.keys(`${prefix}*`);
      assert.equal(keys.length, 2, JSON.stringify(keys));
      for (const key of keys) {
        assert.doesNotMatch(key, /secret/);
        const tag = new RegExp(`^${prefix}\\{[A-Za-z0-9_-]{22}\\}:api:${shared.name}:${shared.algorithm}$`);
        assert.match(key, tag);
        const pttl = await admin.pttl(key);
        assert.ok(pttl > 0 && pttl <= 2 * shared.rate.perMs, `${key}: PTTL ${pttl}`);
      }
    }
  });

  it('a flushed script cache is reloaded (EVALSHA falls back to EVAL)', async () => {
    const { shared } = pair({ limit: '2/min' });
    assert.equal((await shared.limiter.take('k', 1, 0)).allowed, true);
    await admin.script('FLUSH');
    assert.equal((await shared.limiter.take('k', 1, 0)).allowed, true);
    assert.equal((await shared.limiter.take('k', 1, 0)).allowed, false);
    assert.equal(shared.redis!.failures, 0);
  });
});

describe('redis connections', () => {
  async function connectedClients(): Promise<number> {
    const info = await admin.info('clients');
    return Number(/connected_clients:(\d+)/.exec(info)![1]);
  }

  it('policies of one instance share a connection, and a reload finds it warm', async () => {
    const pool = new RedisClientPool(5_000);
    const raw = { limit: '5/min', store: { redis: { url: server.url, timeout: '2s' } } };
    const start = await connectedClients();
    const old = [compileRateLimit(rateLimitPolicySchema.parse(raw), 'a', { redisClients: pool }), compileRateLimit(rateLimitPolicySchema.parse(raw), 'b', { redisClients: pool })];
    for (const p of old) await untilAnswered(p, 'k');
    assert.equal(await connectedClients(), start + 1);
    // the next generation is built, the old one released, then the first check arrives
    const next = compileRateLimit(rateLimitPolicySchema.parse(raw), 'a', { redisClients: pool });
    for (const p of old) p.close();
    assert.equal((await next.limiter.take('k', 1, 0)).policy, next);
    assert.equal(await connectedClients(), start + 1);
    next.close();
    pool.closeAll();
    await sleep(50);
    assert.equal(await connectedClients(), start);
  });
});

describe('redis failures', () => {
  it('a reply slower than the timeout fails open: this instance\'s own limiter decides', async () => {
    const { shared } = pair({ limit: '1/min' }, { timeout: '50ms' });
    await untilAnswered(shared, 'warm');
    const before = shared.redis!.failures;
    // a script that keeps the server busy for 500 ms (DEBUG SLEEP is disabled by default since Redis 7)
    const sleeper = new Redis(server.url);
    const busy = `local s = redis.call('TIME') local t repeat t = redis.call('TIME') until (t[1] - s[1]) * 1000000 + (t[2] - s[2]) > 800000`;
    try {
      await sleeper.ping();
      const sleeping = sleeper.eval(busy, 0);
      await sleep(100);
      const started = Date.now();
      const d = await shared.limiter.take('k', 1, 0);
      assert.ok(Date.now() - started < 600, 'waited for the slow reply');
      assert.equal(d.allowed, true, 'the local limiter has not seen this key');
      assert.equal(d.policy, shared, 'a real decision, with headers, not the header-less pass');
      assert.equal(shared.redis!.failures, before + 1);
      await sleeping;
    } finally {
      sleeper.disconnect();
    }
  });

  it('Redis stopped: fails open, or closed when configured; recovers when Redis is back', async () => {
    const { shared: failOpen } = pair({ limit: '1/min' }, { timeout: '200ms' });
    const { shared: failClosed } = pair({ limit: '1/min' }, { timeout: '200ms', failOpen: false });
    assert.equal((await failOpen.limiter.take('k', 1, 0)).allowed, true);
    assert.equal((await failOpen.limiter.take('k', 1, 0)).allowed, false);
    assert.equal((await failClosed.limiter.take('k', 1, 0)).allowed, true);

    const port = server.port;
    admin.disconnect();
    await server.stop();
    // each client notices the closed connection on its own; until then a check waits for its timeout
    const openDecision = await untilFailing(failOpen);
    assert.equal(openDecision.allowed, true, 'the local fallback admits the key once (1/min)');
    assert.equal(openDecision.policy, failOpen);
    const localAgain = await untilFailing(failOpen);
    assert.equal(localAgain.allowed, false, 'failing open still limits: the local fallback counts');
    const closedDecision = await untilFailing(failClosed);
    assert.deepEqual(fields(closedDecision), { allowed: false, delayMs: 0, limit: 1, remaining: 0, resetMs: 1000, retryAfterMs: 1000 });
    assert.match(rejectReply(closedDecision, 'r', { close: false, head: false, keepAlive10: false }).toString('latin1'), /^HTTP\/1\.1 429 [^]*\r\nretry-after: 1\r\n/);
    assert.ok(failOpen.redis!.failures >= 1 && failClosed.redis!.failures >= 1);

    server = await startRedis({ port });
    admin = new Redis(server.url);
    // reconnection is the clients' own business
    await untilAnswered(failClosed, 'fresh');
    await untilAnswered(failOpen, 'fresh');
    // the new server is empty: the old key starts over, and the limit holds again
    assert.equal((await failOpen.limiter.take('k', 1, 0)).allowed, true);
    const again = await failOpen.limiter.take('k', 1, 0);
    assert.equal(again.allowed, false);
    assert.notEqual(again.policy, null);
  });
});
