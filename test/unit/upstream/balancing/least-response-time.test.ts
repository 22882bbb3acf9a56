// Tests for least-response-time (deterministic clock and seeds): the time-decayed average follows its
// half-life exactly; failures never lower it; unobserved endpoints are scored with the pool mean; history
// carries over update() by Endpoint identity; and in a simulation with one endpoint 10× slower, that endpoint
// gets under 5% of the picks where round robin would give it 20%.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeastResponseTime } from '../../../../src/upstream/balancing/least-response-time.ts';
import { RoundRobin } from '../../../../src/upstream/balancing/round-robin.ts';
import { beginPick, markTried, PickContext } from '../../../../src/upstream/balancing/types.ts';
import { Endpoint } from '../../../../src/upstream/endpoint.ts';
import { latencySim } from '../../../helpers/latency-sim.ts';

let picks = 0;

function endpoints(count: number): Endpoint[] {
  return Array.from({ length: count }, (_, i) => new Endpoint(`10.0.7.${i}:80`, `10.0.7.${i}`, 80, 1));
}

function share(counts: readonly number[], i: number): number {
  return counts[i] / counts.reduce((a, b) => a + b, 0);
}

describe('least-response-time', () => {
  it('sends a 10× slower endpoint under 5% of the picks (round robin: 20%)', () => {
    const base = [10, 10, 100, 10, 10];
    const sim = latencySim((now) => new LeastResponseTime({ decay: 10_000 }, now), base, 2, 31);
    const counts = sim.run(30_000);
    picks += counts.reduce((a, b) => a + b, 0);
    assert.ok(share(counts, 2) < 0.05, `slow endpoint share ${share(counts, 2).toFixed(3)}: ${counts}`);
    for (const i of [0, 1, 3, 4]) assert.ok(share(counts, i) > 0.2, `fast endpoint ${i} share ${share(counts, i).toFixed(3)}`);
    const rr = latencySim(() => new RoundRobin(), base, 2, 31).run(5_000);
    assert.ok(Math.abs(share(rr, 2) - 0.2) < 0.001, `round robin share ${share(rr, 2)}`);
  });

  it('moves traffic away when an endpoint slows down, and back when it recovers', () => {
    const base = [10, 10, 10, 10];
    const sim = latencySim((now) => new LeastResponseTime({ decay: 1_000 }, now), base, 2, 32);
    let counts = sim.run(5_000);
    assert.ok(share(counts, 0) > 0.2, `before: ${counts}`);
    base[0] = 100;
    sim.run(3_000);
    counts = sim.run(5_000);
    assert.ok(share(counts, 0) < 0.05, `slow: ${counts}`);
    base[0] = 10;
    sim.run(5_000);
    counts = sim.run(5_000);
    picks += 23_000 * 2;
    // once recovered it must be probed again: the estimate keeps the last samples, so with the pool mean
    // competing it is picked whenever the others queue up
    assert.ok(share(counts, 0) > 0.1, `recovered: ${counts}`);
  });

  it('averages with a half-life: 100 ms then 10 ms one half-life later gives (50 + 10) / 1.5 = 40 ms', () => {
    const clock = { nowMs: 0 };
    const set = endpoints(1);
    const balancer = new LeastResponseTime({ decay: 1_000 }, () => clock.nowMs);
    balancer.update(set);
    assert.equal(balancer.latencyOf(set[0]), undefined);
    balancer.observe(set[0], { ok: true, latencyMs: 100 });
    assert.equal(balancer.latencyOf(set[0]), 100);
    clock.nowMs = 1_000;
    balancer.observe(set[0], { ok: true, latencyMs: 10 });
    assert.equal(balancer.latencyOf(set[0]), 40);
    // a fast failure counts as the current estimate, not as fast
    balancer.observe(set[0], { ok: false, latencyMs: 1 });
    assert.equal(balancer.latencyOf(set[0]), 40);
    // a slow failure counts as slow
    balancer.observe(set[0], { ok: false, latencyMs: 140 });
    assert.equal(balancer.latencyOf(set[0]), (50 + 10 + 40 + 140) / 3.5);
    // decay 0: only the latest sample counts
    const latest = new LeastResponseTime({ decay: 0 }, () => clock.nowMs);
    latest.update(set);
    latest.observe(set[0], { ok: true, latencyMs: 100 });
    latest.observe(set[0], { ok: true, latencyMs: 7 });
    assert.equal(latest.latencyOf(set[0]), 7);
  });

  it('scores unobserved endpoints with the mean of the observed ones', () => {
    const set = endpoints(3);
    const balancer = new LeastResponseTime({ decay: 10_000 }, () => 0);
    balancer.update(set);
    balancer.observe(set[0], { ok: true, latencyMs: 10 });
    balancer.observe(set[1], { ok: true, latencyMs: 30 });
    const ctx = new PickContext();
    beginPick(ctx);
    assert.equal(balancer.pick(ctx), set[0]); // scores 10, 30, mean 20
    set[0].inFlight = 2; // 30, 30, 20
    assert.equal(balancer.pick(ctx), set[2]);
    set[2].inFlight = 1; // 30, 30, 40: a tie between 0 and 1, rotated
    const first = balancer.pick(ctx);
    const second = balancer.pick(ctx);
    assert.ok(first !== second && first !== set[2] && second !== set[2], 'ties rotate');
    markTried(set[0], ctx);
    markTried(set[1], ctx);
    assert.equal(balancer.pick(ctx), set[2]);
    markTried(set[2], ctx);
    assert.equal(balancer.pick(ctx), undefined);
  });

  it('keeps the history of endpoints that stay across update(); drops the rest', () => {
    const set = endpoints(3);
    const balancer = new LeastResponseTime({ decay: 10_000 }, () => 0);
    balancer.update(set);
    balancer.observe(set[0], { ok: true, latencyMs: 10 });
    balancer.observe(set[1], { ok: true, latencyMs: 30 });
    balancer.update([set[1], set[2]]);
    assert.equal(balancer.latencyOf(set[1]), 30);
    assert.equal(balancer.latencyOf(set[0]), undefined);
    balancer.observe(set[0], { ok: true, latencyMs: 1 }); // no longer eligible: ignored
    balancer.update([set[0], set[1]]);
    assert.equal(balancer.latencyOf(set[0]), undefined);
    assert.equal(balancer.latencyOf(set[1]), 30);
  });

  it('simulated more than 100k picks', () => {
    assert.ok(picks > 100_000, `only ${picks} picks`);
  });
});
