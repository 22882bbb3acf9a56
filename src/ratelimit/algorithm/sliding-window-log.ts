// sliding-window-log: the time of every admitted unit in the last W ms, per key; a request is admitted when the
// log holds at most N − cost entries newer than now − W. Exact — no window edge lets a burst through — at a
// memory cost per unit in the window: 8 bytes a timestamp, at most N per key (the log grows by doubling, so a
// quiet key holds a small buffer), and N is capped at 10,000. Property (test/unit/ratelimit/property.test.ts):
// no window of W ms, wherever it starts, holds more than N admitted units.
//
//   buf  [ t5 t6 t7 · · t2 t3 t4 ]   a ring: head → t2 (oldest), size 6; expired entries leave from the head
import { z } from 'zod';
import { MemoryStore, StoreEntry } from '../store/memory.ts';
import { RedisLimiter, redisScript } from '../store/redis.ts';
import { ceilMs, newDecision, type AlgorithmPlugin, type Decision, type LimiterDeps, type RateLimiter } from '../types.ts';

/** The most units a log may hold per key (8 bytes each). Beyond it, use sliding-window-counter. */
export const maxLogEntries = 10_000;
const initialCapacity = 8;

export const schema = z.strictObject({ algorithm: z.literal('sliding-window-log') });
export type SlidingWindowLogOptions = z.output<typeof schema>;

class State extends StoreEntry {
  buf: Float64Array;
  head: number;
  size: number;
  constructor() {
    super();
    this.buf = new Float64Array(initialCapacity);
    this.head = 0;
    this.size = 0;
  }
}

export class SlidingWindowLog implements RateLimiter {
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

  // HOT PATH: drops expired entries from the head (amortised O(1) per admitted unit) and appends `cost` stamps.
  take(key: string, cost: number, nowMs: number): Decision {
    const s = this.store.lookup(key, nowMs);
    if (this.store.fresh) {
      s.head = 0;
      s.size = 0;
    }
    const cutoff = nowMs - this.windowMs;
    let cap = s.buf.length;
    while (s.size > 0 && s.buf[s.head] <= cutoff) {
      s.head = s.head + 1 === cap ? 0 : s.head + 1;
      s.size--;
    }
    const d = this.out;
    d.allowed = s.size + cost <= this.quota;
    if (d.allowed) {
      if (s.size + cost > cap) cap = grow(s, Math.min(this.quota, Math.max(cap * 2, s.size + cost)));
      for (let i = 0; i < cost; i++) s.buf[(s.head + s.size++) % cap] = nowMs;
      d.retryAfterMs = 0;
    } else {
      // the (size + cost − N)-th oldest entry must leave the window first
      d.retryAfterMs = ceilMs(s.buf[(s.head + s.size + cost - this.quota - 1) % cap] + this.windowMs - nowMs);
    }
    const resetMs = s.size > 0 ? s.buf[(s.head + s.size - 1) % cap] + this.windowMs - nowMs : 0;
    s.expiresAtMs = nowMs + resetMs;
    d.delayMs = 0;
    d.limit = this.quota;
    d.remaining = this.quota - s.size;
    d.resetMs = ceilMs(resetMs);
    return d;
  }

  close(): void {}
}

/** Copies the ring into a larger buffer, oldest first; returns the new capacity. */
function grow(s: State, capacity: number): number {
  const next = new Float64Array(capacity);
  const cap = s.buf.length;
  for (let i = 0; i < s.size; i++) next[i] = s.buf[(s.head + i) % cap];
  s.buf = next;
  s.head = 0;
  return capacity;
}

// ARGV: now, cost, W, N. State: a LIST of timestamps, oldest at the left, expiring with the newest.
export const script = redisScript(
  'sliding-window-log',
  `local W = tonumber(ARGV[3])
local N = tonumber(ARGV[4])
local key = KEYS[1]
local cutoff = now - W
while true do
  local oldest = redis.call('LINDEX', key, 0)
  if oldest == false or tonumber(oldest) > cutoff then break end
  redis.call('LPOP', key)
end
local size = redis.call('LLEN', key)
local allowed, retry = 0, 0
if size + cost <= N then
  allowed = 1
  for i = 1, cost do redis.call('RPUSH', key, num(now)) end
  size = size + cost
else
  retry = ceil0(tonumber(redis.call('LINDEX', key, size + cost - N - 1)) + W - now)
end
local reset = 0
if size > 0 then
  reset = tonumber(redis.call('LINDEX', key, -1)) + W - now
  ttl(key, reset)
end
return { allowed, 0, N, N - size, ceil0(reset), retry }
`,
);

export const slidingWindowLog: AlgorithmPlugin<typeof schema> = {
  name: 'sliding-window-log',
  schema,
  capacity: (_options, rate) => rate.requests,
  check: (_options, rate) =>
    rate.requests > maxLogEntries ? `sliding-window-log keeps a timestamp per request: at most ${maxLogEntries} per window (use sliding-window-counter)` : null,
  create(_options, deps) {
    if (deps.store.kind === 'redis') return new RedisLimiter(deps.store.store, script, [deps.rate.perMs, deps.rate.requests], deps, deps.rate.requests);
    return new SlidingWindowLog(deps, deps.store.maxKeys);
  },
};
