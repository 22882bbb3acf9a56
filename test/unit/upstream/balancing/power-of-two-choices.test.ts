// Tests for power-of-two-choices (fixed seeds). The queueing simulation shows the "power of two choices"
// (Mitzenmacher 2001): N single-server endpoints with exponential service times at 90% load; `random`
// sends each endpoint a Poisson stream (M/M/1 queues, long tails), two choices keep queues short. The peak
// in-flight count must be at most half of random's. Also: the picked endpoint is never the more loaded of
// the two drawn, tried endpoints are never returned, and zero weights take no work.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../../../../src/core/random.ts';
import { PowerOfTwoChoices } from '../../../../src/upstream/balancing/power-of-two-choices.ts';
import { RandomBalancer } from '../../../../src/upstream/balancing/random.ts';
import { beginPick, markTried, PickContext, type Balancer } from '../../../../src/upstream/balancing/types.ts';
import { Endpoint } from '../../../../src/upstream/endpoint.ts';

let picks = 0;

function endpoints(count: number, weight = 1): Endpoint[] {
  return Array.from({ length: count }, (_, i) => new Endpoint(`10.0.5.${i}:80`, `10.0.5.${i}`, 80, weight));
}

/**
 * Uniformized continuous-time simulation of N M/M/1 queues: events come at rate N·(λ + μ); an event is an
 * arrival (routed by the balancer) with probability λ/(λ+μ), else a service completion at a uniformly
 * chosen endpoint if it has work. Exact for exponential inter-arrival and service times. Returns the
 * largest in-flight count seen after warm-up and the mean in-flight per endpoint.
 */
function simulate(balancer: Balancer, n: number, load: number, events: number, rngSeed: number): { max: number; mean: number } {
  const set = endpoints(n);
  balancer.update(set);
  const rng = new Random(rngSeed);
  const ctx = new PickContext();
  const arrival = load / (load + 1); // μ = 1
  let max = 0;
  let area = 0;
  let total = 0;
  for (let t = 0; t < events; t++) {
    if (rng.nextFloat() < arrival) {
      beginPick(ctx);
      picks++;
      const e = balancer.pick(ctx) as Endpoint;
      e.inFlight++;
      total++;
    } else {
      const e = set[rng.below(n)];
      if (e.inFlight > 0) {
        e.inFlight--;
        total--;
      }
    }
    if (t > events / 10) {
      for (const e of set) if (e.inFlight > max) max = e.inFlight;
      area += total / n;
    }
  }
  return { max, mean: area / (events - events / 10) };
}

describe('power-of-two-choices', () => {
  for (const n of [10, 50, 100]) {
    it(`keeps peak in-flight at most half of random's (N=${n}, 90% load, exponential service)`, () => {
      const events = 40_000 + 1_000 * n;
      const p2c = simulate(new PowerOfTwoChoices(new Random(n)), n, 0.9, events, 1000 + n);
      const rnd = simulate(new RandomBalancer(new Random(n)), n, 0.9, events, 1000 + n);
      assert.ok(p2c.max * 2 <= rnd.max, `peak in-flight: two choices ${p2c.max}, random ${rnd.max}`);
      assert.ok(p2c.mean < rnd.mean / 2, `mean in-flight: two choices ${p2c.mean.toFixed(2)}, random ${rnd.mean.toFixed(2)}`);
    });
  }

  it('never picks the more loaded of two endpoints; with three, never the unique most loaded', () => {
    const rng = new Random(11);
    const set = endpoints(3);
    const balancer = new PowerOfTwoChoices(new Random(12));
    balancer.update(set.slice(0, 2));
    const ctx = new PickContext();
    for (let i = 0; i < 10_000; i++) {
      set[0].inFlight = rng.below(5);
      set[1].inFlight = rng.below(5);
      beginPick(ctx);
      picks++;
      const e = balancer.pick(ctx) as Endpoint;
      const other = e === set[0] ? set[1] : set[0];
      assert.ok(e.inFlight <= other.inFlight, `picked ${e.inFlight} over ${other.inFlight}`);
    }
    balancer.update(set);
    set[0].inFlight = 1;
    set[1].inFlight = 1;
    set[2].inFlight = 2;
    const counts = [0, 0, 0];
    for (let i = 0; i < 30_000; i++) {
      beginPick(ctx);
      picks++;
      counts[set.indexOf(balancer.pick(ctx) as Endpoint)]++;
    }
    assert.equal(counts[2], 0);
    // The two tied endpoints share evenly: each wins 1/3 of draws outright plus half of the tied pair.
    assert.ok(Math.abs(counts[0] - 15_000) < 600, `counts ${counts}`);
  });

  it('compares in-flight per unit of weight', () => {
    const set = [new Endpoint('10.0.5.1:80', '10.0.5.1', 80, 4), new Endpoint('10.0.5.2:80', '10.0.5.2', 80, 1)];
    set[0].inFlight = 3; // 0.75 per weight
    set[1].inFlight = 1; // 1 per weight
    const balancer = new PowerOfTwoChoices(new Random(5));
    balancer.update(set);
    const ctx = new PickContext();
    for (let i = 0; i < 100; i++) {
      beginPick(ctx);
      assert.equal(balancer.pick(ctx), set[0]);
    }
  });

  it('offers every endpoint once per exchange, then undefined; empty and zero-weight sets yield undefined', () => {
    const balancer = new PowerOfTwoChoices(new Random(8));
    const ctx = new PickContext();
    assert.equal(balancer.pick(ctx), undefined);
    for (const n of [1, 2, 3, 9]) {
      const set = endpoints(n);
      balancer.update(set);
      for (let round = 0; round < 200; round++) {
        beginPick(ctx);
        const returned = new Set<Endpoint>();
        for (let e = balancer.pick(ctx); e !== undefined; e = balancer.pick(ctx)) {
          picks++;
          assert.ok(!returned.has(e), `${e.key} returned twice`);
          returned.add(e);
          markTried(e, ctx);
        }
        assert.equal(returned.size, n);
      }
    }
    balancer.update(endpoints(2, 0));
    beginPick(ctx);
    assert.equal(balancer.pick(ctx), undefined);
    balancer.update(endpoints(1, 0));
    assert.equal(balancer.pick(ctx), undefined);
  });

  it('simulated more than 100k picks', () => {
    assert.ok(picks > 100_000, `only ${picks} picks`);
  });
});
