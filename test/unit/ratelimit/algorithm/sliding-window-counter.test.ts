// sliding-window-counter with an injected clock: the weighted estimate against a hand computation (the worked
// example), and Retry-After at the first admitted instant in both cases (previous window decaying, or only the
// next window helping).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fields, policy, take } from '../helpers.ts';

describe('sliding-window-counter', () => {
  it('estimates previous × (W − elapsed) / W + current: 80 × 0.25 + 30 = 50', () => {
    const p = policy({ limit: '100/min' });
    assert.equal(p.algorithm, 'sliding-window-counter');
    for (let i = 0; i < 80; i++) assert.equal(take(p, 'k', 1_000).allowed, true);
    // the current window's 30 arrive 45 s in (earlier, the previous window would weigh more)
    for (let i = 0; i < 30; i++) assert.equal(take(p, 'k', 105_000).allowed, true);
    // 45 s into the second window: 80 × 15/60 + 30 = 50, and this request makes 51
    assert.deepEqual(fields(take(p, 'k', 105_000)), { allowed: true, delayMs: 0, limit: 100, remaining: 49, resetMs: 75_000, retryAfterMs: 0 });
    // 49 more fit (estimate 100), the next does not
    for (let i = 0; i < 49; i++) assert.equal(take(p, 'k', 105_000).allowed, true);
    const d = take(p, 'k', 105_000);
    // 80 × (15000 − x) / 60000 + 80 + 1 ≤ 100  ⇔  x ≥ 750
    assert.deepEqual(fields(d), { allowed: false, delayMs: 0, limit: 100, remaining: 0, resetMs: 75_000, retryAfterMs: 750 });
    assert.equal(take(p, 'k', 105_749).allowed, false);
    assert.equal(take(p, 'k', 105_750).allowed, true);
  });

  it('waits for the next window when the current count alone is over', () => {
    const p = policy({ limit: '10/s' });
    for (let i = 0; i < 10; i++) take(p, 'k', 0);
    // current 10: at 1000 + e the estimate is 10 × (1000 − e)/1000, needing ≤ 9 → e ≥ 100
    assert.equal(take(p, 'k', 500).retryAfterMs, 600);
    assert.equal(take(p, 'k', 1099).allowed, false);
    assert.equal(take(p, 'k', 1100).allowed, true);
  });

  it('forgets a window two windows back', () => {
    const p = policy({ limit: '10/s' });
    for (let i = 0; i < 10; i++) take(p, 'k', 0);
    assert.deepEqual(fields(take(p, 'k', 2000)), { allowed: true, delayMs: 0, limit: 10, remaining: 9, resetMs: 2000, retryAfterMs: 0 });
  });

  it('smooths the fixed-window edge burst: at most about N across an edge', () => {
    const p = policy({ limit: '10/s' });
    let admitted = 0;
    for (let i = 0; i < 20; i++) if (take(p, 'k', 999).allowed) admitted++;
    for (let i = 0; i < 20; i++) if (take(p, 'k', 1000).allowed) admitted++;
    assert.equal(admitted, 10);
  });

  it('counts cost units in the estimate', () => {
    const p = policy({ limit: '10/s', cost: 4 });
    assert.deepEqual([0, 0, 0].map((t) => take(p, 'k', t).allowed), [true, true, false]);
    assert.equal(take(p, 'k', 0).remaining, 2);
  });
});
