// fixed-window: a counter per key and per window of W ms aligned to the epoch (every instance sees the same
// edges); at most N units per window (NGINX Plus / Kong "fixed window", Redis's INCR + EXPIRE). The cheapest,
// but a client may send N just before an edge and N just after: up to 2N in any W. Tests
// (test/unit/ratelimit/algorithm/fixed-window.test.ts): N per aligned window, reset at the edge, the 2N edge burst.
import { z } from 'zod';
import { MemoryStore, StoreEntry } from '../store/memory.ts';
import { RedisLimiter, redisScript } from '../store/redis.ts';
import { ceilMs, newDecision, type AlgorithmPlugin, type Decision, type LimiterDeps, type RateLimiter } from '../types.ts';

export const schema = z.strictObject({ algorithm: z.literal('fixed-window') });
export type FixedWindowOptions = z.output<typeof schema>;

class State extends StoreEntry {
  window: number;
  count: number;
  constructor() {
    super();
    this.window = 0;
    this.count = 0;
  }
}

export class FixedWindow implements RateLimiter {
  readonly store: MemoryStore<State>;
  private readonly out: Decision;
  private readonly windowMs: number;
  private readonly quota: number;

  constructor(deps: LimiterDeps, maxKeys: number) {
    this.store = new MemoryStore(maxKeys, () => new State());
    this.out = newDecision(deps.policy);
    this.windowMs = deps.rate.perMs;
    this.quota = deps.rate.requests;
  }

  // HOT PATH: one division and a compare.
  take(key: string, cost: number, nowMs: number): Decision {
    const window = Math.floor(nowMs / this.windowMs);
    const s = this.store.lookup(key, nowMs);
    if (this.store.fresh) {
      s.window = window;
      s.count = 0;
    } else if (s.window !== window) {
      s.window = window;
      s.count = 0;
    }
    const endMs = (window + 1) * this.windowMs;
    const d = this.out;
    d.allowed = s.count + cost <= this.quota;
    if (d.allowed) s.count += cost;
    s.expiresAtMs = endMs;
    d.delayMs = 0;
    d.limit = this.quota;
    d.remaining = this.quota - s.count;
    d.resetMs = ceilMs(endMs - nowMs);
    d.retryAfterMs = d.allowed ? 0 : ceilMs(endMs - nowMs);
    return d;
  }

  close(): void {}
}

// ARGV: now, cost, W, N. State: HASH { w = window index, c = count }, expiring at the window's end.
export const script = redisScript(
  'fixed-window',
  `local W = tonumber(ARGV[3])
local N = tonumber(ARGV[4])
local key = KEYS[1]
local window = math.floor(now / W)
local st = redis.call('HMGET', key, 'w', 'c')
local count = 0
if st[1] ~= false and tonumber(st[1]) == window then count = tonumber(st[2]) end
local endMs = (window + 1) * W
local allowed, retry = 0, endMs - now
if count + cost <= N then
  allowed = 1
  retry = 0
  count = count + cost
end
redis.call('HSET', key, 'w', num(window), 'c', num(count))
ttl(key, endMs - now)
return { allowed, 0, N, N - count, ceil0(endMs - now), ceil0(retry) }
`,
);

export const fixedWindow: AlgorithmPlugin<typeof schema> = {
  name: 'fixed-window',
  schema,
  capacity: (_options, rate) => rate.requests,
  check: () => null,
  create(_options, deps) {
    if (deps.store.kind === 'redis') return new RedisLimiter(deps.store.store, script, [deps.rate.perMs, deps.rate.requests], deps, deps.rate.requests);
    return new FixedWindow(deps, deps.store.maxKeys);
  },
};
