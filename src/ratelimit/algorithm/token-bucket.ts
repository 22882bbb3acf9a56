// token-bucket: a bucket of `burst` tokens refilled at the limit's rate; a request takes `cost` tokens or is
// rejected (Turner's token bucket; Envoy's local rate limit, AWS API Gateway throttling). Allows bursts of up to
// `burst` after a quiet spell while holding the long-run rate. Property (test/unit/ratelimit/property.test.ts):
// in any interval of t ms it admits at most burst + rate·t units.
//
// Exact integer arithmetic: the level is kept in token·ms, scaled by the window W — a full bucket is burst·W,
// a request costs cost·W, and each millisecond adds N (the limit's requests) — so refill boundaries fall on
// whole milliseconds with no rounding, and the Lua script below computes the very same numbers.
import { z } from 'zod';
import { burstSchema } from '../rate.ts';
import { MemoryStore, StoreEntry } from '../store/memory.ts';
import { RedisLimiter, redisScript } from '../store/redis.ts';
import { ceilMs, newDecision, type AlgorithmPlugin, type Decision, type LimiterDeps, type RateLimiter } from '../types.ts';

export const schema = z.strictObject({
  algorithm: z.literal('token-bucket'),
  /** Bucket capacity in units; default the limit's N. NGINX `limit_req burst`, Envoy `max_tokens`. */
  burst: burstSchema.optional(),
});
export type TokenBucketOptions = z.output<typeof schema>;

class State extends StoreEntry {
  /** tokens × W */
  level: number;
  stampMs: number;
  constructor() {
    super();
    this.level = 0;
    this.stampMs = 0;
  }
}

export class TokenBucket implements RateLimiter {
  readonly store: MemoryStore<State>;
  private readonly out: Decision;
  private readonly perUnit: number;
  private readonly refillPerMs: number;
  private readonly full: number;
  private readonly burst: number;

  constructor(burst: number, deps: LimiterDeps, maxKeys: number) {
    this.store = new MemoryStore(maxKeys, () => new State());
    this.out = newDecision(deps.policy);
    this.perUnit = deps.rate.perMs;
    this.refillPerMs = deps.rate.requests;
    this.burst = burst;
    this.full = burst * deps.rate.perMs;
  }

  // HOT PATH: a few multiplications on a recycled state; the decision object is reused.
  take(key: string, cost: number, nowMs: number): Decision {
    const s = this.store.lookup(key, nowMs);
    if (this.store.fresh) {
      s.level = this.full;
      s.stampMs = nowMs;
    } else if (nowMs > s.stampMs) {
      s.level = Math.min(this.full, s.level + (nowMs - s.stampMs) * this.refillPerMs);
      s.stampMs = nowMs;
    }
    const need = cost * this.perUnit;
    const d = this.out;
    d.allowed = s.level >= need;
    if (d.allowed) {
      s.level -= need;
      d.retryAfterMs = 0;
    } else {
      d.retryAfterMs = ceilMs((need - s.level) / this.refillPerMs);
    }
    const toFullMs = (this.full - s.level) / this.refillPerMs;
    s.expiresAtMs = nowMs + toFullMs;
    d.limit = this.burst;
    d.remaining = Math.floor(s.level / this.perUnit);
    d.resetMs = ceilMs(toFullMs);
    return d;
  }

  close(): void {}
}

// ARGV: now, cost, W (ms per window), N (units per window), burst. State: HASH { l = tokens × W, t = stamp }.
export const script = redisScript(
  'token-bucket',
  `local W = tonumber(ARGV[3])
local N = tonumber(ARGV[4])
local burst = tonumber(ARGV[5])
local full = burst * W
local key = KEYS[1]
local st = redis.call('HMGET', key, 'l', 't')
local level, stamp
if st[1] == false then
  level = full
  stamp = now
else
  level = tonumber(st[1])
  stamp = tonumber(st[2])
  if now > stamp then
    level = math.min(full, level + (now - stamp) * N)
    stamp = now
  end
end
local need = cost * W
local allowed = 0
local retry = 0
if level >= need then
  level = level - need
  allowed = 1
else
  retry = ceil0((need - level) / N)
end
local toFull = (full - level) / N
redis.call('HSET', key, 'l', num(level), 't', num(stamp))
ttl(key, toFull)
return { allowed, 0, burst, math.floor(level / W), ceil0(toFull), retry }
`,
);

export const tokenBucket: AlgorithmPlugin<typeof schema> = {
  name: 'token-bucket',
  schema,
  capacity: (options, rate) => options.burst ?? rate.requests,
  check: () => null,
  create(options, deps) {
    const burst = options.burst ?? deps.rate.requests;
    if (deps.store.kind === 'redis') return new RedisLimiter(deps.store.store, script, [deps.rate.perMs, deps.rate.requests, burst], deps, burst);
    return new TokenBucket(burst, deps, deps.store.maxKeys);
  },
};
