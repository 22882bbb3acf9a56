// least-response-time: the endpoint with the lowest latency × (inFlight + 1) / weight, where latency is a
// time-decayed average of observed response times (half-life `decay`) — NGINX Plus `least_time header`.
// Endpoints not yet observed are scored with the mean of the observed ones (not tried first, so a new or
// recovered endpoint is not flooded); with no observations at all this is weighted least connections. Ties
// go round robin. Property (least-response-time.test.ts): a 10× slower endpoint gets a far smaller share.
import { z } from 'zod';
import type { Plugin } from '../../core/registry.ts';
import { durationSchema } from '../../core/units.ts';
import type { Endpoint } from '../endpoint.ts';
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
  private observedSum: number;
  private observedCount: number;
  private next: number;
  private readonly halfLifeMs: number;
  private readonly now: Clock;

  constructor(options: { decay: number }, now: Clock = monotonicClock) {
    this.endpoints = [];
    this.index = new Map();
    this.weights = new Float64Array(0);
    this.sum = new Float64Array(0);
    this.mass = new Float64Array(0);
    this.stampMs = new Float64Array(0);
    this.latency = new Float64Array(0);
    this.observedSum = 0;
    this.observedCount = 0;
    this.next = 0;
    this.halfLifeMs = options.decay;
    this.now = now;
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
    if (this.next >= n) this.next = 0;
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
  }

  /** The latency estimate used for endpoint i (for tests and the admin API). */
  latencyOf(endpoint: Endpoint): number | undefined {
    const i = this.index.get(endpoint);
    return i === undefined || this.mass[i] === 0 ? undefined : this.latency[i];
  }

  // HOT PATH: one pass over typed arrays; the pool mean is kept up to date by observe(), not recomputed.
  pick(ctx: PickContext): Endpoint | undefined {
    const list = this.endpoints;
    const n = list.length;
    // Unobserved endpoints get the mean; a latency floor keeps scores comparable when samples are 0 ms.
    const mean = this.observedCount > 0 ? this.observedSum / this.observedCount : 1;
    let best = -1;
    let bestScore = Infinity;
    let i = this.next;
    for (let k = 0; k < n; k++) {
      const e = list[i];
      const w = this.weights[i];
      if (w > 0 && !isTried(e, ctx)) {
        const latency = this.mass[i] > 0 ? this.latency[i] : mean;
        const score = ((latency > 0.001 ? latency : 0.001) * (e.inFlight + 1)) / w;
        if (best < 0 || score < bestScore) {
          best = i;
          bestScore = score;
        }
      }
      i = i + 1 === n ? 0 : i + 1;
    }
    if (best < 0) return undefined;
    this.next = best + 1 === n ? 0 : best + 1;
    return list[best];
  }
}

export const leastResponseTime: Plugin<typeof schema, Balancer> = {
  name: 'least-response-time',
  schema,
  create: (options) => new LeastResponseTime(options),
};
