// weighted-round-robin: NGINX's smooth weighted round robin (ngx_http_upstream_round_robin.c,
// ngx_http_upstream_get_peer). Each pick adds every endpoint's weight to its running score, takes the
// highest score and subtracts the total weight from it. Weights {5,1,1} give a,a,b,a,c,a,a — spread out,
// not bursts. Property: over one cycle of sum(weights) picks, each endpoint is picked exactly `weight` times,
// and the scores are back to zero — so the picks repeat with period W = sum(weights). Large pools use that:
// the cycle is computed once per update (W steps of the O(N) rule) and a pick is one table read, where the
// rule itself costs O(N) per pick (about 5 µs at 1,000 endpoints).
import { z } from 'zod';
import type { Plugin } from '../../core/registry.ts';
import type { Endpoint } from '../endpoint.ts';
import { isTried, type Balancer, type PickContext } from './types.ts';

export const schema = z.object({ algorithm: z.literal('weighted-round-robin') }).strict();
export type WeightedRoundRobinOptions = z.infer<typeof schema>;

/** Pools above this size pick from a precomputed cycle; smaller ones run the rule (it is cheaper there). */
const SCHEDULE_MIN_ENDPOINTS = 32;
/** Bound on the work (N × W) and memory (W entries) of precomputing one cycle. */
const SCHEDULE_MAX_STEPS = 8_000_000;

export class WeightedRoundRobin implements Balancer {
  private endpoints: readonly Endpoint[];
  private weights: Float64Array;
  private current: Float64Array;
  /** One full cycle of picks (endpoint indexes), or null to run the rule per pick. */
  private schedule: Int32Array | null;
  private position: number;

  constructor() {
    this.endpoints = [];
    this.weights = new Float64Array(0);
    this.current = new Float64Array(0);
    this.schedule = null;
    this.position = 0;
  }

  update(eligible: readonly Endpoint[]): void {
    // Scores restart from zero on every change, as NGINX does on reconfiguration: scores built up under
    // other weights would otherwise send a burst of picks to one endpoint.
    this.endpoints = eligible;
    this.weights = new Float64Array(eligible.length);
    this.current = new Float64Array(eligible.length);
    for (let i = 0; i < eligible.length; i++) this.weights[i] = eligible[i].effectiveWeight;
    this.plan();
  }

  /** Replaces the weights used for picking (same order as the eligible set), e.g. with agent-reported ones. */
  reweight(weights: ArrayLike<number>): void {
    for (let i = 0; i < this.weights.length; i++) {
      this.weights[i] = weights[i];
      this.current[i] = 0;
    }
    this.plan();
  }

  /** Precomputes one cycle for large pools with integer weights, when that stays within bounds. */
  private plan(): void {
    this.schedule = null;
    this.position = 0;
    const n = this.weights.length;
    if (n < SCHEDULE_MIN_ENDPOINTS) return;
    let total = 0;
    for (let i = 0; i < n; i++) {
      if (!Number.isInteger(this.weights[i])) return;
      total += this.weights[i];
    }
    if (total === 0 || total * n > SCHEDULE_MAX_STEPS) return;
    const schedule = new Int32Array(total);
    const current = new Float64Array(n);
    for (let t = 0; t < total; t++) {
      let best = -1;
      for (let i = 0; i < n; i++) {
        const w = this.weights[i];
        if (w <= 0) continue;
        current[i] += w;
        if (best < 0 || current[i] > current[best]) best = i;
      }
      current[best] -= total;
      schedule[t] = best;
    }
    this.schedule = schedule;
  }

  // HOT PATH: a table read for large pools; otherwise one pass over the eligible array. No allocation.
  pick(ctx: PickContext): Endpoint | undefined {
    const schedule = this.schedule;
    if (schedule !== null) {
      // skip endpoints this exchange already tried (retries only), at most one cycle
      for (let step = 0; step < schedule.length; step++) {
        const e = this.endpoints[schedule[this.position]];
        this.position = this.position + 1 === schedule.length ? 0 : this.position + 1;
        if (!isTried(e, ctx)) return e;
      }
      return undefined;
    }
    const list = this.endpoints;
    const weights = this.weights;
    const current = this.current;
    let best = -1;
    let total = 0;
    for (let i = 0; i < list.length; i++) {
      const w = weights[i];
      if (w <= 0 || isTried(list[i], ctx)) continue;
      current[i] += w;
      total += w;
      if (best < 0 || current[i] > current[best]) best = i;
    }
    if (best < 0) return undefined;
    current[best] -= total;
    return list[best];
  }
}

export const weightedRoundRobin: Plugin<typeof schema, Balancer> = {
  name: 'weighted-round-robin',
  schema,
  create: () => new WeightedRoundRobin(),
};
