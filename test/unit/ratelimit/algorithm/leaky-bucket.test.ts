// leaky-bucket with an injected clock: back-to-back requests are delayed by 1/rate more each, up to maxDelay
// or the burst, then rejected; the queue drains at the rate; departures never come closer than 1/rate.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fields, policy, take } from '../helpers.ts';

describe('leaky-bucket', () => {
  it('delays back-to-back requests by 1/rate each and rejects beyond the burst', () => {
    // 10/s: one departure every 100 ms; burst 10 (default) binds before maxDelay 1s
    const p = policy({ limit: '10/s', algorithm: 'leaky-bucket' });
    const delays = Array.from({ length: 10 }, () => {
      const d = take(p, 'k', 0);
      assert.equal(d.allowed, true);
      return d.delayMs;
    });
    assert.deepEqual(delays, [0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
    assert.deepEqual(fields(take(p, 'k', 0)), { allowed: false, delayMs: 0, limit: 10, remaining: 0, resetMs: 1000, retryAfterMs: 100 });
  });

  it('rejects a request that would wait longer than maxDelay', () => {
    const p = policy({ limit: '10/s', algorithm: 'leaky-bucket', burst: 20, maxDelay: '500ms' });
    const delays = Array.from({ length: 6 }, () => take(p, 'k', 0).delayMs);
    assert.deepEqual(delays, [0, 100, 200, 300, 400, 500]);
    // a 7th would wait 600 ms
    assert.deepEqual(fields(take(p, 'k', 0)), { allowed: false, delayMs: 0, limit: 6, remaining: 0, resetMs: 600, retryAfterMs: 100 });
    assert.equal(take(p, 'k', 99).allowed, false);
    assert.deepEqual(fields(take(p, 'k', 100)), { allowed: true, delayMs: 500, limit: 6, remaining: 0, resetMs: 600, retryAfterMs: 0 });
  });

  it('drains at the rate: the delay is what is left of the queue', () => {
    const p = policy({ limit: '10/s', algorithm: 'leaky-bucket', burst: 20, maxDelay: '500ms' });
    for (let i = 0; i < 6; i++) take(p, 'k', 0);
    // 600 ms queued at 0; at 250, 350 ms are left
    assert.deepEqual(fields(take(p, 'k', 250)), { allowed: true, delayMs: 350, limit: 6, remaining: 1, resetMs: 450, retryAfterMs: 0 });
    // empty again at 700
    assert.deepEqual(fields(take(p, 'k', 700)), { allowed: true, delayMs: 0, limit: 6, remaining: 5, resetMs: 100, retryAfterMs: 0 });
  });

  it('rounds fractional intervals up (3/s: 333.3 ms apart)', () => {
    const p = policy({ limit: '3/s', algorithm: 'leaky-bucket' });
    assert.deepEqual([0, 0, 0].map(() => take(p, 'k', 0).delayMs), [0, 334, 667]);
    assert.equal(take(p, 'k', 0).allowed, false);
  });

  it('maxDelay 0 polices without queueing: only an empty bucket admits', () => {
    const p = policy({ limit: '10/s', algorithm: 'leaky-bucket', maxDelay: 0 });
    assert.deepEqual([0, 0, 99, 100].map((t) => take(p, 'k', t).allowed), [true, false, false, true]);
  });

  it('cost > 1 occupies cost slots of the queue', () => {
    const p = policy({ limit: '10/s', algorithm: 'leaky-bucket', cost: 2 });
    assert.deepEqual([0, 0, 0].map(() => take(p, 'k', 0).delayMs), [0, 200, 400]);
  });

  it('departures (arrival + delay) are never closer than 1/rate (fixed seed)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 150 }), { minLength: 1, maxLength: 200 }), (gaps) => {
        const p = policy({ limit: '10/s', algorithm: 'leaky-bucket', burst: 5 });
        let now = 0;
        let last = -Infinity;
        for (const gap of gaps) {
          now += gap;
          const d = take(p, 'k', now);
          if (!d.allowed) continue;
          assert.ok(d.delayMs <= 1000, `delay ${d.delayMs} beyond maxDelay`);
          const departure = now + d.delayMs;
          assert.ok(departure - last >= 100, `departures ${last} and ${departure} closer than 100 ms`);
          last = departure;
        }
      }),
      { seed: 7, numRuns: 200 },
    );
  });
});
