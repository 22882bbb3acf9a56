// Property tests for least-connections (fixed seeds): under random in-flight counts, weights, completions and
// tried sets, every pick has the minimum inFlight/weight among the untried endpoints; ties rotate, so each
// tied endpoint is picked over repeated ties; undefined once all are tried.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LeastConnections } from '../../../../src/upstream/balancing/least-connections.ts';
import { beginPick, markTried, PickContext } from '../../../../src/upstream/balancing/types.ts';
import { Endpoint } from '../../../../src/upstream/endpoint.ts';

const seed = 42;
let picks = 0;

function endpoints(weights: readonly number[]): Endpoint[] {
  return weights.map((w, i) => new Endpoint(`10.0.4.${i}:80`, `10.0.4.${i}`, 80, w));
}

describe('least-connections', () => {
  it('always picks a minimum of inFlight/weight among the untried endpoints, as load comes and goes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.tuple(fc.nat({ max: 3 }), fc.nat({ max: 1000 }), fc.nat({ max: 0xffff })), { minLength: 50, maxLength: 400 }),
        (weights, steps) => {
          const set = endpoints(weights);
          const balancer = new LeastConnections();
          balancer.update(set);
          const ctx = new PickContext();
          for (const [action, at, triedMask] of steps) {
            if (action === 0) {
              // a completion somewhere
              const e = set[at % set.length];
              if (e.inFlight > 0) e.inFlight--;
              continue;
            }
            beginPick(ctx);
            for (let i = 0; i < set.length; i++) if (triedMask & (1 << i)) markTried(set[i], ctx);
            const untried = set.filter((e) => e.triedEpoch !== ctx.epoch);
            picks++;
            const e = balancer.pick(ctx);
            if (untried.length === 0) {
              assert.equal(e, undefined);
              continue;
            }
            assert.ok(e !== undefined && untried.includes(e), 'picks an untried endpoint');
            const min = Math.min(...untried.map((u) => u.inFlight / u.weight));
            assert.equal(e.inFlight / e.weight, min, `picked ${e.key} at ${e.inFlight}/${e.weight}, minimum is ${min}`);
            e.inFlight++;
          }
        },
      ),
      { seed, numRuns: 400 },
    );
  });

  it('rotates among tied endpoints: k·N picks at equal load give each exactly k', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 50 }), fc.nat({ max: 5 }), (n, k, load) => {
        const set = endpoints(new Array<number>(n).fill(2));
        for (const e of set) e.inFlight = load;
        const balancer = new LeastConnections();
        balancer.update(set);
        const ctx = new PickContext();
        const counts = new Array<number>(n).fill(0);
        for (let i = 0; i < k * n; i++) {
          beginPick(ctx);
          picks++;
          counts[set.indexOf(balancer.pick(ctx) as Endpoint)]++; // in-flight left unchanged: always a tie
        }
        assert.deepEqual(counts, new Array<number>(n).fill(k));
      }),
      { seed, numRuns: 200 },
    );
  });

  it('rotates among the tied minimum only, skipping more loaded endpoints', () => {
    const set = endpoints([1, 1, 1, 1, 1, 2]);
    const inFlight = [3, 1, 5, 1, 2, 2]; // loads 3,1,5,1,2,1 — minimum 1 at endpoints 1, 3 and 5
    set.forEach((e, i) => (e.inFlight = inFlight[i]));
    const balancer = new LeastConnections();
    balancer.update(set);
    const ctx = new PickContext();
    const counts = new Array<number>(set.length).fill(0);
    for (let i = 0; i < 300; i++) {
      beginPick(ctx);
      picks++;
      counts[set.indexOf(balancer.pick(ctx) as Endpoint)]++;
    }
    assert.deepEqual(counts, [0, 100, 0, 100, 0, 100]);
  });

  it('keeps in-flight counts level when every pick stays in flight', () => {
    const set = endpoints([1, 1, 1, 1, 1, 1, 1]);
    const balancer = new LeastConnections();
    balancer.update(set);
    const ctx = new PickContext();
    for (let i = 0; i < 7 * 1000; i++) {
      beginPick(ctx);
      picks++;
      (balancer.pick(ctx) as Endpoint).inFlight++;
      const counts = set.map((e) => e.inFlight);
      assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `in-flight ${counts}`);
    }
  });

  it('offers every endpoint once per exchange, then undefined; empty sets yield undefined', () => {
    const set = endpoints([1, 2, 3]);
    const balancer = new LeastConnections();
    const ctx = new PickContext();
    assert.equal(balancer.pick(ctx), undefined);
    balancer.update(set);
    beginPick(ctx);
    const returned = new Set<Endpoint>();
    for (let e = balancer.pick(ctx); e !== undefined; e = balancer.pick(ctx)) {
      assert.ok(!returned.has(e));
      returned.add(e);
      markTried(e, ctx);
    }
    assert.equal(returned.size, 3);
    balancer.update([]);
    assert.equal(balancer.pick(ctx), undefined);
  });

  it('never picks a zero weight (no new work), even when it is idle', () => {
    const set = endpoints([0, 1]);
    set[1].inFlight = 50;
    const balancer = new LeastConnections();
    balancer.update(set);
    const ctx = new PickContext();
    beginPick(ctx);
    assert.equal(balancer.pick(ctx), set[1]);
    markTried(set[1], ctx);
    assert.equal(balancer.pick(ctx), undefined);
  });

  it('simulated more than 100k picks', () => {
    assert.ok(picks > 100_000, `only ${picks} picks`);
  });
});

// The O(log n) tree against the O(n) scan it replaced: the same pick, exactly, at every step.
describe('least-connections against a linear scan', () => {
  let operations = 0;
  const weightChoices = [0, 0.5, 1, 1, 2, 3, 4, 8];

  /** The scan: from `next`, the first endpoint of strictly least inFlight/weight, untried, weight > 0. */
  function scan(table: readonly Endpoint[], weights: readonly number[], next: number, ctx: PickContext): number {
    let best = -1;
    for (let k = 0; k < table.length; k++) {
      const i = (next + k) % table.length;
      const e = table[i];
      if (weights[i] > 0 && e.triedEpoch !== ctx.epoch && (best < 0 || e.inFlight * weights[best] < table[best].inFlight * weights[i])) best = i;
    }
    return best;
  }

  it('picks what the scan picks over 100k random load changes, retries and weight updates', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.tuple(fc.nat({ max: 9 }), fc.nat({ max: 1000 }), fc.nat({ max: 1000 })), { minLength: 800, maxLength: 1500 }),
        (size, ops) => {
          // the table is a subset of these; the rest change load too, and must be ignored
          const all = endpoints(new Array<number>(size + 3).fill(1));
          let table = all.slice(0, size);
          let weights = table.map((e) => e.effectiveWeight);
          const balancer = new LeastConnections();
          balancer.update(table);
          let next = 0;
          const ctx = new PickContext();
          beginPick(ctx);
          for (const [op, a, b] of ops) {
            const e = all[a % all.length];
            operations++;
            if (op <= 1) e.inFlight++;
            else if (op === 2 && e.inFlight > 0) e.inFlight--;
            else if (op === 3) e.inFlight = b % 6;
            else if (op === 9) {
              // update(): a new subset in a new order with new weights (slow start, admin, zero)
              table = all.filter((_, i) => (a >> i % 10) & 1 || i % 3 === b % 3);
              if (b & 1) table.reverse();
              table.forEach((t, i) => (t.effectiveWeight = weightChoices[(b + i) % weightChoices.length]));
              weights = table.map((t) => t.effectiveWeight);
              balancer.update(table);
              if (next >= table.length) next = 0;
            } else {
              // a pick: a new exchange, or a retry of the current one with its earlier picks tried
              if (op <= 6) beginPick(ctx);
              if (op === 5) for (let i = 0; i < table.length; i++) if ((b >> i % 10) & 1) markTried(table[i], ctx);
              const expected = scan(table, weights, next, ctx);
              const got = balancer.pick(ctx);
              picks++;
              assert.equal(got === undefined ? -1 : table.indexOf(got), expected);
              if (got !== undefined) {
                next = (expected + 1) % table.length;
                markTried(got, ctx);
                if (op !== 8) got.inFlight++;
              }
            }
          }
        },
      ),
      { seed, numRuns: 100 },
    );
    assert.ok(operations > 100_000, `only ${operations} operations`);
  });

  it('rotates ties in slot order from one past the last pick, at 1,000 endpoints', () => {
    const set = endpoints(new Array<number>(1000).fill(1));
    const balancer = new LeastConnections();
    balancer.update(set);
    const ctx = new PickContext();
    beginPick(ctx);
    for (let i = 0; i < 2500; i++) assert.equal(balancer.pick(ctx), set[i % 1000]);
    set[10].inFlight = 1; // no longer tied: skipped by the rotation
    for (let i = 0; i < 20; i++) assert.notEqual(balancer.pick(ctx), set[10]);
  });

  it('skips tried endpoints, taking the next tied one, then the next least loaded', () => {
    const set = endpoints([1, 1, 1, 1]);
    const inFlight = [2, 0, 0, 1];
    set.forEach((e, i) => (e.inFlight = inFlight[i]));
    const balancer = new LeastConnections();
    balancer.update(set);
    const ctx = new PickContext();
    beginPick(ctx);
    const order: number[] = [];
    for (let e = balancer.pick(ctx); e !== undefined; e = balancer.pick(ctx)) {
      order.push(set.indexOf(e));
      markTried(e, ctx);
    }
    assert.deepEqual(order, [1, 2, 3, 0]);
    beginPick(ctx); // a new exchange: nothing tried, the rotation goes on after 0
    assert.equal(balancer.pick(ctx), set[1]);
  });

  it('follows weight changes made through update()', () => {
    const set = endpoints([1, 1, 1]);
    set.forEach((e) => (e.inFlight = 4));
    const balancer = new LeastConnections();
    balancer.update(set);
    const ctx = new PickContext();
    beginPick(ctx);
    set[2].effectiveWeight = 4; // slow start over, or a new weight: 4/4 beats 4/1
    balancer.update(set);
    assert.equal(balancer.pick(ctx), set[2]);
    set[2].effectiveWeight = 0;
    set[2].inFlight = 0;
    balancer.update(set);
    assert.notEqual(balancer.pick(ctx), set[2], 'weight 0: never picked, even idle');
    set[0].inFlight = 0; // a load change after the update still reaches the tree
    assert.equal(balancer.pick(ctx), set[0]);
  });
});
