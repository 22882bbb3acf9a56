// Tests for random (fixed seeds): shares pass a chi-square test at p = 0.001 for any set size; during retries
// picks stay uniform over the untried endpoints; tried endpoints are never returned; empty sets yield undefined.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Random } from '../../../../src/core/random.ts';
import { RandomBalancer } from '../../../../src/upstream/balancing/random.ts';
import { beginPick, markTried, PickContext } from '../../../../src/upstream/balancing/types.ts';
import { Endpoint } from '../../../../src/upstream/endpoint.ts';
import { chiSquare, chiSquareCritical001 } from '../../../helpers/stats.ts';

const seed = 42;
let picks = 0;

function endpoints(count: number): Endpoint[] {
  return Array.from({ length: count }, (_, i) => new Endpoint(`10.0.2.${i}:80`, `10.0.2.${i}`, 80, 1 + (i % 3)));
}

describe('random', () => {
  it('gives each of N endpoints a uniform share (chi-square, p = 0.001)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 40 }), fc.nat(), (n, rngSeed) => {
        const set = endpoints(n);
        const balancer = new RandomBalancer(new Random(rngSeed));
        balancer.update(set);
        const ctx = new PickContext();
        const total = 500 * n;
        const counts = new Array<number>(n).fill(0);
        for (let i = 0; i < total; i++) {
          beginPick(ctx);
          picks++;
          counts[set.indexOf(balancer.pick(ctx) as Endpoint)]++;
        }
        const x = chiSquare(counts, new Array<number>(n).fill(total / n));
        assert.ok(x < chiSquareCritical001(n - 1), `n=${n}: chi-square ${x.toFixed(1)}, counts ${counts}`);
      }),
      { seed, numRuns: 30 },
    );
  });

  it('stays uniform over the untried endpoints during retries (chi-square, p = 0.001)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 20 }).chain((n) => fc.tuple(fc.constant(n), fc.array(fc.boolean(), { minLength: n, maxLength: n }))),
        fc.nat(),
        ([n, tried], rngSeed) => {
          const set = endpoints(n);
          const untried = set.filter((_, i) => !tried[i]);
          fc.pre(untried.length >= 2);
          const balancer = new RandomBalancer(new Random(rngSeed));
          balancer.update(set);
          const ctx = new PickContext();
          const total = 500 * untried.length;
          const counts = new Array<number>(untried.length).fill(0);
          for (let i = 0; i < total; i++) {
            beginPick(ctx);
            for (let j = 0; j < n; j++) if (tried[j]) markTried(set[j], ctx);
            picks++;
            const e = balancer.pick(ctx);
            assert.ok(e !== undefined && untried.includes(e), `returned ${e?.key}, which was tried`);
            counts[untried.indexOf(e)]++;
          }
          const x = chiSquare(counts, new Array<number>(untried.length).fill(total / untried.length));
          assert.ok(x < chiSquareCritical001(untried.length - 1), `chi-square ${x.toFixed(1)}, counts ${counts}`);
        },
      ),
      { seed, numRuns: 30 },
    );
  });

  it('offers every endpoint once per exchange, then undefined', () => {
    const set = endpoints(7);
    const balancer = new RandomBalancer(new Random(7));
    balancer.update(set);
    const ctx = new PickContext();
    for (let round = 0; round < 100; round++) {
      beginPick(ctx);
      const returned = new Set<Endpoint>();
      for (let e = balancer.pick(ctx); e !== undefined; e = balancer.pick(ctx)) {
        picks++;
        assert.ok(!returned.has(e), `${e.key} returned twice in one exchange`);
        returned.add(e);
        markTried(e, ctx);
      }
      assert.equal(returned.size, set.length);
    }
  });

  it('returns undefined for an empty set, before and after a non-empty one', () => {
    const balancer = new RandomBalancer(new Random(1));
    const ctx = new PickContext();
    assert.equal(balancer.pick(ctx), undefined);
    balancer.update(endpoints(2));
    assert.ok(balancer.pick(ctx) !== undefined);
    balancer.update([]);
    assert.equal(balancer.pick(ctx), undefined);
  });

  it('is reproducible from a seed', () => {
    const set = endpoints(10);
    const sequence = (s: number) => {
      const b = new RandomBalancer(new Random(s));
      b.update(set);
      const ctx = new PickContext();
      return Array.from({ length: 50 }, () => (beginPick(ctx), set.indexOf(b.pick(ctx) as Endpoint)));
    };
    assert.deepEqual(sequence(5), sequence(5));
    assert.notDeepEqual(sequence(5), sequence(6));
  });

  it('simulated more than 100k picks', () => {
    assert.ok(picks > 100_000, `only ${picks} picks`);
  });
});
