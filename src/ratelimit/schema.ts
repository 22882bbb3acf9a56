// A rate-limit policy as config: the common options (limit, key, cost, exempt, store, headers) merged with the
// chosen algorithm's own (registry.ts), told apart by `algorithm` (default sliding-window-counter), and
// normalised into `RateLimitPolicyConfig` — the shape `compileRateLimit` (policy.ts) builds from.
import { z } from 'zod';
import { cidrSchema, type Cidr } from '../core/address.ts';
import { checked, headerNameSchema, integerIn } from '../core/schema-helpers.ts';
import { describeFound, durationSchema } from '../core/units.ts';
import { formatRate, rateSchema } from './rate.ts';
import { algorithmPlugins, defaultAlgorithm } from './registry.ts';
import { defaultMaxKeys } from './store/memory.ts';
import type { Rate } from './types.ts';

/** One part of a key: who shares a bucket. */
export type KeyPart = 'client-ip' | 'route' | { readonly header: string } | { readonly cookie: string };

const cookieNamePattern = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/i;
const keyPartMessage = 'expected a key: "client-ip", "route", { header: NAME } or { cookie: NAME }';

function parseKeyPart(value: unknown): KeyPart | undefined {
  if (value === 'client-ip' || value === 'route') return value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const v = (value as Record<string, unknown>)[keys[0]];
  if (keys[0] === 'header') {
    const parsed = headerNameSchema.safeParse(v);
    return parsed.success ? { header: parsed.data } : undefined;
  }
  if (keys[0] === 'cookie' && typeof v === 'string' && cookieNamePattern.test(v)) return { cookie: v };
  return undefined;
}

const keyPartSchema = checked(keyPartMessage, parseKeyPart);
/** A key part or a list of them (a combined key: all parts must be present). Default client-ip. */
export const keySchema = z
  .preprocess((v) => (Array.isArray(v) ? v : [v]), z.array(keyPartSchema).min(1).max(8))
  .prefault(['client-ip']);

const redisUrlSchema = checked('expected a Redis URL like "redis://127.0.0.1:6379" (or rediss:// for TLS)', (v) =>
  typeof v === 'string' && /^rediss?:\/\/[^\s]+$/.test(v) && URL.canParse(v) ? v : undefined,
);

export const redisStoreSchema = z.strictObject({
  url: redisUrlSchema,
  /** Prepended to every key. Default `fulcrum:rl:`. */
  prefix: z.string().max(100).default('fulcrum:rl:'),
  /** Longest wait for Redis per check; default 50ms (a Redis round trip is typically 1–2 ms, with room). */
  timeout: durationSchema.refine((ms) => ms > 0, { error: 'expected a duration above 0, found 0' }).prefault('50ms'),
  /** Allow requests when Redis cannot answer in time (default true); false = Envoy's `failure_mode_deny`. */
  failOpen: z.boolean().default(true),
});

/** `memory` (default) or { redis: {…} }; parsed to { redis?: … } (absent = memory). */
const storeSchema = z
  .preprocess(
    (v) => (v === 'memory' ? {} : v),
    z.strictObject({ redis: redisStoreSchema.optional() }, { error: (issue) => `expected "memory" or { redis: { url: … } }, found ${describeFound(issue.input)}` }),
  )
  .prefault('memory');

const policyNamePattern = /^[a-z0-9][a-z0-9_-]*$/;
const policyNameSchema = checked('expected a name of lowercase letters, digits, "-" and "_" like "per-client"', (v) =>
  typeof v === 'string' && policyNamePattern.test(v) && v.length <= 64 ? v : undefined,
);

/** Options every algorithm takes. */
const commonShape = {
  /** In RateLimit-Policy and the Redis key; default the limit, e.g. `100-per-min`. */
  name: policyNameSchema.optional(),
  /** Required: `100/s`, `100/min`, `100/h` or { requests, per }. */
  limit: rateSchema,
  key: keySchema,
  /** Units each request takes; default 1. */
  cost: integerIn(1, 1_000_000).prefault(1),
  /** Sources never limited (after trusted proxies); default none. NGINX `geo` + empty key. */
  exempt: z.preprocess((v) => (Array.isArray(v) ? v : [v]), z.array(cidrSchema)).default(() => []),
  store: storeSchema,
  /** Memory store bound, LRU beyond; default 100000. HAProxy stick-table `size`. */
  maxKeys: integerIn(1, 10_000_000).optional(),
  /** RateLimit-Policy / RateLimit on allowed responses too; default false (Envoy's `enable_x_ratelimit_headers`
   *  default OFF). 429s always carry them. */
  headers: z.boolean().default(false),
};

type VariantsOf<T extends readonly unknown[]> = {
  -readonly [K in keyof T]: T[K] extends { schema: { shape: infer S } } ? z.ZodObject<typeof commonShape & S, z.core.$strict> : never;
};
const variants = algorithmPlugins.map((p) => z.strictObject({ ...commonShape, ...p.schema.shape })) as unknown as VariantsOf<typeof algorithmPlugins>;

/** The algorithm's own options, as its plugin parsed them. */
export type AlgorithmOptions = z.output<(typeof algorithmPlugins)[number]['schema']>;
export type AlgorithmName = AlgorithmOptions['algorithm'];

export type StoreConfig =
  | { readonly kind: 'memory'; readonly maxKeys: number }
  | { readonly kind: 'redis'; readonly url: string; readonly prefix: string; readonly timeoutMs: number; readonly failOpen: boolean };

export interface RateLimitPolicyConfig {
  readonly name: string;
  readonly limit: Rate;
  readonly algorithm: AlgorithmOptions;
  readonly key: readonly KeyPart[];
  readonly cost: number;
  readonly exempt: readonly Cidr[];
  readonly store: StoreConfig;
  readonly headers: boolean;
}

/** `100/min` → "100-per-min", `{ requests: 5, per: 10s }` → "5-per-10s". */
export function defaultPolicyName(rate: Rate): string {
  return formatRate(rate).replace('/', '-per-');
}

/** One policy. */
export const rateLimitPolicySchema = z
  .preprocess(
    (v) => (typeof v === 'object' && v !== null && !Array.isArray(v) && !('algorithm' in v) ? { ...v, algorithm: defaultAlgorithm } : v),
    z.discriminatedUnion('algorithm', variants),
  )
  .superRefine((p, ctx) => {
    const plugin = algorithmPlugins.find((a) => a.name === p.algorithm)!;
    const options = p as never;
    const capacity = plugin.capacity(options, p.limit);
    if (p.cost > capacity) {
      const what = 'burst' in p ? 'the bucket capacity (burst)' : 'the limit';
      ctx.addIssue({ code: 'custom', path: ['cost'], message: `expected a cost of at most ${capacity}, ${what}, found ${p.cost}: such a request could never be admitted` });
    }
    const problem = plugin.check(options, p.limit);
    if (problem !== null) ctx.addIssue({ code: 'custom', path: ['limit'], message: problem });
    if (p.store.redis !== undefined && p.maxKeys !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['maxKeys'], message: '"maxKeys" bounds the memory store; Redis keys expire by their TTL' });
    }
  })
  .transform((p): RateLimitPolicyConfig => {
    const plugin = algorithmPlugins.find((a) => a.name === p.algorithm)!;
    const own = Object.fromEntries(Object.keys(plugin.schema.shape).map((k) => [k, (p as Record<string, unknown>)[k]])) as AlgorithmOptions;
    const store: StoreConfig =
      p.store.redis !== undefined
        ? { kind: 'redis', url: p.store.redis.url, prefix: p.store.redis.prefix, timeoutMs: p.store.redis.timeout, failOpen: p.store.redis.failOpen }
        : { kind: 'memory', maxKeys: p.maxKeys ?? defaultMaxKeys };
    return { name: p.name ?? defaultPolicyName(p.limit), limit: p.limit, algorithm: own, key: p.key, cost: p.cost, exempt: p.exempt, store, headers: p.headers };
  });

/** A route's `rateLimit`: one policy or a list (every policy must admit the request); names are unique. */
export const rateLimitSchema = z
  .preprocess((v) => (Array.isArray(v) ? v : [v]), z.array(rateLimitPolicySchema).min(1).max(16))
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((p, i) => {
      if (seen.has(p.name)) {
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `expected a unique policy name, found ${JSON.stringify(p.name)} twice (set "name" on each policy)` });
      }
      seen.add(p.name);
    });
  });
export type RateLimitConfig = z.output<typeof rateLimitSchema>;
