// Active health checks end to end: real backends on 127.0.0.1 probed by Fulcrum's scheduler, real clients
// through a listener. A backend that dies, answers 500 on the health path or hangs is taken out within
// interval × fall (+ timeouts) and gets no client traffic afterwards; one that comes back returns within
// interval × rise and takes traffic again; with most of a pool failing, panic mode spreads traffic over all of
// it; states survive a reload, and stop() ends the probing. Fast timings: interval 100ms, rise 2, fall 2.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { status } from '../../src/control/admin/server.ts';
import { EndpointState, type Endpoint } from '../../src/upstream/endpoint.ts';
import { Backend } from '../helpers/backend.ts';
import { endpointOf, simpleConfig, startFulcrum, waitFor, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { startHangOrigin } from '../helpers/origins.ts';

const intervalMs = 100;
const rise = 2;
const fall = 2;
const timeoutMs = 150;
/** Timer lateness on a busy two-core machine. */
const slackMs = 400;

const agent = new Agent({ connections: 4 });
const running: { stop(): Promise<void> }[] = [];
after(async () => {
  for (const r of running.reverse()) await r.stop();
  await agent.close();
});

async function backends(...names: string[]): Promise<Backend[]> {
  const list = await Promise.all(names.map((n) => new Backend(n).start()));
  running.push(...list);
  return list;
}

async function fulcrum(addresses: readonly string[], pool: object = {}): Promise<RunningFulcrum> {
  const health = { http: { path: '/health' }, interval: `${intervalMs}ms`, timeout: `${timeoutMs}ms`, rise, fall };
  const lb = await startFulcrum(simpleConfig(addresses, { pool: { health, ...pool } }));
  running.push({ stop: () => lb.stop(500) });
  return lb;
}

/** Sends `n` requests one after another; counts answers by origin name. */
async function traffic(lb: RunningFulcrum, n: number): Promise<Map<string, number>> {
  const by = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const res = await request(lb.url('/'), { dispatcher: agent });
    const body = await res.body.text();
    assert.equal(res.statusCode, 200, body);
    by.set(body, (by.get(body) ?? 0) + 1);
  }
  return by;
}

const unhealthy = (e: Endpoint) => () => e.state === EndpointState.unhealthy;
const healthy = (e: Endpoint) => () => e.state === EndpointState.healthy;

describe('active health checks', () => {
  test('a backend that dies is unhealthy within interval × fall and gets no traffic; back, it is healthy within interval × rise', async () => {
    const [a, b, c] = await backends('a', 'b', 'c');
    const lb = await fulcrum([a.address, b.address, c.address]);
    const ec = endpointOf(lb, c.address);
    await waitFor('first probes', () => c.healthRequests >= 1, intervalMs * 2 + slackMs);
    await c.stop();
    await waitFor('c unhealthy', unhealthy(ec), intervalMs * 1.1 * fall + timeoutMs + slackMs);
    assert.equal(ec.lastProbe, 'connect ECONNREFUSED');
    const before = ec.requests;
    const by = await traffic(lb, 30);
    assert.deepEqual([...by.keys()].sort(), ['a', 'b']);
    assert.equal(ec.requests, before, 'no exchange was sent to the dead endpoint');

    await c.start(); // same port
    await waitFor('c healthy again', healthy(ec), intervalMs * 1.1 * rise + slackMs);
    assert.equal(ec.healthTransitions, 2);
    const again = await traffic(lb, 30);
    assert.equal(again.get('c'), 10, `round robin over three again: ${JSON.stringify([...again])}`);
  });

  test('a backend answering 500 on the health path is taken out although it serves /', async () => {
    const [a, b] = await backends('a', 'b');
    b.healthStatus = 500;
    const lb = await fulcrum([a.address, b.address]);
    const eb = endpointOf(lb, b.address);
    await waitFor('b unhealthy', unhealthy(eb), intervalMs * 1.1 * (fall + 1) + slackMs);
    assert.equal(eb.lastProbe, 'status 500');
    const view = status(lb.rt) as { pools: { panic: boolean; endpoints: { address: string; state: string; health: Record<string, unknown> }[] }[] };
    assert.equal(view.pools[0].panic, false);
    const shown = view.pools[0].endpoints.find((x) => x.address === b.address)!;
    assert.equal(shown.state, 'unhealthy');
    assert.equal(shown.health.lastProbe, 'status 500');
    assert.equal(shown.health.transitions, 1);
    assert.ok((shown.health.failures as number) >= fall);
    const served = b.requests;
    const by = await traffic(lb, 20);
    assert.deepEqual([...by], [['a', 20]]);
    assert.equal(b.requests, served);
  });

  test('a backend that hangs fails its probes by timeout', async () => {
    const [a] = await backends('a');
    const hang = await startHangOrigin();
    running.push({ stop: () => hang.close() });
    const lb = await fulcrum([a.address, hang.address]);
    const eh = endpointOf(lb, hang.address);
    const t = await waitFor('hang unhealthy', unhealthy(eh), (intervalMs * 1.1 + timeoutMs) * (fall + 1) + slackMs);
    assert.equal(eh.lastProbe, `timeout after ${timeoutMs}ms`);
    assert.ok(t >= timeoutMs * fall, `not before ${fall} timeouts (${t.toFixed(0)}ms)`);
    const by = await traffic(lb, 10);
    assert.deepEqual([...by], [['a', 10]]);
  });

  test('panic mode: with 3 of 4 endpoints failing checks (threshold 50%) traffic goes to all 4', async () => {
    const list = await backends('p1', 'p2', 'p3', 'p4');
    for (const b of list.slice(1)) b.healthStatus = 500;
    const lb = await fulcrum(list.map((b) => b.address));
    const pool = lb.rt.generation.pools.get('app')!;
    await waitFor('3 unhealthy', () => pool.endpoints.filter((e) => e.state === EndpointState.unhealthy).length === 3, intervalMs * 1.1 * (fall + 1) + slackMs);
    assert.equal(pool.panic, true);
    const by = await traffic(lb, 40);
    assert.deepEqual([...by.entries()].sort(), [['p1', 10], ['p2', 10], ['p3', 10], ['p4', 10]]);
    // two of four healthy is 50%, not below: panic ends and only the healthy ones take traffic
    list[1].healthStatus = 200;
    await waitFor('p2 healthy', healthy(endpointOf(lb, list[1].address)), intervalMs * 1.1 * (rise + 1) + slackMs);
    assert.equal(pool.panic, false);
    const after = await traffic(lb, 20);
    assert.deepEqual([...after.entries()].sort(), [['p1', 10], ['p2', 10]]);
  });

  test('states carry over a reload; the new generation\'s pool follows transitions; stop() ends probing', async () => {
    const [a, b] = await backends('a', 'b');
    b.healthStatus = 503;
    const health = { http: { path: '/health' }, interval: `${intervalMs}ms`, timeout: `${timeoutMs}ms`, rise, fall };
    const config = (rise: number) => simpleConfig([a.address, b.address], { pool: { health: { ...health, rise } } });
    const lb = await startFulcrum(config(rise));
    running.push({ stop: () => lb.stop(500) });
    const eb = endpointOf(lb, b.address);
    await waitFor('b unhealthy', unhealthy(eb), intervalMs * 1.1 * (fall + 1) + slackMs);
    const r = await lb.reload(config(3));
    assert.equal(r.ok, true, r.errors.join('\n'));
    assert.equal(endpointOf(lb, b.address), eb, 'the endpoint is reused');
    assert.equal(eb.state, EndpointState.unhealthy);
    const pool = lb.rt.generation.pools.get('app')!;
    assert.deepEqual(pool.eligible.map((e) => e.key), [a.address]);
    b.healthStatus = 200;
    await waitFor('b healthy (rise 3)', healthy(eb), intervalMs * 1.1 * 4 + slackMs);
    assert.deepEqual(pool.eligible.map((e) => e.key), [a.address, b.address]);
    assert.ok(eb.probeSuccesses >= 3);
    // a reload without `health` turns checks off; an unhealthy endpoint goes back into service
    b.healthStatus = 500;
    await waitFor('b unhealthy again', unhealthy(eb), intervalMs * 1.1 * (fall + 1) + slackMs);
    assert.equal((await lb.reload(simpleConfig([a.address, b.address]))).ok, true);
    assert.equal(eb.state, EndpointState.healthy);
    assert.equal(lb.rt.generation.pools.get('app')!.eligible.length, 2);
    const probes = b.healthRequests;
    await sleep(intervalMs * 3);
    assert.equal(b.healthRequests, probes, 'no probes without `health`');
    // and stop() stops a running scheduler
    assert.equal((await lb.reload(config(rise))).ok, true);
    await waitFor('probing again', () => a.healthRequests > 0 && b.healthRequests > probes, intervalMs * 2 + slackMs);
    await lb.stop(500);
    const total = a.healthRequests + b.healthRequests;
    await sleep(intervalMs * 3);
    assert.equal(a.healthRequests + b.healthRequests, total, 'no probes after stop()');
  });

  test('initialState unhealthy: endpoints take no traffic until rise checks pass', async () => {
    const [a, b] = await backends('a', 'b');
    const lb = await fulcrum([a.address, b.address], { panicThreshold: 0 });
    const lb2 = await startFulcrum(
      simpleConfig([a.address, b.address], {
        pool: { panicThreshold: 0, health: { http: { path: '/health' }, interval: `${intervalMs}ms`, rise, fall, initialState: 'unhealthy' } },
      }),
    );
    running.push({ stop: () => lb2.stop(500) });
    assert.equal(lb.rt.generation.pools.get('app')!.eligible.length, 2);
    const pool = lb2.rt.generation.pools.get('app')!;
    assert.equal(pool.eligible.length, 0);
    const r = await request(lb2.url('/'), { dispatcher: agent });
    assert.equal(r.statusCode, 503);
    await r.body.text();
    await waitFor('both healthy', () => pool.eligible.length === 2, intervalMs * 1.1 * (rise + 1) + slackMs);
  });
});
