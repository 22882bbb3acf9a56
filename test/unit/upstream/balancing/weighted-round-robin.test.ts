// Property tests for smooth weighted round robin (fixed seeds). From a fresh balancer with weights w_i
// summing to W:
//   exact cycles   every run of W picks gives endpoint i exactly w_i picks ({5,1,1}: a,a,b,a,c,a,a);
//   smoothness     in every prefix of t picks, p_i(t) ≤ ⌈w_i·t/W⌉ and p_i(t) ≥ w_i·t/W − (n−1).
// Proof of the bounds: let c_i be the running scores; they start at 0 and a pick adds w_i to each, then
// takes W from the highest, so Σc_i = 0 after every pick and c_i(t) = w_i·t − W·p_i(t). Before the
// subtraction the scores sum to W, so the highest is ≥ W/n > 0 and ends > −W; the others only grow: every
// c_i > −W, which gives p_i(t) < w_i·t/W + 1. With Σc = 0, each c_i ≤ (n−1)·W: p_i(t) ≥ w_i·t/W − (n−1).
// Also: tried endpoints are never returned, update() is honoured (each share within a proven drift of w·t/W,
// as running scores carry over), and an empty set yields undefined.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { beginPick, markTried, PickContext } from '../../../../src/upstream/balancing/types.ts';
import { WeightedRoundRobin } from '../../../../src/upstream/balancing/weighted-round-robin.ts';
import { Endpoint } from '../../../../src/upstream/endpoint.ts';

const seed = 42;
let picks = 0;

function endpoints(weights: readonly number[], from = 0): Endpoint[] {
  return weights.map((w, i) => new Endpoint(`10.0.1.${from + i}:80`, `10.0.1.${from + i}`, 80, w));
}

function sum(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

/** One pick in a fresh exchange (nothing tried). */
function pickOnce(balancer: WeightedRoundRobin, ctx: PickContext): Endpoint | undefined {
  beginPick(ctx);
  picks++;
  return balancer.pick(ctx);
}

/** Index in `set` of one pick; fails on undefined or an endpoint outside the set. */
function pickIndex(balancer: WeightedRoundRobin, ctx: PickContext, set: readonly Endpoint[]): number {
  const e = pickOnce(balancer, ctx);
  assert.ok(e !== undefined, 'a non-empty set always yields a pick');
  const at = set.indexOf(e);
  assert.ok(at >= 0, `picked ${e.key}, which is not in the eligible set`);
  return at;
}

function pickSequence(balancer: WeightedRoundRobin, ctx: PickContext, set: readonly Endpoint[], count: number): number[] {
  return Array.from({ length: count }, () => pickIndex(balancer, ctx, set));
}

/** Asserts that each consecutive run of W picks (from the start of `sequence`) matches the weights exactly. */
function assertExactCycles(sequence: readonly number[], weights: readonly number[]): void {
  const W = sum(weights);
  for (let start = 0; start + W <= sequence.length; start += W) {
    const counts = new Array<number>(weights.length).fill(0);
    for (let t = start; t < start + W; t++) counts[sequence[t]]++;
    assert.deepEqual(counts, [...weights], `cycle starting at pick ${start}, weights ${weights.join(',')}`);
  }
}

/** Every prefix of t picks gives endpoint i at most ⌈w_i·t/W⌉ + 1 picks (no bursts). */
function assertSmoothPrefixes(sequence: readonly number[], weights: readonly number[]): void {
  const W = sum(weights);
  const counts = new Array<number>(weights.length).fill(0);
  for (let t = 1; t <= sequence.length; t++) {
    const i = sequence[t - 1];
    counts[i]++;
    if (!(counts[i] * W < weights[i] * t + 2 * W)) assert.fail(`endpoint ${i} has ${counts[i]} of the first ${t} picks: ${sequence.join('')}`);
  }
}

/**
 * After update() to `set` from a balancer that ran on an older set of n_o endpoints with total weight W_o
 * (fresh, no tried picks; A = n_o·W_o is passed as `oldBound`), every carried-over score lies in [−A, A]
 * (see the header), so with n endpoints of total W now, S = Σc ∈ [−nA, nA] stays constant, each pick leaves
 * the picked score ≥ (S+W)/n − W > −A − W, and so every c ≥ −(A+W) and c ≤ S + (n−1)(A+W). As
 * p_i(t) − w_i·t/W = (c_i(0) − c_i(t))/W:   −(2nA/W + n − 1) ≤ p_i(t) − w_i·t/W ≤ 2A/W + 1.
 * Checked over every prefix of 10 cycles.
 */
function assertDriftBound(balancer: WeightedRoundRobin, ctx: PickContext, set: readonly Endpoint[], oldBound: number): void {
  const n = set.length;
  const weights = set.map((e) => e.weight);
  const W = sum(weights);
  const A = oldBound;
  const counts = new Array<number>(n).fill(0);
  for (let t = 1; t <= 10 * W; t++) {
    counts[pickIndex(balancer, ctx, set)]++;
    for (let i = 0; i < n; i++) {
      const drift = counts[i] * W - weights[i] * t; // W·(p_i(t) − w_i·t/W)
      if (!(drift <= 2 * A + W)) assert.fail(`endpoint ${i} over-picked: ${counts[i]} of ${t}, weights ${weights}`);
      if (!(drift >= -(2 * n * A + (n - 1) * W))) assert.fail(`endpoint ${i} starved: ${counts[i]} of ${t}, weights ${weights}`);
    }
  }
}

const weightsArb = fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 10 });

describe('weighted-round-robin', () => {
  it('picks {5,1,1} as a,a,b,a,c,a,a, cycle after cycle', () => {
    const set = endpoints([5, 1, 1]);
    const balancer = new WeightedRoundRobin();
    balancer.update(set);
    const ctx = new PickContext();
    const letters = pickSequence(balancer, ctx, set, 21).map((i) => 'abc'[i]).join('');
    assert.equal(letters, 'aabacaa'.repeat(3));
  });

  it('gives each endpoint exactly `weight` picks in every cycle of sum(weights) picks', () => {
    fc.assert(
      fc.property(weightsArb, fc.integer({ min: 1, max: 4 }), (weights, cycles) => {
        const set = endpoints(weights);
        const balancer = new WeightedRoundRobin();
        balancer.update(set);
        assertExactCycles(pickSequence(balancer, new PickContext(), set, cycles * sum(weights)), weights);
      }),
      { seed, numRuns: 150 },
    );
  });

  it('is smooth: in every prefix of t picks, w·t/W − (n−1) ≤ picks ≤ ⌈w·t/W⌉', () => {
    fc.assert(
      fc.property(weightsArb, (weights) => {
        const set = endpoints(weights);
        const n = weights.length;
        const W = sum(weights);
        const balancer = new WeightedRoundRobin();
        balancer.update(set);
        const ctx = new PickContext();
        const counts = new Array<number>(n).fill(0);
        for (let t = 1; t <= 2 * W; t++) {
          counts[pickIndex(balancer, ctx, set)]++;
          for (let i = 0; i < n; i++) {
            const p = counts[i];
            const w = weights[i];
            // Integer forms: p ≤ ⌈w·t/W⌉ ⇔ p·W < w·t + W;  p ≥ w·t/W − (n−1) ⇔ p·W ≥ w·t − (n−1)·W.
            if (!(p * W < w * t + W)) assert.fail(`weights ${weights}: endpoint ${i} has ${p} picks after ${t}, above ⌈${w}·${t}/${W}⌉`);
            if (!(p * W >= w * t - (n - 1) * W)) assert.fail(`weights ${weights}: endpoint ${i} has ${p} picks after ${t}, too few`);
          }
        }
      }),
      { seed, numRuns: 150 },
    );
  });

  it('never returns an endpoint the exchange already tried; undefined once all are tried', () => {
    fc.assert(
      fc.property(
        weightsArb.chain((weights) =>
          fc.tuple(fc.constant(weights), fc.array(fc.boolean(), { minLength: weights.length, maxLength: weights.length }), fc.nat({ max: 200 })),
        ),
        ([weights, tried, warmUp]) => {
          const n = weights.length;
          const set = endpoints(weights);
          const balancer = new WeightedRoundRobin();
          balancer.update(set);
          const ctx = new PickContext();
          pickSequence(balancer, ctx, set, warmUp);
          beginPick(ctx);
          for (let i = 0; i < n; i++) if (tried[i]) markTried(set[i], ctx);
          const untried = set.filter((_, i) => !tried[i]);
          const returned: Endpoint[] = [];
          for (;;) {
            picks++;
            const e = balancer.pick(ctx);
            if (e === undefined) break;
            assert.ok(untried.includes(e), `returned ${e.key}, which was tried`);
            assert.ok(!returned.includes(e), `returned ${e.key} twice in one exchange`);
            returned.push(e);
            markTried(e, ctx);
            assert.ok(returned.length <= n);
          }
          assert.equal(returned.length, untried.length, 'every untried endpoint is offered once before undefined');
        },
      ),
      { seed, numRuns: 300 },
    );
  });

  it('honours update() with a new set: picks only from it, each share within the proven drift of w·t/W', () => {
    fc.assert(
      fc.property(
        weightsArb,
        fc.nat({ max: 300 }),
        fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
        fc.array(fc.integer({ min: 1, max: 100 }), { maxLength: 6 }),
        (weights, warmUp, keep, addedWeights) => {
          const before = endpoints(weights);
          const balancer = new WeightedRoundRobin();
          balancer.update(before);
          const ctx = new PickContext();
          pickSequence(balancer, ctx, before, warmUp);
          const after = [...before.filter((_, i) => keep[i]), ...endpoints(addedWeights, 100)];
          balancer.update(after);
          if (after.length === 0) {
            assert.equal(pickOnce(balancer, ctx), undefined);
            return;
          }
          assertDriftBound(balancer, ctx, after, before.length * sum(weights));
        },
      ),
      { seed, numRuns: 200 },
    );
  });

  it('a set of new endpoints starts a fresh cycle', () => {
    fc.assert(
      fc.property(weightsArb, fc.nat({ max: 300 }), weightsArb, (weights, warmUp, nextWeights) => {
        const balancer = new WeightedRoundRobin();
        const first = endpoints(weights);
        balancer.update(first);
        const ctx = new PickContext();
        pickSequence(balancer, ctx, first, warmUp);
        const next = endpoints(nextWeights, 100);
        balancer.update(next);
        const freshSet = endpoints(nextWeights, 100);
        const fresh = new WeightedRoundRobin();
        fresh.update(freshSet);
        const expected = pickSequence(fresh, ctx, freshSet, 2 * sum(nextWeights));
        const actual = pickSequence(balancer, ctx, next, 2 * sum(nextWeights));
        assert.deepEqual(actual, expected);
        assertExactCycles(actual, nextWeights);
      }),
      { seed, numRuns: 100 },
    );
  });

  it('applies weight changes passed through update(): each share within the proven drift of w·t/W', () => {
    fc.assert(
      fc.property(
        weightsArb.chain((weights) =>
          fc.tuple(
            fc.constant(weights),
            fc.array(fc.integer({ min: 1, max: 100 }), { minLength: weights.length, maxLength: weights.length }),
            fc.nat({ max: 300 }),
          ),
        ),
        ([weights, newWeights, warmUp]) => {
          const set = endpoints(weights);
          const balancer = new WeightedRoundRobin();
          balancer.update(set);
          const ctx = new PickContext();
          pickSequence(balancer, ctx, set, warmUp);
          for (let i = 0; i < set.length; i++) set[i].weight = newWeights[i];
          balancer.update(set);
          assertDriftBound(balancer, ctx, set, set.length * sum(weights));
        },
      ),
      { seed, numRuns: 200 },
    );
  });

  // Regression: running scores carried over by update() were sized for the old weights, so when the new
  // total weight was much smaller (weights lowered, or a heavy endpoint removed) one endpoint took a burst.
  it('stays smooth after update() lowers the weights', () => {
    const set = endpoints([100, 100]);
    const balancer = new WeightedRoundRobin();
    balancer.update(set);
    const ctx = new PickContext();
    pickSequence(balancer, ctx, set, 1);
    set[0].weight = 1;
    set[1].weight = 1;
    balancer.update(set);
    assertSmoothPrefixes(pickSequence(balancer, ctx, set, 40), [1, 1]);
  });

  it('stays smooth after update() removes a heavy endpoint', () => {
    const set = endpoints([1, 1, 100]);
    const balancer = new WeightedRoundRobin();
    balancer.update(set);
    const ctx = new PickContext();
    pickSequence(balancer, ctx, set, 51);
    balancer.update(set.slice(0, 2));
    assertSmoothPrefixes(pickSequence(balancer, ctx, set.slice(0, 2), 40), [1, 1]);
  });

  it('ignores weight changes until update() is called', () => {
    const set = endpoints([1, 1]);
    const balancer = new WeightedRoundRobin();
    balancer.update(set);
    const ctx = new PickContext();
    set[0].weight = 3;
    assertExactCycles(pickSequence(balancer, ctx, set, 8), [1, 1]);
    balancer.update(set);
    assertExactCycles(pickSequence(balancer, ctx, set, 16), [3, 1]);
  });

  it('returns undefined for an empty set, before and after a non-empty one', () => {
    const balancer = new WeightedRoundRobin();
    const ctx = new PickContext();
    assert.equal(pickOnce(balancer, ctx), undefined);
    balancer.update([]);
    assert.equal(pickOnce(balancer, ctx), undefined);
    balancer.update(endpoints([2, 3]));
    assert.ok(pickOnce(balancer, ctx) !== undefined);
    balancer.update([]);
    assert.equal(pickOnce(balancer, ctx), undefined);
  });

  it('never picks a weight-1 endpoint twice in a row while a heavier endpoint exists', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 2, maxLength: 12 }), (rest) => {
        const weights = [1, ...rest];
        fc.pre(weights.some((w) => w > 1));
        const set = endpoints(weights);
        const balancer = new WeightedRoundRobin();
        balancer.update(set);
        const ctx = new PickContext();
        const sequence = pickSequence(balancer, ctx, set, 3 * sum(weights));
        for (let t = 1; t < sequence.length; t++) {
          if (sequence[t] === sequence[t - 1]) assert.ok(weights[sequence[t]] > 1, `weight-1 endpoint ${sequence[t]} picked twice in a row at ${t} for ${weights.join(',')}`);
        }
      }),
      { seed, numRuns: 300 },
    );
  });

  it('simulated more than 100k picks', () => {
    assert.ok(picks > 100_000, `only ${picks} picks`);
  });
});

describe('weighted-round-robin in large pools (precomputed cycle)', () => {
  it('picks exactly the sequence of the per-pick rule', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 33, maxLength: 80 }), (weights) => {
        const set = endpoints(weights);
        const large = new WeightedRoundRobin();
        large.update(set);
        // the rule itself, as run for small pools
        const current = weights.map(() => 0);
        const W = sum(weights);
        const ctx = new PickContext();
        for (let t = 0; t < 2 * W; t++) {
          let best = -1;
          for (let i = 0; i < weights.length; i++) {
            current[i] += weights[i];
            if (best < 0 || current[i] > current[best]) best = i;
          }
          current[best] -= W;
          assert.equal(pickIndex(large, ctx, set), best, `pick ${t}`);
        }
      }),
      { seed, numRuns: 30 },
    );
  });

  it('never returns a tried endpoint and runs out once all are tried', () => {
    const set = endpoints(Array.from({ length: 40 }, (_, i) => 1 + (i % 3)));
    const balancer = new WeightedRoundRobin();
    balancer.update(set);
    const ctx = new PickContext();
    beginPick(ctx);
    const seen = new Set<Endpoint>();
    for (let i = 0; i < 40; i++) {
      const e = balancer.pick(ctx)!;
      assert.ok(!seen.has(e));
      seen.add(e);
      markTried(e, ctx);
    }
    assert.equal(balancer.pick(ctx), undefined);
  });
});
