// Tests for least-response-time (deterministic clock and seeds): the time-decayed average follows its
// half-life exactly; failures never lower it; unobserved endpoints are scored with the pool mean; history
// carries over update() by Endpoint identity; and in a simulation with one endpoint 10× slower, that endpoint
// gets under 5% of the picks where round robin would give it 20%.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
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

  it('forgets an estimate with no sample for 6 half-lives (at least 60 s): the endpoint is measured again', () => {
    // One slow first answer (a cold start) and sequential traffic: the fast twin always wins, so nothing would
    // ever measure the slow-looking endpoint again — unless its stale estimate is forgotten.
    const clock = { nowMs: 0 };
    const set = endpoints(2);
    const balancer = new LeastResponseTime({ decay: 10_000 }, () => clock.nowMs);
    assert.equal(balancer.forgetAfterMs, 60_000);
    assert.equal(new LeastResponseTime({ decay: 20_000 }).forgetAfterMs, 120_000);
    assert.equal(new LeastResponseTime({ decay: 0 }).forgetAfterMs, 60_000);
    balancer.update(set);
    balancer.observe(set[0], { ok: true, latencyMs: 500 });
    balancer.observe(set[1], { ok: true, latencyMs: 5 });
    const ctx = new PickContext();
    const sequential = (count: number) => {
      let first = 0;
      for (let i = 0; i < count; i++) {
        clock.nowMs += 100;
        beginPick(ctx);
        const e = balancer.pick(ctx)!;
        if (e === set[0]) first++;
        balancer.observe(e, { ok: true, latencyMs: 5 }); // both are fast now
      }
      return first;
    };
    assert.equal(sequential(590), 0, 'within 60 s the stale 500 ms estimate keeps it out');
    assert.equal(balancer.latencyOf(set[0]), 500);
    const after = sequential(200);
    assert.ok(after > 0, 'once forgotten it is picked (scored with the mean) and measured');
    assert.ok(balancer.latencyOf(set[0])! < 500, `re-measured: ${balancer.latencyOf(set[0])}`);
    // and it shares the traffic again
    assert.ok(sequential(400) > 100);
  });

  it('a forgotten estimate still floors failures: a fast failure after forgetting does not look fast', () => {
    const clock = { nowMs: 0 };
    const set = endpoints(2);
    const balancer = new LeastResponseTime({ decay: 10_000 }, () => clock.nowMs);
    balancer.update(set);
    balancer.observe(set[0], { ok: true, latencyMs: 400 });
    const ctx = new PickContext();
    // only endpoint 1 is observed from now on, until endpoint 0's estimate is forgotten
    for (let i = 0; i < 2_000 && balancer.latencyOf(set[0]) !== undefined; i++) {
      clock.nowMs += 100;
      beginPick(ctx);
      balancer.pick(ctx);
      balancer.observe(set[1], { ok: true, latencyMs: 20 });
    }
    assert.equal(balancer.latencyOf(set[0]), undefined, 'forgotten');
    balancer.observe(set[0], { ok: false, latencyMs: 1 }); // refused at once
    assert.equal(balancer.latencyOf(set[0]), 400, 'the failure counts as the forgotten 400 ms, not as 1 ms');
    balancer.observe(set[0], { ok: true, latencyMs: 10 });
    assert.ok(balancer.latencyOf(set[0])! < 400, 'a success measures it again');
  });

  it('forgetting keeps a truly slow endpoint out: one probe per forget period', () => {
    const clock = { nowMs: 0 };
    const set = endpoints(2);
    const balancer = new LeastResponseTime({ decay: 10_000 }, () => clock.nowMs);
    balancer.update(set);
    const ctx = new PickContext();
    const counts = [0, 0];
    // 10 minutes of sequential requests, 10 per second; endpoint 0 always answers in 500 ms, endpoint 1 in 5 ms
    for (let i = 0; i < 6_000; i++) {
      clock.nowMs += 100;
      beginPick(ctx);
      const e = balancer.pick(ctx)!;
      const k = set.indexOf(e);
      counts[k]++;
      balancer.observe(e, { ok: true, latencyMs: k === 0 ? 500 : 5 });
    }
    assert.ok(counts[0] >= 5 && counts[0] <= 15, `slow endpoint probed ${counts[0]} times in 10 minutes`);
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

// The O(log n) trees against the O(n) scan they replaced: the same pick, exactly, at every step. Latencies are
// whole milliseconds and decay 0 (the estimate is the latest sample), so the scan can compare exact rationals.
describe('least-response-time against a linear scan', () => {
  let operations = 0;

  /** The scan: from `next`, the first untried endpoint of weight > 0 with the strictly lowest score. */
  function scan(balancer: LeastResponseTime, table: readonly Endpoint[], weights: readonly number[], next: number, ctx: PickContext): number {
    let sum = 0n;
    let count = 0n;
    for (const e of table) {
      const latency = balancer.latencyOf(e);
      if (latency !== undefined) {
        sum += BigInt(latency);
        count++;
      }
    }
    // score = top / bottom: latency·(inFlight + 1)/weight, or (Σ latency / count)·(inFlight + 1)/weight
    let best = -1;
    let bestTop = 0n;
    let bestBottom = 1n;
    for (let k = 0; k < table.length; k++) {
      const i = (next + k) % table.length;
      const e = table[i];
      if (!(weights[i] > 0) || e.triedEpoch === ctx.epoch) continue;
      const latency = balancer.latencyOf(e);
      const load = BigInt(e.inFlight + 1);
      const w = BigInt(weights[i]);
      const top = latency !== undefined ? BigInt(latency) * load : count > 0n ? sum * load : load;
      const bottom = latency !== undefined || count === 0n ? w : count * w;
      if (best < 0 || top * bestBottom < bestTop * bottom) {
        best = i;
        bestTop = top;
        bestBottom = bottom;
      }
    }
    return best;
  }

  it('picks what the scan picks over 100k random load changes, observations, retries and weight updates', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.tuple(fc.nat({ max: 11 }), fc.nat({ max: 1000 }), fc.nat({ max: 1000 })), { minLength: 800, maxLength: 1500 }),
        (size, ops) => {
          const all = endpoints(size + 3);
          let table = all.slice(0, size);
          let weights = table.map((e) => e.effectiveWeight);
          // the clock jumps now and then (op 9), past the 60 s after which an estimate is forgotten
          const clock = { nowMs: 0 };
          const balancer = new LeastResponseTime({ decay: 0 }, () => clock.nowMs);
          balancer.update(table);
          let next = 0;
          const ctx = new PickContext();
          beginPick(ctx);
          for (const [op, a, b] of ops) {
            const e = all[a % all.length];
            operations++;
            if (op <= 1) e.inFlight++;
            else if (op === 2 && e.inFlight > 0) e.inFlight--;
            else if (op === 3) e.inFlight = b % 6;
            else if (op === 4) balancer.observe(e, { ok: b % 4 !== 0, latencyMs: 1 + (b % 5) * 10 });
            else if (op === 11) {
              // update(): a new subset in a new order with new weights; history stays with the endpoint
              table = all.filter((_, i) => (a >> i % 10) & 1 || i % 3 === b % 3);
              if (b & 1) table.reverse();
              table.forEach((t, i) => (t.effectiveWeight = [0, 1, 1, 2, 3, 5][(b + i) % 6]));
              weights = table.map((t) => t.effectiveWeight);
              balancer.update(table);
              if (next >= table.length) next = 0;
            } else {
              if (op <= 8) beginPick(ctx);
              if (op === 6) for (let i = 0; i < table.length; i++) if ((b >> i % 10) & 1) markTried(table[i], ctx);
              if (op === 9) clock.nowMs += b * 100;
              const got = balancer.pick(ctx);
              // scanned after the pick: a pick may first forget a stale estimate, and the scan must see that
              const expected = scan(balancer, table, weights, next, ctx);
              picks++;
              assert.equal(got === undefined ? -1 : table.indexOf(got), expected);
              if (got !== undefined) {
                next = (expected + 1) % table.length;
                markTried(got, ctx);
                if (op !== 10) got.inFlight++;
              }
            }
          }
        },
      ),
      { seed: 42, numRuns: 100 },
    );
    assert.ok(operations > 100_000, `only ${operations} operations`);
  });

  it('rotates exact ties between observed and unobserved endpoints', () => {
    const set = endpoints(4);
    const balancer = new LeastResponseTime({ decay: 0 }, () => 0);
    balancer.update(set);
    balancer.observe(set[0], { ok: true, latencyMs: 10 });
    balancer.observe(set[1], { ok: true, latencyMs: 20 });
    balancer.observe(set[2], { ok: true, latencyMs: 15 });
    // scores 10, 20, 15 and the mean 15 for set[3]: set[0] first, then 15 ties between 2 and 3
    set[0].inFlight = 1; // 20
    const ctx = new PickContext();
    beginPick(ctx);
    assert.equal(balancer.pick(ctx), set[2]);
    assert.equal(balancer.pick(ctx), set[3]);
    assert.equal(balancer.pick(ctx), set[2]);
    markTried(set[2], ctx);
    assert.equal(balancer.pick(ctx), set[3]);
    markTried(set[3], ctx);
    assert.equal(balancer.pick(ctx), set[0], '20 against 20: the tie goes to the first from one past set[3]');
  });

  it('re-sorts on observe() and on in-flight changes', () => {
    const set = endpoints(3);
    const balancer = new LeastResponseTime({ decay: 0 }, () => 0);
    balancer.update(set);
    for (const e of set) balancer.observe(e, { ok: true, latencyMs: 10 });
    const ctx = new PickContext();
    beginPick(ctx);
    balancer.observe(set[1], { ok: true, latencyMs: 5 });
    assert.equal(balancer.pick(ctx), set[1]);
    set[1].inFlight = 2; // 15 against 10
    assert.notEqual(balancer.pick(ctx), set[1]);
    balancer.observe(set[0], { ok: true, latencyMs: 40 });
    balancer.observe(set[2], { ok: true, latencyMs: 40 });
    assert.equal(balancer.pick(ctx), set[1]);
  });
});
