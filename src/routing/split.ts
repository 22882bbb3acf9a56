// Weighted forward: a route's traffic split across pools — canary (95/5), blue-green (100/0) — like Envoy
// `weighted_clusters` and ALB weighted target groups. Without a key, NGINX's smooth weighted round robin
// (ngx_http_upstream_get_peer): every run of W = Σweights picks gives pool i exactly weight_i, interleaved.
// With a `sticky` key, the key's hash is a point in [0, 1) and pool i owns the band [C_{i-1}/W, C_i/W) of the
// cumulative weights, so a user stays on one version and 95/5 → 90/10 moves only users in [0.90, 0.95).
import { z } from 'zod';
import { hashString } from '../core/hash.ts';
import { checked, integerIn } from '../core/schema-helpers.ts';
import { describeFound } from '../core/units.ts';
import { compileKey, keySchema, type KeyExtractor, type KeySpec } from '../upstream/balancing/keys.ts';
import type { RouteRequest } from './request.ts';

const namePattern = /^[a-z0-9][a-z0-9_-]*$/;
const poolName = checked('expected the name of a pool like "web"', (v) =>
  typeof v === 'string' && namePattern.test(v) ? v : undefined,
);

/** Most pools in one split: a sanity bound that also keeps W·2^32 exact in a double (W ≤ 100,000). */
export const maxSplitPools = 100;

const keyForms = keySchema.unwrap();
const keyExpected = 'expected "client-ip", "path", "path-query", { header: NAME }, { cookie: NAME } or { query: NAME }';
/** `keySchema` without its default: absent means no sticky split. */
const stickySchema = z.unknown().transform((value, ctx): KeySpec => {
  const parsed = keyForms.safeParse(value);
  if (parsed.success) return parsed.data;
  const keys = typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.keys(value) : [];
  if (keys.length === 1 && (keys[0] === 'header' || keys[0] === 'cookie' || keys[0] === 'query')) {
    const inner = (value as Record<string, unknown>)[keys[0]];
    const what = keys[0] === 'header' ? 'an HTTP header name like "x-user"' : `a ${keys[0]} name`;
    ctx.issues.push({ code: 'custom', message: `expected ${what}, found ${describeFound(inner)}`, input: inner, path: [keys[0]] });
  } else {
    ctx.issues.push({ code: 'custom', message: `${keyExpected}, found ${describeFound(value)}`, input: value });
  }
  return z.NEVER;
});

export interface SplitTargetConfig {
  readonly pool: string;
  /** 0..1000; 0 takes no new requests (the idle side of a blue-green). */
  readonly weight: number;
}

export type ForwardConfig =
  | { readonly pool: string }
  | { readonly pools: readonly SplitTargetConfig[]; readonly sticky: KeySpec | null };

/**
 * `forward: { pool: NAME }`, or `forward: { pools: [{ pool, weight }, …], sticky?: KEY }`. Pool names are
 * checked against the config's pools elsewhere (cross-reference check).
 */
export const forwardSchema = z
  .strictObject({
    pool: poolName.optional(),
    pools: z
      .array(z.strictObject({ pool: poolName, weight: integerIn(0, 1000) }))
      .min(1)
      .max(maxSplitPools)
      .optional(),
    /** Default none: requests are spread by weighted round robin. */
    sticky: stickySchema.optional(),
  })
  .transform((f, ctx): ForwardConfig => {
    if ((f.pool === undefined) === (f.pools === undefined)) {
      const found = f.pool === undefined ? 'neither' : 'both';
      ctx.issues.push({ code: 'custom', message: `expected exactly one of "pool" or "pools", found ${found}`, input: f });
      return z.NEVER;
    }
    if (f.pool !== undefined) {
      if (f.sticky !== undefined) {
        const message = 'expected "sticky" only with "pools" (a split), found it with "pool"';
        ctx.issues.push({ code: 'custom', message, input: f.sticky, path: ['sticky'] });
        return z.NEVER;
      }
      return { pool: f.pool };
    }
    const pools = f.pools!;
    const first = new Map<string, number>();
    pools.forEach((t, i) => {
      const previous = first.get(t.pool);
      if (previous === undefined) first.set(t.pool, i);
      else {
        const message = `expected each pool once in a split, found "${t.pool}" again (first at pools[${previous}])`;
        ctx.issues.push({ code: 'custom', message, input: t.pool, path: ['pools', i, 'pool'] });
      }
    });
    if (pools.every((t) => t.weight === 0)) {
      const message = 'expected at least one pool with a weight above 0, found every weight 0';
      ctx.issues.push({ code: 'custom', message, input: pools, path: ['pools'] });
    }
    return { pools, sticky: f.sticky ?? null };
  });

export interface SplitTarget<T> {
  readonly target: T;
  readonly weight: number;
}

/** Seeds the key hash apart from the balancers' (seed 0), so a split band is not one arc of a ring-hash pool. */
const splitSeed = 0x73706c74;
const two32 = 4294967296;

export class Split<T> {
  /** The current weights (as configured, or as last set through the admin API), weight-0 targets included. */
  targets: ReadonlyArray<SplitTarget<T>>;
  totalWeight: number;
  private readonly key: KeyExtractor | null;
  private weights: Int32Array;
  /** Smooth weighted round robin running scores. */
  private scores: Int32Array;
  /** C_i · 2^32: target i owns the hashes h with C_{i-1}·2^32 ≤ h·W < C_i·2^32. */
  private bounds: Float64Array;

  constructor(targets: ReadonlyArray<SplitTarget<T>>, key: KeyExtractor | null) {
    this.key = key;
    this.targets = [];
    this.totalWeight = 0;
    this.weights = new Int32Array(0);
    this.scores = new Int32Array(0);
    this.bounds = new Float64Array(0);
    this.setWeights(targets);
  }

  /**
   * Replaces the weights in one step (a canary step or a blue-green flip from the admin API): requests already
   * routed keep their pool, the next ones use the new weights. Throws RangeError on bad weights, changing nothing.
   */
  setWeights(targets: ReadonlyArray<SplitTarget<T>>): void {
    let total = 0;
    for (const t of targets) {
      if (!Number.isInteger(t.weight) || t.weight < 0) throw new RangeError(`split weight ${t.weight} is not a whole number ≥ 0`);
      total += t.weight;
    }
    if (total <= 0 || total > 2 ** 21) throw new RangeError(`split total weight ${total} is not in 1..${2 ** 21}`);
    const bounds = new Float64Array(targets.length);
    let cumulative = 0;
    for (let i = 0; i < targets.length; i++) {
      cumulative += targets[i].weight;
      bounds[i] = cumulative * two32;
    }
    this.targets = targets;
    this.totalWeight = total;
    this.weights = Int32Array.from(targets, (t) => t.weight);
    this.scores = new Int32Array(targets.length);
    this.bounds = bounds;
  }

  // HOT PATH: per request of a split route; O(targets), no allocation beyond the key's own.
  pick(req: RouteRequest): T {
    if (this.key !== null) {
      const key = this.key(req);
      if (key !== null) return this.targets[this.band(hashString(key, splitSeed))].target;
    }
    return this.targets[this.next()].target;
  }

  /** The target whose band holds hash `h` (exact: h·W < 2^53). */
  private band(h: number): number {
    const x = h * this.totalWeight;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) if (x < bounds[i]) return i;
    return bounds.length - 1; // unreachable: x < 2^32·W = the last bound
  }

  /** NGINX's rule: add each weight to its score, take the highest (first on ties), subtract W from it. */
  private next(): number {
    const weights = this.weights;
    const scores = this.scores;
    let best = -1;
    for (let i = 0; i < weights.length; i++) {
      if (weights[i] === 0) continue;
      scores[i] += weights[i];
      if (best < 0 || scores[i] > scores[best]) best = i;
    }
    scores[best] -= this.totalWeight;
    return best;
  }
}

/** Builds the split of a `forward: { pools }` config; `resolve` maps a pool name to the target (the Pool). */
export function compileSplit<T>(
  cfg: { readonly pools: readonly SplitTargetConfig[]; readonly sticky: KeySpec | null },
  resolve: (pool: string) => T,
): Split<T> {
  const targets = cfg.pools.map((p) => ({ target: resolve(p.pool), weight: p.weight }));
  return new Split(targets, cfg.sticky === null ? null : compileKey(cfg.sticky));
}
