// random: each pick uniform over the eligible endpoints not yet tried by the exchange, ignoring weights and
// load. Use when many independent balancers share the same endpoints and coordination is impossible (HAProxy
// `balance random(1)`, Envoy `RANDOM`). Property (test/unit/upstream/balancing/random.test.ts): shares pass a
// chi-square test at p = 0.001, and picks stay uniform over the untried endpoints during retries.
import { z } from 'zod';
import type { Plugin } from '../../core/registry.ts';
import { Random } from '../../core/random.ts';
import type { Endpoint } from '../endpoint.ts';
import { isTried, type Balancer, type PickContext } from './types.ts';

export const schema = z.object({ algorithm: z.literal('random') }).strict();
export type RandomOptions = z.infer<typeof schema>;

export class RandomBalancer implements Balancer {
  private endpoints: readonly Endpoint[];
  private readonly rng: Random;

  constructor(rng: Random = new Random()) {
    this.endpoints = [];
    this.rng = rng;
  }

  update(eligible: readonly Endpoint[]): void {
    this.endpoints = eligible;
  }

  // HOT PATH: one draw when the drawn endpoint is untried (always, on a first try). Otherwise a second draw
  // over the untried ones; P(e) = 1/n + (t/n)·1/(n−t) = 1/(n−t), still uniform over the untried.
  pick(ctx: PickContext): Endpoint | undefined {
    const list = this.endpoints;
    const n = list.length;
    if (n === 0) return undefined;
    const first = list[this.rng.below(n)];
    if (!isTried(first, ctx)) return first;
    let untried = 0;
    for (let i = 0; i < n; i++) if (!isTried(list[i], ctx)) untried++;
    if (untried === 0) return undefined;
    let rank = this.rng.below(untried);
    for (let i = 0; i < n; i++) {
      if (isTried(list[i], ctx)) continue;
      if (rank === 0) return list[i];
      rank--;
    }
    return undefined;
  }
}

export const random: Plugin<typeof schema, Balancer> = {
  name: 'random',
  schema,
  create: () => new RandomBalancer(),
};
