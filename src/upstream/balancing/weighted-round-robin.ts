// weighted-round-robin: NGINX's smooth weighted round robin (ngx_http_upstream_round_robin.c,
// ngx_http_upstream_get_peer). Each pick adds every endpoint's weight to its running score, takes the
// highest score and subtracts the total weight from it. Weights {5,1,1} give a,a,b,a,c,a,a — spread out,
// not bursts. Property: over one cycle of sum(weights) picks, each endpoint is picked exactly `weight` times.
import { z } from 'zod';
import type { Plugin } from '../../core/registry.ts';
import type { Endpoint } from '../endpoint.ts';
import { isTried, type Balancer, type PickContext } from './types.ts';

export const schema = z.object({ algorithm: z.literal('weighted-round-robin') }).strict();
export type WeightedRoundRobinOptions = z.infer<typeof schema>;

export class WeightedRoundRobin implements Balancer {
  private endpoints: readonly Endpoint[];
  private weights: Float64Array;
  private current: Float64Array;

  constructor() {
    this.endpoints = [];
    this.weights = new Float64Array(0);
    this.current = new Float64Array(0);
  }

  update(eligible: readonly Endpoint[]): void {
    // Scores restart from zero on every change, as NGINX does on reconfiguration: scores built up under
    // other weights would otherwise send a burst of picks to one endpoint.
    this.endpoints = eligible;
    this.weights = new Float64Array(eligible.length);
    this.current = new Float64Array(eligible.length);
    for (let i = 0; i < eligible.length; i++) this.weights[i] = eligible[i].weight;
  }

  /** Replaces the weights used for picking (same order as the eligible set), e.g. with agent-reported ones. */
  reweight(weights: ArrayLike<number>): void {
    for (let i = 0; i < this.weights.length; i++) {
      this.weights[i] = weights[i];
      this.current[i] = 0;
    }
  }

  // HOT PATH: one pass over the eligible array, no allocation.
  pick(ctx: PickContext): Endpoint | undefined {
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
