// Builds policies the way a config does (schema → compile), and reads decisions as plain tuples so a whole
// admit/reject sequence compares in one assertion.
import { compileRateLimit, type RateLimitDeps, type RateLimitPolicy } from '../../../src/ratelimit/policy.ts';
import { rateLimitPolicySchema } from '../../../src/ratelimit/schema.ts';
import type { Decision } from '../../../src/ratelimit/types.ts';

export function policy(raw: Record<string, unknown>, routeName = 'api', deps: RateLimitDeps = {}): RateLimitPolicy {
  return compileRateLimit(rateLimitPolicySchema.parse(raw), routeName, deps);
}

/** A memory limiter's take, typed as the sync decision it is. */
export function take(p: RateLimitPolicy, key: string, nowMs: number, cost = p.cost): Decision {
  const d = p.limiter.take(key, cost, nowMs);
  if (d instanceof Promise) throw new Error('expected a synchronous decision');
  return d;
}

/** `A` admitted, `R` rejected, for a run of takes at the given times. */
export function pattern(p: RateLimitPolicy, key: string, times: readonly number[]): string {
  return times.map((t) => (take(p, key, t).allowed ? 'A' : 'R')).join('');
}

export function fields(d: Decision): { allowed: boolean; delayMs: number; limit: number; remaining: number; resetMs: number; retryAfterMs: number } {
  const { allowed, delayMs, limit, remaining, resetMs, retryAfterMs } = d;
  return { allowed, delayMs, limit, remaining, resetMs, retryAfterMs };
}

/** How many entries the policy's memory store holds. */
export function storeSize(p: RateLimitPolicy): number {
  return (p.limiter as unknown as { store: { size: number } }).store.size;
}
