// Properties over random arrival sequences (fast-check, fixed seeds): token-bucket never admits more than
// burst + rate·t units in any interval of t ms; sliding-window-log never more than N in any window of W;
// sliding-window-counter never more than 2N in any window of W (its estimate may undercount, never by more).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { policy, take } from './helpers.ts';

/** Arrival times (ms, non-decreasing) with a cost each. */
const arrivals = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 120 }), fc.integer({ min: 1, max: 3 })), { minLength: 1, maxLength: 300 })
  .map((steps) => {
    let t = 0;
    return steps.map(([gap, cost]) => ({ t: (t += gap), cost }));
  });

function admitted(raw: Record<string, unknown>, seq: readonly { t: number; cost: number }[]): { t: number; cost: number }[] {
  const p = policy(raw);
  return seq.filter(({ t, cost }) => take(p, 'k', t, cost).allowed);
}

describe('rate-limit properties', () => {
  it('token-bucket: at most burst + rate·t units in any interval of t ms', () => {
    fc.assert(
      fc.property(arrivals, fc.integer({ min: 3, max: 8 }), fc.integer({ min: 1, max: 50 }), (seq, burst, perSecond) => {
        const ok = admitted({ limit: `${perSecond}/s`, algorithm: 'token-bucket', burst, cost: 1 }, seq);
        for (let i = 0; i < ok.length; i++) {
          let units = 0;
          for (let j = i; j < ok.length; j++) {
            units += ok[j].cost;
            const t = ok[j].t - ok[i].t;
            assert.ok(units <= burst + (perSecond * t) / 1000, `${units} units in ${t} ms (burst ${burst}, ${perSecond}/s)`);
          }
        }
      }),
      { seed: 20240601, numRuns: 150 },
    );
  });

  it('sliding-window-log: at most N units in any window of W', () => {
    fc.assert(
      fc.property(arrivals, fc.integer({ min: 3, max: 20 }), (seq, n) => {
        const ok = admitted({ limit: `${n}/s`, algorithm: 'sliding-window-log' }, seq);
        for (let i = 0; i < ok.length; i++) {
          let units = 0;
          for (let j = i; j < ok.length && ok[j].t - ok[i].t < 1000; j++) units += ok[j].cost;
          assert.ok(units <= n, `${units} units within 1 s of ${ok[i].t} (limit ${n})`);
        }
      }),
      { seed: 1337, numRuns: 150 },
    );
  });

  it('sliding-window-log: admits whenever the exact count allows (no false rejections)', () => {
    fc.assert(
      fc.property(arrivals, fc.integer({ min: 3, max: 20 }), (seq, n) => {
        const p = policy({ limit: `${n}/s`, algorithm: 'sliding-window-log' });
        const log: { t: number; cost: number }[] = [];
        for (const { t, cost } of seq) {
          const inWindow = log.filter((e) => e.t > t - 1000).reduce((s, e) => s + e.cost, 0);
          const allowed = take(p, 'k', t, cost).allowed;
          assert.equal(allowed, inWindow + cost <= n, `at ${t}: ${inWindow} in window, cost ${cost}`);
          if (allowed) log.push({ t, cost });
        }
      }),
      { seed: 99, numRuns: 150 },
    );
  });

  it('sliding-window-counter: at most 2N units in any window of W', () => {
    fc.assert(
      fc.property(arrivals, fc.integer({ min: 3, max: 20 }), (seq, n) => {
        const ok = admitted({ limit: `${n}/s` }, seq);
        for (let i = 0; i < ok.length; i++) {
          let units = 0;
          for (let j = i; j < ok.length && ok[j].t - ok[i].t < 1000; j++) units += ok[j].cost;
          assert.ok(units <= 2 * n, `${units} units within 1 s (limit ${n})`);
        }
      }),
      { seed: 4242, numRuns: 150 },
    );
  });
});
