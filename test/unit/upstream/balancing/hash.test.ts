// hash (modulo, HAProxy map-based), fixed key streams — the contrast with consistent hashing: going from N to
// N−1 or N+1 endpoints moves ≈ (N−1)/N of the keys (consistent hashing moves ≈ 1/N); shares are exact to the
// slot array (weights); tried endpoints are skipped, then undefined.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModuloHash } from '../../../../src/upstream/balancing/hash.ts';
import type { Endpoint } from '../../../../src/upstream/endpoint.ts';
import { assertFallback, assertRetries, assign, counts, endpoints, keyHashes, maxOverMean, movedFraction } from './hash-fixtures.ts';

function modulo(set: readonly Endpoint[]): ModuloHash {
  const balancer = new ModuloHash();
  balancer.update(set);
  return balancer;
}

describe('hash (modulo)', () => {
  const hashes = keyHashes(200_000);

  it('removing or adding one of N endpoints moves ≈ (N−1)/N of the keys (within 2%)', () => {
    for (const n of [5, 10, 20]) {
      const set = endpoints(n + 1);
      const base = assign(modulo(set.slice(0, n)), set, hashes);
      const removed = movedFraction(base, assign(modulo(set.slice(0, n - 1)), set, hashes));
      const added = movedFraction(base, assign(modulo(set), set, hashes));
      assert.ok(Math.abs(removed - (n - 1) / n) <= 0.02, `N=${n}: removing one moved ${removed.toFixed(4)}`);
      assert.ok(Math.abs(added - n / (n + 1)) <= 0.02, `N=${n}: adding one moved ${added.toFixed(4)}`);
    }
  });

  it('is hash mod N with equal weights, and even: max/mean ≤ 1.02 over 10 endpoints', () => {
    const set = endpoints(10);
    const a = assign(modulo(set), set, hashes);
    for (let k = 0; k < 1000; k++) assert.equal(a[k], hashes[k] % 10);
    assert.ok(maxOverMean(counts(a, 10)) <= 1.02);
  });

  it('weighted: shares within 3% of weight / Σweights', () => {
    const weights = [1, 2, 3, 4];
    const set = endpoints(weights);
    const c = counts(assign(modulo(set), set, hashes), 4);
    for (let i = 0; i < 4; i++) {
      const share = c[i] / hashes.length;
      assert.ok(Math.abs(share - weights[i] / 10) <= 0.03 * (weights[i] / 10), `weight ${weights[i]}: ${share.toFixed(4)}`);
    }
  });

  it('with endpoints marked tried, picks return the others once each, then undefined', () => {
    const set = endpoints([1, 2, 1, 3, 1]);
    assertRetries(modulo(set), set, hashes.subarray(0, 2000), [1, 3]);
    assertRetries(modulo(set), set, hashes.subarray(0, 500), [0, 1, 2, 3, 4]);
  });

  it('falls back to round robin when the request lacks the key; empty set yields undefined', () => {
    const set = endpoints(3);
    assertFallback(modulo(set), set);
    assert.equal(assertRetries(modulo([]), [], hashes.subarray(0, 10), []).length, 0);
  });
});
