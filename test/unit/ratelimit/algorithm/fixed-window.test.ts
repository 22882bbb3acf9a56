// fixed-window with an injected clock: N per aligned window, reset at the edge, Retry-After to the edge, and the
// known weakness — up to 2N across an edge.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fields, pattern, policy, take } from '../helpers.ts';

describe('fixed-window', () => {
  it('admits N per window and resets at the edge', () => {
    const p = policy({ limit: '3/s', algorithm: 'fixed-window' });
    assert.equal(pattern(p, 'k', [0, 10, 20, 30, 999, 1000, 1000, 1000, 1000]), 'AAARRAAAR');
  });

  it('says when the window ends', () => {
    const p = policy({ limit: '3/s', algorithm: 'fixed-window' });
    assert.deepEqual(fields(take(p, 'k', 250)), { allowed: true, delayMs: 0, limit: 3, remaining: 2, resetMs: 750, retryAfterMs: 0 });
    take(p, 'k', 250);
    take(p, 'k', 250);
    assert.deepEqual(fields(take(p, 'k', 400)), { allowed: false, delayMs: 0, limit: 3, remaining: 0, resetMs: 600, retryAfterMs: 600 });
  });

  it('aligns windows to the epoch, so every instance sees the same edges', () => {
    const p = policy({ limit: '2/min', algorithm: 'fixed-window' });
    const t = 1_700_000_000_000; // 28333333 min + 20 s
    assert.deepEqual(fields(take(p, 'k', t)), { allowed: true, delayMs: 0, limit: 2, remaining: 1, resetMs: 40_000, retryAfterMs: 0 });
  });

  it('lets 2N through across an edge (why sliding windows exist)', () => {
    const p = policy({ limit: '3/s', algorithm: 'fixed-window' });
    assert.equal(pattern(p, 'k', [999, 999, 999, 1000, 1000, 1000]), 'AAAAAA');
  });

  it('counts cost units', () => {
    const p = policy({ limit: '5/s', algorithm: 'fixed-window', cost: 2 });
    assert.equal(pattern(p, 'k', [0, 0, 0, 1000]), 'AARA');
    assert.equal(take(p, 'k', 1000).remaining, 1);
  });
});
