// Shared by the hash balancers (hash, ring-hash, maglev, rendezvous): their option schemas, the endpoint-set
// signature that decides when a table is rebuilt (update() only, never per pick), a per-pick "seen" stamp for
// bounded walks (walkOwners), and the bounded-load test of Mirrokni, Thorup and Zadimoghaddam (SODA 2018, §2), which is
// HAProxy's `hash-balance-factor` and Envoy's `hash_balance_factor`.
import { z } from 'zod';
import type { Endpoint } from '../endpoint.ts';
import { isTried, type PickContext } from './types.ts';

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/** Ring points per unit of weight. Default 160, as libketama (40 MD5 digests × 4 points). */
export const virtualNodesSchema = z.number().int().min(1).max(4096).default(160);

/** Largest Maglev table: 2^24 entries (64 MB of Int32). */
export const maxTableSize = 16_777_216;
/** Maglev lookup table size M. Default 65537, as in the paper's evaluation and Envoy's `table_size`: prime, and > 100 × N for N ≤ 655. */
export const tableSizeSchema = z
  .number()
  .int()
  .min(3)
  .max(maxTableSize)
  .refine(isPrime, { error: (issue) => `expected a prime table size like 65537 or 131071, found ${String(issue.input)}` })
  .default(65537);

/** Bounded loads: absent = off. An endpoint is skipped while it holds more than
 *  ⌈balanceFactor × (total in flight + 1) × weight / total weight⌉ exchanges. Like HAProxy `hash-balance-factor 125`. */
export const balanceFactorSchema = z.number().gt(1).max(100).optional();

/**
 * The eligible set in key order, without weight-0 endpoints. Tables are built from this order, so two
 * balancers given the same endpoints in any order build the same table (a fleet maps a key alike).
 * Remembers keys and weights of the last set to tell whether a rebuild is needed.
 */
export class EndpointSetSignature {
  private keys: string[];
  private weights: number[];

  constructor() {
    this.keys = [];
    this.weights = [];
  }

  /** Returns the set in key order, and whether its keys or weights differ from the previous call's. */
  sorted(eligible: readonly Endpoint[]): { readonly endpoints: Endpoint[]; readonly changed: boolean } {
    const endpoints = eligible.filter((e) => e.weight > 0).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    let changed = endpoints.length !== this.keys.length;
    for (let i = 0; !changed && i < endpoints.length; i++) {
      changed = endpoints[i].key !== this.keys[i] || endpoints[i].weight !== this.weights[i];
    }
    if (changed) {
      this.keys = endpoints.map((e) => e.key);
      this.weights = endpoints.map((e) => e.weight);
    }
    return { endpoints, changed };
  }
}

/**
 * Per-pick bookkeeping for a walk along a table: each endpoint (by index) is looked at once per walk, and the
 * walk ends after every endpoint was seen, so a retry never loops. Allocation-free: one Int32Array of stamps.
 */
export class WalkStamps {
  private stamps: Int32Array;
  private stamp: number;

  constructor() {
    this.stamps = new Int32Array(0);
    this.stamp = 0;
  }

  resize(n: number): void {
    this.stamps = new Int32Array(n);
    this.stamp = 0;
  }

  begin(): void {
    if (++this.stamp === 0x7fffffff) {
      this.stamps.fill(0);
      this.stamp = 1;
    }
  }

  /** True the first time `i` is seen in this walk. */
  first(i: number): boolean {
    if (this.stamps[i] === this.stamp) return false;
    this.stamps[i] = this.stamp;
    return true;
  }
}

/**
 * The bounded-load test (Mirrokni et al., §2: capacity ⌈(1+ε)·m/n⌉ with m balls in n bins, here m = exchanges in
 * flight including the one being placed; weighted, each endpoint's capacity is scaled by its weight share).
 * The total in flight is summed at most once per pick, and only when a candidate is busy enough to need it.
 */
export class LoadBound {
  /** 0 = off. */
  readonly factor: number;
  private endpoints: readonly Endpoint[];
  private weights: Float64Array;
  private totalWeight: number;
  private total: number;

  constructor(factor: number | undefined) {
    this.factor = factor ?? 0;
    this.endpoints = [];
    this.weights = new Float64Array(0);
    this.totalWeight = 0;
    this.total = -1;
  }

  update(endpoints: readonly Endpoint[]): void {
    this.endpoints = endpoints;
    this.weights = new Float64Array(endpoints.length);
    this.totalWeight = 0;
    for (let i = 0; i < endpoints.length; i++) {
      this.weights[i] = endpoints[i].weight;
      this.totalWeight += endpoints[i].weight;
    }
  }

  /** Call at the start of every pick: forgets the cached total in flight. */
  begin(): void {
    this.total = -1;
  }

  /** May endpoint `i` take one more exchange? Always true when the bound is off. */
  allows(i: number): boolean {
    if (this.factor === 0) return true;
    const load = this.endpoints[i].inFlight + 1;
    const scale = (this.factor * this.weights[i]) / this.totalWeight;
    if (load <= Math.ceil(scale)) return true; // within the bound for any total: skip the O(N) sum
    if (this.total < 0) {
      let total = 0;
      for (let j = 0; j < this.endpoints.length; j++) total += this.endpoints[j].inFlight;
      this.total = total;
    }
    return load <= Math.ceil((this.factor * (this.total + 1) * this.weights[i]) / this.totalWeight);
  }
}

/**
 * A pick for table balancers (ring-hash points, maglev entries): the owner of `start` when it is untried and
 * within the load bound — the usual case, decided at the first entry — else the next entries of `owners` in
 * order, each distinct endpoint looked at once (retries and busy endpoints). When every untried endpoint is
 * over the load bound, the first untried one met takes the exchange.
 */
export function walkOwners(
  owners: ArrayLike<number>,
  start: number,
  endpoints: readonly Endpoint[],
  ctx: PickContext,
  stamps: WalkStamps,
  bound: LoadBound,
): Endpoint | undefined {
  const size = owners.length;
  const n = endpoints.length;
  bound.begin();
  stamps.begin();
  let seen = 0;
  let fallback = -1;
  for (let step = 0, i = start; step < size && seen < n; step++, i = i + 1 === size ? 0 : i + 1) {
    const o = owners[i];
    if (!stamps.first(o)) continue;
    seen++;
    if (isTried(endpoints[o], ctx)) continue;
    if (bound.allows(o)) return endpoints[o];
    if (fallback < 0) fallback = o;
  }
  return fallback < 0 ? undefined : endpoints[fallback];
}
