// The Redis store: state shared by every Fulcrum instance on the same Redis. Each check is ONE round trip:
// EVALSHA of the algorithm's Lua script (EVAL when the server does not know it yet), atomic on the server,
// reading the server's clock (TIME), so instances with skewed clocks still agree. Keys are
// `prefix{hash}:route:policy:algorithm` — the hash tag makes a Redis Cluster keep each key in one slot — and
// every write sets a PTTL, so Redis memory is bounded by the live keys. Redis unreachable or slower than
// `timeout`: fail open (allow and count it) or, with `failOpen: false`, reject (Envoy's `failure_mode_deny`).
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import { log } from '../../core/log.ts';
import { newDecision, notLimited, type Decision, type LimiterDeps, type RateLimiter } from '../types.ts';

export interface RedisStoreOptions {
  readonly url: string;
  /** Key prefix, default `fulcrum:rl:`. */
  readonly prefix: string;
  /** Longest wait for a reply before failing open or closed; default 50ms. */
  readonly timeoutMs: number;
  /** Allow requests when Redis cannot answer (default true); false rejects them with 429. */
  readonly failOpen: boolean;
}

export interface RedisScript {
  readonly name: string;
  readonly lua: string;
  readonly sha: string;
}

/**
 * Every script starts by reading the clock: ARGV[1] is -1 for the server's TIME (always, in production) or
 * the caller's milliseconds (the equivalence tests drive the Lua and the memory store with one clock; keys then
 * outlive their TTL by 10 minutes, since that clock does not run with Redis's and only it may decide when a
 * state is fresh). ARGV[2] is the cost. `redis.replicate_commands()` lets Redis 3.2–4 write after TIME; a
 * no-op since 5.
 */
const prelude = `if redis.replicate_commands then redis.replicate_commands() end
local now = tonumber(ARGV[1])
local slack = 600000
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  slack = 0
end
local cost = tonumber(ARGV[2])
local function num(x) return string.format('%.17g', x) end
local function ceil0(x) if x <= 0 then return 0 end return math.ceil(x) end
local function ttl(key, ms) redis.call('PEXPIRE', key, math.max(1, math.ceil(ms)) + slack) end
`;

export function redisScript(name: string, body: string): RedisScript {
  const lua = prelude + body;
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex') };
}

const failureLogIntervalMs = 10_000;

const require = createRequire(import.meta.url);

interface PooledClient {
  readonly client: Redis;
  refs: number;
  everReady: boolean;
  lastError: string;
  closeTimer: NodeJS.Timeout | null;
}

/**
 * Redis connections by URL, reference-counted: the policies of a generation share one, and when the last
 * releases it the connection lingers `idleCloseMs` so the next generation (which connects on its first check)
 * finds it warm after a reload.
 */
export class RedisClientPool {
  readonly idleCloseMs: number;
  private readonly clients: Map<string, PooledClient>;

  constructor(idleCloseMs = 0) {
    this.idleCloseMs = idleCloseMs;
    this.clients = new Map();
  }

  acquire(url: string): PooledClient {
    let pooled = this.clients.get(url);
    if (pooled === undefined) {
      // loaded on first use: ioredis costs ~25 MB of resident memory, and only Redis-backed policies need it
      const RedisClient = (require('ioredis') as typeof import('ioredis')).Redis;
      const client = new RedisClient(url, {
        // the first connection may queue commands (bounded by each store's timeout); after that, a check finds
        // the client not ready and fails at once instead of waiting
        enableOfflineQueue: true,
        maxRetriesPerRequest: 1,
        connectTimeout: 2_000,
        retryStrategy: (times: number) => Math.min(100 * times, 2_000),
        enableAutoPipelining: true,
      });
      const entry: PooledClient = { client, refs: 0, everReady: false, lastError: '', closeTimer: null };
      client.on('ready', () => {
        entry.everReady = true;
      });
      client.on('error', (err: Error) => {
        entry.lastError = err.message;
      });
      pooled = entry;
      this.clients.set(url, pooled);
    }
    if (pooled.closeTimer !== null) {
      clearTimeout(pooled.closeTimer);
      pooled.closeTimer = null;
    }
    pooled.refs++;
    return pooled;
  }

  release(url: string): void {
    const pooled = this.clients.get(url);
    if (pooled === undefined || --pooled.refs > 0) return;
    if (this.idleCloseMs === 0) this.end(url, pooled);
    else pooled.closeTimer = setTimeout(() => this.end(url, pooled), this.idleCloseMs);
  }

  /** Ends every connection now (process shutdown). */
  closeAll(): void {
    for (const [url, pooled] of this.clients) this.end(url, pooled);
  }

  private end(url: string, pooled: PooledClient): void {
    if (pooled.closeTimer !== null) clearTimeout(pooled.closeTimer);
    this.clients.delete(url);
    pooled.client.disconnect();
  }
}

/** The process-wide pool (connections linger 10 s after their last policy); tests pass their own to act as
 *  separate Fulcrum instances. */
export const sharedRedisClients = new RedisClientPool(10_000);

export class RedisStore {
  readonly options: RedisStoreOptions;
  /** Tests only: send the caller's `nowMs` instead of using the server's TIME. */
  callerClock: boolean;
  /** Checks Redis did not answer in time or answered with an error (each one failed open or closed). */
  failures: number;
  private readonly pool: RedisClientPool;
  private pooled: PooledClient | null;
  private closed: boolean;
  private failuresLogged: number;
  private lastLogMs: number;

  constructor(options: RedisStoreOptions, pool: RedisClientPool = sharedRedisClients) {
    this.options = options;
    this.callerClock = false;
    this.failures = 0;
    this.pool = pool;
    this.pooled = null;
    this.closed = false;
    this.failuresLogged = 0;
    this.lastLogMs = -Infinity;
  }

  /** The client, connected on first use. */
  private client(): PooledClient {
    this.pooled ??= this.pool.acquire(this.options.url);
    return this.pooled;
  }

  /** Runs `script` on one key; the reply, or null when Redis failed or was too slow (already counted). */
  run(script: RedisScript, key: string, args: readonly (string | number)[]): Promise<unknown[] | null> {
    // a check that straggles in after the generation released the policy must not reopen a connection
    if (this.closed) return Promise.resolve(this.fail('store closed'));
    const pooled = this.client();
    const { client } = pooled;
    if (client.status !== 'ready' && (pooled.everReady || pooled.lastError !== '')) {
      return Promise.resolve(this.fail(`redis not connected (${client.status})`));
    }
    return new Promise((resolve) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        resolve(this.fail(`no reply within ${this.options.timeoutMs}ms`));
      }, this.options.timeoutMs);
      const done = (reply: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(Array.isArray(reply) ? reply : this.fail('unexpected reply'));
      };
      const failed = (err: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(this.fail(err.message));
      };
      client.evalsha(script.sha, 1, key, ...args).then(done, (err: Error) => {
        if (settled) return;
        // a restarted or flushed server has forgotten the script: EVAL sends it again (and caches it)
        if (err.message.startsWith('NOSCRIPT')) client.eval(script.lua, 1, key, ...args).then(done, failed);
        else failed(err);
      });
    });
  }

  /** Counts a failure and logs at most once per interval. */
  private fail(reason: string): null {
    this.failures++;
    const now = Date.now();
    if (now - this.lastLogMs >= failureLogIntervalMs) {
      log('warn', this.options.failOpen ? 'rate limit store unavailable: failing open' : 'rate limit store unavailable: rejecting', {
        store: redactUrl(this.options.url),
        reason,
        failures: this.failures - this.failuresLogged,
      });
      this.lastLogMs = now;
      this.failuresLogged = this.failures;
    }
    return null;
  }

  close(): void {
    this.closed = true;
    if (this.pooled === null) return;
    this.pooled = null;
    this.pool.release(this.options.url);
  }
}

/** `redis://:secret@host:6379` → `redis://:***@host:6379`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'redis://?';
  }
}

/** The Redis key text's hash: 128 bits of SHA-256 (base64url), so an API key is never stored in the clear and
 *  crafted keys cannot collide with another client's bucket. */
export function keyHash(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/**
 * A limiter whose state lives in Redis. `params` are the algorithm's constant arguments (after the clock and
 * the cost); the script replies `{allowed, delayMs, limit, remaining, resetMs, retryAfterMs}`.
 */
export class RedisLimiter implements RateLimiter {
  private readonly redis: RedisStore;
  private readonly script: RedisScript;
  private readonly params: readonly number[];
  private readonly deps: LimiterDeps;
  private readonly suffix: string;
  private readonly capacity: number;
  /** `failOpen`: the same algorithm over this process's memory, deciding while Redis cannot (set by the policy). */
  fallback: RateLimiter | null;

  constructor(store: RedisStore, script: RedisScript, params: readonly number[], deps: LimiterDeps, capacity: number) {
    this.redis = store;
    this.script = script;
    this.params = params;
    this.deps = deps;
    this.suffix = `}:${deps.policy.routeName}:${deps.policy.name}:${deps.policy.algorithm}`;
    this.capacity = capacity;
    this.fallback = null;
  }

  /** The Redis key of a limiter key. */
  redisKey(key: string): string {
    return `${this.redis.options.prefix}{${keyHash(key)}${this.suffix}`;
  }

  take(key: string, cost: number, nowMs: number): Promise<Decision> {
    const clock = this.redis.callerClock ? nowMs : -1;
    return this.redis
      .run(this.script, this.redisKey(key), [clock, cost, ...this.params])
      .then((reply) => (reply === null && this.fallback !== null && this.redis.options.failOpen ? this.local(key, cost, nowMs) : this.decode(reply)));
  }

  /** Redis failed and the policy fails open: this instance's own limiter decides (a copy: memory decisions are
   *  one reused object, and several Redis answers may settle before the exchange reads this one). */
  private local(key: string, cost: number, nowMs: number): Decision {
    const d = this.fallback!.take(key, cost, nowMs) as Decision;
    return { ...d };
  }

  private decode(reply: unknown[] | null): Decision {
    if (reply === null) {
      if (this.redis.options.failOpen) return notLimited;
      // fail closed: turned away for a second, the least a Retry-After can say
      const d = newDecision(this.deps.policy);
      d.allowed = false;
      d.limit = this.capacity;
      d.resetMs = 1_000;
      d.retryAfterMs = 1_000;
      return d;
    }
    const d = newDecision(this.deps.policy);
    d.allowed = reply[0] === 1;
    d.delayMs = Number(reply[1]);
    d.limit = Number(reply[2]);
    d.remaining = Number(reply[3]);
    d.resetMs = Number(reply[4]);
    d.retryAfterMs = Number(reply[5]);
    return d;
  }

  close(): void {
    this.redis.close();
  }
}
