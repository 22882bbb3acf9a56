// Outlier detection end to end, no active checks: real backends on 127.0.0.1 behind a round-robin pool. A backend
// answering 500 is ejected after consecutive5xx answers and gets no traffic until its ejection ends; a dead one
// (closed port) is ejected by gateway failures while clients still get answers from the others;
// maxEjectionPercent keeps a second failing backend in; an ejection carries over a reload and ends on time, and
// a reload without `outlierDetection` ends it at once. Fast timings: baseEjectionTime 300ms.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { status } from '../../src/control/admin/server.ts';
import { EndpointState, type Endpoint } from '../../src/upstream/endpoint.ts';
import { Backend } from '../helpers/backend.ts';
import { endpointOf, simpleConfig, startFulcrum, waitFor, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { freePort } from '../helpers/origins.ts';

const baseMs = 300;
/** Timer lateness on a busy two-core machine. */
const slackMs = 400;

const agent = new Agent({ connections: 4 });
const running: { stop(): Promise<void> }[] = [];
after(async () => {
  for (const r of running.reverse()) await r.stop();
  await agent.close();
});

/** `name:status` pairs → started backends. */
async function backends(...specs: [string, number][]): Promise<Backend[]> {
  const list = await Promise.all(specs.map(([n, s]) => new Backend(n, s).start()));
  running.push(...list);
  return list;
}

function outlierDetection(extra: object = {}): object {
  return { consecutive5xx: 3, consecutiveGatewayFailure: 3, baseEjectionTime: `${baseMs}ms`, maxEjectionTime: '2s', ...extra };
}

async function fulcrum(addresses: readonly string[], od: object = outlierDetection()): Promise<RunningFulcrum> {
  // status retries off: each answer reaches the client, so shares are counted as sent
  const lb = await startFulcrum(simpleConfig(addresses, { pool: { outlierDetection: od, retries: { on: ['connect-failure'] } } }));
  running.push({ stop: () => lb.stop(500) });
  return lb;
}

/** Sends `n` requests one after another; counts answers by `body status`. */
async function traffic(lb: RunningFulcrum, n: number): Promise<Map<string, number>> {
  const by = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const res = await request(lb.url('/'), { dispatcher: agent });
    const key = `${await res.body.text()} ${res.statusCode}`;
    by.set(key, (by.get(key) ?? 0) + 1);
  }
  return by;
}

const ejected = (e: Endpoint) => () => e.state === EndpointState.ejected;

describe('outlier detection', () => {
  test('a backend answering 500 is ejected after consecutive5xx, gets no traffic, and returns after baseEjectionTime', async () => {
    const [a, b, c, bad] = await backends(['a', 200], ['b', 200], ['c', 200], ['bad', 500]);
    const lb = await fulcrum([a.address, b.address, c.address, bad.address]);
    const e = endpointOf(lb, bad.address);
    const first = await traffic(lb, 12); // round robin: every 4th request reaches `bad`
    assert.equal(first.get('bad 500'), 3);
    assert.equal(e.state, EndpointState.ejected);
    const ejectedAt = performance.now();
    assert.equal(e.ejections, 1);
    const pool = lb.rt.generation.pools.get('app')!;
    assert.equal(pool.eligible.includes(e), false);
    const view = status(lb.rt) as { pools: { endpoints: { address: string; state: string; outlier: Record<string, number> }[] }[] };
    const shown = view.pools[0].endpoints.find((x) => x.address === bad.address)!;
    assert.equal(shown.state, 'ejected');
    assert.deepEqual(shown.outlier, { consecutive5xx: 0, consecutiveGatewayFailures: 0, ejections: 1 });
    const served = bad.requests;
    const by = await traffic(lb, 30);
    assert.deepEqual([...by.keys()].sort(), ['a 200', 'b 200', 'c 200']);
    assert.equal(bad.requests, served, 'no exchange reached the ejected backend');
    await waitFor('return', () => e.state === EndpointState.healthy, baseMs + slackMs);
    assert.ok(performance.now() - ejectedAt >= baseMs - 20, 'not before baseEjectionTime');
    // back in rotation, still failing: ejected again, for twice as long
    const again = await traffic(lb, 12);
    assert.equal(again.get('bad 500'), 3);
    assert.equal(e.state, EndpointState.ejected);
    assert.equal(e.ejections, 2);
    const t = await waitFor('second return', () => e.state === EndpointState.healthy, 2 * baseMs + slackMs);
    assert.ok(t >= 2 * baseMs - 60, `second ejection lasted ${t.toFixed(0)}ms`);
  });

  test('a dead backend (closed port) is ejected by gateway failures; clients are answered by the others', async () => {
    const [a, b] = await backends(['a', 200], ['b', 200]);
    const dead = `127.0.0.1:${await freePort()}`;
    const lb = await fulcrum([a.address, b.address, dead]);
    const e = endpointOf(lb, dead);
    const by = await traffic(lb, 12);
    assert.deepEqual([...by.keys()].sort(), ['a 200', 'b 200'], 'connect failures are retried on another endpoint');
    assert.equal(e.state, EndpointState.ejected);
    assert.equal(e.ejections, 1);
    const failures = e.failures;
    await traffic(lb, 10);
    assert.equal(e.failures, failures, 'no connect attempts while ejected');
  });

  test('maxEjectionPercent 34: with 2 of 3 backends failing only one is ejected', async () => {
    const list = await backends(['ok', 200], ['f1', 500], ['f2', 503]);
    const lb = await fulcrum(list.map((b) => b.address), outlierDetection({ maxEjectionPercent: 34, baseEjectionTime: '5s' }));
    const pool = lb.rt.generation.pools.get('app')!;
    const by = await traffic(lb, 30);
    const out = pool.endpoints.filter((e) => e.state === EndpointState.ejected);
    assert.equal(out.length, 1, JSON.stringify([...by]));
    assert.equal(pool.eligible.length, 2);
    const kept = list.find((b) => b.address !== out[0].key && b.name !== 'ok')!;
    const before = kept.requests;
    await traffic(lb, 10);
    assert.equal(kept.requests - before, 5, 'the second failing backend keeps its share');
  });

  test('an ejection carries over a reload and ends on time; a reload without outlierDetection ends it at once', async () => {
    const [a, b, bad] = await backends(['a', 200], ['b', 200], ['bad', 500]);
    const addresses = [a.address, b.address, bad.address];
    const lb = await fulcrum(addresses);
    const e = endpointOf(lb, bad.address);
    await traffic(lb, 9);
    assert.equal(e.state, EndpointState.ejected);
    const reloaded = await lb.reload(simpleConfig(addresses, { pool: { outlierDetection: outlierDetection(), retries: { on: ['connect-failure'] } } }));
    assert.equal(reloaded.ok, true, reloaded.errors.join('\n'));
    assert.equal(endpointOf(lb, bad.address), e);
    assert.equal(e.state, EndpointState.ejected, 'still ejected in the new generation');
    assert.equal(lb.rt.generation.pools.get('app')!.eligible.includes(e), false);
    await waitFor('return under the new generation', () => e.state === EndpointState.healthy, baseMs + slackMs);
    assert.equal(lb.rt.generation.pools.get('app')!.eligible.includes(e), true);
    await traffic(lb, 9);
    await waitFor('ejected again', ejected(e), slackMs);
    assert.equal((await lb.reload(simpleConfig(addresses))).ok, true);
    assert.equal(e.state, EndpointState.healthy, 'detection off: back in service at once');
    const pool = lb.rt.generation.pools.get('app')!;
    assert.equal(pool.outlier, null);
    const by = await traffic(lb, 9);
    assert.equal(by.get('bad 500'), 3, 'without detection the failing backend keeps its share');
  });
});
