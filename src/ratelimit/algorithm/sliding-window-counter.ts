// sliding-window-counter (the default): two fixed-window counters and a weighted estimate of the last W ms,
//   estimate = previous × (W − elapsed) / W + current
// (Cloudflare, "How we built rate limiting capable of scaling to millions of domains", 2017; worked example:
// W = 60s, elapsed 45s, previous 80, current 30 → 80 × 0.25 + 30 = 50). O(1) per key like fixed-window without
// its 2N edge burst; it assumes the previous window's requests were spread evenly. Admits when
// estimate + cost ≤ N. Tests (test/unit/ratelimit/algorithm/sliding-window-counter.test.ts) check the
// estimate against the hand computation and each Retry-After against the first admitted instant.
//
// Integer arithmetic: the estimate is kept × W (previous × (W − elapsed) + current × W), compared with N × W.
import { z } from 'zod';
import { MemoryStore, StoreEntry } from '../store/memory.ts';
import { RedisLimiter, redisScript } from '../store/redis.ts';
import { ceilMs, newDecision, type AlgorithmPlugin, type Decision, type LimiterDeps, type RateLimiter } from '../types.ts';

export const schema = z.strictObject({ algorithm: z.literal('sliding-window-counter') });
export type SlidingWindowCounterOptions = z.output<typeof schema>;

class State extends StoreEntry {
  window: number;
  current: number;
  previous: number;
  constructor() {
    super();
    this.window = 0;
    this.current = 0;
    this.previous = 0;
  }
}

export class SlidingWindowCounter implements RateLimiter {
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

  // HOT PATH: one division, a few multiplications.
  take(key: string, cost: number, nowMs: number): Decision {
    const W = this.windowMs;
    const N = this.quota;
    const window = Math.floor(nowMs / W);
    const s = this.store.lookup(key, nowMs);
    if (this.store.fresh) {
      s.window = window;
      s.current = 0;
      s.previous = 0;
    } else if (window > s.window) {
      s.previous = window === s.window + 1 ? s.current : 0;
      s.current = 0;
      s.window = window;
    }
    // a clock that stepped back stays in the state's window
    const elapsed = Math.max(0, nowMs - s.window * W);
    let estimate = s.previous * (W - elapsed) + s.current * W;
    const d = this.out;
    d.allowed = estimate + cost * W <= N * W;
    if (d.allowed) {
      s.current += cost;
      estimate += cost * W;
      d.retryAfterMs = 0;
    } else if (s.current + cost <= N) {
      // the previous window's weight must fall until the request fits
      d.retryAfterMs = ceilMs(((W - elapsed) * s.previous - (N - cost - s.current) * W) / s.previous);
    } else {
      // only the next window helps, once this window's count (then the previous one) has decayed enough
      d.retryAfterMs = ceilMs(W - elapsed + (W * (s.current + cost - N)) / s.current);
    }
    const resetMs = s.current > 0 ? 2 * W - elapsed : s.previous > 0 ? W - elapsed : 0;
    s.expiresAtMs = nowMs + resetMs;
    d.delayMs = 0;
    d.limit = N;
    d.remaining = Math.max(0, Math.floor((N * W - estimate) / W));
    d.resetMs = ceilMs(resetMs);
    return d;
  }

  close(): void {}
}

// ARGV: now, cost, W, N. State: HASH { w = window index, c = current, p = previous }.
export const script = redisScript(
  'sliding-window-counter',
  `local W = tonumber(ARGV[3])
local N = tonumber(ARGV[4])
local key = KEYS[1]
local window = math.floor(now / W)
local st = redis.call('HMGET', key, 'w', 'c', 'p')
local current, previous = 0, 0
if st[1] ~= false then
  local w = tonumber(st[1])
  current = tonumber(st[2])
  previous = tonumber(st[3])
  if window > w then
    if window == w + 1 then previous = current else previous = 0 end
    current = 0
  else
    window = w
  end
end
local elapsed = math.max(0, now - window * W)
local estimate = previous * (W - elapsed) + current * W
local allowed, retry = 0, 0
if estimate + cost * W <= N * W then
  allowed = 1
  current = current + cost
  estimate = estimate + cost * W
elseif current + cost <= N then
  retry = ceil0(((W - elapsed) * previous - (N - cost - current) * W) / previous)
else
  retry = ceil0(W - elapsed + (W * (current + cost - N)) / current)
end
local reset = 0
if current > 0 then reset = 2 * W - elapsed elseif previous > 0 then reset = W - elapsed end
redis.call('HSET', key, 'w', num(window), 'c', num(current), 'p', num(previous))
ttl(key, reset)
return { allowed, 0, N, math.max(0, math.floor((N * W - estimate) / W)), ceil0(reset), retry }
`,
);

export const slidingWindowCounter: AlgorithmPlugin<typeof schema> = {
  name: 'sliding-window-counter',
  schema,
  capacity: (_options, rate) => rate.requests,
  check: () => null,
  create(_options, deps) {
    if (deps.store.kind === 'redis') return new RedisLimiter(deps.store.store, script, [deps.rate.perMs, deps.rate.requests], deps, deps.rate.requests);
    return new SlidingWindowCounter(deps, deps.store.maxKeys);
  },
};
