// sliding-window-log with an injected clock: exact — the window is (now − W, now], Retry-After is when the
// oldest blocking entry leaves, and the log grows only to N entries.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fields, pattern, policy, take } from '../helpers.ts';

describe('sliding-window-log', () => {
  it('admits N in any window of W and frees a slot exactly W after each admission', () => {
    const p = policy({ limit: '3/s', algorithm: 'sliding-window-log' });
    assert.equal(pattern(p, 'k', [0, 100, 200, 300, 999]), 'AAARR');
    // the entry at 0 leaves at 1000 (window (0, 1000]); the one at 100 at 1100
    assert.equal(pattern(p, 'k', [1000, 1000, 1099, 1100]), 'ARRA');
  });

  it('says when the oldest blocking entry leaves', () => {
    const p = policy({ limit: '3/s', algorithm: 'sliding-window-log' });
    take(p, 'k', 0);
    take(p, 'k', 100);
    assert.deepEqual(fields(take(p, 'k', 200)), { allowed: true, delayMs: 0, limit: 3, remaining: 0, resetMs: 1000, retryAfterMs: 0 });
    assert.deepEqual(fields(take(p, 'k', 300)), { allowed: false, delayMs: 0, limit: 3, remaining: 0, resetMs: 900, retryAfterMs: 700 });
  });

  it('does not let 2N through across a window edge (unlike fixed-window)', () => {
    const p = policy({ limit: '3/s', algorithm: 'sliding-window-log' });
    assert.equal(pattern(p, 'k', [999, 999, 999, 1000, 1000, 1000, 1998, 1999]), 'AAARRRRA');
  });

  it('takes cost entries and waits for as many to leave', () => {
    const p = policy({ limit: '5/s', algorithm: 'sliding-window-log', cost: 2 });
    assert.equal(pattern(p, 'k', [0, 100, 200]), 'AAR');
    // 4 entries (0, 0, 100, 100); 2 more need one to leave: the first at 1000
    assert.equal(take(p, 'k', 200).retryAfterMs, 800);
    assert.equal(pattern(p, 'k', [999, 1000, 1000]), 'RAR');
  });

  it('keeps at most N timestamps per key, however many requests arrive', () => {
    const p = policy({ limit: '100/s', algorithm: 'sliding-window-log' });
    for (let t = 0; t < 5000; t++) take(p, 'k', t);
    const state = (p.limiter as unknown as { store: { lookup(k: string, now: number): { buf: Float64Array; size: number } } }).store.lookup('k', 5000);
    assert.equal(state.buf.length, 100);
    assert.ok(state.size <= 100);
  });
});
