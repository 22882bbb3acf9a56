// Tests for peak-ewma (deterministic clock and seeds): the estimate jumps to a latency spike at once, then
// decays toward lower samples with time constant τ (and toward 0 without samples, so a slow endpoint is
// probed again); unobserved endpoints with requests out carry Finagle's penalty; in a simulation with one
// endpoint 10× slower, that endpoint gets under 5% of the picks where round robin would give it 20%.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../../../../src/core/random.ts';
import { PeakEwma } from '../../../../src/upstream/balancing/peak-ewma.ts';
import { beginPick, markTried, PickContext } from '../../../../src/upstream/balancing/types.ts';
import { Endpoint } from '../../../../src/upstream/endpoint.ts';
import { latencySim } from '../../../helpers/latency-sim.ts';

let picks = 0;

function endpoints(count: number): Endpoint[] {
  return Array.from({ length: count }, (_, i) => new Endpoint(`10.0.8.${i}:80`, `10.0.8.${i}`, 80, 1));
}

function share(counts: readonly number[], i: number): number {
  return counts[i] / counts.reduce((a, b) => a + b, 0);
}

describe('peak-ewma', () => {
  it('sends a 10× slower endpoint under 5% of the picks', () => {
    const base = [10, 10, 100, 10, 10];
    const sim = latencySim((now) => new PeakEwma({ decay: 10_000 }, now, new Random(41)), base, 2, 41);
    const counts = sim.run(30_000);
    picks += counts.reduce((a, b) => a + b, 0);
    assert.ok(share(counts, 2) < 0.05, `slow endpoint share ${share(counts, 2).toFixed(3)}: ${counts}`);
    for (const i of [0, 1, 3, 4]) assert.ok(share(counts, i) > 0.2, `fast endpoint ${i} share ${share(counts, i).toFixed(3)}`);
  });

  it('moves traffic away from an endpoint that slows down, and back after it recovers', () => {
    const base = [10, 10, 10, 10];
    const sim = latencySim((now) => new PeakEwma({ decay: 1_000 }, now, new Random(42)), base, 2, 42);
    let counts = sim.run(5_000);
    assert.ok(share(counts, 0) > 0.2, `before: ${counts}`);
    base[0] = 100;
    sim.run(1_000);
    counts = sim.run(5_000);
    assert.ok(share(counts, 0) < 0.05, `slow: ${counts}`);
    base[0] = 10;
    sim.run(5_000);
    counts = sim.run(5_000);
    picks += 21_000 * 2;
    assert.ok(share(counts, 0) > 0.2, `recovered: ${counts}`);
  });

  it('jumps to a spike at once and decays after it with time constant τ', () => {
    const clock = { nowMs: 0 };
    const set = endpoints(1);
    const balancer = new PeakEwma({ decay: 1_000 }, () => clock.nowMs, new Random(1));
    balancer.update(set);
    assert.equal(balancer.estimateOf(set[0]), undefined);
    for (; clock.nowMs < 2_000; clock.nowMs += 10) balancer.observe(set[0], { ok: true, latencyMs: 10 });
    assert.ok(Math.abs((balancer.estimateOf(set[0]) as number) - 10) < 0.5, `steady ${balancer.estimateOf(set[0])}`);
    balancer.observe(set[0], { ok: true, latencyMs: 500 });
    assert.equal(balancer.estimateOf(set[0]), 500, 'a higher sample is taken at once');
    // Without samples the estimate decays toward 0 (Finagle reads with observe(0)): 500/e after τ.
    clock.nowMs += 1_000;
    assert.ok(Math.abs((balancer.estimateOf(set[0]) as number) - 500 / Math.E) < 1e-9);
    clock.nowMs -= 1_000;
    // With 10 ms samples it decays toward 10: after 5τ within 10 + 500·e^−5 ≈ 13.4, and never rises.
    let last = 500;
    const end = clock.nowMs + 5_000;
    while (clock.nowMs < end) {
      clock.nowMs += 10;
      balancer.observe(set[0], { ok: true, latencyMs: 10 });
      const now = balancer.estimateOf(set[0]) as number;
      assert.ok(now <= last, `estimate rose from ${last} to ${now}`);
      last = now;
    }
    assert.ok(last < 14 && last > 10, `after 5τ: ${last}`);
  });

  it('penalises an unobserved endpoint with requests out; prefers the lower cost of the two drawn', () => {
    const set = endpoints(2);
    const balancer = new PeakEwma({ decay: 10_000 }, () => 0, new Random(3));
    balancer.update(set);
    const ctx = new PickContext();
    balancer.observe(set[1], { ok: true, latencyMs: 1_000 });
    set[0].inFlight = 1; // unobserved with one out: Finagle's penalty, far above 1 s × 1
    beginPick(ctx);
    assert.equal(balancer.pick(ctx), set[1]);
    set[0].inFlight = 0; // unobserved and idle: cost 0, tried first
    assert.equal(balancer.pick(ctx), set[0]);
    balancer.observe(set[0], { ok: true, latencyMs: 100 });
    set[0].inFlight = 10; // 100 × 11 = 1100 against 1000 × 1
    assert.equal(balancer.pick(ctx), set[1]);
    markTried(set[1], ctx);
    assert.equal(balancer.pick(ctx), set[0]);
    markTried(set[0], ctx);
    assert.equal(balancer.pick(ctx), undefined);
  });

  it('keeps estimates of endpoints that stay across update()', () => {
    const set = endpoints(3);
    const balancer = new PeakEwma({ decay: 10_000 }, () => 0, new Random(4));
    balancer.update(set);
    balancer.observe(set[0], { ok: true, latencyMs: 10 });
    balancer.observe(set[2], { ok: true, latencyMs: 30 });
    balancer.update([set[2], set[1]]);
    assert.equal(balancer.estimateOf(set[2]), 30);
    assert.equal(balancer.estimateOf(set[0]), undefined);
  });

  it('simulated more than 100k picks', () => {
    assert.ok(picks > 100_000, `only ${picks} picks`);
  });
});
