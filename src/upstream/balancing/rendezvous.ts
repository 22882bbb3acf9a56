// rendezvous: highest random weight hashing (Thaler & Ravishankar, "Using Name-Based Mappings to Increase Hit
// Rates", IEEE/ACM ToN 1998, §3): every endpoint scores the key, the highest score wins, a retry takes the next
// highest. Weighted by the logarithmic method, score = −weight / ln(u), so P(win) = weight / Σweights. Above 64
// endpoints HRW runs inside a skeleton (Wang & Ravishankar, "Skeleton-based rendezvous hashing"), ≈ N/32 scores.
// Tests (rendezvous.test.ts, 10 and 1,000 endpoints): a removed endpoint's keys alone move, an added one only takes
// keys, a retry goes where the key would go without the tried endpoint; shares: docs/algorithms.md#rendezvous.
//
//   fmix32(key hash ^ seed) ─┬─ bits 31..24: partition s, 1 of 256     each partition splits the endpoints into 32
//                            ├─ bits 23..19: first cluster k0           clusters by a hash of each endpoint's own key
//                            └─ bits 18..14: odd step: k0, k0+step, …   (empty or all tried: the next one)
//   cluster (s, k) ── HRW over its ≈ N/32 endpoints ──► endpoint
import { z } from 'zod';
import { combine32, fmix32, hashString } from '../../core/hash.ts';
import type { Plugin } from '../../core/registry.ts';
import type { Endpoint } from '../endpoint.ts';
import { EndpointSetSignature } from './hash-support.ts';
import { keySchema } from './keys.ts';
import { isTried, type Balancer, type PickContext } from './types.ts';
import { WeightedRoundRobin } from './weighted-round-robin.ts';

export const schema = z.object({ algorithm: z.literal('rendezvous'), key: keySchema }).strict();
export type RendezvousOptions = z.infer<typeof schema>;

/** Pools up to this size score every endpoint: the classic mapping. Larger pools use the skeleton; a set that
 *  crosses it (64 ↔ 65 endpoints) remaps ≈ 96% of the keys once, as a change of algorithm would. */
export const flatLimit = 64;
/** Clusters per partition, so a pick scores ≈ N/32 endpoints (31 at N = 1,000). */
export const clusterCount = 32;
/** Partitions: each is an independent random split into clusters, and each key uses one. Cluster weights differ
 *  by chance (±1/√(N/32) relative); over 256 splits each endpoint's expected share averages that out to
 *  ≈ ±1/√(8·N) (1.1% at N = 1,000; ±3.8% at the extremes). Memory: 8 bytes per endpoint per partition, 2 MB at
 *  N = 1,000. */
export const partitionCount = 256;

/** Seeds of the endpoint-key hash that places endpoints in clusters and of the key hash that routes a key. */
const memberSeed = 0x736b656c; // "skel"
const routeSeed = 0x726f7574; // "rout"
/** combine32's multiplier (core/hash.ts), applied to endpoint hashes once in update() rather than per pick. */
const golden = 0x9e3779b1;

export class Rendezvous implements Balancer {
  private readonly signature: EndpointSetSignature;
  private readonly fallback: WeightedRoundRobin;
  /** Key order; `owners` index into it. */
  private endpoints: Endpoint[];
  private weights: Float64Array;
  private maxWeight: number;
  /** All weights equal: −w/ln(u) is monotone in u, so the raw 32-bit score decides and no log is taken. */
  private uniform: boolean;
  private flat: boolean;
  /** One entry per endpoint per partition, grouped by (partition, cluster); flat: one per endpoint, key order.
   *  `hashes[j]` = Math.imul(hashString(key), golden), so an entry scores fmix32(key hash ^ hashes[j]), which is
   *  combine32(key hash, hashString(key)); `owners[j]` is its endpoint. */
  private hashes: Uint32Array;
  private owners: Int32Array;
  /** Entries starts[s × (clusterCount + 1) + k] up to the next start are cluster k of partition s; flat: [0, N]. */
  private starts: Int32Array;

  constructor() {
    this.signature = new EndpointSetSignature();
    this.fallback = new WeightedRoundRobin();
    this.endpoints = [];
    this.weights = new Float64Array(0);
    this.maxWeight = 0;
    this.uniform = true;
    this.flat = true;
    this.hashes = new Uint32Array(0);
    this.owners = new Int32Array(0);
    this.starts = new Int32Array(2);
  }

  update(eligible: readonly Endpoint[]): void {
    const { endpoints, changed } = this.signature.sorted(eligible);
    this.endpoints = endpoints;
    this.fallback.update(endpoints);
    if (!changed) return;
    const n = endpoints.length;
    const hash = new Uint32Array(n);
    this.weights = new Float64Array(n);
    this.maxWeight = 0;
    this.uniform = true;
    for (let i = 0; i < n; i++) {
      hash[i] = Math.imul(hashString(endpoints[i].key), golden) >>> 0;
      this.weights[i] = endpoints[i].weight;
      this.maxWeight = Math.max(this.maxWeight, endpoints[i].weight);
      if (endpoints[i].weight !== endpoints[0].weight) this.uniform = false;
    }
    this.flat = n <= flatLimit;
    if (this.flat) {
      this.hashes = hash;
      this.owners = new Int32Array(n);
      for (let i = 0; i < n; i++) this.owners[i] = i;
      this.starts = Int32Array.of(0, n);
      return;
    }
    // One counting sort per partition; an endpoint's cluster depends on its own key only, never on the others.
    const c = clusterCount;
    const hashes = new Uint32Array(partitionCount * n);
    const owners = new Int32Array(partitionCount * n);
    const starts = new Int32Array(partitionCount * (c + 1));
    const own = new Uint32Array(n);
    for (let i = 0; i < n; i++) own[i] = hashString(endpoints[i].key, memberSeed);
    const cluster = new Int32Array(n);
    const next = new Int32Array(c);
    for (let s = 0; s < partitionCount; s++) {
      const base = s * (c + 1);
      for (let i = 0; i < n; i++) {
        cluster[i] = combine32(own[i], s) & (c - 1);
        starts[base + cluster[i] + 1]++;
      }
      starts[base] = s * n;
      for (let k = 0; k < c; k++) {
        starts[base + k + 1] += starts[base + k];
        next[k] = starts[base + k];
      }
      for (let i = 0; i < n; i++) {
        const j = next[cluster[i]]++;
        hashes[j] = hash[i];
        owners[j] = i;
      }
    }
    this.hashes = hashes;
    this.owners = owners;
    this.starts = starts;
  }

  // HOT PATH: one fmix32 routes the key to a cluster, one fmix32 per member scores it (≈ N/32 members; all N
  // when flat); weighted picks take a Math.log only when the log-free bounds cannot settle it. No allocation. The
  // member loops write fmix32 out: called there, V8 did not always inline it and boxed every score (2× slower).
  pick(ctx: PickContext): Endpoint | undefined {
    const list = this.endpoints;
    if (list.length === 0) return undefined;
    if (!ctx.hasHash) return this.fallback.pick(ctx);
    const h = ctx.hash;
    let from = 0;
    let to = list.length;
    let route = 0;
    if (!this.flat) {
      route = mix(h ^ routeSeed);
      const starts = this.starts;
      const base = (route >>> 24) * (clusterCount + 1);
      const step = ((route >>> 14) & 31) | 1;
      let k = (route >>> 19) & 31;
      while (starts[base + k + 1] === starts[base + k]) k = (k + step) & 31; // empty: an odd step visits all 32
      from = starts[base + k];
      to = starts[base + k + 1];
    }
    const i = this.uniform ? this.owners[this.bestUniform(h, from, to)] : this.owners[this.bestWeighted(h, from, to)];
    // Tried endpoints are checked once, on the winner: a retry (rare) takes the slow path.
    if (!isTried(list[i], ctx)) return list[i];
    return this.pickUntried(h, route, ctx);
  }

  /** The entry in [from, to) with the highest raw score; the first one on a tie. */
  private bestUniform(h: number, from: number, to: number): number {
    const hashes = this.hashes;
    let best = from;
    let bestScore = -1;
    for (let j = from; j < to; j++) {
      let x = h ^ hashes[j];
      x ^= x >>> 16;
      x = Math.imul(x, 0x85ebca6b);
      x ^= x >>> 13;
      x = Math.imul(x, 0xc2b2ae35);
      x ^= x >>> 16;
      const score = x >>> 0;
      if (score > bestScore) {
        best = j;
        bestScore = score;
      }
    }
    return best;
  }

  /**
   * The entry in [from, to) with the highest score −w/ln(u); the first one on a tie. For u in (0,1),
   * (1−u) < −ln(u) < (1−u)/u, so low = w·u/(1−u) < score < w/(1−u) = high. One pass keeps the member with the
   * best low (the lead) and the best high of the others: when that stays at or below the lead's low, the lead
   * wins without a single log (≈ 93% of picks at 31 members, 97% at 64); otherwise exact scores decide.
   * Bounds and score differ by ≥ 2^−34 relative, far above rounding, so the result is the exact argmax. Most
   * members are dismissed by one integer comparison: with the largest weight, high ≤ the lead's low as soon as
   * the raw score x ≤ 2^32 − 0.5 − 2^32 · maxWeight / low.
   */
  private bestWeighted(h: number, from: number, to: number): number {
    const hashes = this.hashes;
    const owners = this.owners;
    const weights = this.weights;
    const scale = this.maxWeight * 4294967296;
    let lead = from;
    let leadLow = -1;
    let leadHigh = -1;
    let threat = -1;
    let dismiss = -1;
    for (let j = from; j < to; j++) {
      let x = h ^ hashes[j];
      x ^= x >>> 16;
      x = Math.imul(x, 0x85ebca6b);
      x ^= x >>> 13;
      x = Math.imul(x, 0xc2b2ae35);
      x ^= x >>> 16;
      const raw = x >>> 0;
      if (raw <= dismiss) continue;
      const u = (raw + 0.5) * 2.3283064365386963e-10; // (x + 0.5) / 2^32, in (0,1)
      const gap = 1 - u;
      const w = weights[owners[j]];
      if (w <= leadLow * gap) continue; // high ≤ the lead's low: can neither lead nor threaten it
      const high = w / gap;
      const low = high * u;
      if (low > leadLow) {
        if (leadHigh > threat) threat = leadHigh;
        lead = j;
        leadLow = low;
        leadHigh = high;
        dismiss = 4294967295.5 - scale / low;
      } else if (high > threat) {
        threat = high;
      }
    }
    return threat <= leadLow ? lead : this.bestExact(h, from, to);
  }

  /** bestWeighted by exact scores: a log for each member that can still beat the best so far. */
  private bestExact(h: number, from: number, to: number): number {
    let best = from;
    let bestScore = -1;
    for (let j = from; j < to; j++) {
      const u = (fmix32(h ^ this.hashes[j]) + 0.5) / 4294967296;
      const w = this.weights[this.owners[j]];
      if (w <= bestScore * (1 - u)) continue; // score < w/(1−u) ≤ best
      const score = -w / Math.log(u);
      if (score > bestScore) {
        best = j;
        bestScore = score;
      }
    }
    return best;
  }

  /** The best untried endpoint: in the key's cluster, else in the next clusters of its probe order. */
  private pickUntried(h: number, route: number, ctx: PickContext): Endpoint | undefined {
    if (this.flat) return this.bestUntried(h, 0, this.endpoints.length, ctx);
    const starts = this.starts;
    const base = (route >>> 24) * (clusterCount + 1);
    const step = ((route >>> 14) & 31) | 1;
    for (let j = 0, k = (route >>> 19) & 31; j < clusterCount; j++, k = (k + step) & 31) {
      const e = this.bestUntried(h, starts[base + k], starts[base + k + 1], ctx);
      if (e !== undefined) return e;
    }
    return undefined;
  }

  private bestUntried(h: number, from: number, to: number, ctx: PickContext): Endpoint | undefined {
    const list = this.endpoints;
    let best = -1;
    let bestScore = -1;
    for (let j = from; j < to; j++) {
      const i = this.owners[j];
      const x = fmix32(h ^ this.hashes[j]);
      const score = this.uniform ? x : -this.weights[i] / Math.log((x + 0.5) / 4294967296);
      if (score > bestScore && !isTried(list[i], ctx)) {
        best = i;
        bestScore = score;
      }
    }
    return best < 0 ? undefined : list[best];
  }

  /**
   * Each endpoint's expected share of keys (key order) for uniformly random key hashes: w / Σw when flat; in the
   * skeleton, the mean over partitions of P(its cluster is the key's first non-empty one) × w / (cluster weight).
   * For tests and the documented balance figures; O(partitions × N).
   */
  expectedShares(): Float64Array {
    const n = this.endpoints.length;
    const shares = new Float64Array(n);
    if (this.flat) {
      let total = 0;
      for (let i = 0; i < n; i++) total += this.weights[i];
      for (let i = 0; i < n; i++) shares[i] = this.weights[i] / total;
      return shares;
    }
    const c = clusterCount;
    const chance = new Float64Array(c);
    for (let s = 0; s < partitionCount; s++) {
      const base = s * (c + 1);
      chance.fill(0);
      for (let first = 0; first < c; first++) {
        for (let step = 1; step < c; step += 2) {
          let k = first;
          while (this.starts[base + k + 1] === this.starts[base + k]) k = (k + step) & (c - 1);
          chance[k] += 1 / (c * (c / 2));
        }
      }
      for (let k = 0; k < c; k++) {
        let weight = 0;
        for (let j = this.starts[base + k]; j < this.starts[base + k + 1]; j++) weight += this.weights[this.owners[j]];
        for (let j = this.starts[base + k]; j < this.starts[base + k + 1]; j++) {
          const i = this.owners[j];
          shares[i] += (chance[k] * this.weights[i]) / weight / partitionCount;
        }
      }
    }
    return shares;
  }
}

/** fmix32 (core/hash.ts) without its final `>>> 0`: the route stays an int32, never a boxed number. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

export const rendezvous: Plugin<typeof schema, Balancer> = {
  name: 'rendezvous',
  schema,
  create: () => new Rendezvous(),
};
