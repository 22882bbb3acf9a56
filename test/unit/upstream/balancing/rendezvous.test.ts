// rendezvous (highest random weight, Thaler & Ravishankar §3), fixed key streams, flat (≤ 64 endpoints: the
// classic O(N) mapping, pinned against a reference scan) and skeleton (1,000 endpoints): removing an endpoint
// moves only its keys; adding one moves ≈ K/(N+1) keys, all to it; weighted shares (logarithmic method) follow
// weight / Σweights; a retry goes to where the key would go without the tried endpoint, across clusters too.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { combine32, hashString } from '../../../../src/core/hash.ts';
import { clusterCount, flatLimit, Rendezvous } from '../../../../src/upstream/balancing/rendezvous.ts';
import { beginPick, markTried, PickContext } from '../../../../src/upstream/balancing/types.ts';
import type { Endpoint } from '../../../../src/upstream/endpoint.ts';
import { assertFallback, assertRetries, assign, counts, endpoints, keyHashes, maxOverMean, movedFraction, shuffled } from './hash-fixtures.ts';

function rendezvous(set: readonly Endpoint[]): Rendezvous {
  const balancer = new Rendezvous();
  balancer.update(set);
  return balancer;
}

/** The textbook O(N) weighted HRW over `set` in key order: what every flat pick must equal. */
function reference(set: readonly Endpoint[], hash: number): Endpoint {
  const sorted = set.slice().sort((a, b) => (a.key < b.key ? -1 : 1));
  let best = sorted[0];
  let bestScore = -1;
  for (const e of sorted) {
    const u = (combine32(hash, hashString(e.key)) + 0.5) / 4294967296;
    const score = -e.weight / Math.log(u);
    if (score > bestScore) {
      best = e;
      bestScore = score;
    }
  }
  return best;
}

/** Per-endpoint observed share ÷ weight share. */
function shareRatios(c: readonly number[], set: readonly Endpoint[], keys: number): number[] {
  const total = set.reduce((sum, e) => sum + e.weight, 0);
  return c.map((n, i) => n / keys / (set[i].weight / total));
}

describe('rendezvous', () => {
  const hashes = keyHashes(200_000);

  it('removing an endpoint moves only the keys that lived on it (equal and unequal weights)', () => {
    for (const weights of [[1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [1, 2, 3, 4, 5, 1, 2, 3]]) {
      const set = endpoints(weights);
      const before = assign(rendezvous(set), set, hashes);
      for (const removed of [0, 5]) {
        const after = assign(rendezvous(set.filter((_, i) => i !== removed)), set, hashes);
        for (let k = 0; k < hashes.length; k++) {
          if (before[k] !== removed && after[k] !== before[k]) assert.fail(`key ${k} moved off endpoint ${before[k]}`);
        }
      }
    }
  });

  it('adding one endpoint to N moves ≈ K/(N+1) keys (within 5%), all to the new endpoint', () => {
    const set = endpoints(11);
    const before = assign(rendezvous(set.slice(0, 10)), set, hashes);
    const after = assign(rendezvous(set), set, hashes);
    for (let k = 0; k < hashes.length; k++) if (after[k] !== before[k]) assert.equal(after[k], 10);
    const moved = movedFraction(before, after);
    assert.ok(Math.abs(moved - 1 / 11) <= 0.05 / 11, `moved ${moved.toFixed(4)}`);
  });

  it('equal weights: max/mean ≤ 1.02 over 10 endpoints and 200k keys', () => {
    const set = endpoints(10);
    const ratio = maxOverMean(counts(assign(rendezvous(set), set, hashes), 10));
    assert.ok(ratio <= 1.02, `max/mean ${ratio.toFixed(4)}`);
  });

  it('weighted: shares within 3% of weight / Σweights', () => {
    const weights = [1, 2, 3, 4, 10];
    const set = endpoints(weights);
    const c = counts(assign(rendezvous(set), set, hashes), weights.length);
    for (let i = 0; i < weights.length; i++) {
      const share = c[i] / hashes.length;
      const ideal = weights[i] / 20;
      assert.ok(Math.abs(share - ideal) <= 0.03 * ideal, `weight ${weights[i]}: share ${share.toFixed(4)}, ideal ${ideal}`);
    }
  });

  it(`up to ${flatLimit} endpoints, every pick is the classic O(N) mapping (equal and unequal weights)`, () => {
    for (const set of [endpoints(flatLimit), endpoints(Array.from({ length: flatLimit }, (_, i) => 1 + (i % 7)))]) {
      const balancer = rendezvous(shuffled(set, 5));
      const ctx = new PickContext();
      ctx.hasHash = true;
      for (let k = 0; k < 20_000; k++) {
        beginPick(ctx);
        ctx.hash = hashes[k];
        assert.equal(balancer.pick(ctx), reference(set, hashes[k]), `key ${k}`);
      }
    }
  });

  it('a retry goes to the next-highest score: where the key would go without the tried endpoint', () => {
    const set = endpoints([2, 1, 1, 3, 1, 1]);
    const balancer = rendezvous(set);
    const some = hashes.subarray(0, 20_000);
    const first = assign(balancer, set, some);
    const without = assign(rendezvous(set.filter((_, i) => i !== 3)), set, some);
    for (let k = 0; k < some.length; k++) {
      if (first[k] !== 3) continue;
      const order = assertRetries(balancer, set, some.subarray(k, k + 1), [3]);
      assert.equal(set.indexOf(order[0]), without[k], `key ${k}`);
    }
  });

  it('with endpoints marked tried, picks return the others once each, then undefined', () => {
    const set = endpoints([1, 2, 1, 3, 1]);
    assertRetries(rendezvous(set), set, hashes.subarray(0, 2000), [1, 3]);
    assertRetries(rendezvous(set), set, hashes.subarray(0, 500), [0, 1, 2, 3, 4]);
  });

  it('falls back to round robin when the request lacks the key; empty set yields undefined', () => {
    const set = endpoints(3);
    assertFallback(rendezvous(set), set);
    assert.equal(assertRetries(rendezvous([]), [], hashes.subarray(0, 10), []).length, 0);
  });
});

describe('rendezvous skeleton (more than 64 endpoints)', () => {
  const hashes = keyHashes(200_000);
  const million = keyHashes(1_000_000, 2);
  const thousand = endpoints(1000);
  const weighted = endpoints(Array.from({ length: 1000 }, (_, i) => 1 + (i % 4)));

  it('removing 1 of 1,000 endpoints moves only the keys that lived on it (equal and unequal weights)', () => {
    for (const set of [thousand, weighted]) {
      const before = assign(rendezvous(set), set, hashes);
      for (const removed of [0, 417, 999]) {
        const after = assign(rendezvous(set.filter((_, i) => i !== removed)), set, hashes);
        let movedOthers = 0;
        for (let k = 0; k < hashes.length; k++) if (before[k] !== removed && after[k] !== before[k]) movedOthers++;
        assert.equal(movedOthers, 0, `removing endpoint ${removed} moved ${movedOthers} keys of other endpoints`);
      }
    }
  });

  it('adding one endpoint to 1,000 moves ≈ K/1001 keys (within 10%, 1M keys), all to the new endpoint', () => {
    const set = endpoints(1001);
    const before = assign(rendezvous(set.slice(0, 1000)), set, million);
    const after = assign(rendezvous(set), set, million);
    for (let k = 0; k < million.length; k++) if (after[k] !== before[k]) assert.equal(after[k], 1000, 'a moved key went to an old endpoint');
    const moved = movedFraction(before, after); // measured 0.000992, ideal 0.000999
    assert.ok(Math.abs(moved * 1001 - 1) <= 0.1, `moved ${moved.toFixed(6)} of keys, ideal ${(1 / 1001).toFixed(6)}`);
  });

  // Balance has two parts: the skeleton's structure (each cluster of ≈ 31 holds 1/32 of a partition's keys,
  // and cluster sizes vary by chance; 256 partitions average that out) and the sampling noise of the keys
  // themselves (≈ ±3.2% per endpoint at 1,000 keys each), which flat HRW has too.
  it('equal weights: expected shares within ±4.5% of 1/N at 1,000 endpoints; 1M keys within 0.88..1.11 of the mean', () => {
    const balancer = rendezvous(thousand);
    const expected = balancer.expectedShares();
    let low = Infinity;
    let high = 0;
    for (const share of expected) {
      low = Math.min(low, share * 1000);
      high = Math.max(high, share * 1000);
    }
    assert.ok(low >= 0.955 && high <= 1.045, `expected share / ideal ${low.toFixed(4)}..${high.toFixed(4)}`); // measured 0.962..1.038
    const ratios = shareRatios(counts(assign(balancer, thousand, million), 1000), thousand, million.length);
    const observedLow = Math.min(...ratios);
    const observedHigh = Math.max(...ratios);
    // measured 0.887..1.100; flat HRW over the same 1M keys: 0.905..1.115
    assert.ok(observedLow >= 0.88 && observedHigh <= 1.11, `observed / ideal ${observedLow.toFixed(4)}..${observedHigh.toFixed(4)}`);
  });

  it('weights 1..4 at 1,000 endpoints: each weight class within 5% of its weight share; expected shares within ±8%', () => {
    const balancer = rendezvous(weighted);
    const c = counts(assign(balancer, weighted, million), 1000);
    const total = weighted.reduce((sum, e) => sum + e.weight, 0);
    for (let w = 1; w <= 4; w++) {
      let keys = 0;
      for (let i = 0; i < 1000; i++) if (weighted[i].weight === w) keys += c[i];
      const ratio = keys / million.length / ((250 * w) / total);
      assert.ok(Math.abs(ratio - 1) <= 0.05, `weight ${w}: share / ideal ${ratio.toFixed(4)}`); // measured 1.032, 1.012, 1.000, 0.987
    }
    const sorted = weighted.slice().sort((a, b) => (a.key < b.key ? -1 : 1));
    const expected = balancer.expectedShares();
    for (let i = 0; i < 1000; i++) {
      const ratio = expected[i] / (sorted[i].weight / total);
      assert.ok(Math.abs(ratio - 1) <= 0.08, `${sorted[i].key} (weight ${sorted[i].weight}): expected share / ideal ${ratio.toFixed(4)}`); // measured 0.951..1.071
    }
  });

  it('a retry goes where the key would go without the tried endpoint, also when that empties its cluster', () => {
    for (const set of [thousand, weighted, endpoints(70)]) {
      const balancer = rendezvous(set);
      const some = hashes.subarray(0, 20_000);
      const first = assign(balancer, set, some);
      for (const tried of [3, set.length - 1]) {
        const without = assign(rendezvous(set.filter((_, i) => i !== tried)), set, some);
        for (let k = 0; k < some.length; k++) {
          if (first[k] !== tried) continue;
          const order = assertRetries(balancer, set, some.subarray(k, k + 1), [tried]);
          assert.equal(set.indexOf(order[0]), without[k], `key ${k}`);
        }
      }
    }
  });

  it('the k-th pick of an exchange is the first pick without the k−1 tried endpoints, past exhausted clusters', () => {
    // 200 endpoints: ≈ 6 per cluster, so 12 picks per key run through the key's cluster into the next ones.
    const set = endpoints(Array.from({ length: 200 }, (_, i) => 1 + (i % 3)));
    const balancer = rendezvous(set);
    const ctx = new PickContext();
    const fresh = new PickContext();
    ctx.hasHash = true;
    fresh.hasHash = true;
    for (let k = 0; k < 40; k++) {
      beginPick(ctx);
      ctx.hash = hashes[k];
      const tried: Endpoint[] = [];
      for (let step = 0; step < 12; step++) {
        const e = balancer.pick(ctx);
        beginPick(fresh);
        fresh.hash = hashes[k];
        assert.equal(e, rendezvous(set.filter((x) => !tried.includes(x))).pick(fresh), `key ${k}, pick ${step + 1}`);
        assert.ok(e !== undefined && !tried.includes(e));
        tried.push(e);
        markTried(e, ctx);
      }
    }
  });

  it(`with endpoints marked tried, picks return the others once each, then undefined (empty clusters at N = ${flatLimit + 1})`, () => {
    // 65 endpoints in 32 clusters per partition: ≈ 13% of clusters are empty, and picks must step over them.
    const set = endpoints(Array.from({ length: flatLimit + 1 }, (_, i) => 1 + (i % 3)));
    assert.ok(set.length > flatLimit && set.length < 3 * clusterCount);
    assertRetries(rendezvous(set), set, hashes.subarray(0, 300), [1, 3, 40]);
    assertRetries(rendezvous(set), set, hashes.subarray(0, 50), set.map((_, i) => i).filter((i) => i % 2 === 0));
    assertRetries(rendezvous(set), set, hashes.subarray(0, 20), set.map((_, i) => i));
    const big = endpoints(300);
    assertRetries(rendezvous(big), big, hashes.subarray(0, 30), [0, 7, 299]);
  });

  it('weighted picks settled by the log-free bounds are the exact argmax of −w/ln(u) (every cluster, 200k keys)', () => {
    for (const weights of [(i: number) => 1 + (i % 4), (i: number) => 1 + 10 * (i % 7)]) {
      const balancer = rendezvous(endpoints(Array.from({ length: 1000 }, (_, i) => weights(i)))) as unknown as {
        starts: Int32Array;
        bestWeighted(h: number, from: number, to: number): number;
        bestExact(h: number, from: number, to: number): number;
      };
      const starts = balancer.starts;
      for (let k = 0; k < hashes.length; k++) {
        const at = (k * 7) % (starts.length - 1);
        if (starts[at + 1] <= starts[at]) continue;
        assert.equal(balancer.bestWeighted(hashes[k], starts[at], starts[at + 1]), balancer.bestExact(hashes[k], starts[at], starts[at + 1]), `key ${k}`);
      }
    }
  });

  it('builds the same mapping from the same set in any order, and rebuilds only when the set or a weight changes', () => {
    const set = endpoints(Array.from({ length: 500 }, (_, i) => 1 + (i % 3)));
    const a = assign(rendezvous(set), set, hashes);
    const balancer = rendezvous(shuffled(set, 9));
    assert.equal(movedFraction(a, assign(balancer, set, hashes)), 0);
    const table = (balancer as unknown as { hashes: Uint32Array }).hashes;
    balancer.update(shuffled(set, 10));
    assert.equal((balancer as unknown as { hashes: Uint32Array }).hashes, table, 'same set: no rebuild');
    set[7].weight = 5;
    balancer.update(set);
    const reweighted = (balancer as unknown as { hashes: Uint32Array }).hashes;
    assert.notEqual(reweighted, table, 'a weight changed: rebuilt');
    balancer.update(set.slice(1));
    assert.notEqual((balancer as unknown as { hashes: Uint32Array }).hashes, reweighted, 'the set changed: rebuilt');
  });
});
