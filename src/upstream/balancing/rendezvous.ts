// rendezvous: highest random weight hashing (Thaler & Ravishankar, "Using Name-Based Mappings to Increase Hit
// Rates", IEEE/ACM ToN 1998, §3). Every endpoint scores the key; the highest score wins, a retry takes the next
// highest. Weighted by the logarithmic method: score = −weight / ln(u), u = combine32(hash, endpoint hash) mapped
// into (0,1), which makes P(win) = weight / Σweights exactly. O(N) per pick, no table. Properties
// (test/unit/upstream/balancing/rendezvous.test.ts): removing an endpoint moves only its keys; shares follow
// weights within a few %.
import { z } from 'zod';
import { combine32, hashString } from '../../core/hash.ts';
import type { Plugin } from '../../core/registry.ts';
import type { Endpoint } from '../endpoint.ts';
import { EndpointSetSignature } from './hash-support.ts';
import { keySchema } from './keys.ts';
import { isTried, type Balancer, type PickContext } from './types.ts';
import { WeightedRoundRobin } from './weighted-round-robin.ts';

export const schema = z.object({ algorithm: z.literal('rendezvous'), key: keySchema }).strict();
export type RendezvousOptions = z.infer<typeof schema>;

export class Rendezvous implements Balancer {
  private readonly signature: EndpointSetSignature;
  private readonly fallback: WeightedRoundRobin;
  private endpoints: Endpoint[];
  private hashes: Uint32Array;
  private weights: Float64Array;
  /** All weights equal: −w/ln(u) is monotone in u, so the raw 32-bit score decides and no log is taken. */
  private uniform: boolean;

  constructor() {
    this.signature = new EndpointSetSignature();
    this.fallback = new WeightedRoundRobin();
    this.endpoints = [];
    this.hashes = new Uint32Array(0);
    this.weights = new Float64Array(0);
    this.uniform = true;
  }

  update(eligible: readonly Endpoint[]): void {
    const { endpoints, changed } = this.signature.sorted(eligible);
    this.endpoints = endpoints;
    this.fallback.update(endpoints);
    if (!changed) return;
    this.hashes = new Uint32Array(endpoints.length);
    this.weights = new Float64Array(endpoints.length);
    this.uniform = true;
    for (let i = 0; i < endpoints.length; i++) {
      this.hashes[i] = hashString(endpoints[i].key);
      this.weights[i] = endpoints[i].weight;
      if (endpoints[i].weight !== endpoints[0].weight) this.uniform = false;
    }
  }

  // HOT PATH: one combine32 per endpoint (and one Math.log when weights differ); no allocation.
  pick(ctx: PickContext): Endpoint | undefined {
    const list = this.endpoints;
    if (list.length === 0) return undefined;
    if (!ctx.hasHash) return this.fallback.pick(ctx);
    const h = ctx.hash;
    const hashes = this.hashes;
    let best = -1;
    let bestScore = -1;
    if (this.uniform) {
      for (let i = 0; i < list.length; i++) {
        const score = combine32(h, hashes[i]);
        if (score > bestScore && !isTried(list[i], ctx)) {
          best = i;
          bestScore = score;
        }
      }
    } else {
      const weights = this.weights;
      for (let i = 0; i < list.length; i++) {
        const u = (combine32(h, hashes[i]) + 0.5) / 4294967296; // in (0,1): ln(u) < 0
        const score = -weights[i] / Math.log(u);
        if (score > bestScore && !isTried(list[i], ctx)) {
          best = i;
          bestScore = score;
        }
      }
    }
    return best < 0 ? undefined : list[best];
  }
}

export const rendezvous: Plugin<typeof schema, Balancer> = {
  name: 'rendezvous',
  schema,
  create: () => new Rendezvous(),
};
