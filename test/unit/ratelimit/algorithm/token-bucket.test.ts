// token-bucket with an injected clock: burst, refill on whole milliseconds, Retry-After to the first admitted
// instant, cost > 1, and a long idle spell refilling only up to the burst.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fields, pattern, policy, take } from '../helpers.ts';

describe('token-bucket', () => {
  it('admits the burst at once, then one request per 1/rate', () => {
    // 10/s: a token every 100 ms; burst 3
    const p = policy({ limit: '10/s', algorithm: 'token-bucket', burst: 3 });
    assert.equal(pattern(p, 'k', [0, 0, 0, 0]), 'AAAR');
    assert.equal(pattern(p, 'k', [99, 100, 100, 199, 200]), 'RARRA');
  });

  it('reports remaining, reset and Retry-After precisely', () => {
    const p = policy({ limit: '10/s', algorithm: 'token-bucket', burst: 3 });
    assert.deepEqual(fields(take(p, 'k', 0)), { allowed: true, delayMs: 0, limit: 3, remaining: 2, resetMs: 100, retryAfterMs: 0 });
    take(p, 'k', 0);
    assert.deepEqual(fields(take(p, 'k', 0)), { allowed: true, delayMs: 0, limit: 3, remaining: 0, resetMs: 300, retryAfterMs: 0 });
    assert.deepEqual(fields(take(p, 'k', 0)), { allowed: false, delayMs: 0, limit: 3, remaining: 0, resetMs: 300, retryAfterMs: 100 });
    assert.deepEqual(fields(take(p, 'k', 37)), { allowed: false, delayMs: 0, limit: 3, remaining: 0, resetMs: 263, retryAfterMs: 63 });
    // the Retry-After instant is the first that admits
    assert.equal(take(p, 'k', 99).allowed, false);
    assert.equal(take(p, 'k', 100).allowed, true);
  });

  it('refills fractionally: 2.5 tokens after 250 ms', () => {
    const p = policy({ limit: '10/s', algorithm: 'token-bucket', burst: 3 });
    assert.equal(pattern(p, 'k', [0, 0, 0]), 'AAA');
    assert.deepEqual(fields(take(p, 'k', 250)), { allowed: true, delayMs: 0, limit: 3, remaining: 1, resetMs: 150, retryAfterMs: 0 });
    assert.equal(take(p, 'k', 250).allowed, true);
    assert.deepEqual(fields(take(p, 'k', 250)), { allowed: false, delayMs: 0, limit: 3, remaining: 0, resetMs: 250, retryAfterMs: 50 });
  });

  it('defaults the burst to the limit', () => {
    const p = policy({ limit: '5/min', algorithm: 'token-bucket' });
    assert.equal(pattern(p, 'k', [0, 0, 0, 0, 0, 0]), 'AAAAAR');
    // one token per 12 s
    assert.equal(pattern(p, 'k', [11_999, 12_000, 12_000]), 'RAR');
  });

  it('takes `cost` tokens per request', () => {
    const p = policy({ limit: '10/s', algorithm: 'token-bucket', burst: 5, cost: 3 });
    assert.deepEqual(fields(take(p, 'k', 0)), { allowed: true, delayMs: 0, limit: 5, remaining: 2, resetMs: 300, retryAfterMs: 0 });
    // 2 tokens left, 3 needed: 100 ms
    assert.deepEqual(fields(take(p, 'k', 0)), { allowed: false, delayMs: 0, limit: 5, remaining: 2, resetMs: 300, retryAfterMs: 100 });
    assert.equal(pattern(p, 'k', [99, 100, 100]), 'RAR');
  });

  it('refills only up to the burst after a long idle spell, and keeps keys apart', () => {
    const p = policy({ limit: '10/s', algorithm: 'token-bucket', burst: 2 });
    assert.equal(pattern(p, 'a', [0, 0, 0]), 'AAR');
    assert.equal(pattern(p, 'b', [0, 0, 0]), 'AAR');
    assert.equal(pattern(p, 'a', [3_600_000, 3_600_000, 3_600_000]), 'AAR');
  });
});
