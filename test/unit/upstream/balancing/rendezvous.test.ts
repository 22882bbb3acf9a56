// rendezvous (highest random weight, Thaler & Ravishankar §3), fixed key streams: removing an endpoint moves
// only its keys; adding one moves ≈ K/(N+1) keys, all to it; weighted shares (logarithmic method) within 3%
// of weight / Σweights; a retry goes to the next-highest score, i.e. where the key would go without the tried one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rendezvous } from '../../../../src/upstream/balancing/rendezvous.ts';
import type { Endpoint } from '../../../../src/upstream/endpoint.ts';
import { assertFallback, assertRetries, assign, counts, endpoints, keyHashes, maxOverMean, movedFraction } from './hash-fixtures.ts';

function rendezvous(set: readonly Endpoint[]): Rendezvous {
  const balancer = new Rendezvous();
  balancer.update(set);
  return balancer;
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
