// A pool: endpoints + balancer + upstream limits (ARCHITECTURE.md vocabulary). Built per generation; the
// endpoints themselves are reused across generations by address, so counters and sockets survive reloads.
import type { Balancer, PickContext } from './balancing/types.ts';
import { markTried } from './balancing/types.ts';
import type { Endpoint } from './endpoint.ts';
import type { KeyExtractor } from './balancing/keys.ts';
import type { AppCookieSticky } from './sticky/app-cookie.ts';
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
  /** The set the balancer currently picks from. */
  eligible: readonly Endpoint[];

  constructor(
    name: string,
    endpoints: readonly Endpoint[],
    balancer: Balancer,
    settings: PoolSettings,
    key: KeyExtractor | null = null,
    sticky: StickyCookies | AppCookieSticky | null = null,
  ) {
    this.name = name;
    this.endpoints = endpoints;
    this.balancer = balancer;
    this.settings = settings;
    this.key = key;
    this.sticky = sticky;
    this.eligible = [];
    this.refresh();
  }

  /** Recomputes the eligible set and rebuilds the balancer's tables; call after any state or weight change. */
  refresh(): void {
    this.eligible = this.endpoints.filter((e) => e.eligible);
    this.balancer.update(this.eligible);
  }

  // HOT PATH: the balancer picks over the eligible set; the pick is marked tried for this exchange.
  pick(ctx: PickContext): Endpoint | undefined {
    const e = this.balancer.pick(ctx);
    if (e !== undefined) markTried(e, ctx);
    return e;
  }
}
