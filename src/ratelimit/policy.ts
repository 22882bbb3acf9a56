// A route's compiled rate-limit policy: exempt sources → key → the algorithm's limiter, built once per
// generation. `check` is synchronous for the memory store (the data plane stays on its sync path) and a
// Promise for Redis. `checkAll` runs a route's list: memory policies first, then Redis ones in parallel (one
// round trip each, concurrently); the first rejection wins, else the longest delay.
import { cidrsContain, type Cidr } from '../core/address.ts';
import type { RouteRequest } from '../routing/request.ts';
import { compileKey, type KeyExtractor } from './key.ts';
import { algorithmPlugins } from './registry.ts';
import { policyLine } from './reply.ts';
import type { RateLimitPolicyConfig } from './schema.ts';
import { RedisLimiter, RedisStore, sharedRedisClients, type RedisClientPool } from './store/redis.ts';
import { notLimited, type AlgorithmPlugin, type Decision, type PolicyInfo, type Rate, type RateLimiter, type StoreChoice } from './types.ts';

export interface RateLimitDeps {
  /** Redis connections by URL; default the process-wide pool (tests pass one per simulated instance). */
  readonly redisClients?: RedisClientPool;
}

export class RateLimitPolicy implements PolicyInfo {
  readonly name: string;
  readonly routeName: string;
  readonly algorithm: string;
  readonly rate: Rate;
  readonly cost: number;
  readonly headers: boolean;
  readonly policyLine: string;
  /** True for the memory store: `check` never returns a Promise. */
  readonly sync: boolean;
  readonly limiter: RateLimiter;
  /** The Redis store, for its `failures` count; null for memory. */
  readonly redis: RedisStore | null;
  // counters, read at scrape time (fulcrum_ratelimit_*_total{route, policy})
  admitted: number;
  delayed: number;
  rejected: number;
  /** Requests not counted: exempt source or missing key. */
  skipped: number;
  private readonly key: KeyExtractor;
  private readonly exempt: readonly Cidr[];
  private readonly tally: (d: Decision) => Decision;

  constructor(config: RateLimitPolicyConfig, routeName: string, deps: RateLimitDeps = {}) {
    this.name = config.name;
    this.routeName = routeName;
    this.algorithm = config.algorithm.algorithm;
    this.rate = config.limit;
    this.cost = config.cost;
    this.headers = config.headers;
    this.policyLine = policyLine(config.name, config.limit);
    this.admitted = 0;
    this.delayed = 0;
    this.rejected = 0;
    this.skipped = 0;
    this.key = compileKey(config.key, routeName);
    this.exempt = config.exempt;
    this.tally = (d) => this.count(d);
    let store: StoreChoice;
    if (config.store.kind === 'redis') {
      const { url, prefix, timeoutMs, failOpen } = config.store;
      this.redis = new RedisStore({ url, prefix, timeoutMs, failOpen }, deps.redisClients ?? sharedRedisClients);
      store = { kind: 'redis', store: this.redis };
    } else {
      this.redis = null;
      store = { kind: 'memory', maxKeys: config.store.maxKeys };
    }
    this.sync = store.kind === 'memory';
    const plugin = algorithmPlugins.find((p) => p.name === this.algorithm) as AlgorithmPlugin<never>;
    this.limiter = plugin.create(config.algorithm as never, { rate: config.limit, policy: this, store });
    // failing open, a policy still limits: each instance counts on its own until Redis answers again
    if (this.limiter instanceof RedisLimiter && config.store.kind === 'redis' && config.store.failOpen) {
      this.limiter.fallback = plugin.create(config.algorithm as never, { rate: config.limit, policy: this, store: { kind: 'memory', maxKeys: 100_000 } });
    }
  }

  // HOT PATH: a CIDR scan when `exempt` is set, the key, the limiter; nothing allocated for known keys.
  check(req: RouteRequest, nowMs: number): Decision | Promise<Decision> {
    if (this.exempt.length > 0 && cidrsContain(this.exempt, req.clientAddress)) {
      this.skipped++;
      return notLimited;
    }
    const key = this.key(req);
    if (key === null) {
      this.skipped++;
      return notLimited;
    }
    const d = this.limiter.take(key, this.cost, nowMs);
    return this.sync ? this.count(d as Decision) : (d as Promise<Decision>).then(this.tally);
  }

  /** Keys the memory store holds (a gauge); 0 for Redis. */
  get keys(): number {
    return this.limiter.store?.size ?? 0;
  }

  /** Live keys the memory store dropped to stay within maxKeys. */
  get evictions(): number {
    return this.limiter.store?.evictions ?? 0;
  }

  private count(d: Decision): Decision {
    if (!d.allowed) this.rejected++;
    else {
      this.admitted++;
      if (d.delayMs > 0) this.delayed++;
    }
    return d;
  }

  /** Ends the Redis connection when the generation that owns the policy is released. */
  close(): void {
    this.limiter.close();
  }
}

export function compileRateLimit(config: RateLimitPolicyConfig, routeName: string, deps: RateLimitDeps = {}): RateLimitPolicy {
  return new RateLimitPolicy(config, routeName, deps);
}

/** Which of two admitting decisions the response describes: the longer delay, else the fewer remaining. */
function binding(a: Decision, b: Decision): Decision {
  if (b.policy === null) return a;
  if (a.policy === null || b.delayMs > a.delayMs) return b;
  if (b.delayMs === a.delayMs && b.remaining < a.remaining) return b;
  return a;
}

function combine(decisions: readonly Decision[], start: Decision): Decision {
  let result = start;
  for (const d of decisions) {
    if (!d.allowed) return d;
    result = binding(result, d);
  }
  return result;
}

/**
 * Every policy must admit the request: the first rejection is the answer; otherwise the decision with the
 * longest delay (the data plane waits that long) or, with no delay, the fewest remaining (its headers go on
 * the response). Memory policies run first, in order, and stop at a rejection (later ones are not charged);
 * Redis policies then run concurrently and are all charged, as Envoy sends all descriptors in one call.
 * Synchronous when every policy is.
 */
export function checkAll(policies: readonly RateLimitPolicy[], req: RouteRequest, nowMs: number): Decision | Promise<Decision> {
  let result = notLimited;
  let pending: Promise<Decision>[] | null = null;
  for (let i = 0; i < policies.length; i++) {
    const p = policies[i];
    if (!p.sync) {
      pending ??= [];
      continue;
    }
    const d = p.check(req, nowMs) as Decision;
    if (!d.allowed) return d;
    result = binding(result, d);
  }
  if (pending === null) return result;
  for (const p of policies) if (!p.sync) pending.push(p.check(req, nowMs) as Promise<Decision>);
  // a memory decision is reused by the next check of its policy: keep a copy across the await
  const syncResult = result === notLimited ? notLimited : { ...result };
  return Promise.all(pending).then((ds) => combine(ds, syncResult));
}

/** True when `checkAll` over these policies never returns a Promise. */
export function allSync(policies: readonly RateLimitPolicy[]): boolean {
  return policies.every((p) => p.sync);
}
