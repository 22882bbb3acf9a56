// Panic mode (Envoy's healthy panic threshold): when fewer than `panicThreshold` percent of a pool's endpoints
// in service are healthy, the pool balances over all of them; weight 0, draining and disabled endpoints stay
// out either way; entering and leaving are logged once each.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setQuiet } from '../../../src/core/log.ts';
import { RoundRobin } from '../../../src/upstream/balancing/round-robin.ts';
import { Endpoint, EndpointState } from '../../../src/upstream/endpoint.ts';
import { Pool, retrySettings, type PoolSettings } from '../../../src/upstream/pool.ts';

setQuiet(true);

const settings: PoolSettings = {
  maxConnections: 1,
  maxQueue: 0,
  queueTimeoutMs: 1,
  idleTimeoutMs: 1,
  connectTimeoutMs: 1,
  responseTimeoutMs: 1,
  slowStartMs: 0,
  ...retrySettings(1),
};

function pool(n: number, panicThreshold: number): { p: Pool; es: Endpoint[] } {
  const es = Array.from({ length: n }, (_, i) => new Endpoint(`127.0.0.1:${i + 1}`, '127.0.0.1', i + 1, 1));
  return { p: new Pool('app', es, new RoundRobin(), settings, null, null, panicThreshold), es };
}

function keys(p: Pool): string[] {
  return p.eligible.map((e) => e.key);
}

describe('Pool panic mode', () => {
  it('at or above the threshold only healthy endpoints are eligible; below it, all of them', () => {
    const { p, es } = pool(4, 50);
    es[0].state = EndpointState.unhealthy;
    es[1].state = EndpointState.unhealthy;
    p.refresh(); // 2 of 4 healthy = 50%: not below
    assert.equal(p.panic, false);
    assert.deepEqual(keys(p), ['127.0.0.1:3', '127.0.0.1:4']);
    es[2].state = EndpointState.unhealthy;
    p.refresh(); // 25%
    assert.equal(p.panic, true);
    assert.deepEqual(keys(p), ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3', '127.0.0.1:4']);
    es[0].state = EndpointState.healthy;
    p.refresh();
    assert.equal(p.panic, false);
    assert.deepEqual(keys(p), ['127.0.0.1:1', '127.0.0.1:4']);
  });

  it('all unhealthy: all eligible; threshold 0: never', () => {
    const a = pool(2, 50);
    const b = pool(2, 0);
    for (const e of [...a.es, ...b.es]) e.state = EndpointState.unhealthy;
    a.p.refresh();
    b.p.refresh();
    assert.equal(a.p.eligible.length, 2);
    assert.equal(b.p.panic, false);
    assert.equal(b.p.eligible.length, 0);
  });

  it('weight 0, draining and disabled endpoints neither count nor become eligible in panic', () => {
    const { p, es } = pool(5, 50);
    es[0].weight = 0;
    es[1].state = EndpointState.draining;
    es[2].state = EndpointState.disabled;
    es[3].state = EndpointState.unhealthy;
    p.refresh(); // in service: 3:4 and 5; healthy: 5 → 50%, not below
    assert.equal(p.panic, false);
    assert.deepEqual(keys(p), ['127.0.0.1:5']);
    es[4].state = EndpointState.unhealthy;
    p.refresh();
    assert.equal(p.panic, true);
    assert.deepEqual(keys(p), ['127.0.0.1:4', '127.0.0.1:5']);
  });

  it('entering and leaving are logged once each, and a pool built already in panic from one that was is not', () => {
    const lines: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => (lines.push(chunk), true)) as typeof process.stderr.write;
    setQuiet(false);
    try {
      const { p, es } = pool(2, 50);
      for (const e of es) e.state = EndpointState.unhealthy;
      p.refresh();
      p.refresh();
      es[0].state = EndpointState.healthy;
      p.refresh();
      p.refresh();
      for (const e of es) e.state = EndpointState.unhealthy;
      new Pool('app', es, new RoundRobin(), settings, null, null, 50, true);
    } finally {
      setQuiet(true);
      process.stderr.write = write;
    }
    const msgs = lines.map((l) => JSON.parse(l) as { msg: string; pool: string });
    assert.deepEqual(msgs.map((m) => m.msg), ['pool entered panic mode: balancing over all endpoints', 'pool left panic mode']);
  });

  it('an empty pool is not in panic', () => {
    assert.equal(pool(0, 100).p.panic, false);
  });
});

it('slow start: an endpoint that becomes healthy ramps from 10% of its weight to all of it', async () => {
  const { WeightedRoundRobin } = await import('../../../src/upstream/balancing/weighted-round-robin.ts');
  const a = new Endpoint('10.0.0.1:80', '10.0.0.1', 80, 10);
  const b = new Endpoint('10.0.0.2:80', '10.0.0.2', 80, 10);
  b.state = EndpointState.unhealthy;
  const pool = new Pool('ramp', [a, b], new WeightedRoundRobin(), { ...settings, slowStartMs: 400 });
  try {
    assert.equal(a.effectiveWeight, 10, 'healthy at start: full weight, no ramp');
    b.state = EndpointState.healthy;
    pool.refresh();
    assert.equal(b.effectiveWeight, 1, 'starts at the 10% floor');
    await new Promise((r) => setTimeout(r, 220));
    assert.ok(b.effectiveWeight > 1 && b.effectiveWeight < 10, `mid-ramp weight ${b.effectiveWeight}`);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(b.effectiveWeight, 10, 'full weight after the window');
    assert.equal(b.rampStart, 0);
  } finally {
    pool.close();
  }
});
