// ring-hash (ketama consistent hashing, Karger et al. §4; libketama's point placement), fixed key streams: the
// points are libketama's (MD5 of "address-d", four little-endian words per digest); removing 1 of N endpoints
// remaps only the keys that lived on it; adding one moves ≈ K/(N+1) keys, all to the new endpoint; with 160
// points per endpoint each share is within ≈ ±1/√160 of the mean, so max/mean over 10 endpoints is ≈ 1.12 on
// average (1.159 on 10.0.0.1–10:8080, pinned) and ≤ 1.10 needs ≈ 640 points; weights are honoured in
// proportion; a retry goes where the key would go without the tried endpoint; tables are rebuilt only on change.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Endpoint } from '../../../../src/upstream/endpoint.ts';
import { RingHash } from '../../../../src/upstream/balancing/ring-hash.ts';
import { assertFallback, assertRetries, assign, counts, endpoints, keyHashes, maxOverMean, movedFraction, shuffled } from './hash-fixtures.ts';

function ring(set: readonly Parameters<RingHash['update']>[0][number][], virtualNodes = 160): RingHash {
  const balancer = new RingHash({ virtualNodes });
  balancer.update(set);
  return balancer;
}

describe('ring-hash', () => {
  const hashes = keyHashes(200_000);

  it('removing 1 of N endpoints remaps only the keys that lived on it', () => {
    const set = endpoints(10);
    const before = assign(ring(set), set, hashes);
    for (const removed of [0, 4, 9]) {
      const after = assign(ring(set.filter((_, i) => i !== removed)), set, hashes);
      let movedOthers = 0;
      for (let k = 0; k < hashes.length; k++) {
        if (before[k] !== removed && after[k] !== before[k]) movedOthers++;
        if (before[k] === removed) assert.notEqual(after[k], removed);
      }
      assert.equal(movedOthers, 0, `removing endpoint ${removed} moved ${movedOthers} keys of other endpoints`);
    }
  });

  // What moves is exactly the new endpoint's share: ±1/√160 = 7.9% from one address to another, plus a factor
  // common to all additions from the base ring's own gaps (a new point captures ≈ Σgap²/2: ±√(5/P) for P base
  // points, 7.9% at N = 5, 4% at N = 20). Each addition is held to 25%, the mean of 10 additions to 15%.
  // Measured (added / ideal, mean of 10): 0.972 at N = 5, 0.975 at N = 10, 1.091 at N = 20.
  it('adding one endpoint to N moves ≈ K/(N+1) keys (each within 25%, mean of 10 within 15%), all to the new one', () => {
    for (const n of [5, 10, 20]) {
      const set = endpoints(n + 10);
      const before = assign(ring(set.slice(0, n)), set, hashes);
      const ideal = 1 / (n + 1);
      let sum = 0;
      for (let added = n; added < n + 10; added++) {
        const after = assign(ring([...set.slice(0, n), set[added]]), set, hashes);
        for (let k = 0; k < hashes.length; k++) if (after[k] !== before[k]) assert.equal(after[k], added, 'a moved key went to an old endpoint');
        const moved = movedFraction(before, after);
        assert.ok(Math.abs(moved - ideal) <= 0.25 * ideal, `N=${n}, adding ${set[added].key}: moved ${moved.toFixed(4)}, ideal ${ideal.toFixed(4)}`);
        sum += moved;
      }
      assert.ok(Math.abs(sum / 10 - ideal) <= 0.15 * ideal, `N=${n}: moved ${(sum / 10).toFixed(4)} on average, ideal ${ideal.toFixed(4)}`);
    }
  });

  it('places points as libketama: MD5 of "address-d", four little-endian 32-bit words per digest', () => {
    const only = new Endpoint('10.0.0.1:8080', '10.0.0.1', 8080, 1);
    const points = Array.from((ring([only]) as unknown as { points: Uint32Array }).points);
    assert.equal(points.length, 160);
    // MD5("10.0.0.1:8080-0") = cd289377 cc256a0a f0a15c52 6e1443d1, MD5("10.0.0.1:8080-39") = 5453f466 df034288 …
    for (const p of [2006132941, 174728652, 1381802480, 3510834286, 1727288148, 2286027743, 86261571, 3099027374]) {
      assert.ok(points.includes(p), `point ${p}`);
    }
    // virtualNodes not a multiple of 4: the last digest gives only the words needed, in order
    assert.deepEqual(Array.from((ring([only], 2) as unknown as { points: Uint32Array }).points), [174728652, 2006132941]);
  });

  // Each endpoint's share is a sum of v arcs: shares are Dirichlet(v, …, v), each within ≈ ±√((N−1)/(N·v)) of the
  // mean (7.5% for 10 endpoints at 160 points), so the most loaded of 10 sits ≈ 1 + 1.54 × 0.075 ≈ 1.12 × the
  // mean. A bound of 1.10 at 160 points holds for only ≈ 29% of address sets (1,000 sets simulated); this
  // set gives 1.159 (arc shares 1.162; Envoy's default ring of 103 xxHash64 points per host gives 1.136 here).
  it('with 160 points per endpoint, max/mean load over 10.0.0.1–10:8080 and 1M keys is 1.159 (pinned)', () => {
    const set = Array.from({ length: 10 }, (_, i) => new Endpoint(`10.0.0.${i + 1}:8080`, `10.0.0.${i + 1}`, 8080, 1));
    const c = counts(assign(ring(set), set, keyHashes(1_000_000, 2)), 10);
    const ratio = maxOverMean(c);
    assert.ok(Math.abs(ratio - 1.159) <= 0.002, `max/mean ${ratio.toFixed(4)}`);
    // and it is the virtual nodes that do it: one point per endpoint is far worse, 640 points much better
    const single = maxOverMean(counts(assign(ring(set, 1), set, hashes), 10));
    assert.ok(single > 1.5, `max/mean with 1 point ${single.toFixed(3)}`);
    const many = maxOverMean(counts(assign(ring(set, 640), set, keyHashes(1_000_000, 2)), 10));
    assert.ok(many <= 1.1, `max/mean with 640 points ${many.toFixed(4)}`);
  });

  it('over 200 sets of 10 endpoints, max/mean arc share follows 1 + 1.54/√v: ≤ 1.15 median at 160, ≤ 1.10 p90 at 640', () => {
    const quantiles = (virtualNodes: number): { median: number; p90: number } => {
      const ratios: number[] = [];
      for (let s = 0; s < 200; s++) {
        const set = endpoints(10, 16 * s);
        const r = ring(set, virtualNodes) as unknown as { points: Uint32Array; owners: Int32Array };
        const share = new Array<number>(10).fill(0);
        const p = r.points;
        for (let i = 0; i < p.length; i++) share[r.owners[i]] += p[i] - (i === 0 ? p[p.length - 1] - 2 ** 32 : p[i - 1]);
        ratios.push(maxOverMean(share));
      }
      ratios.sort((a, b) => a - b);
      return { median: ratios[100], p90: ratios[180] };
    };
    const at160 = quantiles(160);
    assert.ok(at160.median <= 1.15 && at160.median >= 1.08, `160 points: median ${at160.median.toFixed(4)}`);
    assert.ok(at160.p90 <= 1.22, `160 points: p90 ${at160.p90.toFixed(4)}`);
    const at640 = quantiles(640);
    assert.ok(at640.p90 <= 1.1, `640 points: p90 ${at640.p90.toFixed(4)}`);
  });

  it('honours weights: shares within 10% of weight / Σweights', () => {
    const weights = [1, 2, 3, 4];
    const set = endpoints(weights);
    const c = counts(assign(ring(set), set, hashes), weights.length);
    for (let i = 0; i < weights.length; i++) {
      const share = c[i] / hashes.length;
      const ideal = weights[i] / 10;
      assert.ok(Math.abs(share - ideal) <= 0.1 * ideal, `weight ${weights[i]}: share ${share.toFixed(4)}, ideal ${ideal}`);
    }
    assert.equal(ring(set).size, 160 * 10, 'virtualNodes points per unit of weight');
  });

  it('a retry goes where the key would go if the tried endpoint were removed (the next point clockwise)', () => {
    const set = endpoints(8);
    const balancer = ring(set);
    const first = assign(balancer, set, hashes.subarray(0, 20_000));
    const without = assign(ring(set.filter((_, i) => i !== 2)), set, hashes.subarray(0, 20_000));
    const retried = new Int32Array(20_000);
    // keys whose first choice is endpoint 2: mark it tried, pick again
    for (let k = 0; k < 20_000; k++) {
      if (first[k] !== 2) continue;
      const order = assertRetries(balancer, set, hashes.subarray(k, k + 1), [2]);
      retried[k] = set.indexOf(order[0]);
      assert.equal(retried[k], without[k], `key ${k}`);
    }
  });

  it('with endpoints marked tried, picks return the others once each, then undefined', () => {
    const set = endpoints([1, 2, 1, 3, 1]);
    assertRetries(ring(set), set, hashes.subarray(0, 2000), [1, 3]);
    assertRetries(ring(set), set, hashes.subarray(0, 500), [0, 1, 2, 3, 4]);
    assertRetries(ring(set), set, hashes.subarray(0, 500), []);
  });

  it('builds the same ring from the same set in any order', () => {
    const set = endpoints([1, 2, 3, 1, 1, 2]);
    const a = assign(ring(set), set, hashes);
    const b = assign(ring(shuffled(set, 7)), set, hashes);
    assert.equal(movedFraction(a, b), 0);
  });

  it('a ring updated through changes (endpoints added, removed, reweighted up and down) equals one built fresh', () => {
    const set = endpoints([1, 2, 1, 3, 1, 1]);
    const balancer = ring(set.slice(0, 4));
    const steps: (() => void)[] = [
      () => balancer.update(set),
      () => balancer.update(set.slice(1)),
      () => (set[3].weight = 5),
      () => (set[3].weight = 2),
      () => (set[5].weight = 4),
    ];
    const points = (r: RingHash): number[] => Array.from((r as unknown as { points: Uint32Array }).points);
    for (const step of steps) {
      step();
      const current = set.slice(1);
      balancer.update(current);
      assert.deepEqual(points(balancer), points(ring(current)));
    }
  });

  it('rebuilds the ring only when the set or a weight changes', () => {
    const set = endpoints(5);
    const balancer = new RingHash();
    let builds = 0;
    const build = (balancer as unknown as { build: (...a: unknown[]) => void }).build;
    (balancer as unknown as { build: (...a: unknown[]) => void }).build = function (...a: unknown[]) {
      builds++;
      build.apply(this, a);
    };
    balancer.update(set);
    balancer.update(set.slice());
    balancer.update(shuffled(set, 3));
    assert.equal(builds, 1);
    set[2].weight = 4;
    balancer.update(set);
    assert.equal(builds, 2);
    balancer.update(set.slice(1));
    assert.equal(builds, 3);
  });

  it('falls back to round robin when the request lacks the key; empty set yields undefined', () => {
    const set = endpoints(4);
    assertFallback(ring(set), set);
    assert.equal(assertRetries(ring([]), [], hashes.subarray(0, 10), []).length, 0);
  });
});
