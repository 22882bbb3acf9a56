// ring-hash: ketama consistent hashing (Karger et al., STOC 1997, §4; libketama). Each endpoint puts
// `virtualNodes × weight` points on a 32-bit ring, placed as libketama places them: MD5 of "<address>-<d>" for
// d = 0, 1, …, four points per digest (bytes 4p..4p+3, little-endian), so with equal weights and 160 points the
// ring is libketama's own. A request goes to the owner of the first point at or after its hash. Use it for caches
// and stateful backends: a set change remaps only the keys of the endpoints that changed. Properties
// (test/unit/upstream/balancing/ring-hash.test.ts): removing 1 of N moves only its keys, adding one moves
// ≈ K/(N+1), each endpoint's share is within ≈ ±1/√v of the mean (max/mean 1.159 over 10.0.0.1–10:8080 at
// v = 160; why in docs/algorithms.md), weights proportional; with `balanceFactor` (Mirrokni et al., SODA 2018) no
// endpoint exceeds ⌈factor × average⌉.
//
//   ring (sorted Uint32Array)   0 ─── p0 ── p1 ─── h ── p2 ──── … ── p(P−1) ─── 2^32 (wraps to p0)
//   owners (Int32Array)               a     c          b  ◄── h lands on b; a retry walks on: b's next point, …
import { hash as digest } from 'node:crypto';
import { z } from 'zod';
import type { Plugin } from '../../core/registry.ts';
import type { Endpoint } from '../endpoint.ts';
import { balanceFactorSchema, EndpointSetSignature, LoadBound, virtualNodesSchema, walkOwners, WalkStamps } from './hash-support.ts';
import { keySchema } from './keys.ts';
import type { Balancer, PickContext } from './types.ts';
import { WeightedRoundRobin } from './weighted-round-robin.ts';

export const schema = z
  .object({
    algorithm: z.literal('ring-hash'),
    key: keySchema,
    virtualNodes: virtualNodesSchema,
    balanceFactor: balanceFactorSchema,
  })
  .strict();
export type RingHashOptions = z.infer<typeof schema>;

/** Bound on ring points (16 MB of typed arrays): beyond it every endpoint's count is scaled down alike, as
 *  Envoy's `maximum_ring_size` does. 1,000 endpoints × 160 points × weight 13 fit. */
export const maxRingPoints = 1 << 21;

export class RingHash implements Balancer {
  private readonly virtualNodes: number;
  private readonly signature: EndpointSetSignature;
  private readonly stamps: WalkStamps;
  private readonly bound: LoadBound;
  /** Used when the request lacks the key (HAProxy falls back to round robin). */
  private readonly fallback: WeightedRoundRobin;
  /** Key order; `owners` index into it. */
  private endpoints: Endpoint[];
  private points: Uint32Array;
  private owners: Int32Array;
  /** Each current endpoint's ketama points in digest order (a prefix serves a smaller count): a rebuild digests
   *  only endpoints that are new or need more points, as MD5 is most of a cold build (≈ 40,000 digests at N = 1,000). */
  private placed: Map<string, Uint32Array>;

  constructor(options: { virtualNodes?: number; balanceFactor?: number | undefined } = {}) {
    this.virtualNodes = options.virtualNodes ?? 160;
    this.signature = new EndpointSetSignature();
    this.stamps = new WalkStamps();
    this.bound = new LoadBound(options.balanceFactor);
    this.fallback = new WeightedRoundRobin();
    this.endpoints = [];
    this.points = new Uint32Array(0);
    this.owners = new Int32Array(0);
    this.placed = new Map();
  }

  /** Ring points, for tests and the benchmark. */
  get size(): number {
    return this.points.length;
  }

  update(eligible: readonly Endpoint[]): void {
    const { endpoints, changed } = this.signature.sorted(eligible);
    this.endpoints = endpoints;
    this.bound.update(endpoints);
    this.fallback.update(endpoints);
    if (!changed) return;
    this.stamps.resize(endpoints.length);
    this.build(endpoints);
  }

  private build(endpoints: readonly Endpoint[]): void {
    let total = 0;
    for (const e of endpoints) total += this.virtualNodes * e.weight;
    const scale = total > maxRingPoints ? maxRingPoints / total : 1;
    const counts = endpoints.map((e) => Math.max(1, Math.floor(this.virtualNodes * e.weight * scale)));
    let size = 0;
    for (const c of counts) size += c;
    // Sort (point, owner) pairs as one number: point × 2^21 + owner is exact below 2^53, and equal points
    // (rare) are ordered by owner, that is by key, so the ring does not depend on config order.
    const packed = new Float64Array(size);
    const placed = new Map<string, Uint32Array>();
    let at = 0;
    for (let o = 0; o < endpoints.length; o++) {
      const key = endpoints[o].key;
      let words = this.placed.get(key);
      if (words === undefined || words.length < counts[o]) words = ketamaPoints(key, counts[o]);
      placed.set(key, words);
      for (let i = 0; i < counts[o]; i++) packed[at++] = words[i] * 2097152 + o;
    }
    this.placed = placed;
    packed.sort();
    const points = new Uint32Array(size);
    const owners = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      const v = packed[i];
      const point = Math.floor(v / 2097152);
      points[i] = point;
      owners[i] = v - point * 2097152;
    }
    this.points = points;
    this.owners = owners;
  }

  // HOT PATH: a binary search over the sorted points (≈ log2(160·N) steps); no allocation.
  pick(ctx: PickContext): Endpoint | undefined {
    const points = this.points;
    const size = points.length;
    if (size === 0) return undefined;
    if (!ctx.hasHash) return this.fallback.pick(ctx);
    const h = ctx.hash >>> 0;
    let lo = 0;
    let hi = size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    const start = lo === size ? 0 : lo;
    return walkOwners(this.owners, start, this.endpoints, ctx, this.stamps, this.bound);
  }
}

/** libketama's first `count` points for `address`: MD5("<address>-<d>") for d = 0, 1, …, each digest read as four
 *  little-endian 32-bit words (ketama_create_continuum). */
export function ketamaPoints(address: string, count: number): Uint32Array {
  const words = new Uint32Array(count);
  for (let d = 0; 4 * d < count; d++) {
    const md5 = digest('md5', `${address}-${d}`, 'buffer');
    for (let p = 0; p < 4 && 4 * d + p < count; p++) words[4 * d + p] = md5.readUInt32LE(4 * p);
  }
  return words;
}

export const ringHash: Plugin<typeof schema, Balancer> = {
  name: 'ring-hash',
  schema,
  create: (o) => new RingHash(o),
};
