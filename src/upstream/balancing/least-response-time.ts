// least-response-time: the endpoint with the lowest latency × (inFlight + 1) / weight, where latency is a
// time-decayed average of observed response times (half-life `decay`) — NGINX Plus `least_time header`.
// Endpoints not yet observed are scored with the mean of the observed ones (not tried first, so a new or
// recovered endpoint is not flooded); with no observations at all this is weighted least connections. Ties
// go round robin. O(log n) per pick, in-flight change and observation: observed endpoints sit in one
// tournament tree (load-tree.ts) by latency × (inFlight + 1) / weight, unobserved ones in another by
// (inFlight + 1) / weight — one factor, the mean, scales them all, so a new mean reorders nothing and the pick
// compares the two roots. An estimate with no new sample for `forgetAfterMs` is forgotten (the endpoint is
// scored with the mean again and so gets measured anew), checked one slot per SWEEP_EVERY picks: no timer, no
// scan. Property (least-response-time.test.ts): a 10× slower endpoint gets a far smaller share; every pick
// matches a linear scan of the scores.
import { z } from 'zod';
import type { Plugin } from '../../core/registry.ts';
import { durationSchema } from '../../core/units.ts';
import type { Endpoint } from '../endpoint.ts';
import { LoadHooks, LoadTree } from './load-tree.ts';
import { isTried, type Balancer, type Outcome, type PickContext } from './types.ts';

export const schema = z
  .object({
    algorithm: z.literal('least-response-time'),
    /** Half-life of a latency sample's influence. Default 10s; 0 = only the latest sample counts. */
    decay: durationSchema.prefault('10s'),
  })
  .strict();
export type LeastResponseTimeOptions = z.infer<typeof schema>;

/** Milliseconds from an arbitrary origin; injected so tests control time. */
export type Clock = () => number;
export const monotonicClock: Clock = () => performance.now();

/** Latencies below this count as this (ms), so scores stay comparable when samples are 0 ms. */
const LATENCY_FLOOR_MS = 0.001;

/** An estimate is forgotten after this many half-lives without a sample, and never sooner than FORGET_MIN_MS.
 *  Without it, an endpoint the balancer stopped picking (one slow answer, maybe a cold start) would keep that
 *  estimate forever: nothing measures it again. */
const FORGET_HALF_LIVES = 6;
const FORGET_MIN_MS = 60_000;
/** One slot is checked for a stale estimate every this many picks (amortizes the clock read). */
const SWEEP_EVERY = 16;

export class LeastResponseTime implements Balancer {
  private endpoints: readonly Endpoint[];
  private index: Map<Endpoint, number>;
  private weights: Float64Array;
  /** Per endpoint: Σ sample·2^(−age/halfLife) and Σ 2^(−age/halfLife) as of `stampMs`; latency = sum/mass. */
  private sum: Float64Array;
  private mass: Float64Array;
  private stampMs: Float64Array;
  /** Current latency estimate; 0 until the first observation. */
  private latency: Float64Array;
  /** A forgotten estimate, kept only as the floor for failures until the next success (see forget()). */
  private failFloor: Float64Array;
  private observedSum: number;
  private observedCount: number;
  /** Slots with weight > 0 by score: `observed` holds latency·(inFlight + 1)/weight for those with samples,
   *  `unobserved` (inFlight + 1)/weight for the rest, whose score is that times the mean latency. */
  private readonly observed: LoadTree;
  private readonly unobserved: LoadTree;
  private readonly hooks: LoadHooks;
  /** Slots hidden from the trees during one pick because the exchange already tried them. */
  private hidden: Int32Array;
  private next: number;
  private readonly halfLifeMs: number;
  private readonly now: Clock;
  /** Estimates older than this are forgotten. */
  readonly forgetAfterMs: number;
  /** Picks since the last staleness check, and the slot the next check looks at. */
  private sinceSweep: number;
  private sweepSlot: number;

  constructor(options: { decay: number }, now: Clock = monotonicClock) {
    this.endpoints = [];
    this.index = new Map();
    this.weights = new Float64Array(0);
    this.sum = new Float64Array(0);
    this.mass = new Float64Array(0);
    this.stampMs = new Float64Array(0);
    this.latency = new Float64Array(0);
    this.failFloor = new Float64Array(0);
    this.observedSum = 0;
    this.observedCount = 0;
    this.observed = new LoadTree();
    this.unobserved = new LoadTree();
    this.hooks = new LoadHooks();
    this.hidden = new Int32Array(0);
    this.next = 0;
    this.halfLifeMs = options.decay;
    this.now = now;
    this.forgetAfterMs = Math.max(FORGET_HALF_LIVES * options.decay, FORGET_MIN_MS);
    this.sinceSweep = 0;
    this.sweepSlot = 0;
  }

  /** Rebuilds the tables; endpoints that stay (same Endpoint object) keep their latency history. */
  update(eligible: readonly Endpoint[]): void {
    const n = eligible.length;
    const index = new Map<Endpoint, number>();
    const weights = new Float64Array(n);
    const sum = new Float64Array(n);
    const mass = new Float64Array(n);
    const stampMs = new Float64Array(n);
    const latency = new Float64Array(n);
    const failFloor = new Float64Array(n);
    this.observedSum = 0;
    this.observedCount = 0;
    for (let i = 0; i < n; i++) {
      const e = eligible[i];
      index.set(e, i);
      weights[i] = e.effectiveWeight;
      const old = this.index.get(e);
      if (old === undefined) continue;
      sum[i] = this.sum[old];
      mass[i] = this.mass[old];
      stampMs[i] = this.stampMs[old];
      latency[i] = this.latency[old];
      failFloor[i] = this.failFloor[old];
      if (mass[i] > 0) {
        this.observedSum += latency[i];
        this.observedCount++;
      }
    }
    this.endpoints = eligible;
    this.index = index;
    this.weights = weights;
    this.sum = sum;
    this.mass = mass;
    this.stampMs = stampMs;
    this.latency = latency;
    this.failFloor = failFloor;
    this.hidden = new Int32Array(n);
    this.hooks.attach(eligible, (slot) => (e) => {
      if (this.endpoints[slot] === e) this.rescore(slot, e.inFlight);
    });
    this.load();
    if (this.next >= n) this.next = 0;
  }

  close(): void {
    this.hooks.release();
  }

  /** Folds one exchange's latency in. A failure never lowers the estimate: it counts as at least the
   *  current latency, so an endpoint that fails fast does not look fast. */
  observe(endpoint: Endpoint, outcome: Outcome): void {
    const i = this.index.get(endpoint);
    if (i === undefined) return; // no longer eligible; its history is dropped at the next update
    const nowMs = this.now();
    const observed = this.mass[i] > 0;
    let sample = outcome.latencyMs > 0 ? outcome.latencyMs : 0;
    if (!outcome.ok && observed && sample < this.latency[i]) sample = this.latency[i];
    if (!outcome.ok && !observed && sample < this.failFloor[i]) sample = this.failFloor[i];
    if (outcome.ok) this.failFloor[i] = 0;
    const age = nowMs - this.stampMs[i];
    const keep = !observed ? 0 : this.halfLifeMs > 0 ? Math.pow(2, -(age > 0 ? age : 0) / this.halfLifeMs) : 0;
    this.sum[i] = this.sum[i] * keep + sample;
    this.mass[i] = this.mass[i] * keep + 1;
    this.stampMs[i] = nowMs;
    const before = this.latency[i];
    const after = this.sum[i] / this.mass[i];
    this.latency[i] = after;
    if (observed) this.observedSum += after - before;
    else {
      this.observedSum += after;
      this.observedCount++;
    }
    if (this.weights[i] <= 0) return;
    const inFlight = this.endpoints[i].inFlight;
    if (observed) this.observed.setNum(i, floorLatency(after) * (inFlight + 1));
    else {
      // first sample: moves from the unobserved tree to the observed one
      this.unobserved.remove(i);
      this.observed.place(i, floorLatency(after) * (inFlight + 1), this.weights[i]);
      this.observed.insert(i);
    }
  }

  /** The latency estimate used for endpoint i (for tests and the admin API). */
  latencyOf(endpoint: Endpoint): number | undefined {
    const i = this.index.get(endpoint);
    return i === undefined || this.mass[i] === 0 ? undefined : this.latency[i];
  }

  // HOT PATH: the better of the two trees' first minima from `next`; already tried ones (a retry) are hidden
  // and the trees asked again, so the cost is O((k + 1) log n) for k tried endpoints that beat the untried best.
  pick(ctx: PickContext): Endpoint | undefined {
    if (!this.hooks.heardAll()) this.load(); // hooks changed hands (a reload; load-tree.ts): re-read
    if (++this.sinceSweep >= SWEEP_EVERY) this.sweep();
    const list = this.endpoints;
    let i = this.best();
    if (i >= 0 && isTried(list[i], ctx)) i = this.bestUntried(ctx, i);
    if (i < 0) return undefined;
    this.next = i + 1 === list.length ? 0 : i + 1;
    return list[i];
  }

  /** Forgets the estimate of the next slot in turn if its last sample is older than `forgetAfterMs`. */
  private sweep(): void {
    this.sinceSweep = 0;
    const n = this.endpoints.length;
    if (n === 0) return;
    const i = this.sweepSlot >= n ? 0 : this.sweepSlot;
    this.sweepSlot = i + 1;
    if (this.mass[i] > 0 && this.now() - this.stampMs[i] > this.forgetAfterMs) this.forget(i);
  }

  /** Slot i goes back to unobserved: scored with the mean of the others until its next sample. */
  private forget(i: number): void {
    this.observedSum -= this.latency[i];
    this.observedCount--;
    if (this.observedCount === 0) this.observedSum = 0; // no rounding residue
    if (this.weights[i] > 0) {
      this.observed.remove(i);
      this.unobserved.place(i, this.endpoints[i].inFlight + 1, this.weights[i]);
      this.unobserved.insert(i);
    }
    this.sum[i] = 0;
    this.mass[i] = 0;
    // a failure must still not make it look fast: the forgotten estimate floors failures until a success
    this.failFloor[i] = this.latency[i];
    this.latency[i] = 0;
  }

  /** The slot a scan from `next` keeping the first strictly lowest score would pick, or -1. */
  private best(): number {
    const o = this.observed;
    const u = this.unobserved;
    const a = o.first(this.next);
    const b = u.first(this.next);
    if (a < 0) return b;
    if (b < 0) return a;
    // latency·(inFlight + 1)/weight against (Σ latency / count)·(inFlight + 1)/weight, cross-multiplied: no
    // division, so whole-millisecond latencies compare exactly (the trees hold one observer at least, count > 0)
    const count = this.observedCount;
    const sum = this.observedSum > LATENCY_FLOOR_MS * count ? this.observedSum : LATENCY_FLOOR_MS * count;
    const sa = o.num[a] * u.den[b] * count;
    const sb = sum * u.num[b] * o.den[a];
    if (sa !== sb) return sa < sb ? a : b;
    const n = this.endpoints.length;
    return (a - this.next + n) % n < (b - this.next + n) % n ? a : b;
  }

  private bestUntried(ctx: PickContext, i: number): number {
    const list = this.endpoints;
    let hidden = 0;
    while (i >= 0 && isTried(list[i], ctx)) {
      this.treeOf(i).remove(i);
      this.hidden[hidden++] = i;
      i = this.best();
    }
    while (hidden > 0) {
      const h = this.hidden[--hidden];
      this.treeOf(h).insert(h);
    }
    return i;
  }

  private treeOf(i: number): LoadTree {
    return this.mass[i] > 0 ? this.observed : this.unobserved;
  }

  /** Slot i's in-flight count changed. */
  private rescore(i: number, inFlight: number): void {
    if (this.mass[i] > 0) this.observed.setNum(i, floorLatency(this.latency[i]) * (inFlight + 1));
    else this.unobserved.setNum(i, inFlight + 1);
  }

  /** Reads every score into fresh trees: O(n). */
  private load(): void {
    const list = this.endpoints;
    const n = list.length;
    this.observed.reset(n);
    this.unobserved.reset(n);
    for (let i = 0; i < n; i++) {
      const w = this.weights[i];
      if (!(w > 0)) continue;
      const inFlight = list[i].inFlight;
      if (this.mass[i] > 0) this.observed.place(i, floorLatency(this.latency[i]) * (inFlight + 1), w);
      else this.unobserved.place(i, inFlight + 1, w);
    }
    this.observed.build();
    this.unobserved.build();
  }
}

function floorLatency(latencyMs: number): number {
  return latencyMs > LATENCY_FLOOR_MS ? latencyMs : LATENCY_FLOOR_MS;
}

export const leastResponseTime: Plugin<typeof schema, Balancer> = {
  name: 'least-response-time',
  schema,
  create: (options) => new LeastResponseTime(options),
};
