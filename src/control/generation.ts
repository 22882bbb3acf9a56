// Config → an immutable Generation: compiled route tables, pools with their balancers, per-listener
// settings. Endpoints are reused by (pool, address) from the previous generation so their state, counters
// and keep-alive sockets survive a reload; endpoints that disappear are returned for draining.
import { cidrsContain } from '../core/address.ts';
import { pluginByName } from '../core/registry.ts';
import { EndpointConnections } from '../http/upstream-connections.ts';
import { ListenerStats, type ListenerSettings, type ListenerTls } from '../http/listener-settings.ts';
import { certificateStore } from '../tls/certificates.ts';
import { AccessLog } from '../observability/access-log.ts';
import { compileHeaderEdits } from '../filters/header-edits.ts';
import { compileRewrite } from '../filters/rewrite.ts';
import { compileRateLimit, RouteRateLimits, type RateLimitPolicy, type RateLimitPolicyConfig } from '../filters/rate-limit.ts';
import { compileRedirect } from '../routing/actions/redirect.ts';
import { compileRespond } from '../routing/actions/respond.ts';
import { Route, type RouteStats } from '../routing/route.ts';
import { RuleTable } from '../routing/rule-table.ts';
import { compileSplit } from '../routing/split.ts';
import { balancerPlugins } from '../upstream/balancing/registry.ts';
import { compileKey, type KeySpec } from '../upstream/balancing/keys.ts';
import type { Balancer } from '../upstream/balancing/types.ts';
import { Endpoint, EndpointState } from '../upstream/endpoint.ts';
import { OutlierDetector, releaseEjected } from '../upstream/health/outlier.ts';
import { healthCheckPlugins } from '../upstream/health/registry.ts';
import { defaultJitter, HealthScheduler } from '../upstream/health/scheduler.ts';
import type { HealthCheck, HealthCheckDeps } from '../upstream/health/types.ts';
import { Pool, type PoolSettings, type UpstreamTls } from '../upstream/pool.ts';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import { AppCookieSticky } from '../upstream/sticky/app-cookie.ts';
import { StickyCookies } from '../upstream/sticky/cookie.ts';
import type { AnyListenerConfig, Config, ListenerConfig, PoolConfig, RouteConfig } from './config/schema.ts';
import { grpcStatusCodes } from './config/schema.ts';
import { tcpListenerSettings, tlsPassthroughSettings, udpListenerSettings, type L4Upstream, type TcpListenerSettings, type TlsPassthroughSettings, type UdpListenerSettings } from '../l4/settings.ts';

export interface Generation {
  readonly id: number;
  readonly config: Config;
  readonly pools: ReadonlyMap<string, Pool>;
  /** By listener name. */
  readonly listeners: ReadonlyMap<string, ListenerSettings>;
  /** Every endpoint, keyed `pool/address`. */
  readonly endpoints: ReadonlyMap<string, Endpoint>;
  /** Rate limit policies in use, by owner and config (kept by the next generation when unchanged). */
  readonly rateLimitPolicies: ReadonlyMap<string, RateLimitPolicy>;
  /** L4 listeners' settings by listener name (`listeners` holds the HTTP ones). */
  readonly l4: ReadonlyMap<string, L4Settings>;
}

export function isHttpListener(l: AnyListenerConfig): l is ListenerConfig {
  return l.protocol === 'http' || l.protocol === 'https';
}

export type L4Settings =
  | { readonly protocol: 'tcp'; readonly settings: TcpListenerSettings }
  | { readonly protocol: 'tls-passthrough'; readonly settings: TlsPassthroughSettings }
  | { readonly protocol: 'udp'; readonly settings: UdpListenerSettings };

function l4Settings(l: Exclude<AnyListenerConfig, ListenerConfig>, pools: ReadonlyMap<string, Pool>, config: Config): L4Settings {
  const upstreamOf = (name: string): L4Upstream => ({ pool: pools.get(name)!, proxyProtocol: config.pools.find((p) => p.name === name)?.proxyProtocol ?? null });
  if (l.protocol === 'tcp') return { protocol: 'tcp', settings: tcpListenerSettings(l, upstreamOf) };
  if (l.protocol === 'tls-passthrough') return { protocol: 'tls-passthrough', settings: tlsPassthroughSettings(l, upstreamOf) };
  return { protocol: 'udp', settings: udpListenerSettings(l, (name) => pools.get(name)!) };
}

export function endpointKey(pool: string, address: string): string {
  return pool + '/' + address;
}

function poolSettings(p: PoolConfig): PoolSettings {
  return {
    maxConnections: p.connections.maxConnections,
    maxQueue: p.connections.maxQueue,
    queueTimeoutMs: p.connections.queueTimeout === 0 ? 2 ** 31 : p.connections.queueTimeout,
    idleTimeoutMs: p.connections.idleTimeout,
    connectTimeoutMs: p.timeouts.connect === 0 ? 2 ** 31 : p.timeouts.connect,
    responseTimeoutMs: p.timeouts.response === 0 ? 2 ** 31 : p.timeouts.response,
    maxTries: p.maxTries,
    slowStartMs: p.slowStart,
    deregistrationDelayMs: p.deregistrationDelay,
    retryOnConnectFailure: p.retries.on.includes('connect-failure'),
    retryOnReset: p.retries.on.includes('reset'),
    retryOnTimeout: p.retries.on.includes('timeout'),
    retryStatus: Uint8Array.from({ length: 100 }, (_, i) => (p.retries.on.includes(500 + i) ? 1 : 0)),
    retryNonIdempotent: p.retries.nonIdempotent,
    perTryTimeoutMs: p.retries.perTryTimeout,
    backoffBaseMs: p.retries.backoff.base,
    backoffMaxMs: Math.max(p.retries.backoff.base, p.retries.backoff.max),
    tls: upstreamTls(p),
    protocol: p.protocol,
    http2MaxStreams: p.http2.maxConcurrentStreams,
    retryGrpcStatus: p.retries.grpc.map((name) => grpcStatusCodes[name]),
  };
}

const upstreamContexts = new Map<string, SecureContext>();

/** One secure context per distinct upstream TLS config (so a reload keeps TLS session reuse). */
function upstreamTls(p: PoolConfig): UpstreamTls | null {
  const t = p.tls;
  if (t === undefined) return null;
  const key = JSON.stringify(t);
  let context = upstreamContexts.get(key);
  if (context === undefined) {
    context = createSecureContext({
      ca: t.ca === undefined ? undefined : readFileSync(t.ca),
      cert: t.cert === undefined ? undefined : readFileSync(t.cert),
      key: t.key === undefined ? undefined : readFileSync(t.key),
      minVersion: t.minVersion,
    });
    upstreamContexts.set(key, context);
  }
  return { context, servername: t.servername ?? null, rejectUnauthorized: t.verify };
}

function createBalancer(p: PoolConfig): Balancer {
  const plugin = pluginByName(balancerPlugins, p.balancer.algorithm) as { create(o: unknown, d: void): Balancer };
  return plugin.create(p.balancer, undefined);
}

/**
 * Rate limit policies by owner (listener or route), name and config: a reload that keeps a policy keeps its
 * state (a memory store's buckets), so reloading cannot be used to reset limits.
 */
type PolicyCache = Map<string, RateLimitPolicy>;

function policiesFor(owner: string, configs: readonly RateLimitPolicyConfig[] | undefined, routeName: string, previous: ReadonlyMap<string, RateLimitPolicy> | undefined, next: PolicyCache): RateLimitPolicy[] {
  return (configs ?? []).map((c) => {
    const key = `${owner}\u0000${JSON.stringify(c)}`;
    const policy = previous?.get(key) ?? next.get(key) ?? compileRateLimit(c, routeName);
    next.set(key, policy);
    return policy;
  });
}

function compileRoute(r: RouteConfig, pools: ReadonlyMap<string, Pool>, stats: RouteStats | undefined, limits: RateLimitPolicy[]): Route {
  const forward = r.forward;
  return new Route({
    name: r.name,
    stats,
    rateLimits: limits.length === 0 ? null : new RouteRateLimits(limits),
    pool: forward !== undefined && 'pool' in forward ? pools.get(forward.pool)! : null,
    split: forward !== undefined && 'pools' in forward ? compileSplit(forward, (name) => pools.get(name)!) : null,
    redirect: r.redirect === undefined ? null : compileRedirect(r.redirect),
    respond: r.respond === undefined ? null : compileRespond(r.respond),
    requestHeaders: compileHeaderEdits(r.requestHeaders, r.name),
    responseHeaders: compileHeaderEdits(r.responseHeaders, r.name),
    rewrite: compileRewrite(r.rewrite),
    responseTimeoutMs: r.timeouts.response ?? 0,
    allow: r.allow ?? null,
    deny: r.deny ?? null,
  });
}

function listenerTls(l: ListenerConfig): ListenerTls | null {
  const t = l.tls;
  if (t === undefined) return null;
  const auth = t.clientAuth;
  return {
    certificates: certificateStore(t.certificates, { minVersion: t.minVersion, ciphers: t.ciphers, clientCa: auth?.ca }),
    minVersion: t.minVersion,
    ciphers: t.ciphers,
    requestCert: auth !== undefined,
    rejectUnauthorized: auth?.mode === 'require',
    subjectHeader: auth?.subjectHeader ?? null,
    fingerprintHeader: auth?.fingerprintHeader ?? null,
    clientCertHeaders: auth === undefined ? null : new Set([auth.subjectHeader, auth.fingerprintHeader]),
  };
}

/** Counters carry over a reload by name: listeners' and routes'. */
function listenerSettings(l: ListenerConfig, pools: ReadonlyMap<string, Pool>, previous: Generation | null, policies: PolicyCache): ListenerSettings {
  const before = previous?.listeners.get(l.name);
  const oldRoutes = new Map<string, RouteStats>();
  if (before !== undefined) for (const r of before.routes.rules) oldRoutes.set(r.name, r.stats);
  const shared = policiesFor(`listener:${l.name}`, l.rateLimit, l.name, previous?.rateLimitPolicies, policies);
  const routes = new RuleTable(
    l.routes.map((r) => {
      const limits = r.forward === undefined ? [] : [...shared, ...policiesFor(`route:${r.name}`, r.rateLimit, r.name, previous?.rateLimitPolicies, policies)];
      return { priority: r.priority, match: r.match, value: compileRoute(r, pools, oldRoutes.get(r.name), limits) };
    }),
  );
  const trusted = l.trustedProxies;
  return {
    name: l.name,
    port: l.address.port,
    routes,
    limits: { maxStartLine: l.limits.maxRequestLine, maxHeadSize: l.limits.maxHeaderSize, maxHeaders: l.limits.maxHeaders },
    requestHeaderTimeoutMs: l.timeouts.requestHeader === 0 ? 2 ** 31 : l.timeouts.requestHeader,
    keepAliveTimeoutMs: l.timeouts.keepAlive,
    tunnelIdleTimeoutMs: l.timeouts.tunnelIdle,
    requestTimeoutMs: l.timeouts.request,
    isTrustedProxy: trusted.length === 0 ? null : (ip: string) => cidrsContain(trusted, ip),
    requestIdHeader: l.requestIdHeader,
    requestIdName: Buffer.from(l.requestIdHeader, 'latin1'),
    stats: before?.stats ?? new ListenerStats(),
    acceptProxyFrom: l.proxyProtocol?.accept ?? null,
    traceGenerate: l.tracing === 'generate',
    tls: listenerTls(l),
    http2: l.http2 ?? null,
    hstsLine:
      l.tls?.hsts === undefined
        ? ''
        : `strict-transport-security: max-age=${l.tls.hsts.maxAge}${l.tls.hsts.includeSubDomains ? '; includeSubDomains' : ''}${l.tls.hsts.preload ? '; preload' : ''}\r\n`,
    accessLog:
      l.accessLog === undefined
        ? null
        : new AccessLog({ destination: l.accessLog.destination, format: l.accessLog.format, sample: l.accessLog.sample, fields: l.accessLog.fields ?? null }),
  };
}

/**
 * Builds the next generation. Returns it with the endpoints of `previous` that it no longer has, which
 * the caller drains once the swap is done.
 */
export function buildGeneration(config: Config, id: number, previous: Generation | null): { generation: Generation; removed: Endpoint[] } {
  const endpoints = new Map<string, Endpoint>();
  const pools = new Map<string, Pool>();
  for (const p of config.pools) {
    const settings = poolSettings(p);
    const list: Endpoint[] = [];
    for (const e of p.endpoints) {
      const key = endpointKey(p.name, e.address.text);
      let endpoint = previous?.endpoints.get(key);
      if (endpoint === undefined) {
        endpoint = new Endpoint(e.address.text, e.address.host, e.address.port, e.weight);
        if (p.health?.initialState === 'unhealthy') endpoint.state = EndpointState.unhealthy;
        // joined through a reload: slow start (one that starts unhealthy ramps once it becomes healthy)
        else if (previous !== null && p.slowStart > 0) endpoint.rampStart = Date.now();
      } else {
        endpoint.weight = e.weight;
        if (endpoint.connections instanceof EndpointConnections) endpoint.connections.settings = settings;
      }
      endpoints.set(key, endpoint);
      list.push(endpoint);
    }
    const balancer = p.balancer as { key?: KeySpec };
    const key = balancer.key === undefined ? null : compileKey(balancer.key);
    const sticky =
      p.sticky?.cookie !== undefined
        ? new StickyCookies(p.sticky.cookie, p.name, list)
        : p.sticky?.appCookie !== undefined
          ? new AppCookieSticky(p.sticky.appCookie, p.name, list)
          : null;
    const wasInPanic = previous?.pools.get(p.name)?.panic ?? false;
    const pool = new Pool(p.name, list, createBalancer(p), settings, key, sticky, p.panicThreshold, wasInPanic);
    // live counts carry over a reload; the caps and budget shares come from the new config
    const before = previous?.pools.get(p.name);
    if (before !== undefined) {
      pool.breaker = before.breaker;
      pool.retryBudget = before.retryBudget;
    }
    const cb = p.circuitBreakers;
    pool.breaker.limits = { maxConnections: cb.maxConnections, maxPending: cb.maxPending, maxRequests: cb.maxRequests, maxRetries: cb.maxRetries ?? Infinity };
    pool.retryBudget.percent = p.retries.budget.percent;
    pool.retryBudget.minPerSecond = p.retries.budget.minPerSecond;
    const od = p.outlierDetection;
    if (od !== undefined) {
      const outlier = {
        consecutive5xx: od.consecutive5xx,
        consecutiveGatewayFailure: od.consecutiveGatewayFailure,
        baseEjectionTimeMs: od.baseEjectionTime,
        maxEjectionTimeMs: od.maxEjectionTime,
        maxEjectionPercent: od.maxEjectionPercent,
        intervalMs: od.interval,
        successRate: od.successRate ?? null,
        failurePercentage: od.failurePercentage ?? null,
      };
      pool.outlier = new OutlierDetector(pool, outlier, p.health !== undefined);
    }
    pools.set(p.name, pool);
  }
  const listeners = new Map<string, ListenerSettings>();
  const rateLimitPolicies: PolicyCache = new Map();
  const l4 = new Map<string, L4Settings>();
  for (const l of config.listeners) {
    if (isHttpListener(l)) listeners.set(l.name, listenerSettings(l, pools, previous, rateLimitPolicies));
    else l4.set(l.name, l4Settings(l as Exclude<AnyListenerConfig, ListenerConfig>, pools, config));
  }
  const removed: Endpoint[] = [];
  if (previous !== null) for (const [key, e] of previous.endpoints) if (!endpoints.has(key)) removed.push(e);
  return { generation: { id, config, pools, listeners, endpoints, rateLimitPolicies, l4 }, removed };
}

function createCheck(p: PoolConfig): HealthCheck | null {
  const h = p.health;
  if (h === undefined) return null;
  const plugin = pluginByName(healthCheckPlugins, h.kind) as { create(o: unknown, d: HealthCheckDeps): HealthCheck };
  return plugin.create(h[h.kind], { port: h.port ?? null, host: h.address ?? null });
}

/**
 * The health schedulers of a generation that has just become current, not yet started: one per pool with
 * `health`. Endpoints of pools without it go back to healthy (checks turned off by a reload must not leave
 * them out of service). `onTransition` gets the pool's name so the caller refreshes the current generation's
 * pool, whichever generation the scheduler belonged to.
 */
export function healthSchedulers(generation: Generation, onTransition: (pool: string, e: Endpoint) => void): HealthScheduler[] {
  const schedulers: HealthScheduler[] = [];
  for (const p of generation.config.pools) {
    const pool = generation.pools.get(p.name)!;
    const check = createCheck(p);
    if (check === null || p.health === undefined) {
      let changed = false;
      for (const e of pool.endpoints) {
        changed ||= e.state === EndpointState.unhealthy;
        e.resetHealth();
      }
      if (changed) pool.refresh();
      continue;
    }
    const h = p.health;
    const fd = h.flapDamping;
    const flap = fd === undefined ? null : { maxTransitions: fd.maxTransitions, windowMs: fd.window, holdDownMs: fd.holdDown, maxHoldDownMs: Math.max(fd.holdDown, fd.maxHoldDown) };
    const settings = { intervalMs: h.interval, unhealthyIntervalMs: h.unhealthyInterval, timeoutMs: h.timeout, rise: h.rise, fall: h.fall, jitter: defaultJitter, flap };
    schedulers.push(new HealthScheduler(p.name, pool.endpoints, check, settings, (e) => onTransition(p.name, e)));
  }
  return schedulers;
}

/**
 * The outlier detectors of a generation that has just become current, not yet started: one per pool with
 * `outlierDetection`. Endpoints ejected in pools without it return at once (detection turned off by a reload
 * must not leave them out of service).
 */
export function outlierDetectors(generation: Generation): OutlierDetector[] {
  const detectors: OutlierDetector[] = [];
  for (const p of generation.config.pools) {
    const pool = generation.pools.get(p.name)!;
    if (pool.outlier instanceof OutlierDetector) detectors.push(pool.outlier);
    else if (releaseEjected(pool, p.health !== undefined)) pool.refresh();
  }
  return detectors;
}
