// The retry budget's arithmetic: percent of the last 10 s of requests plus the per-second reserve; the window
// slides by whole seconds, so old requests stop paying for new retries.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RetryBudget } from '../../../src/upstream/retry-budget.ts';

function withdrawAll(b: RetryBudget, at: number): number {
  let n = 0;
  while (b.tryWithdraw(at)) n++;
  return n;
}

describe('retry budget', () => {
  test('20% of 100 requests allows exactly 20 retries without a reserve', () => {
    const b = new RetryBudget(20, 0);
    for (let i = 0; i < 100; i++) b.deposit(5_000);
    assert.equal(withdrawAll(b, 5_000), 20);
    assert.equal(b.exhausted, 1);
  });

  test('the reserve adds minPerSecond × 10 retries to an idle pool', () => {
    const b = new RetryBudget(20, 3);
    assert.equal(withdrawAll(b, 1_000), 30);
  });

  test('requests older than 10 s no longer count; their retries no longer weigh', () => {
    const b = new RetryBudget(50, 0);
    for (let i = 0; i < 10; i++) b.deposit(0);
    assert.equal(withdrawAll(b, 500), 5);
    // 9.9 s later the same window still holds them
    assert.equal(withdrawAll(b, 9_900), 0);
    // at 10 s the first second's bucket is gone: no requests, no retries
    for (let i = 0; i < 4; i++) b.deposit(10_000);
    assert.equal(withdrawAll(b, 10_000), 2);
  });

  test('a jump backwards in time or beyond the window starts afresh', () => {
    const b = new RetryBudget(100, 0);
    for (let i = 0; i < 5; i++) b.deposit(50_000);
    assert.equal(withdrawAll(b, 70_000), 0);
    for (let i = 0; i < 3; i++) b.deposit(1_000);
    assert.equal(withdrawAll(b, 1_000), 3);
  });
});
