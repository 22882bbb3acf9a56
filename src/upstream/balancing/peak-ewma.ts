// peak-ewma: Finagle's peak-sensitive EWMA (finagle-core loadbalancer `PeakEwma`, used by Linkerd as
// "EWMA P2C"; Twitter Finagle docs "Peak EWMA"): per endpoint a latency estimate that jumps to a higher
// sample at once and decays toward lower ones with time constant `decay`; cost = estimate × (inFlight + 1)
// / weight; a pick takes the cheaper of two random untried endpoints. Property (peak-ewma.test.ts): a 10×
// slower endpoint gets a far smaller share; the estimate follows a spike at once and decays after it.
import { z } from 'zod';
import type { Plugin } from '../../core/registry.ts';
import { Random } from '../../core/random.ts';
import { durationMessage, durationSchema } from '../../core/units.ts';
import type { Endpoint } from '../endpoint.ts';
import { monotonicClock, type Clock } from './least-response-time.ts';
import { TwoChoices } from './power-of-two-choices.ts';
import type { Balancer, Outcome, PickContext } from './types.ts';

export const schema = z
  .object({
    algorithm: z.literal('peak-ewma'),
    /** Time constant τ: a sample's weight falls by e after τ. Default 10s, as in Finagle and Linkerd. */
    decay: durationSchema.prefault('10s').refine((ms) => ms > 0, { message: `${durationMessage(0)}; peak-ewma needs a decay above 0` }),
  })
  .strict();
export type PeakEwmaOptions = z.infer<typeof schema>;

/** Finagle's cost for an endpoint with requests out but no latency yet (Long.MaxValue >> 16): only one
 *  request goes to a new endpoint until it answers. */
const penalty = 2 ** 47;

export class PeakEwma implements Balancer {
  private endpoints: readonly Endpoint[];
  private index: Map<Endpoint, number>;
  private weights: Float64Array;
  /** Estimate as of `stampMs` (0 = no observation yet); read as cost·e^(−age/τ), Finagle's observe(0). */
  private cost: Float64Array;
  private stampMs: Float64Array;
  private readonly tauMs: number;
  private readonly now: Clock;
  private readonly choices: TwoChoices;

  constructor(options: { decay: number }, now: Clock = monotonicClock, rng: Random = new Random()) {
    this.endpoints = [];
    this.index = new Map();
    this.weights = new Float64Array(0);
    this.cost = new Float64Array(0);
    this.stampMs = new Float64Array(0);
    this.tauMs = options.decay;
    this.now = now;
    this.choices = new TwoChoices(rng);
  }

  /** Rebuilds the tables; endpoints that stay (same Endpoint object) keep their estimate. */
  update(eligible: readonly Endpoint[]): void {
    const n = eligible.length;
    const index = new Map<Endpoint, number>();
    const weights = new Float64Array(n);
    const cost = new Float64Array(n);
    const stampMs = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const e = eligible[i];
      index.set(e, i);
      weights[i] = e.effectiveWeight;
      const old = this.index.get(e);
      if (old === undefined) continue;
      cost[i] = this.cost[old];
      stampMs[i] = this.stampMs[old];
    }
    this.endpoints = eligible;
    this.index = index;
    this.weights = weights;
    this.cost = cost;
    this.stampMs = stampMs;
  }

  /** Finagle's `observe(rtt)`; failures count like any sample, as in Finagle. No sample brings the estimate
   *  below its decayed value cost·e^(−age/τ), so a fast failure cannot make an endpoint look fast. */
  observe(endpoint: Endpoint, outcome: Outcome): void {
    const i = this.index.get(endpoint);
    if (i === undefined) return;
    const nowMs = this.now();
    const age = nowMs - this.stampMs[i];
    const w = Math.exp(-(age > 0 ? age : 0) / this.tauMs);
    const current = this.cost[i];
    const rtt = outcome.latencyMs > 0 ? outcome.latencyMs : 0;
    this.cost[i] = rtt > current ? rtt : current * w + rtt * (1 - w);
    this.stampMs[i] = nowMs;
  }

  /** The estimate now, in ms (undefined before the first observation); for tests and the admin API. */
  estimateOf(endpoint: Endpoint): number | undefined {
    const i = this.index.get(endpoint);
    return i === undefined || this.cost[i] === 0 ? undefined : this.decayed(i, this.now());
  }

  private decayed(i: number, nowMs: number): number {
    const age = nowMs - this.stampMs[i];
    return this.cost[i] * Math.exp(-(age > 0 ? age : 0) / this.tauMs);
  }

  /** Finagle's `Metric.get()` divided by weight. */
  private load(i: number, nowMs: number): number {
    const w = this.weights[i];
    if (!(w > 0)) return Infinity;
    const inFlight = this.endpoints[i].inFlight;
    const estimate = this.decayed(i, nowMs);
    return (estimate === 0 && inFlight !== 0 ? penalty + inFlight : estimate * (inFlight + 1)) / w;
  }

  // HOT PATH: two draws, one clock read and two exp() calls.
  pick(ctx: PickContext): Endpoint | undefined {
    const list = this.endpoints;
    const c = this.choices;
    const drawn = c.draw(list, ctx);
    if (drawn === 0) return undefined;
    const nowMs = this.now();
    const la = this.load(c.first, nowMs);
    if (drawn === 1) return la === Infinity ? undefined : list[c.first];
    const lb = this.load(c.second, nowMs);
    if (lb < la) return list[c.second];
    return la === Infinity ? undefined : list[c.first];
  }
}

export const peakEwma: Plugin<typeof schema, Balancer> = {
  name: 'peak-ewma',
  schema,
  create: (options) => new PeakEwma(options),
};
