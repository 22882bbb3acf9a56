// leaky-bucket: shaping, not just policing — requests leave at the limit's constant rate, one every W/N ms
// (Turner's leaky bucket as a queue; NGINX `limit_req` with `burst` and without `nodelay`). A request that finds
// the bucket non-empty is admitted with `delayMs`, the time the queue ahead of it needs to drain, and the data
// plane holds it that long; it is rejected when it would wait longer than `maxDelay` or overflow `burst`.
// Property (test/unit/ratelimit/algorithm/leaky-bucket.test.ts): back-to-back requests get delays 0, W/N,
// 2·W/N, … up to maxDelay, and the departures (arrival + delay) are never closer than W/N.
//
// Integer arithmetic as token-bucket.ts: the level is queued units × W and drains N per millisecond, so the
// queue ahead of a request takes level / N ms to leave.
import { z } from 'zod';
import { durationSchema } from '../../core/units.ts';
import { burstSchema } from '../rate.ts';
import { MemoryStore, StoreEntry } from '../store/memory.ts';
import { RedisLimiter, redisScript } from '../store/redis.ts';
import { ceilMs, newDecision, type AlgorithmPlugin, type Decision, type LimiterDeps, type RateLimiter } from '../types.ts';

export const schema = z.strictObject({
  algorithm: z.literal('leaky-bucket'),
  /** Queue capacity in units, default the limit's N. NGINX `limit_req burst`. */
  burst: burstSchema.optional(),
  /** Longest a request may be held; default 1s. The queue holds at most min(burst, maxDelay × rate + 1). */
  maxDelay: durationSchema.prefault('1s'),
});
export type LeakyBucketOptions = z.output<typeof schema>;

class State extends StoreEntry {
  /** queued units × W */
  level: number;
  stampMs: number;
  constructor() {
    super();
    this.level = 0;
    this.stampMs = 0;
  }
}

/** How many cost-1 requests an empty bucket admits: bounded by burst and by maxDelay. */
export function leakyCapacity(burst: number, maxDelayMs: number, requests: number, perMs: number): number {
  return Math.min(burst, Math.floor((maxDelayMs * requests) / perMs) + 1);
}

export class LeakyBucket implements RateLimiter {
  readonly store: MemoryStore<State>;
  private readonly out: Decision;
  private readonly perUnit: number;
  private readonly drainPerMs: number;
  private readonly full: number;
  private readonly maxQueued: number;
  private readonly limit: number;

  constructor(burst: number, maxDelayMs: number, deps: LimiterDeps, maxKeys: number) {
    this.store = new MemoryStore(maxKeys, () => new State());
    this.out = newDecision(deps.policy);
    this.perUnit = deps.rate.perMs;
    this.drainPerMs = deps.rate.requests;
    this.full = burst * deps.rate.perMs;
    this.maxQueued = maxDelayMs * deps.rate.requests;
    this.limit = leakyCapacity(burst, maxDelayMs, deps.rate.requests, deps.rate.perMs);
  }

  // HOT PATH: as token-bucket, plus the delay.
  take(key: string, cost: number, nowMs: number): Decision {
    const s = this.store.lookup(key, nowMs);
    if (this.store.fresh) {
      s.level = 0;
      s.stampMs = nowMs;
    } else if (nowMs > s.stampMs) {
      s.level = Math.max(0, s.level - (nowMs - s.stampMs) * this.drainPerMs);
      s.stampMs = nowMs;
    }
    const need = cost * this.perUnit;
    const d = this.out;
    d.allowed = s.level <= this.maxQueued && s.level + need <= this.full;
    if (d.allowed) {
      d.delayMs = ceilMs(s.level / this.drainPerMs);
      d.retryAfterMs = 0;
      s.level += need;
    } else {
      d.delayMs = 0;
      d.retryAfterMs = ceilMs(Math.max(s.level - this.maxQueued, s.level + need - this.full) / this.drainPerMs);
    }
    const level = s.level;
    const byDelay = level <= this.maxQueued ? Math.floor((this.maxQueued - level) / this.perUnit) + 1 : 0;
    const byBurst = Math.floor((this.full - level) / this.perUnit);
    s.expiresAtMs = nowMs + level / this.drainPerMs;
    d.limit = this.limit;
    d.remaining = Math.max(0, Math.min(byDelay, byBurst));
    d.resetMs = ceilMs(level / this.drainPerMs);
    return d;
  }

  close(): void {}
}

// ARGV: now, cost, W, N, burst, maxDelayMs, limit. State: HASH { l = queued units × W, t = stamp }.
export const script = redisScript(
  'leaky-bucket',
  `local W = tonumber(ARGV[3])
local N = tonumber(ARGV[4])
local full = tonumber(ARGV[5]) * W
local maxQueued = tonumber(ARGV[6]) * N
local limit = tonumber(ARGV[7])
local key = KEYS[1]
local st = redis.call('HMGET', key, 'l', 't')
local level, stamp
if st[1] == false then
  level = 0
  stamp = now
else
  level = tonumber(st[1])
  stamp = tonumber(st[2])
  if now > stamp then
    level = math.max(0, level - (now - stamp) * N)
    stamp = now
  end
end
local need = cost * W
local allowed, delay, retry = 0, 0, 0
if level <= maxQueued and level + need <= full then
  allowed = 1
  delay = ceil0(level / N)
  level = level + need
else
  retry = ceil0(math.max(level - maxQueued, level + need - full) / N)
end
local byDelay = 0
if level <= maxQueued then byDelay = math.floor((maxQueued - level) / W) + 1 end
local byBurst = math.floor((full - level) / W)
redis.call('HSET', key, 'l', num(level), 't', num(stamp))
ttl(key, level / N)
return { allowed, delay, limit, math.max(0, math.min(byDelay, byBurst)), ceil0(level / N), retry }
`,
);

export const leakyBucket: AlgorithmPlugin<typeof schema> = {
  name: 'leaky-bucket',
  schema,
  capacity: (options, rate) => options.burst ?? rate.requests,
  check: () => null,
  create(options, deps) {
    const burst = options.burst ?? deps.rate.requests;
    const { requests, perMs } = deps.rate;
    if (deps.store.kind === 'redis') {
      const limit = leakyCapacity(burst, options.maxDelay, requests, perMs);
      return new RedisLimiter(deps.store.store, script, [perMs, requests, burst, options.maxDelay, limit], deps, limit);
    }
    return new LeakyBucket(burst, options.maxDelay, deps, deps.store.maxKeys);
  },
};
