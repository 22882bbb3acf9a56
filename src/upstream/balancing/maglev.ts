// maglev: Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer",
// NSDI 2016, §3.4). Each endpoint has a permutation of the M table slots, (offset + j × skip) mod M with offset
// and skip from two hashes of its key; endpoints take turns claiming their next free slot (Pseudocode 1) until
// the table is full; a pick is table[hash mod M]. M is prime so every skip generates a full permutation.
// Properties (test/unit/upstream/balancing/maglev.test.ts): shares within a few % of equal (better balanced than
// a ring at equal memory), removing 1 of N moves close to 1/N of keys, the table is the same for the same set
// in any order, and with `balanceFactor` no endpoint exceeds ⌈factor × average⌉.
//
// Weights: in round r an endpoint takes a turn only while placed × maxWeight < r × weight (the approach of
// Envoy's maglev_lb.cc), so slot counts are proportional to weight. Retries and busy endpoints walk on to the
// next table entries (a deterministic probe), each endpoint looked at once per walk.
import { z } from 'zod';
import { hashString } from '../../core/hash.ts';
import type { Plugin } from '../../core/registry.ts';
import type { Endpoint } from '../endpoint.ts';
import { balanceFactorSchema, EndpointSetSignature, isPrime, LoadBound, tableSizeSchema, walkOwners, WalkStamps } from './hash-support.ts';
import { keySchema } from './keys.ts';
import type { Balancer, PickContext } from './types.ts';
import { WeightedRoundRobin } from './weighted-round-robin.ts';

export const schema = z
  .object({
    algorithm: z.literal('maglev'),
    key: keySchema,
    tableSize: tableSizeSchema,
    balanceFactor: balanceFactorSchema,
  })
  .strict();
export type MaglevOptions = z.infer<typeof schema>;

/** Seeds of the two endpoint-key hashes that give each endpoint its offset and skip. */
const offsetSeed = 0x6d61676c; // "magl"
const skipSeed = 0x65762121; // "ev!!"

/**
 * Pseudocode 1 of the paper, with weighted turns. Returns table[slot] = index into `endpoints`, or an empty
 * table when there are none. `endpoints` must have positive weights. O(M log M) expected for equal weights.
 */
export function populate(endpoints: readonly Endpoint[], tableSize: number): Int32Array {
  const n = endpoints.length;
  const m = tableSize;
  if (n === 0) return new Int32Array(0);
  const entry = new Int32Array(m).fill(-1);
  const next = new Float64Array(n); // the current permutation value: (offset + j × skip) mod M
  const skip = new Float64Array(n);
  const placed = new Float64Array(n);
  const weight = new Float64Array(n);
  let maxWeight = 0;
  for (let i = 0; i < n; i++) {
    next[i] = hashString(endpoints[i].key, offsetSeed) % m;
    skip[i] = (hashString(endpoints[i].key, skipSeed) % (m - 1)) + 1;
    weight[i] = endpoints[i].weight;
    if (weight[i] > maxWeight) maxWeight = weight[i];
  }
  let filled = 0;
  for (let round = 1; ; round++) {
    for (let i = 0; i < n; i++) {
      if (placed[i] * maxWeight >= round * weight[i]) continue; // not this endpoint's turn (weights)
      let c = next[i];
      while (entry[c] >= 0) {
        c += skip[i];
        if (c >= m) c -= m;
      }
      entry[c] = i;
      c += skip[i];
      next[i] = c >= m ? c - m : c;
      placed[i]++;
      if (++filled === m) return entry;
    }
  }
}

export class Maglev implements Balancer {
  private readonly tableSize: number;
  private readonly signature: EndpointSetSignature;
  private readonly stamps: WalkStamps;
  private readonly bound: LoadBound;
  private readonly fallback: WeightedRoundRobin;
  private endpoints: Endpoint[];
  private table: Int32Array;

  constructor(options: { tableSize?: number; balanceFactor?: number | undefined } = {}) {
    const tableSize = options.tableSize ?? 65537;
    if (!isPrime(tableSize)) throw new RangeError(`maglev tableSize must be prime, got ${tableSize}`);
    this.tableSize = tableSize;
    this.signature = new EndpointSetSignature();
    this.stamps = new WalkStamps();
    this.bound = new LoadBound(options.balanceFactor);
    this.fallback = new WeightedRoundRobin();
    this.endpoints = [];
    this.table = new Int32Array(0);
  }

  /** The lookup table (indices into the key-ordered set), for tests. */
  get entries(): Int32Array {
    return this.table;
  }

  update(eligible: readonly Endpoint[]): void {
    const { endpoints, changed } = this.signature.sorted(eligible);
    this.endpoints = endpoints;
    this.bound.update(endpoints);
    this.fallback.update(endpoints);
    if (!changed) return;
    this.stamps.resize(endpoints.length);
    this.table = populate(endpoints, this.tableSize);
  }

  // HOT PATH: one modulo and one typed-array load; no allocation.
  pick(ctx: PickContext): Endpoint | undefined {
    const table = this.table;
    if (table.length === 0) return undefined;
    if (!ctx.hasHash) return this.fallback.pick(ctx);
    const start = (ctx.hash >>> 0) % table.length;
    return walkOwners(this.table, start, this.endpoints, ctx, this.stamps, this.bound);
  }
}

export const maglev: Plugin<typeof schema, Balancer> = {
  name: 'maglev',
  schema,
  create: (o) => new Maglev(o),
};
