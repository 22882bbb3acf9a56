// Property tests for round-robin (fixed seeds): over k·N picks each of N eligible endpoints gets exactly k,
// from any point in the rotation; endpoints tried by the exchange are never returned; update() is honoured.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RoundRobin } from '../../../../src/upstream/balancing/round-robin.ts';
import { beginPick, markTried, PickContext } from '../../../../src/upstream/balancing/types.ts';
import { Endpoint } from '../../../../src/upstream/endpoint.ts';

const seed = 42;
let picks = 0;

function endpoints(count: number, from = 0): Endpoint[] {
  return Array.from({ length: count }, (_, i) => new Endpoint(`10.0.0.${from + i}:80`, `10.0.0.${from + i}`, 80, 1));
}

/** One pick in a fresh exchange (nothing tried). */
function pickOnce(balancer: RoundRobin, ctx: PickContext): Endpoint | undefined {
  beginPick(ctx);
  picks++;
  return balancer.pick(ctx);
}

/** Picks k·N times and returns how often each endpoint of `set` was picked; fails on an outsider. */
function countPicks(balancer: RoundRobin, ctx: PickContext, set: readonly Endpoint[], k: number): number[] {
  const counts = new Array<number>(set.length).fill(0);
  for (let i = 0; i < k * set.length; i++) {
    const e = pickOnce(balancer, ctx);
    assert.ok(e !== undefined, 'a non-empty set always yields a pick');
    const at = set.indexOf(e);
    assert.ok(at >= 0, `picked ${e.key}, which is not in the eligible set`);
    counts[at]++;
  }
  return counts;
}

describe('round-robin', () => {
  it('gives each of N endpoints exactly k of k·N picks, from any point in the rotation', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 32 }), fc.integer({ min: 1, max: 60 }), fc.nat({ max: 100 }), (n, k, warmUp) => {
        const set = endpoints(n);
        const balancer = new RoundRobin();
        balancer.update(set);
        const ctx = new PickContext();
        for (let i = 0; i < warmUp; i++) pickOnce(balancer, ctx);
        assert.deepEqual(countPicks(balancer, ctx, set, k), new Array<number>(n).fill(k));
      }),
      { seed, numRuns: 200 },
    );
  });

  it('visits the endpoints in order: every window of N consecutive picks holds each endpoint once', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.nat({ max: 40 }), (n, warmUp) => {
        const set = endpoints(n);
        const balancer = new RoundRobin();
        balancer.update(set);
        const ctx = new PickContext();
        for (let i = 0; i < warmUp; i++) pickOnce(balancer, ctx);
        const sequence = Array.from({ length: 3 * n }, () => set.indexOf(pickOnce(balancer, ctx) as Endpoint));
        for (let start = 0; start + n <= sequence.length; start++) {
          assert.equal(new Set(sequence.slice(start, start + n)).size, n, `window at ${start}: ${sequence.join(',')}`);
        }
        for (let i = 1; i < sequence.length; i++) assert.equal(sequence[i], (sequence[i - 1] + 1) % n);
      }),
      { seed, numRuns: 100 },
    );
  });

  it('never returns an endpoint the exchange already tried; undefined once all are tried', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }).chain((n) => fc.tuple(fc.constant(n), fc.array(fc.boolean(), { minLength: n, maxLength: n }), fc.nat({ max: 50 }))),
        ([n, tried, warmUp]) => {
          const set = endpoints(n);
          const balancer = new RoundRobin();
          balancer.update(set);
          const ctx = new PickContext();
          for (let i = 0; i < warmUp; i++) pickOnce(balancer, ctx);
          // One exchange: mark the chosen subset tried, then pick (retrying) until the balancer runs out.
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
          // A new exchange sees all endpoints again.
          assert.deepEqual(countPicks(balancer, ctx, set, 2), new Array<number>(n).fill(2));
        },
      ),
      { seed, numRuns: 200 },
    );
  });

  it('honours update(): picks only from the new set, k of k·N each, after any history', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.nat({ max: 50 }),
        fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: 16 }),
        fc.integer({ min: 1, max: 20 }),
        (n, warmUp, keep, added, k) => {
          const before = endpoints(n);
          const balancer = new RoundRobin();
          balancer.update(before);
          const ctx = new PickContext();
          for (let i = 0; i < warmUp; i++) pickOnce(balancer, ctx);
          const after = [...before.filter((_, i) => keep[i]), ...endpoints(added, 100)];
          balancer.update(after);
          if (after.length === 0) {
            assert.equal(pickOnce(balancer, ctx), undefined);
            return;
          }
          assert.deepEqual(countPicks(balancer, ctx, after, k), new Array<number>(after.length).fill(k));
        },
      ),
      { seed, numRuns: 200 },
    );
  });

  it('returns undefined for an empty set, before and after a non-empty one', () => {
    const balancer = new RoundRobin();
    const ctx = new PickContext();
    assert.equal(pickOnce(balancer, ctx), undefined);
    balancer.update([]);
    assert.equal(pickOnce(balancer, ctx), undefined);
    balancer.update(endpoints(3));
    assert.ok(pickOnce(balancer, ctx) !== undefined);
    balancer.update([]);
    assert.equal(pickOnce(balancer, ctx), undefined);
  });

  it('simulated more than 100k picks', () => {
    assert.ok(picks > 100_000, `only ${picks} picks`);
  });
});

// Regression: a fresh PickContext (epoch 0) matched a fresh endpoint's tried mark, so nothing was picked.
it('a fresh PickContext picks without beginPick()', () => {
  const set = [new Endpoint('127.0.0.1:1', '127.0.0.1', 1, 1), new Endpoint('127.0.0.1:2', '127.0.0.1', 2, 1)];
  const balancer = new RoundRobin();
  balancer.update(set);
  assert.equal(balancer.pick(new PickContext()), set[0]);
});
