// Resilience end to end over real sockets: retries on a status, on a reset and on a per-try timeout go to
// another endpoint; non-idempotent requests are not retried unless allowed; the retry budget caps upstream
// attempts at (1 + percent) × requests when every endpoint fails; each circuit breaker (max requests,
// pending, connections, retries) fails fast with 503 naming its cap, and lets traffic through again after.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { Backend } from '../helpers/backend.ts';
import { simpleConfig, startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { startHangOrigin, startResetOrigin } from '../helpers/origins.ts';

const agent = new Agent({ connections: 64 });
const running: { stop(): Promise<void> }[] = [];
after(async () => {
  for (const r of running.reverse()) await r.stop();
  await agent.close();
});

async function backends(...specs: [string, number][]): Promise<Backend[]> {
  const list = await Promise.all(specs.map(([n, s]) => new Backend(n, s).start()));
  running.push(...list);
  return list;
}

async function fulcrum(addresses: readonly string[], pool: object = {}): Promise<RunningFulcrum> {
  const lb = await startFulcrum(simpleConfig(addresses, { pool }));
  running.push({ stop: () => lb.stop(500) });
  return lb;
}

async function send(lb: RunningFulcrum, method = 'GET'): Promise<{ status: number; body: string; limit: string | undefined }> {
  const res = await request(lb.url('/'), { method, dispatcher: agent, body: method === 'POST' ? 'x' : undefined });
  const limit = res.headers['x-fulcrum-limit'];
  return { status: res.statusCode, body: await res.body.text(), limit: typeof limit === 'string' ? limit : undefined };
}

describe('retries', () => {
  test('a 503 is retried on the other endpoint: every GET is answered 200 by the healthy one', async () => {
    const [bad, good] = await backends(['bad', 503], ['good', 200]);
    const lb = await fulcrum([bad.address, good.address], { retries: { backoff: { base: '1ms', max: '2ms' } } });
    for (let i = 0; i < 20; i++) assert.deepEqual(await send(lb), { status: 200, body: 'good', limit: undefined });
    assert.equal(good.requests, 20, 'each request reached the healthy endpoint once');
    // the retry takes the healthy endpoint's turn, so round robin sends every first try to the failing one
    assert.equal(bad.requests, 20, 'and the failing one at most once (no retry went back to it)');
  });

  test('POST is not retried on a 503 unless nonIdempotent is set', async () => {
    const [bad, good] = await backends(['bad', 503], ['good', 200]);
    const lb = await fulcrum([bad.address, good.address]);
    const statuses = [];
    for (let i = 0; i < 10; i++) statuses.push((await send(lb, 'POST')).status);
    assert.equal(statuses.filter((s) => s === 503).length, 5, statuses.join(','));
    const allowed = await fulcrum([bad.address, good.address], { retries: { nonIdempotent: true, backoff: { base: '1ms', max: '2ms' } } });
    for (let i = 0; i < 10; i++) assert.equal((await send(allowed, 'POST')).status, 200);
  });

  test('a status not in the policy is passed through as is', async () => {
    const [bad, good] = await backends(['bad', 500], ['good', 200]);
    const lb = await fulcrum([bad.address, good.address]);
    const got = [];
    for (let i = 0; i < 4; i++) got.push((await send(lb)).status);
    assert.deepEqual(got.sort(), [200, 200, 500, 500]);
  });

  test('a reset before the response is retried on another endpoint', async () => {
    const reset = await startResetOrigin();
    running.push({ stop: () => reset.close() });
    const [good] = await backends(['good', 200]);
    const lb = await fulcrum([`127.0.0.1:${reset.port}`, good.address], { retries: { backoff: { base: '1ms', max: '2ms' } } });
    for (let i = 0; i < 10; i++) assert.equal((await send(lb)).status, 200);
    assert.equal(reset.requests, 10, 'one try each: the retry went to the other endpoint');
  });

  test('a per-try timeout moves a hung try to another endpoint; without `timeout` in the policy it is a 504', async () => {
    const hang = await startHangOrigin();
    running.push({ stop: () => hang.close() });
    const [good] = await backends(['good', 200]);
    const addresses = [`127.0.0.1:${hang.port}`, good.address];
    const lb = await fulcrum(addresses, { retries: { on: ['connect-failure', 'timeout'], perTryTimeout: '150ms', backoff: { base: '1ms', max: '2ms' } } });
    const t0 = performance.now();
    for (let i = 0; i < 4; i++) assert.deepEqual(await send(lb), { status: 200, body: 'good', limit: undefined });
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 2 * 150 - 60, `two of four requests waited out a per-try timeout (${elapsed.toFixed(0)} ms)`);
    const strict = await fulcrum(addresses, { retries: { on: ['connect-failure'], perTryTimeout: '150ms' } });
    const got = [];
    for (let i = 0; i < 4; i++) got.push((await send(strict)).status);
    assert.deepEqual(got.sort(), [200, 200, 504, 504]);
  });

  test('the retry budget caps upstream attempts at (1 + 20%) × requests when every endpoint fails', async () => {
    const list = await backends(['a', 503], ['b', 503], ['c', 503]);
    const addresses = list.map((b) => b.address);
    const total = () => list.reduce((n, b) => n + b.requests, 0);
    const requests = 400;
    const lb = await fulcrum(addresses, { retries: { backoff: { base: '0ms', max: '0ms' }, budget: { percent: 20, minPerSecond: 0 } } });
    await inParallel(requests, 16, async () => assert.equal((await send(lb)).status, 503));
    const withBudget = total();
    assert.ok(withBudget <= requests * 1.2, `${withBudget} upstream attempts for ${requests} requests`);
    assert.ok(withBudget > requests, 'some retries were allowed');
    assert.ok(lb.rt.generation.pools.get('app')!.retryBudget.exhausted > 0);

    for (const b of list) b.requests = 0;
    const unbounded = await fulcrum(addresses, { retries: { backoff: { base: '0ms', max: '0ms' }, budget: { percent: 100, minPerSecond: 1000 } } });
    await inParallel(requests, 16, async () => assert.equal((await send(unbounded)).status, 503));
    assert.equal(total(), requests * 3, 'without a budget every request is tried maxTries (3) times');
  });
});

describe('circuit breakers', () => {
  test('maxRequests: requests beyond the cap fail fast with 503 max_requests; the pool recovers after', async () => {
    const [slow] = await backends(['slow', 200]);
    slow.delayMs = 300;
    const lb = await fulcrum([slow.address], { circuitBreakers: { maxRequests: 2 } });
    const results = await Promise.all(Array.from({ length: 6 }, () => send(lb)));
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 503);
    assert.equal(ok.length, 2);
    assert.equal(refused.length, 4);
    for (const r of refused) {
      assert.equal(r.limit, 'max_requests');
      assert.match(r.body, /reason: circuit_open\nlimit: max_requests\n/);
    }
    const breaker = lb.rt.generation.pools.get('app')!.breaker;
    assert.equal(breaker.trips.max_requests, 4);
    assert.equal(breaker.requests, 0, 'every counted request was released');
    slow.delayMs = 0;
    assert.equal((await send(lb)).status, 200);
  });

  test('maxPending: one request on the socket, one waiting, the third is refused with max_pending', async () => {
    const [slow] = await backends(['slow', 200]);
    slow.delayMs = 300;
    const lb = await fulcrum([slow.address], { connections: { maxConnections: 1 }, circuitBreakers: { maxPending: 1 } });
    const first = send(lb);
    await new Promise((r) => setTimeout(r, 50));
    const second = send(lb);
    await new Promise((r) => setTimeout(r, 50));
    const third = await send(lb);
    assert.equal(third.status, 503);
    assert.equal(third.limit, 'max_pending');
    assert.equal((await first).status, 200);
    assert.equal((await second).status, 200, 'the waiting request got the socket');
    assert.equal(lb.rt.generation.pools.get('app')!.breaker.pending, 0);
  });

  test('maxConnections: a pool-wide socket cap refuses a request that would open one more', async () => {
    const [a, b] = await backends(['a', 200], ['b', 200]);
    a.delayMs = b.delayMs = 300;
    const lb = await fulcrum([a.address, b.address], { circuitBreakers: { maxConnections: 1 } });
    const results = await Promise.all([send(lb), send(lb)]);
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 503]);
    assert.equal(results.find((r) => r.status === 503)!.limit, 'max_connections');
  });

  test('maxRetries 0: no retry starts, the 503 reaches the client', async () => {
    const [bad, good] = await backends(['bad', 503], ['good', 200]);
    const lb = await fulcrum([bad.address, good.address], { circuitBreakers: { maxRetries: 0 } });
    const got = [];
    for (let i = 0; i < 4; i++) got.push((await send(lb)).status);
    assert.deepEqual(got.sort(), [200, 200, 503, 503]);
    assert.equal(lb.rt.generation.pools.get('app')!.breaker.trips.max_retries, 2);
  });
});

/** Runs `task` `count` times with at most `concurrency` at once. */
async function inParallel(count: number, concurrency: number, task: () => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        await task();
      }
    }),
  );
}
