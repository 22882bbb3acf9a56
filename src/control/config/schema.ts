// The config schema: one strict zod object per section, every default declared beside the anchor it follows,
// and the parsed types the rest of Fulcrum builds from. Durations parse to milliseconds, sizes to bytes,
// addresses to {host, port, text}, CIDRs to precomputed words; the balancer option is derived from the balancer
// registry. `validateConfig` adds the cross-reference checks (pool names, unique names and addresses), run on
// the raw document so they are reported together with the schema's own errors.
import { readFileSync } from 'node:fs';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { createSecureContext } from 'node:tls';
import { z } from 'zod';
import { addressSchema, cidrSchema, isHostname, listenAddressSchema, parseAddress } from '../../core/address.ts';
import { describeFound, durationSchema, sizeSchema } from '../../core/units.ts';
import { balancerPlugins } from '../../upstream/balancing/registry.ts';
import { healthCheckPlugins, type HealthCheckName } from '../../upstream/health/registry.ts';
import { stickySchema } from '../../upstream/sticky/cookie.ts';
import { matchSchema } from '../../routing/match/schema.ts';
import { forwardSchema } from '../../routing/split.ts';
import { redirectSchema } from '../../routing/actions/redirect.ts';
import { respondSchema } from '../../routing/actions/respond.ts';
import { headerEditsSchema } from '../../filters/header-edits.ts';
import { rewriteSchema } from '../../filters/rewrite.ts';
import { accessLogFields } from '../../observability/access-log.ts';
import { loadPair } from '../../tls/certificates.ts';
import { rateLimitSchema } from '../../filters/rate-limit.ts';
import { proxyProtocolListenerSchema, proxyProtocolPoolSchema, tcpListenerSchema, tlsPassthroughListenerSchema, udpListenerSchema } from '../../l4/schema.ts';
import { checked, headerNameSchema, integerIn } from '../../core/schema-helpers.ts';
import { configErrorMap, formatPath, issuesFromZod, suggestion, type ConfigIssue } from './diagnostics.ts';

/** Sizes that are limits: 0 would refuse every request. */
const positiveSize = sizeSchema.refine((bytes) => bytes > 0, { error: 'expected a size above 0, found 0' });

// ---- names ------------------------------------------------------------------------------------------------------

const namePattern = /^[a-z0-9][a-z0-9_-]*$/;
/** Listener, route and pool names: they appear in metrics labels, logs and the admin API. */
export const nameSchema = checked(
  'expected a name of lowercase letters, digits, "-" and "_" like "web"',
  (v) => (typeof v === 'string' && namePattern.test(v) ? v : undefined),
);

// ---- routes -----------------------------------------------------------------------------------------------------

/** Where a route may be reached from: `allow` and `deny` take a CIDR or a list. */
const cidrListSchema = z.union([cidrSchema.transform((c) => [c]), z.array(cidrSchema).min(1)]);

const actionNames = ['forward', 'redirect', 'respond'] as const;

/**
 * One route: when `match` holds (routing/match/), exactly one action — `forward` to a pool or a weighted
 * split (routing/split.ts), `redirect` or `respond` (routing/actions/) — with optional header edits and
 * rewrites (filters/), a per-route response timeout and source allow/deny lists.
 */
export const routeSchema = z
  .strictObject({
    /** Default `${listener}-${index}`, filled in by listenerSchema. */
    name: nameSchema.optional(),
    /** Higher first; equal priorities keep file order. Default 0. */
    priority: integerIn(-1_000_000, 1_000_000).prefault(0),
    /** Default {}: matches every request. */
    match: matchSchema.prefault({}),
    forward: forwardSchema.optional(),
    redirect: redirectSchema.optional(),
    respond: respondSchema.optional(),
    requestHeaders: headerEditsSchema.optional(),
    responseHeaders: headerEditsSchema.optional(),
    rewrite: rewriteSchema.optional(),
    /** Overrides the pool's limits on each try's response head (`timeouts.response`, `retries.perTryTimeout`). */
    timeouts: z.strictObject({ response: durationSchema.optional() }).prefault({}),
    /** Sources allowed (others get 403); absent = all. Checked after `deny`. NGINX `allow`. */
    allow: cidrListSchema.optional(),
    /** Sources refused with 403. NGINX `deny`. */
    deny: cidrListSchema.optional(),
    /** Rate limit policies (ratelimit/), each must admit the request; `forward` routes only. */
    rateLimit: rateLimitSchema.optional(),
  })
  .superRefine((route, ctx) => {
    const set = actionNames.filter((a) => route[a] !== undefined);
    if (set.length !== 1) {
      const found = set.length === 0 ? 'none' : set.map((a) => `"${a}"`).join(' and ');
      ctx.addIssue({ code: 'custom', message: `expected exactly one action, "forward", "redirect" or "respond", found ${found}` });
    }
    if (route.forward === undefined && (route.rewrite !== undefined || route.requestHeaders !== undefined || route.responseHeaders !== undefined || route.rateLimit !== undefined)) {
      const message = '"rewrite", "requestHeaders", "responseHeaders" and "rateLimit" apply to requests forwarded to a pool: only with "forward" (a "respond" sets its own "headers")';
      ctx.addIssue({ code: 'custom', message });
    }
  });

// ---- listeners --------------------------------------------------------------------------------------------------

export const listenerTimeoutsSchema = z.strictObject({
  /** Time to receive a whole request head (slowloris guard); 0 = no limit. HAProxy `timeout http-request`. */
  requestHeader: durationSchema.prefault('10s'),
  /** Idle time between requests on a client connection; 0 = no keep-alive (NGINX `keepalive_timeout 0`).
   *  Default 60s: AWS ALB's idle timeout. */
  keepAlive: durationSchema.prefault('60s'),
  /** Limit on a whole exchange; default 0 = no limit (NGINX has none). */
  request: durationSchema.prefault('0'),
  /** A WebSocket tunnel with no bytes either way for this long is closed with 1001 Going Away; 0 = never.
   *  HAProxy `timeout tunnel` (1h is its documented example); NGINX closes after `proxy_read_timeout` (60s). */
  tunnelIdle: durationSchema.prefault('1h'),
});

export const listenerLimitsSchema = z.strictObject({
  /** Longest request line; 414 beyond. NGINX `large_client_header_buffers` 8k. */
  maxRequestLine: positiveSize.prefault('8kb'),
  /** Whole request head; 431 beyond. NGINX 4 × 8k. */
  maxHeaderSize: positiveSize.prefault('32kb'),
  /** Header fields in a request head; 431 beyond. Envoy `max_headers_count` 100. */
  maxHeaders: integerIn(1, 10_000).prefault(100),
});

const pemPath = z.string().min(1, 'expected a file path');

/** `https` listeners: TLS termination (tls/certificates.ts). */
export const listenerTlsSchema = z.strictObject({
  /** Chosen by SNI (exact, then `*.` wildcard); the first is the default. */
  certificates: z.array(z.strictObject({ cert: pemPath, key: pemPath, names: z.array(z.string().min(1)).min(1).optional() })).min(1),
  /** Oldest protocol accepted. Mozilla's "intermediate" profile: TLS 1.2. */
  minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  /** OpenSSL cipher list (TLS 1.3 suites by their `TLS_` names, TLS 1.2 ones by OpenSSL's); default Mozilla's
   *  "intermediate" profile: AEAD suites only, no CBC (tls/certificates.ts DEFAULT_CIPHERS). */
  ciphers: z.string().min(1).optional(),
  /** Client certificates (mTLS). */
  clientAuth: z
    .strictObject({
      /** `require`: handshake fails without a valid one; `request`: optional, passed on when valid. */
      mode: z.enum(['require', 'request']).default('require'),
      /** PEM bundle of the CAs that sign client certificates. */
      ca: pemPath,
      /** Headers carrying the verified subject and SHA-256 fingerprint upstream; stripped from requests. */
      subjectHeader: headerNameSchema.prefault('x-client-cert-subject'),
      fingerprintHeader: headerNameSchema.prefault('x-client-cert-fingerprint'),
    })
    .optional(),
  /** `Strict-Transport-Security` on every response of this listener. */
  hsts: z
    .strictObject({
      /** Seconds; default 31536000 (1 year), the preload list's minimum. */
      maxAge: integerIn(0, 2 ** 31 - 1).prefault(31_536_000),
      includeSubDomains: z.boolean().default(false),
      preload: z.boolean().default(false),
    })
    .optional(),
});

export const listenerObject = z.strictObject({
  name: nameSchema,
  /** `http`, or `https` with `tls` (TLS termination); `http` when absent (anyListenerSchema fills it in). */
  protocol: z.enum(['http', 'https']),
  tls: listenerTlsSchema.optional(),
  /** Port 0 = ephemeral (tests). */
  address: listenAddressSchema,
  /** Ordered: the first route whose match holds takes the request. */
  routes: z.array(routeSchema).min(1),
  timeouts: listenerTimeoutsSchema.prefault({}),
  limits: listenerLimitsSchema.prefault({}),
  /** Peers whose X-Forwarded-* / Forwarded headers are kept and extended; from others they are overwritten.
   *  Default none (like NGINX `set_real_ip_from` unset). */
  trustedProxies: z.array(cidrSchema).default(() => []),
  /** Kept when present, generated when absent; lowercased. Default `x-request-id`, the de-facto name. */
  requestIdHeader: headerNameSchema.prefault('x-request-id'),
  /** `{ accept: [CIDRs] }`: peers in these ranges must start with a PROXY header (v1 or v2) whose source
   *  becomes the client address (`http` listeners; HAProxy `accept-proxy`). Absent: none is read. */
  proxyProtocol: proxyProtocolListenerSchema.optional(),
  /** Rate limit policies checked for every request this listener forwards, before the route's own (shared
   *  buckets across routes). */
  rateLimit: rateLimitSchema.optional(),
  /** Present: HTTP/2 for clients (ALPN `h2` on https; prior-knowledge h2c on http with `cleartext`). */
  http2: z
    .strictObject({
      /** Accept prior-knowledge h2c on an `http` listener (gRPC without TLS). Default false. */
      cleartext: z.boolean().default(false),
      /** Streams open at once per connection. NGINX `http2_max_concurrent_streams` (128); h2o 100. */
      maxConcurrentStreams: integerIn(1, 10_000).prefault(128),
      /** Largest header list a client may send (SETTINGS_MAX_HEADER_LIST_SIZE). */
      maxHeaderListSize: positiveSize.prefault('32kb'),
      /** Per-stream flow-control window offered to clients. RFC 9113 default 64 KiB − 1; larger speeds uploads. */
      initialWindowSize: integerIn(65_535, 2 ** 31 - 1).prefault(1_048_576),
      /** Stream resets a client may cause per 10 s before its connection is closed (rapid-reset, CVE-2023-44487). */
      maxResetsPer10s: integerIn(1, 1_000_000).prefault(400),
    })
    .optional(),
  /** W3C trace context: `generate` continues a valid `traceparent` with Fulcrum's own span id and starts a
   *  trace when there is none (Envoy, Traefik); `passthrough` forwards what came, untouched. */
  tracing: z.enum(['generate', 'passthrough']).default('generate'),
  /** Absent: no access log. */
  accessLog: z
    .strictObject({
      /** `stdout`, `stderr` or a file path. */
      destination: z.string().min(1).default('stdout'),
      /** `json` lines (pino), or NCSA `common` / `combined` (NGINX's default `combined`). */
      format: z.enum(['json', 'common', 'combined']).default('json'),
      /** Share of exchanges logged, 0..1 (Envoy `runtime_fraction`). */
      sample: z.number().min(0).max(1).default(1),
      /** JSON only: the fields to write, in order; default all. */
      fields: z.array(z.enum(accessLogFields)).min(1).optional(),
    })
    .optional(),
});

/** Fills in default route names: `${listener}-${index}`. */
export const listenerSchema = listenerObject
  .superRefine((l, ctx) => {
    if (l.protocol === 'https' && l.tls === undefined) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'missing required key "tls": an https listener needs certificates' });
    }
    if (l.protocol === 'https' && l.proxyProtocol !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['proxyProtocol'], message: 'PROXY headers are read on http listeners only (put a tcp listener in front of TLS)' });
    }
    if (l.protocol === 'http' && l.tls !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['protocol'], message: 'expected "https" with "tls", found "http"' });
    }
    const tls = l.tls;
    if (tls === undefined) return;
    // certificates must load now: a broken pair is a config error, and a reload keeps the running ones
    tls.certificates.forEach((c, j) => {
      try {
        loadPair(c, { minVersion: tls.minVersion, ciphers: tls.ciphers, clientCa: tls.clientAuth?.ca });
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['tls', 'certificates', j], message: (err as Error).message });
      }
    });
  })
  .transform((listener) => ({
  ...listener,
  routes: listener.routes.map(({ name, ...route }, i) => ({ name: name ?? `${listener.name}-${i}`, ...route })),
}));

/**
 * Any listener, told apart by `protocol`: `http`/`https` (L7, the default when `protocol` is absent), `tcp`,
 * `tls-passthrough` or `udp` (L4, l4/schema.ts).
 */
export const anyListenerSchema = z.preprocess(
  (v) => (isRawObject(v) && v.protocol === undefined ? { ...v, protocol: 'http' } : v),
  z.discriminatedUnion('protocol', [listenerSchema, tcpListenerSchema, tlsPassthroughListenerSchema, udpListenerSchema]),
);

// ---- pools ------------------------------------------------------------------------------------------------------

export const endpointSchema = z.strictObject({
  address: addressSchema,
  /** Share of new work; 0 takes none. Default 1, range 0..256 like HAProxy's `weight`. */
  weight: integerIn(0, 256).prefault(1),
});

/** The tuple of the plugins' schemas, so zod infers one output variant per algorithm. */
type SchemasOf<T extends readonly unknown[]> = {
  -readonly [K in keyof T]: T[K] extends { schema: infer S } ? S : never;
};
const balancerSchemas = balancerPlugins.map((plugin) => plugin.schema) as unknown as SchemasOf<typeof balancerPlugins>;
/** One variant per registered balancer plugin, told apart by `algorithm`. Default round-robin. */
export const balancerSchema = z.discriminatedUnion('algorithm', balancerSchemas).prefault({ algorithm: 'round-robin' });

/** One optional key per registered health check (`tcp`, `http`, …), each holding that check's options. */
type CheckShape = {
  [P in (typeof healthCheckPlugins)[number] as P['name']]: z.ZodOptional<P['schema']>;
};
const checkShape = Object.fromEntries(healthCheckPlugins.map((p) => [p.name, p.schema.optional()])) as unknown as CheckShape;
const checkNames = healthCheckPlugins.map((p) => p.name);

/** Durations that pace a timer: 0 would spin. */
const positiveDuration = durationSchema.refine((ms) => ms > 0, { error: 'expected a duration above 0, found 0' });

/** Present = active health checks (upstream/health/); absent = none, endpoints stay healthy. */
export const healthSchema = z
  .strictObject({
    ...checkShape,
    /** Between probes of one endpoint. HAProxy `inter` (default 2s there); Envoy requires it. Default 5s. */
    interval: positiveDuration.prefault('5s'),
    /** Between probes while unhealthy. HAProxy `downinter`. Default: `interval`. */
    unhealthyInterval: positiveDuration.optional(),
    /** One probe's limit; a probe still unanswered counts as failed. Envoy `timeout`; HAProxy `timeout check`.
     *  Default 2s. */
    timeout: positiveDuration.prefault('2s'),
    /** Consecutive successes that make an unhealthy endpoint healthy. HAProxy `rise` (default 2). */
    rise: integerIn(1, 1000).prefault(2),
    /** Consecutive failures that make a healthy endpoint unhealthy. HAProxy `fall` (default 3). */
    fall: integerIn(1, 1000).prefault(3),
    /** Probe this port instead of the endpoint's own. HAProxy `port`. */
    port: integerIn(1, 65535).optional(),
    /** Probe this host (a separate health or management interface) instead of the endpoint's. HAProxy `addr`. */
    address: checked('expected a host name or IP address like "10.0.0.5"', (v) => (typeof v === 'string' && (isIP(v) !== 0 || isHostname(v)) ? v : undefined)).optional(),
    /** Absent: no flap damping. Present: an endpoint that changes state `maxTransitions` times within `window`
     *  is held unhealthy for `holdDown`, doubling per repeat up to `maxHoldDown`. */
    flapDamping: z
      .strictObject({
        maxTransitions: integerIn(2, 1000).prefault(4),
        window: positiveDuration.prefault('60s'),
        holdDown: positiveDuration.prefault('30s'),
        maxHoldDown: positiveDuration.prefault('300s'),
      })
      .optional(),
    /** State of an endpoint first seen: `healthy` (HAProxy `init-state fully-up`) or `unhealthy` (`fully-down`). */
    initialState: z.enum(['healthy', 'unhealthy']).default('healthy'),
  })
  .superRefine((h, ctx) => {
    const set = checkNames.filter((name) => (h as Record<string, unknown>)[name] !== undefined);
    if (set.length !== 1) {
      const found = set.length === 0 ? 'none' : set.map((n) => `"${n}"`).join(' and ');
      const expected = checkNames.map((n) => `"${n}"`).join(' or ');
      ctx.addIssue({ code: 'custom', message: `expected exactly one check kind, ${expected}, found ${found}` });
    }
  })
  .transform((h) => {
    const kind = checkNames.find((name) => h[name] !== undefined) as HealthCheckName;
    return { ...h, kind, unhealthyInterval: h.unhealthyInterval ?? h.interval };
  });

/** Present = outlier detection (upstream/health/outlier.ts); absent = none. Envoy `outlier_detection`. */
export const outlierDetectionSchema = z.strictObject({
  /** 5xx answers or gateway failures in a row that eject. Envoy `consecutive_5xx` (default 5). */
  consecutive5xx: integerIn(1, 1_000_000).prefault(5),
  /** Gateway failures (no response, 502, 503, 504) in a row that eject. Envoy `consecutive_gateway_failure` (5). */
  consecutiveGatewayFailure: integerIn(1, 1_000_000).prefault(5),
  /** First ejection's length; the n-th lasts n times as long. Envoy `base_ejection_time` (default 30s). */
  baseEjectionTime: positiveDuration.prefault('30s'),
  /** Cap on one ejection's length. Envoy `max_ejection_time` (default 300s). */
  maxEjectionTime: positiveDuration.prefault('300s'),
  /** Most of the pool ejected at once; one endpoint may always be. Envoy `max_ejection_percent` (default 10). */
  maxEjectionPercent: integerIn(0, 100).prefault(10),
  /** How often success rates and failure percentages are compared. Envoy `interval` (10s). */
  interval: positiveDuration.prefault('10s'),
  /** Present: eject endpoints whose success rate is below mean − stdevFactor × stdev of the pool's. Envoy
   *  `success_rate_minimum_hosts` (5), `success_rate_request_volume` (100), `success_rate_stdev_factor` (1.9). */
  successRate: z
    .strictObject({
      minimumHosts: integerIn(1, 100_000).prefault(5),
      requestVolume: integerIn(1, 1_000_000_000).prefault(100),
      stdevFactor: z.number().positive().max(100).default(1.9),
    })
    .optional(),
  /** Present: eject endpoints whose failure share reaches `threshold` percent. Envoy
   *  `failure_percentage_threshold` (85), `…_minimum_hosts` (5), `…_request_volume` (50). */
  failurePercentage: z
    .strictObject({
      threshold: integerIn(0, 100).prefault(85),
      minimumHosts: integerIn(1, 100_000).prefault(5),
      requestVolume: integerIn(1, 1_000_000_000).prefault(50),
    })
    .optional(),
});

export const connectionsSchema = z.strictObject({
  /** Upstream sockets per endpoint. Envoy circuit breaker default `max_connections` 1024. */
  maxConnections: integerIn(1, 1_000_000).prefault(1024),
  /** Requests waiting when all connections are busy; 0 = none wait (503 at once). Envoy `max_pending_requests`. */
  maxQueue: integerIn(0, 1_000_000).prefault(1024),
  /** Longest wait in that queue; 0 = no limit. Default 5s: HAProxy `timeout queue` falls back to `timeout connect`. */
  queueTimeout: durationSchema.prefault('5s'),
  /** Lifetime of an idle upstream keep-alive socket; 0 = no reuse. Default 4s: below Node's 5s server
   *  `keepAliveTimeout`, so Fulcrum closes first and never writes to a socket the upstream is closing. */
  idleTimeout: durationSchema.prefault('4s'),
});

export const poolTimeoutsSchema = z.strictObject({
  /** TCP connect; 0 = the OS limit. Default 5s: HAProxy `timeout connect` as commonly set. */
  connect: durationSchema.prefault('5s'),
  /** From the request sent to the response head; 0 = no limit. NGINX `proxy_read_timeout` 60s. */
  response: durationSchema.prefault('60s'),
});

type RetryOn = 'connect-failure' | 'reset' | 'timeout' | number;
/** A status or a named failure a request is retried on. */
const retryOnItem = checked<RetryOn>(
  'expected "connect-failure", "reset", "timeout" or a status 500..599',
  (v) => (v === 'connect-failure' || v === 'reset' || v === 'timeout' ? v : typeof v === 'number' && Number.isInteger(v) && v >= 500 && v <= 599 ? v : undefined),
);

/** Retry policy (upstream/retry-budget.ts for the budget). Envoy's retry policy with HAProxy's names. */
export const retriesSchema = z.strictObject({
  /** What is retried: `connect-failure` (nothing was sent), `reset` (closed before any response byte),
   *  `timeout` (a `perTryTimeout` passed), and statuses. Default Envoy's `connect-failure,reset` plus
   *  `gateway-error` (502, 503, 504). */
  on: z.array(retryOnItem).default((): RetryOn[] => ['connect-failure', 'reset', 502, 503, 504]),
  /** Retry non-idempotent methods (POST, PATCH, …) after `reset`, `timeout` or a status too; connect failures
   *  are always retried (the request never left). Default false: RFC 9110 §9.2.2, HAProxy and Envoy. */
  nonIdempotent: z.boolean().default(false),
  /** One try's limit on the response head, replacing `timeouts.response` for each try; 0 = off. Envoy
   *  `per_try_timeout`. */
  perTryTimeout: durationSchema.prefault('0'),
  /** Jittered exponential backoff before retries of requests an endpoint received (not before connect
   *  retries, which go to another endpoint at once, like HAProxy's redispatch). Envoy: base 25ms, max 10×. */
  backoff: z
    .strictObject({ base: durationSchema.prefault('25ms'), max: durationSchema.prefault('250ms') })
    .prefault({}),
  /** Retries may add at most `percent` % of the pool's requests of the last 10 s plus `minPerSecond` per
   *  second. Envoy `retry_budget` (20%), Finagle's RetryBudget (its reserve: 10/s). */
  budget: z.strictObject({ percent: integerIn(0, 100).prefault(20), minPerSecond: integerIn(0, 1_000_000).prefault(10) }).prefault({}),
  /** gRPC statuses retried when an answer carries one before any response body (a trailers-only answer), for
   *  any method: Envoy's gRPC `retry_on` conditions. Default `unavailable` (14: the server did not take the call). */
  grpc: z.array(z.enum(['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable'])).default(() => ['unavailable' as const]),
});

/** gRPC status codes by the names `retries.grpc` uses (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const grpcStatusCodes = { cancelled: 1, 'deadline-exceeded': 4, 'resource-exhausted': 8, internal: 13, unavailable: 14 } as const;

/** Envoy cluster circuit breakers (defaults 1024, 1024, 1024; `max_retries` is left to the retry budget). */
export const circuitBreakersSchema = z.strictObject({
  /** Upstream sockets open across the pool. */
  maxConnections: integerIn(1, 10_000_000).prefault(1024),
  /** Requests waiting for a socket across the pool. */
  maxPending: integerIn(0, 10_000_000).prefault(1024),
  /** Requests in flight to the pool. */
  maxRequests: integerIn(1, 10_000_000).prefault(1024),
  /** Retries in flight; absent = only the retry budget limits them (Envoy ignores `max_retries` when a
   *  budget is set). */
  maxRetries: integerIn(0, 10_000_000).optional(),
});

/** Present: the pool speaks TLS to its endpoints (re-encryption; the seeds' zero-trust option B). */
export const upstreamTlsSchema = z.strictObject({
  /** SNI and the name verified; default the endpoint's host when it is a name (none for an IP address). */
  servername: z.string().min(1).optional(),
  /** PEM bundle of trusted CAs; default the system's (Node's bundled Mozilla store). */
  ca: z.string().min(1).optional(),
  /** Verify the endpoint's certificate chain and name. Default true; false only for tests and labs. */
  verify: z.boolean().default(true),
  /** Client certificate and key (PEM paths) for mTLS to endpoints. */
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
}).superRefine((t, ctx) => {
  if ((t.cert === undefined) !== (t.key === undefined)) {
    ctx.addIssue({ code: 'custom', path: [t.cert === undefined ? 'cert' : 'key'], message: 'expected "cert" and "key" together (a client certificate and its key)' });
    return;
  }
  // the files must load now: a broken one is a config error, not a failure on the first request
  for (const field of ['ca', 'cert', 'key'] as const) {
    const path = t[field];
    if (path === undefined) continue;
    try {
      readFileSync(path);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: [field], message: `cannot read ${path}: ${(err as Error).message}` });
      return;
    }
  }
  try {
    createSecureContext({ ca: t.ca && readFileSync(t.ca), cert: t.cert && readFileSync(t.cert), key: t.key && readFileSync(t.key) });
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `TLS files do not load: ${(err as Error).message}` });
  }
});

export const poolSchema = z.strictObject({
  name: nameSchema,
  balancer: balancerSchema,
  /** May be empty: requests then get 503 (no_eligible_endpoint). */
  endpoints: z.array(endpointSchema),
  connections: connectionsSchema.prefault({}),
  timeouts: poolTimeoutsSchema.prefault({}),
  /** Connect attempts across endpoints before 502. HAProxy `retries 3`. */
  maxTries: integerIn(1, 10).prefault(3),
  retries: retriesSchema.prefault({}),
  circuitBreakers: circuitBreakersSchema.prefault({}),
  /** Slow start window: an endpoint that comes back healthy or joins through a reload ramps from 10% to its
   *  full weight over it; 0 = off. HAProxy `slowstart` (off unless set), Envoy slow start (10% minimum). */
  slowStart: durationSchema.prefault('0'),
  /** Draining (operator drain or disable, or removed by a reload): connections still open this long after
   *  are closed. AWS ALB/NLB `deregistration_delay` (300s); 0 = close busy ones at once. */
  deregistrationDelay: durationSchema.prefault('300s'),
  /** Absent: plain TCP to endpoints. */
  tls: upstreamTlsSchema.optional(),
  /** How requests reach the endpoints: `http/1.1` (default), or `h2` — HTTP/2 streams multiplexed on a few
   *  connections per endpoint, over TLS with ALPN `h2` when `tls` is set, else cleartext with prior knowledge
   *  (h2c). gRPC endpoints need `h2`. HAProxy `proto h2`, Envoy `http2_protocol_options`. */
  protocol: z.enum(['http/1.1', 'h2']).default('http/1.1'),
  /** `h2` pools: streams per connection at most (the endpoint's SETTINGS_MAX_CONCURRENT_STREAMS may lower
   *  it); a new connection opens only when every open one is full, up to `connections.maxConnections`. */
  http2: z.strictObject({ maxConcurrentStreams: integerIn(1, 2 ** 31 - 1).prefault(100) }).prefault({}),
  /** L4 listeners send a PROXY header (`v1` or `v2`) first on each connection to the endpoints. HAProxy
   *  `send-proxy` / `send-proxy-v2`. */
  proxyProtocol: proxyProtocolPoolSchema,
  /** Absent: no stickiness. `{ cookie: {…} }`: cookie insertion (upstream/sticky/cookie.ts). */
  sticky: stickySchema.optional(),
  /** Absent: no active health checks. */
  health: healthSchema.optional(),
  /** Absent: no outlier detection (passive health). */
  outlierDetection: outlierDetectionSchema.optional(),
  /** Below this percentage of healthy endpoints, balance over all of them. Envoy `healthy_panic_threshold`
   *  (default 50); 0 = never. */
  panicThreshold: integerIn(0, 100).prefault(50),
});

// ---- top level --------------------------------------------------------------------------------------------------

/** Present = an admin listener runs; absent = none. */
export const adminSchema = z.strictObject({
  /** Default 127.0.0.1:9900: loopback, so the admin API is reachable from this host only. */
  address: listenAddressSchema.prefault('127.0.0.1:9900'),
  /** Bearer token required for every action and for reads from a non-loopback peer; absent = only reads
   *  from loopback are served, everything else gets 401. At least 16 characters. */
  token: z.string().min(16, 'expected a token of at least 16 characters').optional(),
});

export const shutdownSchema = z.strictObject({
  /** Graceful stop: in-flight exchanges get this long; 0 = stop at once. Default 30s (Kubernetes' grace period). */
  drainTimeout: durationSchema.prefault('30s'),
});

export const configSchema = z.strictObject(
  {
    listeners: z.array(anyListenerSchema).min(1),
    pools: z.array(poolSchema).min(1),
    admin: adminSchema.optional(),
    shutdown: shutdownSchema.prefault({}),
  },
  {
    error: (issue) =>
      issue.code === 'invalid_type'
        ? `expected an object with "listeners" and "pools", found ${describeFound(issue.input)}`
        : undefined,
  },
);

export type Config = z.output<typeof configSchema>;
export type AnyListenerConfig = Config['listeners'][number];
/** An L7 (`http` or `https`) listener. */
export type ListenerConfig = Extract<AnyListenerConfig, { protocol: 'http' | 'https' }>;
export type ListenerTimeoutsConfig = ListenerConfig['timeouts'];
export type ListenerLimitsConfig = ListenerConfig['limits'];
export type RouteConfig = ListenerConfig['routes'][number];
export type RouteMatchConfig = RouteConfig['match'];
export type PoolConfig = Config['pools'][number];
export type EndpointConfig = PoolConfig['endpoints'][number];
export type BalancerConfig = PoolConfig['balancer'];
export type ConnectionsConfig = PoolConfig['connections'];
export type PoolTimeoutsConfig = PoolConfig['timeouts'];
export type HealthConfig = NonNullable<PoolConfig['health']>;
export type OutlierDetectionConfig = NonNullable<PoolConfig['outlierDetection']>;
export type AdminConfig = NonNullable<Config['admin']>;
export type ShutdownConfig = Config['shutdown'];

// ---- validation -------------------------------------------------------------------------------------------------

type RawObject = Record<string, unknown>;

function isRawObject(value: unknown): value is RawObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object items of a raw list with their indices; anything else is the schema's to report. */
function rawItems(value: unknown): [RawObject, number][] {
  if (!Array.isArray(value)) return [];
  const items: [RawObject, number][] = [];
  value.forEach((item: unknown, i) => {
    if (isRawObject(item)) items.push([item, i]);
  });
  return items;
}

/** Two listening addresses collide when they share a port and a host, or one of them is a wildcard. */
function overlaps(a: { host: string; port: number }, b: { host: string; port: number }): boolean {
  const wildcard = (host: string) => host === '0.0.0.0' || host === '::';
  return a.port !== 0 && a.port === b.port && (a.host === b.host || wildcard(a.host) || wildcard(b.host));
}

/** Remembers the first path of each name; reports later ones. */
function uniqueNames(kind: string, issues: ConfigIssue[]) {
  const first = new Map<string, readonly PropertyKey[]>();
  return (name: unknown, path: readonly PropertyKey[]): void => {
    if (typeof name !== 'string') return;
    const previous = first.get(name);
    if (previous === undefined) first.set(name, path);
    else {
      const message = `duplicate ${kind} name "${name}" (first at ${formatPath(previous)})`;
      issues.push({ path, message, at: 'value' });
    }
  };
}

/**
 * Checks what a per-field schema cannot: every `forward.pool` names a pool; listener, route and pool names are
 * unique (route names across the whole config: they label metrics); listening addresses do not collide;
 * endpoint addresses are unique within a pool. Works on the raw document, skipping what the schema rejects.
 */
export function crossCheck(raw: unknown): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (!isRawObject(raw)) return issues;

  const poolNames: string[] = [];
  const checkPoolName = uniqueNames('pool', issues);
  for (const [pool, i] of rawItems(raw.pools)) {
    checkPoolName(pool.name, ['pools', i, 'name']);
    if (typeof pool.name === 'string') poolNames.push(pool.name);
    const endpoints = new Map<string, number>();
    for (const [endpoint, j] of rawItems(pool.endpoints)) {
      const address = typeof endpoint.address === 'string' ? parseAddress(endpoint.address) : undefined;
      if (address === undefined) continue;
      const previous = endpoints.get(address.text);
      const path = ['pools', i, 'endpoints', j, 'address'];
      if (previous === undefined) endpoints.set(address.text, j);
      else {
        const message = `duplicate endpoint address "${address.text}" (first at endpoints[${previous}])`;
        issues.push({ path, message, at: 'value' });
      }
    }
  }

  /** Checks an address against those already bound in its namespace (TCP or UDP ports). */
  const binder = () => {
    const bound: { host: string; port: number; text: string; path: readonly PropertyKey[] }[] = [];
    return (value: unknown, path: readonly PropertyKey[]): void => {
      const address = typeof value === 'string' ? parseAddress(value, { allowPortZero: true }) : undefined;
      if (address === undefined) return;
      const other = bound.find((b) => overlaps(b, address));
      if (other !== undefined) {
        const message = `address "${address.text}" collides with ${formatPath(other.path)} "${other.text}"`;
        issues.push({ path, message, at: 'value' });
      }
      bound.push({ ...address, path });
    };
  };
  const bind = binder();
  const bindUdp = binder();

  const checkListenerName = uniqueNames('listener', issues);
  const checkRouteName = uniqueNames('route', issues);
  for (const [listener, i] of rawItems(raw.listeners)) {
    checkListenerName(listener.name, ['listeners', i, 'name']);
    // UDP and TCP ports are separate: a udp listener may share a port number with a TCP one
    if (listener.protocol === 'udp') bindUdp(listener.address, ['listeners', i, 'address']);
    else bind(listener.address, ['listeners', i, 'address']);
    // L4 listeners name their pools directly
    for (const key of ['pool', 'defaultPool'] as const) {
      const pool = listener[key];
      if (typeof pool === 'string' && Array.isArray(raw.pools) && !poolNames.includes(pool)) {
        issues.push({ path: ['listeners', i, key], message: `expected the name of a pool, found "${pool}"${suggestion(pool, poolNames)}`, at: 'value' });
      }
    }
    for (const [route, j] of rawItems(listener.routes)) {
      const path = ['listeners', i, 'routes', j];
      const name = route.name === undefined && typeof listener.name === 'string' ? `${listener.name}-${j}` : route.name;
      checkRouteName(name, [...path, 'name']);
      const forward = isRawObject(route.forward) ? route.forward : undefined;
      const refs: [unknown, PropertyKey[]][] = [];
      if (route.pool !== undefined) refs.push([route.pool, [...path, 'pool']]); // tls-passthrough SNI routes
      if (forward !== undefined) refs.push([forward.pool, [...path, 'forward', 'pool']]);
      if (forward !== undefined) for (const [target, k] of rawItems(forward.pools)) refs.push([target.pool, [...path, 'forward', 'pools', k, 'pool']]);
      for (const [pool, at] of refs) {
        if (typeof pool === 'string' && Array.isArray(raw.pools) && !poolNames.includes(pool)) {
          const message = `expected the name of a pool, found "${pool}"${suggestion(pool, poolNames)}`;
          issues.push({ path: at, message, at: 'value' });
        }
      }
    }
  }
  if (isRawObject(raw.admin)) bind(raw.admin.address ?? '127.0.0.1:9900', ['admin', 'address']);
  return issues;
}

export type ValidationResult =
  | { readonly ok: true; readonly config: Config }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

/** Schema and cross-reference checks together: either the parsed Config or every issue found. */
export function validateConfig(raw: unknown): ValidationResult {
  const parsed = configSchema.safeParse(raw, { error: configErrorMap, reportInput: true });
  const issues = parsed.success ? [] : issuesFromZod(parsed.error.issues, configSchema, raw);
  issues.push(...crossCheck(raw));
  if (parsed.success && issues.length === 0) return { ok: true, config: parsed.data };
  return { ok: false, issues };
}
