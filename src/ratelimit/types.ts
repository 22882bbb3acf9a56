// The rate limiter's shapes (ARCHITECTURE.md "Plug-ins"): a `RateLimiter` takes `cost` units for a key and
// answers with a `Decision`, synchronously for the memory store and as a Promise for Redis. Each algorithm is
// one file exporting one `AlgorithmPlugin` (registry.ts); a route's compiled `RateLimitPolicy` (policy.ts)
// extracts the key, skips exempt sources and calls its limiter.
import type { z } from 'zod';
import type { Plugin } from '../core/registry.ts';
import type { RedisStore } from './store/redis.ts';

/** `limit: 100/min` → { requests: 100, perMs: 60000 }. */
export interface Rate {
  readonly requests: number;
  readonly perMs: number;
}

/** What a decision's headers need to know of the policy that made it (RateLimitPolicy implements it). */
export interface PolicyInfo {
  /** The policy name as in `RateLimit-Policy: "name";…`. */
  readonly name: string;
  readonly routeName: string;
  readonly algorithm: string;
  readonly rate: Rate;
  /** Add RateLimit-Policy / RateLimit to allowed responses too (429s always carry them). */
  readonly headers: boolean;
  /** The whole `ratelimit-policy: "name";q=N;w=S\r\n` line, built once (reply.ts `policyLine`). */
  readonly policyLine: string;
}

/**
 * One check's answer. A memory limiter returns the same object on every call (no allocation per request):
 * read it before the next check of the same policy, copy it to keep it.
 */
export interface Decision {
  allowed: boolean;
  /** Leaky bucket only: how long the data plane holds the request before forwarding it; 0 otherwise. */
  delayMs: number;
  /** The most this key can be admitted from a fresh state: the bucket capacity or the window quota. */
  limit: number;
  /** Units the key could still take right now, after this request (floor). */
  remaining: number;
  /** Time until the key's state is fresh again (a full bucket, an empty queue, windows with no count). */
  resetMs: number;
  /** Rejected: time until a request of the same cost would be admitted. 0 when allowed. */
  retryAfterMs: number;
  /** The policy that decided; null for `notLimited` (exempt source, missing key, store failing open). */
  policy: PolicyInfo | null;
}

export function newDecision(policy: PolicyInfo | null): Decision {
  return { allowed: true, delayMs: 0, limit: 0, remaining: 0, resetMs: 0, retryAfterMs: 0, policy };
}

/** The answer for a request no policy counts: allowed, no headers. Shared and frozen. */
export const notLimited: Decision = Object.freeze(newDecision(null));

export interface RateLimiter {
  /** HOT PATH for the memory store: sync, allocation-free for known keys. */
  take(key: string, cost: number, nowMs: number): Decision | Promise<Decision>;
  /** The memory store's gauges (keys held, live keys evicted); absent for Redis. */
  readonly store?: { readonly size: number; readonly evictions: number };
  /** Ends background resources (a Redis connection); the generation calls it when the policy is replaced. */
  close(): void;
}

/** Where a limiter keeps its per-key state. */
export type StoreChoice = { readonly kind: 'memory'; readonly maxKeys: number } | { readonly kind: 'redis'; readonly store: RedisStore };

export interface LimiterDeps {
  readonly rate: Rate;
  readonly policy: PolicyInfo;
  readonly store: StoreChoice;
}

/**
 * An algorithm: `schema` holds its own options (`algorithm` plus e.g. `burst`), merged into the policy schema;
 * `capacity` is the most one request may cost (checked against `cost` at config time); `check` reports a
 * limit the algorithm cannot serve (a message) or null.
 */
export interface AlgorithmPlugin<Schema extends z.ZodType> extends Plugin<Schema, RateLimiter, LimiterDeps> {
  capacity(options: z.output<Schema>, rate: Rate): number;
  check(options: z.output<Schema>, rate: Rate): string | null;
}

/** Integer arithmetic helpers shared by the algorithms and mirrored in their Lua scripts. */
export function ceilMs(ms: number): number {
  return ms <= 0 ? 0 : Math.ceil(ms);
}
