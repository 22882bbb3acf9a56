// hash: modulo hashing, hash(key) mod Σweights over a slot array (HAProxy `balance hash` with the default
// `hash-type map-based`). Fast and perfectly even, but not consistent: changing the set remaps almost every key.
// Kept to contrast with ring-hash, maglev and rendezvous; use it only when the set never changes or remapping is
// harmless. Property (test/unit/upstream/balancing/hash.test.ts): going from N to N±1 endpoints moves ≈ (N−1)/N
// of the keys, where consistent hashing moves ≈ 1/N.
//
//   slots (Int32Array, smooth weighted order)   a a b a c a a | hash mod 7 → slot; a retry takes the next slots
import { z } from 'zod';
import type { Plugin } from '../../core/registry.ts';
import type { Endpoint } from '../endpoint.ts';
import { EndpointSetSignature, WalkStamps } from './hash-support.ts';
import { keySchema } from './keys.ts';
import { isTried, type Balancer, type PickContext } from './types.ts';
import { WeightedRoundRobin } from './weighted-round-robin.ts';

export const schema = z.object({ algorithm: z.literal('hash'), key: keySchema }).strict();
export type HashOptions = z.infer<typeof schema>;

export class ModuloHash implements Balancer {
  private readonly signature: EndpointSetSignature;
  private readonly stamps: WalkStamps;
  private readonly fallback: WeightedRoundRobin;
  private endpoints: Endpoint[];
  private slots: Int32Array;

  constructor() {
    this.signature = new EndpointSetSignature();
    this.stamps = new WalkStamps();
    this.fallback = new WeightedRoundRobin();
    this.endpoints = [];
    this.slots = new Int32Array(0);
  }

  update(eligible: readonly Endpoint[]): void {
    // Config order, as HAProxy's map: the slot array is what `hash mod N` indexes.
    const { changed } = this.signature.sorted(eligible);
    const endpoints = eligible.filter((e) => e.weight > 0);
    const reordered = endpoints.length !== this.endpoints.length || endpoints.some((e, i) => e.key !== this.endpoints[i].key);
    this.endpoints = endpoints;
    this.fallback.update(endpoints);
    if (!changed && !reordered) return;
    this.stamps.resize(endpoints.length);
    // Σweights slots in smooth weighted round robin order (NGINX's), so the next slots hold other endpoints.
    let total = 0;
    for (const e of endpoints) total += e.weight;
    const slots = new Int32Array(total);
    const current = new Float64Array(endpoints.length);
    const uniform = total === endpoints.length; // all weight 1: slot s is endpoint s, the plain hash mod N
    for (let s = 0; s < total; s++) {
      if (uniform) {
        slots[s] = s;
        continue;
      }
      let best = 0;
      for (let i = 0; i < endpoints.length; i++) {
        current[i] += endpoints[i].weight;
        if (current[i] > current[best]) best = i;
      }
      current[best] -= total;
      slots[s] = best;
    }
    this.slots = slots;
  }

  // HOT PATH: one modulo and one typed-array load; no allocation.
  pick(ctx: PickContext): Endpoint | undefined {
    const slots = this.slots;
    const size = slots.length;
    if (size === 0) return undefined;
    if (!ctx.hasHash) return this.fallback.pick(ctx);
    const start = (ctx.hash >>> 0) % size;
    const e = this.endpoints[slots[start]];
    if (!isTried(e, ctx)) return e;
    const n = this.endpoints.length;
    this.stamps.begin();
    let seen = 0;
    for (let step = 0, i = start; step < size && seen < n; step++, i = i + 1 === size ? 0 : i + 1) {
      const o = slots[i];
      if (!this.stamps.first(o)) continue;
      seen++;
      if (!isTried(this.endpoints[o], ctx)) return this.endpoints[o];
    }
    return undefined;
  }
}

export const hash: Plugin<typeof schema, Balancer> = {
  name: 'hash',
  schema,
  create: () => new ModuloHash(),
};
