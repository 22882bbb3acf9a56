// Tests for weighted-random (fixed seeds): shares pass a chi-square test against weight / total at p = 0.001,
// are within 1% (relative) of it over a million picks, stay proportional over the untried endpoints during
// retries, and a zero weight is never picked.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Random } from '../../../../src/core/random.ts';
import { beginPick, markTried, PickContext } from '../../../../src/upstream/balancing/types.ts';
import { WeightedRandom } from '../../../../src/upstream/balancing/weighted-random.ts';
import { Endpoint } from '../../../../src/upstream/endpoint.ts';
import { chiSquare, chiSquareCritical001 } from '../../../helpers/stats.ts';

const seed = 42;
let picks = 0;

function endpoints(weights: readonly number[]): Endpoint[] {
  return weights.map((w, i) => new Endpoint(`10.0.3.${i}:80`, `10.0.3.${i}`, 80, w));
}

/** Picks `total` times (marking `tried` first in each exchange) and counts the picks per endpoint. */
function countPicks(balancer: WeightedRandom, set: readonly Endpoint[], total: number, tried: readonly boolean[] = []): number[] {
  const ctx = new PickContext();
  const counts = new Array<number>(set.length).fill(0);
  for (let i = 0; i < total; i++) {
    beginPick(ctx);
    for (let j = 0; j < tried.length; j++) if (tried[j]) markTried(set[j], ctx);
    picks++;
    const e = balancer.pick(ctx);
    assert.ok(e !== undefined, 'a pick while untried weight remains');
    const at = set.indexOf(e);
    assert.ok(!tried[at], `returned ${e.key}, which was tried`);
    counts[at]++;
  }
  return counts;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

describe('weighted-random', () => {
  it('picks in proportion to weight (chi-square, p = 0.001)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 2, maxLength: 12 }), fc.nat(), (weights, rngSeed) => {
        const set = endpoints(weights);
        const balancer = new WeightedRandom(new Random(rngSeed));
        balancer.update(set);
        const total = 200 * sum(weights);
        const counts = countPicks(balancer, set, total);
        const x = chiSquare(counts, weights.map((w) => (total * w) / sum(weights)));
        assert.ok(x < chiSquareCritical001(weights.length - 1), `weights ${weights}: chi-square ${x.toFixed(1)}, counts ${counts}`);
      }),
      { seed, numRuns: 40 },
    );
  });

  it('gives each endpoint weight / total within 1% over a million picks', () => {
    const weights = [1, 2, 3, 4, 10];
    const set = endpoints(weights);
    const balancer = new WeightedRandom(new Random(2024));
    balancer.update(set);
    const total = 1_000_000;
    const counts = countPicks(balancer, set, total);
    for (let i = 0; i < weights.length; i++) {
      const expected = (total * weights[i]) / sum(weights);
      assert.ok(Math.abs(counts[i] - expected) <= 0.01 * expected, `endpoint ${i} (weight ${weights[i]}): ${counts[i]} picks, expected ${expected}`);
    }
  });

  it('stays proportional over the untried endpoints during retries (chi-square, p = 0.001)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 3, maxLength: 10 }).chain((w) =>
          fc.tuple(fc.constant(w), fc.array(fc.boolean(), { minLength: w.length, maxLength: w.length })),
        ),
        fc.nat(),
        ([weights, tried], rngSeed) => {
          const untried = weights.filter((_, i) => !tried[i]);
          fc.pre(untried.length >= 2);
          const set = endpoints(weights);
          const balancer = new WeightedRandom(new Random(rngSeed));
          balancer.update(set);
          const total = 200 * sum(untried);
          const counts = countPicks(balancer, set, total, tried).filter((_, i) => !tried[i]);
          const x = chiSquare(counts, untried.map((w) => (total * w) / sum(untried)));
          assert.ok(x < chiSquareCritical001(untried.length - 1), `weights ${weights} tried ${tried}: chi-square ${x.toFixed(1)}, counts ${counts}`);
        },
      ),
      { seed, numRuns: 40 },
    );
  });

  it('never picks a zero weight, and returns undefined when only zero weights are untried', () => {
    const set = endpoints([0, 3, 0, 1, 0]);
    const balancer = new WeightedRandom(new Random(9));
    balancer.update(set);
    const counts = countPicks(balancer, set, 20_000);
    assert.equal(counts[0] + counts[2] + counts[4], 0, `zero weights picked: ${counts}`);
    const ctx = new PickContext();
    beginPick(ctx);
    markTried(set[1], ctx);
    markTried(set[3], ctx);
    assert.equal(balancer.pick(ctx), undefined);
    balancer.update(endpoints([0, 0]));
    assert.equal(balancer.pick(ctx), undefined);
    balancer.update([]);
    assert.equal(balancer.pick(ctx), undefined);
  });

  it('applies weight changes passed through update()', () => {
    const set = endpoints([1, 1]);
    const balancer = new WeightedRandom(new Random(3));
    balancer.update(set);
    set[0].weight = 9;
    balancer.update(set);
    const counts = countPicks(balancer, set, 10_000);
    assert.ok(Math.abs(counts[0] - 9_000) < 200, `counts ${counts}`);
  });

  it('simulated more than 100k picks', () => {
    assert.ok(picks > 100_000, `only ${picks} picks`);
  });
});
