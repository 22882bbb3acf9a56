// weighted-random: each pick draws an endpoint with probability weight / total weight of the untried ones.
// `update` builds a cumulative-weight table; a pick is one draw and a binary search (O(log n)). Envoy's
// `RANDOM` and HAProxy `balance random` weigh the same way. Property (weighted-random.test.ts): shares pass
// a chi-square test at p = 0.001 and are within 1% of weight / total.
import { z } from 'zod';
import type { Plugin } from '../../core/registry.ts';
import { Random } from '../../core/random.ts';
import type { Endpoint } from '../endpoint.ts';
import { isTried, type Balancer, type PickContext } from './types.ts';

export const schema = z.object({ algorithm: z.literal('weighted-random') }).strict();
export type WeightedRandomOptions = z.infer<typeof schema>;

export class WeightedRandom implements Balancer {
  private endpoints: readonly Endpoint[];
  /** cumulative[i] = weight[0] + … + weight[i]; weights below 0 count as 0 (no new work). */
  private cumulative: Float64Array;
  private readonly rng: Random;

  constructor(rng: Random = new Random()) {
    this.endpoints = [];
    this.cumulative = new Float64Array(0);
    this.rng = rng;
  }

  update(eligible: readonly Endpoint[]): void {
    this.endpoints = eligible;
    this.cumulative = new Float64Array(eligible.length);
    let total = 0;
    for (let i = 0; i < eligible.length; i++) {
      total += Math.max(0, eligible[i].effectiveWeight);
      this.cumulative[i] = total;
    }
  }

  // HOT PATH: one draw and a binary search for the first cumulative weight above it. A zero weight repeats
  // the previous cumulative value, so it is never the first above. If the drawn endpoint was tried, a
  // second draw over the untried weight: P(e) = w/W + (T/W)·w/(W−T) = w/(W−T), still proportional.
  pick(ctx: PickContext): Endpoint | undefined {
    const list = this.endpoints;
    const cumulative = this.cumulative;
    const n = list.length;
    if (n === 0) return undefined;
    const total = cumulative[n - 1];
    if (!(total > 0)) return undefined;
    const x = this.rng.nextFloat() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    const first = list[lo];
    if (!isTried(first, ctx)) return first;
    let untried = 0;
    for (let i = 0; i < n; i++) if (!isTried(list[i], ctx)) untried += weightAt(cumulative, i);
    if (!(untried > 0)) return undefined;
    let y = this.rng.nextFloat() * untried;
    let last = -1;
    for (let i = 0; i < n; i++) {
      const w = weightAt(cumulative, i);
      if (w === 0 || isTried(list[i], ctx)) continue;
      last = i;
      if (y < w) return list[i];
      y -= w;
    }
    return last < 0 ? undefined : list[last]; // rounding left y just above the last weight
  }
}

function weightAt(cumulative: Float64Array, i: number): number {
  return i === 0 ? cumulative[0] : cumulative[i] - cumulative[i - 1];
}

export const weightedRandom: Plugin<typeof schema, Balancer> = {
  name: 'weighted-random',
  schema,
  create: () => new WeightedRandom(),
};
