// A route compiled for the data plane: what to do with a request its match selected (RuleTable picks it).
// Exactly one action — forward (one pool, or a weighted split across pools), redirect, or respond — plus
// what the exchange applies on the way: source allow/deny, request and response header edits, rewrites and
// a per-route response timeout. Built once per generation; read-only afterwards.
import { cidrsContain, type Cidr } from '../core/address.ts';
import { LatencyHistogram } from '../core/histogram.ts';
import type { HeaderEdits } from '../filters/header-edits.ts';
import type { RouteRateLimits } from '../filters/rate-limit.ts';
import type { Rewrite } from '../filters/rewrite.ts';
import type { Pool } from '../upstream/pool.ts';
import type { Redirect } from './actions/redirect.ts';
import type { Respond } from './actions/respond.ts';
import type { RouteRequest } from './request.ts';
import type { Split } from './split.ts';

/** A route's traffic counters, read by the metrics at scrape time; kept across reloads by route name. */
export class RouteStats {
  /** Exchanges by final status class: [0] none (client gone), [1..5] 1xx..5xx (local replies included). */
  readonly responses: Float64Array;
  /** Whole exchange: request head parsed to response complete. */
  readonly duration: LatencyHistogram;

  constructor() {
    this.responses = new Float64Array(6);
    this.duration = new LatencyHistogram();
  }
}

export interface RouteSpec {
  readonly name: string;
  readonly stats?: RouteStats;
  readonly pool?: Pool | null;
  readonly split?: Split<Pool> | null;
  readonly redirect?: Redirect | null;
  readonly respond?: Respond | null;
  readonly requestHeaders?: HeaderEdits | null;
  readonly responseHeaders?: HeaderEdits | null;
  readonly rewrite?: Rewrite | null;
  /** 0 = the pool's limits apply. */
  readonly responseTimeoutMs?: number;
  readonly allow?: readonly Cidr[] | null;
  readonly deny?: readonly Cidr[] | null;
  /** The listener's and the route's rate limit policies, in that order; null without any. */
  readonly rateLimits?: RouteRateLimits | null;
}

export class Route {
  readonly name: string;
  /** A forward to one pool; null for a split, a redirect or a fixed response. */
  readonly pool: Pool | null;
  readonly split: Split<Pool> | null;
  readonly redirect: Redirect | null;
  readonly respond: Respond | null;
  readonly requestHeaders: HeaderEdits | null;
  readonly responseHeaders: HeaderEdits | null;
  readonly rewrite: Rewrite | null;
  readonly responseTimeoutMs: number;
  readonly stats: RouteStats;
  readonly rateLimits: RouteRateLimits | null;
  private readonly allow: readonly Cidr[] | null;
  private readonly deny: readonly Cidr[] | null;
  /** Whether `admits` has anything to check. */
  readonly checksSource: boolean;

  constructor(spec: RouteSpec) {
    this.name = spec.name;
    this.pool = spec.pool ?? null;
    this.split = spec.split ?? null;
    this.redirect = spec.redirect ?? null;
    this.respond = spec.respond ?? null;
    this.requestHeaders = spec.requestHeaders ?? null;
    this.responseHeaders = spec.responseHeaders ?? null;
    this.rewrite = spec.rewrite ?? null;
    this.responseTimeoutMs = spec.responseTimeoutMs ?? 0;
    this.stats = spec.stats ?? new RouteStats();
    this.rateLimits = spec.rateLimits ?? null;
    this.allow = spec.allow ?? null;
    this.deny = spec.deny ?? null;
    this.checksSource = this.allow !== null || this.deny !== null;
  }

  /** `deny` first, then `allow` (when set, the source must be in it). */
  admits(clientAddress: string): boolean {
    if (this.deny !== null && cidrsContain(this.deny, clientAddress)) return false;
    return this.allow === null || cidrsContain(this.allow, clientAddress);
  }

  /** The pool a forward route sends this request to; null for redirect and respond routes. */
  // HOT PATH: a field read for a single-pool forward.
  poolFor(req: RouteRequest): Pool | null {
    if (this.pool !== null) return this.pool;
    return this.split === null ? null : this.split.pick(req);
  }

  /** Every pool this route may forward to (admin API, metrics). */
  get pools(): readonly Pool[] {
    if (this.pool !== null) return [this.pool];
    return this.split === null ? [] : this.split.targets.filter((t) => t.weight > 0).map((t) => t.target);
  }
}
