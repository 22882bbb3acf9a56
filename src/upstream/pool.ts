// A pool: endpoints + balancer + upstream limits (ARCHITECTURE.md vocabulary). Built per generation; the
// endpoints themselves are reused across generations by address, so counters and sockets survive reloads.
import type { SecureContext } from 'node:tls';
import type { Balancer, PickContext } from './balancing/types.ts';
import { markTried } from './balancing/types.ts';
import { publish } from '../core/events.ts';
import { log } from '../core/log.ts';
import { EndpointState, type Endpoint, type EndpointConnectionsLike } from './endpoint.ts';
import type { KeyExtractor } from './balancing/keys.ts';
import type { AppCookieSticky } from './sticky/app-cookie.ts';
import { CircuitBreaker, CircuitLimit, type CircuitLimitName } from './circuit-breaker.ts';
import { RetryBudget } from './retry-budget.ts';
import type { StickyCookies } from './sticky/cookie.ts';

export interface PoolSettings {
  /** Per endpoint: sockets open at once. */
  maxConnections: number;
  /** Per endpoint: exchanges waiting for a socket. */
  maxQueue: number;
  queueTimeoutMs: number;
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  /** Connect attempts across endpoints before the exchange fails. */
  maxTries: number;
  /** Slow start window (HAProxy `slowstart`): 0 = off. */
  slowStartMs: number;
  /** A draining endpoint's connections are closed this long after the drain began. */
  deregistrationDelayMs: number;
  /** Retry policy (config `retries`). */
  retryOnConnectFailure: boolean;
  retryOnReset: boolean;
  retryOnTimeout: boolean;
  /** Statuses retried: retryStatus[status - 500] === 1. */
  retryStatus: Uint8Array;
  retryNonIdempotent: boolean;
  /** 0 = off: `responseTimeoutMs` applies to each try. */
  perTryTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** TLS to endpoints; null = plain TCP. */
  tls: UpstreamTls | null;
  /** How exchanges reach the endpoints: HTTP/1.1 sockets, or streams on HTTP/2 sessions (h2 with `tls`,
   *  else h2c with prior knowledge). */
  protocol: 'http/1.1' | 'h2';
  /** HTTP/2: streams per session at most (the endpoint's SETTINGS may lower it). */
  http2MaxStreams: number;
  /** gRPC statuses retried (by number) when an answer carries one before any body: Envoy `retry_on` gRPC
   *  conditions. */
  retryGrpcStatus: readonly number[];
}

/** How a pool's connections speak TLS to its endpoints (built once per generation). */
export interface UpstreamTls {
  readonly context: SecureContext;
  /** SNI and the name verified; null = the endpoint's host when it is a name. */
  readonly servername: string | null;
  readonly rejectUnauthorized: boolean;
}

/** Settings with no retries beyond connect failures and no per-try timeout: for tests and tools. */
export function retrySettings(maxTries: number): Pick<PoolSettings, 'maxTries' | 'deregistrationDelayMs' | 'retryOnConnectFailure' | 'retryOnReset' | 'retryOnTimeout' | 'retryStatus' | 'retryNonIdempotent' | 'perTryTimeoutMs' | 'backoffBaseMs' | 'backoffMaxMs' | 'tls' | 'protocol' | 'http2MaxStreams' | 'retryGrpcStatus'> {
  return { maxTries, deregistrationDelayMs: 300_000, retryOnConnectFailure: true, retryOnReset: false, retryOnTimeout: false, retryStatus: new Uint8Array(100), retryNonIdempotent: false, perTryTimeoutMs: 0, backoffBaseMs: 0, backoffMaxMs: 0, tls: null, protocol: 'http/1.1', http2MaxStreams: 100, retryGrpcStatus: [] };
}

/** Slow start begins at this share of the weight (Envoy's `min_weight_percent` default, 10%). */
const RAMP_FLOOR = 0.1;
/** Steps of a ramp: the effective weights are recomputed this many times over the window. */
const RAMP_STEPS = 20;

/** Receives exchange outcomes for passive health (outlier detection). */
export interface OutcomeRecorder {
  /** `status`: the HTTP status of the response; 0 for a gateway failure (connect failed or timed out, the
   *  upstream reset or closed before answering, answered garbage, or did not answer in time). */
  record(endpoint: Endpoint, status: number): void;
}

export class Pool {
  readonly name: string;
  readonly endpoints: readonly Endpoint[];
  readonly balancer: Balancer;
  readonly settings: PoolSettings;
  /** For hash balancers: what to hash (compiled from the balancer's `key` option); null otherwise. */
  readonly key: KeyExtractor | null;
  /** Stickiness, when configured: Fulcrum's own cookie, or the endpoints' session cookie. */
  readonly sticky: StickyCookies | AppCookieSticky | null;
  /** Panic mode (Envoy's healthy panic threshold): below this percentage of healthy endpoints, balance over
   *  all of them rather than overload the few left. 0..100; 0 = never. */
  readonly panicThreshold: number;
  /** The set the balancer currently picks from. */
  eligible: readonly Endpoint[];
  /** True while in panic mode: `eligible` then holds unhealthy endpoints too. */
  panic: boolean;
  /** Passive health: told the outcome of every exchange; null when not configured. Set by the generation. */
  outlier: OutcomeRecorder | null;
  /** Caps on the pool's traffic; the generation passes the previous generation's so counts carry over. */
  breaker: CircuitBreaker;
  retryBudget: RetryBudget;
  /** Endpoints that were healthy at the last refresh: one that joins them starts a slow start. */
  private wasHealthy: Set<Endpoint> | null;
  private rampTimer: NodeJS.Timeout | null;

  constructor(
    name: string,
    endpoints: readonly Endpoint[],
    balancer: Balancer,
    settings: PoolSettings,
    key: KeyExtractor | null = null,
    sticky: StickyCookies | AppCookieSticky | null = null,
    panicThreshold = 50,
    /** Whether the pool this one replaces (same name, previous generation) was in panic mode: a reload
     *  does not log the mode again. */
    wasInPanic = false,
  ) {
    this.name = name;
    this.endpoints = endpoints;
    this.balancer = balancer;
    this.settings = settings;
    this.key = key;
    this.sticky = sticky;
    this.outlier = null;
    this.breaker = new CircuitBreaker({ maxConnections: Infinity, maxPending: Infinity, maxRequests: Infinity, maxRetries: Infinity });
    this.retryBudget = new RetryBudget(100, 1_000_000);
    this.wasHealthy = null;
    this.rampTimer = null;
    this.panicThreshold = panicThreshold;
    this.eligible = [];
    this.panic = wasInPanic;
    this.refresh();
  }

  /**
   * Recomputes the eligible set and rebuilds the balancer's tables; call after any state or weight change.
   * Panic mode: when fewer than `panicThreshold` percent of the endpoints in service (weight > 0, neither
   * draining nor disabled) are healthy, all of those are eligible, unhealthy or not (Envoy, default 50%).
   */
  refresh(): void {
    const healthy = this.endpoints.filter((e) => e.eligible);
    this.ramp(healthy);
    let inService = 0;
    for (const e of this.endpoints) if (inPanicSet(e)) inService++;
    const panic = inService > 0 && healthy.length * 100 < this.panicThreshold * inService;
    this.eligible = panic ? this.endpoints.filter(inPanicSet) : healthy;
    if (panic !== this.panic) {
      this.panic = panic;
      const fields = { pool: this.name, healthy: healthy.length, endpoints: inService, panicThreshold: this.panicThreshold };
      if (panic) log('warn', 'pool entered panic mode: balancing over all endpoints', fields);
      else log('info', 'pool left panic mode', fields);
      publish({ kind: 'panic', pool: this.name, endpoint: null, from: panic ? 'normal' : 'panic', to: panic ? 'panic' : 'normal', reason: `${healthy.length} of ${inService} endpoints healthy (panicThreshold ${this.panicThreshold}%)` });
    }
    this.balancer.update(this.eligible);
  }

  /**
   * Slow start (HAProxy `slowstart`, Envoy slow start): an endpoint that becomes healthy again, or joins the
   * pool through a reload, takes a share of its weight that grows linearly from 10% to 100% over
   * `slowStartMs`, so a cold cache or JIT is not handed a full share at once. Endpoints healthy when the
   * balancer starts take full weight at once (as in HAProxy, slow start does not apply at startup).
   */
  private ramp(healthy: readonly Endpoint[]): void {
    const windowMs = this.settings.slowStartMs;
    const now = Date.now();
    if (windowMs > 0 && this.wasHealthy !== null) {
      for (const e of healthy) if (!this.wasHealthy.has(e) && e.rampStart === 0) e.rampStart = now;
    }
    this.wasHealthy = new Set(healthy);
    let ramping = false;
    for (const e of this.endpoints) {
      if (e.rampStart === 0) continue;
      const share = windowMs === 0 ? 1 : (now - e.rampStart) / windowMs;
      if (share >= 1) {
        e.rampStart = 0;
        e.effectiveWeight = e.weight;
      } else {
        e.effectiveWeight = e.weight * Math.max(RAMP_FLOOR, share);
        ramping = true;
      }
    }
    if (ramping && this.rampTimer === null) {
      this.rampTimer = setTimeout(() => {
        this.rampTimer = null;
        this.refresh();
      }, Math.max(50, windowMs / RAMP_STEPS));
      this.rampTimer.unref();
    }
  }

  /** Stops background work when the generation that owns this pool is replaced. */
  close(): void {
    if (this.rampTimer !== null) clearTimeout(this.rampTimer);
    this.rampTimer = null;
    this.balancer.close?.();
  }

  // HOT PATH: the balancer picks over the eligible set; the pick is marked tried for this exchange.
  pick(ctx: PickContext): Endpoint | undefined {
    const e = this.balancer.pick(ctx);
    if (e !== undefined) markTried(e, ctx);
    return e;
  }

  /**
   * The endpoint for a try: on the first, a sticky endpoint while it may take work; else the balancer; when
   * every endpoint was tried, a retry of a request that reached `last` may go back to it.
   */
  pickTry(ctx: PickContext, pinned: Endpoint | null, firstTry: boolean, last: Endpoint | null): Endpoint | undefined {
    let endpoint: Endpoint | undefined;
    if (pinned !== null && firstTry && pinned.eligible) {
      endpoint = pinned;
      markTried(pinned, ctx);
    } else endpoint = this.pick(ctx);
    if (endpoint === undefined && last !== null && last.eligible) endpoint = last;
    return endpoint;
  }

  /**
   * Whether one more retry may start: within the `maxRetries` breaker (an exchange already on a retry is counted
   * once) and the retry budget. Counts it when it may.
   */
  admitRetry(alreadyRetrying: boolean, nowMs: number): boolean {
    const breaker = this.breaker;
    if (!alreadyRetrying && breaker.retries >= breaker.limits.maxRetries) {
      breaker.trip(CircuitLimit.maxRetries);
      return false;
    }
    if (!this.retryBudget.tryWithdraw(nowMs)) return false;
    if (!alreadyRetrying) breaker.retries++;
    return true;
  }

  /**
   * The circuit-breaker cap a try would pass on `connections` (Envoy semantics): opening one more socket past
   * `maxConnections`, or waiting past `maxPending`; null when the try may go on. Counts the trip.
   */
  connectionCap(connections: EndpointConnectionsLike, forceNew: boolean): CircuitLimitName | null {
    if (!forceNew && connections.idleCount > 0) return null;
    const breaker = this.breaker;
    if (connections.openCount < this.settings.maxConnections) {
      if (breaker.limits.maxConnections === Infinity) return null;
      let open = 0;
      for (const e of this.endpoints) if (e.connections !== null) open += e.connections.openCount;
      return open >= breaker.limits.maxConnections ? breaker.trip(CircuitLimit.maxConnections) : null;
    }
    return breaker.pending >= breaker.limits.maxPending ? breaker.trip(CircuitLimit.maxPending) : null;
  }
}

/** Counted for, and balanced over in, panic mode: weight > 0 and not taken out of service by an operator. */
function inPanicSet(e: Endpoint): boolean {
  return e.weight > 0 && e.state !== EndpointState.draining && e.state !== EndpointState.disabled;
}
