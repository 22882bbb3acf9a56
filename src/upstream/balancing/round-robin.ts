// round-robin: each eligible endpoint in turn, ignoring weights. Use when endpoints are alike and requests
// cost about the same. Property (test/unit/upstream/balancing): over k·N picks each endpoint gets exactly k.
import { z } from 'zod';
import type { Plugin } from '../../core/registry.ts';
import type { Endpoint } from '../endpoint.ts';
import { isTried, type Balancer, type PickContext } from './types.ts';

export const schema = z.object({ algorithm: z.literal('round-robin') }).strict();
export type RoundRobinOptions = z.infer<typeof schema>;

export class RoundRobin implements Balancer {
  private endpoints: readonly Endpoint[];
  private next: number;

  constructor() {
    this.endpoints = [];
    this.next = 0;
  }

  update(eligible: readonly Endpoint[]): void {
    this.endpoints = eligible;
    if (this.next >= eligible.length) this.next = 0;
  }

  // HOT PATH: one modulo step per pick; tried endpoints are skipped without allocating.
  pick(ctx: PickContext): Endpoint | undefined {
    const list = this.endpoints;
    const n = list.length;
    for (let i = 0; i < n; i++) {
      const e = list[this.next];
      this.next = this.next + 1 === n ? 0 : this.next + 1;
      if (!isTried(e, ctx)) return e;
    }
    return undefined;
  }
}

export const roundRobin: Plugin<typeof schema, Balancer> = {
  name: 'round-robin',
  schema,
  create: () => new RoundRobin(),
};
