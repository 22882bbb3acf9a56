// Tests for the load-ordered balancers' index (fixed seeds): over more than 100k random load changes, removals
// and insertions, the tournament tree's minimum and its first minimum from any slot equal a linear scan's; and
// the load hooks follow ownership — the last balancer to update() with an endpoint owns its hook, a balancer
// that lost one notices and stays exact, close() and leaving the table unhook, and released hooks go back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LeastConnections } from '../../../../src/upstream/balancing/least-connections.ts';
import { LoadHooks, LoadTree } from '../../../../src/upstream/balancing/load-tree.ts';
import { beginPick, PickContext } from '../../../../src/upstream/balancing/types.ts';
import { Endpoint } from '../../../../src/upstream/endpoint.ts';

const seed = 42;
let operations = 0;

/** The oracle: the first slot of least num/den in the cyclic order from `from` (ties: the first), or -1. */
function scan(num: readonly number[], den: readonly number[], present: readonly boolean[], from: number): number {
  const n = num.length;
  let best = -1;
  for (let k = 0; k < n; k++) {
    const i = (from + k) % n;
    if (present[i] && (best < 0 || num[i] * den[best] < num[best] * den[i])) best = i;
  }
  return best;
}

function endpoints(count: number): Endpoint[] {
  return Array.from({ length: count }, (_, i) => new Endpoint(`10.0.9.${i}:80`, `10.0.9.${i}`, 80, 1));
}

describe('load tree', () => {
  it('answers as a linear scan after every random change (min and first from a slot)', () => {
    const dens = [0.5, 1, 1.5, 2, 3, 4, 7, 8];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }),
        fc.array(fc.tuple(fc.nat({ max: 3 }), fc.nat({ max: 1000 }), fc.nat({ max: 12 }), fc.nat({ max: 1000 })), { minLength: 800, maxLength: 1500 }),
        (n, ops) => {
          const num: number[] = [];
          const den: number[] = [];
          const present: boolean[] = [];
          const tree = new LoadTree();
          tree.reset(n);
          for (let i = 0; i < n; i++) {
            num.push(i % 5);
            den.push(dens[i % dens.length]);
            present.push(i % 7 !== 3);
            tree.place(i, num[i], den[i]);
            if (!present[i]) tree.remove(i);
          }
          tree.build();
          for (const [op, at, value, from] of ops) {
            const i = at % n;
            if (op <= 1) {
              // small loads, so ties are frequent
              num[i] = value;
              tree.setNum(i, value);
            } else if (op === 2 && present[i]) {
              present[i] = false;
              tree.remove(i);
            } else if (op === 2 || op === 3) {
              if (!present[i]) {
                present[i] = true;
                tree.insert(i);
              }
            }
            operations++;
            assert.equal(tree.has(i), present[i]);
            assert.equal(tree.min(), scan(num, den, present, 0), 'min is the leftmost least load');
            const f = from % n;
            assert.equal(tree.first(f), scan(num, den, present, f), `first from ${f}`);
          }
        },
      ),
      { seed, numRuns: 150 },
    );
  });

  it('reset() to the same size reuses the arrays and forgets every slot', () => {
    const tree = new LoadTree();
    tree.reset(5);
    for (let i = 0; i < 5; i++) tree.place(i, 5 - i, 1);
    tree.build();
    assert.equal(tree.min(), 4);
    const num = tree.num;
    tree.reset(5);
    tree.build();
    assert.equal(tree.num, num);
    assert.equal(tree.min(), -1);
    tree.reset(0);
    tree.build();
    assert.equal(tree.first(0), -1);
  });

  it('ran more than 100k random operations', () => {
    assert.ok(operations > 100_000, `only ${operations} operations`);
  });
});

describe('load hooks', () => {
  it('hooks the endpoints of the table, unhooks those that leave and all on close()', () => {
    const set = endpoints(3);
    const hooks = new LoadHooks();
    const calls: number[] = [];
    hooks.attach(set, (slot) => () => calls.push(slot));
    set[2].inFlight++;
    set[0].inFlight = 4;
    assert.deepEqual(calls, [2, 0]);
    hooks.attach([set[1], set[2]], (slot) => () => calls.push(10 + slot));
    assert.equal(set[0].loadHook, null);
    set[0].inFlight--;
    set[2].inFlight--;
    assert.deepEqual(calls, [2, 0, 11]);
    assert.ok(hooks.heardAll());
    hooks.release();
    assert.equal(set[1].loadHook, null);
    assert.equal(set[2].loadHook, null);
    assert.ok(!hooks.heardAll(), 'released hooks no longer see load changes');
  });

  it('a newer balancer takes the endpoints over; the older one notices and stays exact', () => {
    const set = endpoints(4);
    const older = new LeastConnections();
    older.update(set);
    const newer = new LeastConnections();
    newer.update(set); // a reload: the next generation's balancer over the same Endpoint objects
    for (const e of set) assert.notEqual(e.loadHook, null);
    const ctx = new PickContext();
    // loads change while only the newer balancer hears them
    set[0].inFlight = 3;
    set[1].inFlight = 2;
    set[3].inFlight = 1;
    beginPick(ctx);
    assert.equal(older.pick(ctx), set[2], 'the older balancer re-reads the loads');
    assert.equal(newer.pick(ctx), set[2]);
    set[2].inFlight = 5;
    assert.equal(older.pick(ctx), set[3]);
    assert.equal(newer.pick(ctx), set[3]);
    // closing the older one leaves the newer one's hooks alone
    older.close();
    for (const e of set) assert.notEqual(e.loadHook, null);
    set[3].inFlight = 9;
    assert.equal(newer.pick(ctx), set[1]);
    // a retired balancer updated again (a late refresh of its pool) takes nothing back
    const hooks = set.map((e) => e.loadHook);
    older.update(set);
    assert.deepEqual(set.map((e) => e.loadHook), hooks);
    set[1].inFlight = 9;
    assert.equal(older.pick(ctx), set[0]);
  });

  it('a reload that fails gives the hooks back: the current balancer re-reads the loads once and hears changes again', () => {
    const set = endpoints(3);
    const current = new LeastConnections();
    current.update(set);
    const failed = new LeastConnections();
    failed.update(set); // built for a reload whose listener could not bind
    const ctx = new PickContext();
    beginPick(ctx);
    set[0].inFlight = 1;
    assert.equal(current.pick(ctx), set[1], 'detached meanwhile, still exact');
    failed.close();
    for (const e of set) assert.equal(e.loadHook, null);
    set[0].inFlight = 2; // heard by nobody
    set[1].inFlight = 1;
    assert.equal(current.pick(ctx), set[2]);
    for (const e of set) assert.notEqual(e.loadHook, null, 'hooks taken back');
    set[2].inFlight = 3; // heard through the hook again
    assert.equal(current.pick(ctx), set[1]);
  });
});
