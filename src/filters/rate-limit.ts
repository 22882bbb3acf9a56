// The `rateLimit` route filter: its config schema (one policy or a list, ratelimit/schema.ts) and the compiled
// form the data plane runs before picking an endpoint — `RouteRateLimits.check(req, nowMs)`, synchronous when
// every policy uses the memory store. A rejection is answered with `rejectReply` (429); a delay (leaky-bucket)
// holds the request `delayMs` before it is forwarded; `allowedHeaderLines` adds the RateLimit fields to the
// forwarded response when the policy asks for them. Compiled once per generation; `null` when a route has none.
import type { RouteRequest } from '../routing/request.ts';
import { allSync, checkAll, compileRateLimit, type RateLimitDeps, type RateLimitPolicy } from '../ratelimit/policy.ts';
import type { RateLimitConfig } from '../ratelimit/schema.ts';
import type { Decision } from '../ratelimit/types.ts';

export { rateLimitPolicySchema, rateLimitSchema, type RateLimitConfig, type RateLimitPolicyConfig } from '../ratelimit/schema.ts';
export { checkAll, compileRateLimit, RateLimitPolicy, type RateLimitDeps } from '../ratelimit/policy.ts';
export { allowedHeaderLines, rateLimitedReason, rejectReply, type ReplyOptions } from '../ratelimit/reply.ts';
export { notLimited, type Decision } from '../ratelimit/types.ts';
/** Redis connections shared by every generation; `sharedRedisClients.closeAll()` on process shutdown. */
export { sharedRedisClients } from '../ratelimit/store/redis.ts';

export class RouteRateLimits {
  readonly policies: readonly RateLimitPolicy[];
  /** True when `check` never returns a Promise (every policy uses the memory store). */
  readonly sync: boolean;
  private readonly single: RateLimitPolicy | null;

  constructor(policies: readonly RateLimitPolicy[]) {
    this.policies = policies;
    this.sync = allSync(policies);
    this.single = policies.length === 1 ? policies[0] : null;
  }

  // HOT PATH: one policy is the common case and goes straight to it.
  /** The decision that binds: the first rejection, else the longest delay. Read it before the next check. */
  check(req: RouteRequest, nowMs: number): Decision | Promise<Decision> {
    return this.single !== null ? this.single.check(req, nowMs) : checkAll(this.policies, req, nowMs);
  }

  /** Ends Redis connections; the generation calls it when it is released. */
  close(): void {
    for (const p of this.policies) p.close();
  }
}

export function compileRateLimits(config: RateLimitConfig | undefined, routeName: string, deps: RateLimitDeps = {}): RouteRateLimits | null {
  if (config === undefined || config.length === 0) return null;
  return new RouteRateLimits(config.map((c) => compileRateLimit(c, routeName, deps)));
}
