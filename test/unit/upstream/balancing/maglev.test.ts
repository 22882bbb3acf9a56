// maglev (Eisenbud et al., NSDI 2016, §3.4), fixed key streams: with equal weights every endpoint holds
// ⌊M/N⌋ or ⌈M/N⌉ table entries (the paper's "M > 100·N keeps shares within 1%"), so key shares are within 1%
// of equal; removing 1 of N endpoints moves close to 1/N of keys (measured and bounded); the table is the
// same for the same set in any order; weighted entry counts follow weights; tableSize must be prime.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Maglev, populate } from '../../../../src/upstream/balancing/maglev.ts';
import type { Endpoint } from '../../../../src/upstream/endpoint.ts';
import { assertFallback, assertRetries, assign, counts, endpoints, keyHashes, maxOverMean, movedFraction, shuffled } from './hash-fixtures.ts';

function maglev(set: readonly Endpoint[], tableSize = 65537): Maglev {
  const balancer = new Maglev({ tableSize });
  balancer.update(set);
  return balancer;
}

describe('maglev', () => {
  const hashes = keyHashes(200_000);

  it('gives every endpoint ⌊M/N⌋ or ⌈M/N⌉ table entries with equal weights (N = 10, 100, 1000)', () => {
    for (const n of [10, 100, 1000]) {
      const c = counts(maglev(endpoints(n)).entries, n);
      assert.ok(Math.max(...c) - Math.min(...c) <= 1, `N=${n}: entries ${Math.min(...c)}..${Math.max(...c)}`);
    }
  });

  it('spreads 1M keys over 10 endpoints with max/mean ≤ 1.01', () => {
    const set = endpoints(10);
    const ratio = maxOverMean(counts(assign(maglev(set), set, keyHashes(1_000_000, 2)), 10));
    assert.ok(ratio <= 1.01, `max/mean ${ratio.toFixed(4)}`);
  });

  it('removing 1 of N endpoints moves close to 1/N of keys: ≤ 1.15/N at N=10, ≤ 2/N at N=100', () => {
    for (const [n, bound] of [[10, 1.15], [100, 2]] as const) {
      const set = endpoints(n);
      const before = assign(maglev(set), set, hashes);
      let worst = 0;
      for (const removed of [0, Math.floor(n / 2), n - 1]) {
        const after = assign(maglev(set.filter((_, i) => i !== removed)), set, hashes);
        for (let k = 0; k < hashes.length; k++) if (before[k] === removed) assert.notEqual(after[k], removed);
        worst = Math.max(worst, movedFraction(before, after));
      }
      assert.ok(worst >= 1 / n - 0.005, `N=${n}: moved ${worst.toFixed(4)}, below the removed endpoint's own share`);
      assert.ok(worst <= bound / n, `N=${n}: moved ${worst.toFixed(4)} of keys, bound ${(bound / n).toFixed(4)}`);
    }
  });

  it('builds the same table from the same set in any order, every time', () => {
    const set = endpoints([1, 3, 2, 1, 5, 1, 1]);
    const a = maglev(set).entries;
    assert.deepEqual(maglev(shuffled(set, 11)).entries, a);
    assert.deepEqual(populate(set.slice().sort((x, y) => (x.key < y.key ? -1 : 1)), 65537), a);
    assert.equal(a.length, 65537);
    assert.ok(a.every((i) => i >= 0 && i < set.length));
  });

  it('weighted: each endpoint holds entries in proportion to its weight (within 1%)', () => {
    const weights = [1, 2, 3, 4, 10];
    const c = counts(maglev(endpoints(weights)).entries, weights.length);
    for (let i = 0; i < weights.length; i++) {
      const ideal = (65537 * weights[i]) / 20;
      assert.ok(Math.abs(c[i] - ideal) <= 0.01 * ideal, `weight ${weights[i]}: ${c[i]} entries, ideal ${ideal.toFixed(0)}`);
    }
  });

  it('rejects a table size that is not prime', () => {
    assert.throws(() => new Maglev({ tableSize: 65536 }), /prime/);
    assert.doesNotThrow(() => new Maglev({ tableSize: 131071 }));
  });

  it('with endpoints marked tried, picks return the others once each, then undefined', () => {
    const set = endpoints([1, 2, 1, 3, 1]);
    assertRetries(maglev(set), set, hashes.subarray(0, 2000), [1, 3]);
    assertRetries(maglev(set), set, hashes.subarray(0, 500), [0, 1, 2, 3, 4]);
    assertRetries(maglev(set, 7), set, hashes.subarray(0, 500), [2]);
  });

  it('falls back to round robin when the request lacks the key; empty set yields undefined', () => {
    const set = endpoints(3);
    assertFallback(maglev(set), set);
    assert.equal(assertRetries(maglev([]), [], hashes.subarray(0, 10), []).length, 0);
  });
});
