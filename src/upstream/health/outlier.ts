// Passive health for one pool: outlier detection as Envoy does it (consecutive 5xx and consecutive gateway
// failures), HAProxy's `observe layer7` + `on-error`. The data plane reports every exchange's outcome
// (pool.ts OutcomeRecorder); an endpoint that fails too often in a row is ejected for
// baseEjectionTime × its ejection count (capped at maxEjectionTime), never past maxEjectionPercent of the pool.
//
//   healthy ──(consecutive5xx or consecutiveGatewayFailure)──▶ ejected ──(ejection time)──▶ healthy
//                                                                               (unhealthy with active checks)
//
// With `successRate` / `failurePercentage`, every `interval` the detector also compares endpoints over the
// interval's traffic (Envoy's statistical detection): an endpoint whose success rate is below
// mean − stdevFactor × stdev of the pool's, or whose failure share reaches a threshold, is ejected. It reads
// the endpoints' outcome counters (Endpoint.responses), so the hot path does nothing more.
import { publish } from '../../core/events.ts';
import { log } from '../../core/log.ts';
import { EndpointState, endpointStateNames, type Endpoint } from '../endpoint.ts';
import type { OutcomeRecorder, Pool } from '../pool.ts';

export interface OutlierSettings {
  /** 5xx answers (and gateway failures) in a row that eject. Envoy `consecutive_5xx` (5). */
  readonly consecutive5xx: number;
  /** Gateway failures (status 0, 502, 503, 504) in a row that eject. Envoy `consecutive_gateway_failure` (5). */
  readonly consecutiveGatewayFailure: number;
  /** Envoy `base_ejection_time` (30s). */
  readonly baseEjectionTimeMs: number;
  /** Envoy `max_ejection_time` (300s). */
  readonly maxEjectionTimeMs: number;
  /** Envoy `max_ejection_percent` (10), with Envoy's exception: one endpoint may always be ejected. */
  readonly maxEjectionPercent: number;
  /** How often the statistical detectors run. Envoy `interval` (10s). */
  readonly intervalMs?: number;
  /** Envoy `success_rate_*`: null = off. */
  readonly successRate?: { readonly minimumHosts: number; readonly requestVolume: number; readonly stdevFactor: number } | null;
  /** Envoy `failure_percentage_*`: null = off. */
  readonly failurePercentage?: { readonly minimumHosts: number; readonly requestVolume: number; readonly threshold: number } | null;
}

/** Time source and timers; tests pass a fake one. */
export interface OutlierClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: OutlierClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class OutlierDetector implements OutcomeRecorder {
  readonly pool: Pool;
  readonly settings: OutlierSettings;
  /** Active checks run for the pool: an ejection ends in `unhealthy`, so `rise` probes must pass first. */
  private readonly activeChecks: boolean;
  private readonly clock: OutlierClock;
  /** Return timers by endpoint; only ejected endpoints have one. */
  private readonly timers: Map<Endpoint, unknown>;
  private stopped: boolean;
  /** Outcome counts at the last statistical run, by endpoint. */
  private readonly snapshots: Map<Endpoint, Float64Array>;
  private intervalTimer: unknown;

  constructor(pool: Pool, settings: OutlierSettings, activeChecks: boolean, clock: OutlierClock = realClock) {
    this.pool = pool;
    this.settings = settings;
    this.activeChecks = activeChecks;
    this.clock = clock;
    this.timers = new Map();
    this.stopped = false;
    this.snapshots = new Map();
    this.intervalTimer = null;
  }

  // HOT PATH: called once per exchange; two counters on the endpoint, no allocation.
  record(e: Endpoint, status: number): void {
    if (status !== 0 && status < 500) {
      e.consecutive5xx = 0;
      e.consecutiveGatewayFailures = 0;
      return;
    }
    if (this.stopped || e.state !== EndpointState.healthy) return;
    const s = this.settings;
    e.consecutive5xx++;
    if (status === 0 || status === 502 || status === 503 || status === 504) {
      e.consecutiveGatewayFailures++;
      if (e.consecutiveGatewayFailures >= s.consecutiveGatewayFailure) {
        this.eject(e, `${e.consecutiveGatewayFailures} consecutive gateway failures`);
        return;
      }
    } else {
      e.consecutiveGatewayFailures = 0;
    }
    if (e.consecutive5xx >= s.consecutive5xx) this.eject(e, `${e.consecutive5xx} consecutive 5xx`);
  }

  /** Whether one more ejection keeps within maxEjectionPercent and leaves another endpoint in service. */
  mayEject(e: Endpoint): boolean {
    const all = this.pool.endpoints;
    let ejected = 0;
    let othersEligible = 0;
    for (const x of all) {
      if (x.state === EndpointState.ejected) ejected++;
      else if (x !== e && x.eligible) othersEligible++;
    }
    if (othersEligible === 0) return false;
    return ejected === 0 || (ejected + 1) * 100 <= this.settings.maxEjectionPercent * all.length;
  }

  /** Takes `e` out of service for baseEjectionTime × ejections (capped), if the pool allows. */
  eject(e: Endpoint, reason: string): boolean {
    e.consecutive5xx = 0;
    e.consecutiveGatewayFailures = 0;
    if (!this.mayEject(e)) return false;
    e.ejections++;
    const forMs = Math.min(this.settings.baseEjectionTimeMs * e.ejections, this.settings.maxEjectionTimeMs);
    publish({ kind: 'outlier', pool: this.pool.name, endpoint: e.key, from: endpointStateNames[e.state], to: 'ejected', reason: `${reason} (for ${forMs} ms)` });
    e.state = EndpointState.ejected;
    e.ejectedUntil = this.clock.now() + forMs;
    log('warn', 'endpoint ejected', { pool: this.pool.name, endpoint: e.key, reason, ejections: e.ejections, forMs });
    this.schedule(e, forMs);
    this.pool.refresh();
    return true;
  }

  /**
   * Takes over endpoints ejected under the previous generation: each returns when its ejection was due to end
   * (at most maxEjectionTime from now). Call once the pool's generation is current.
   */
  start(): void {
    const s = this.settings;
    if ((s.successRate || s.failurePercentage) && this.intervalTimer === null) {
      for (const e of this.pool.endpoints) this.snapshots.set(e, Float64Array.from(e.responses));
      const tick = () => {
        if (this.stopped) return;
        this.evaluate();
        this.intervalTimer = this.clock.setTimeout(tick, s.intervalMs ?? 10_000);
      };
      this.intervalTimer = this.clock.setTimeout(tick, s.intervalMs ?? 10_000);
    }
    const now = this.clock.now();
    for (const e of this.pool.endpoints) {
      if (e.state !== EndpointState.ejected || this.timers.has(e)) continue;
      const left = Math.min(Math.max(0, e.ejectedUntil - now), this.settings.maxEjectionTimeMs);
      this.schedule(e, left);
    }
  }

  /** Cancels return timers and ignores later outcomes; ejected endpoints stay ejected for the next detector
   *  (or `release`, when the next generation has none) to handle. */
  stop(): void {
    this.stopped = true;
    if (this.intervalTimer !== null) this.clock.clearTimeout(this.intervalTimer);
    this.intervalTimer = null;
    for (const handle of this.timers.values()) this.clock.clearTimeout(handle);
    this.timers.clear();
  }

  /**
   * One statistical run over the interval's outcomes (Envoy's success-rate and failure-percentage
   * detection): only healthy endpoints with at least `requestVolume` outcomes count, and only when at least
   * `minimumHosts` of them do. A success is a response below 500; failures are 5xx and gateway failures.
   */
  evaluate(): void {
    const s = this.settings;
    const rates: { e: Endpoint; total: number; rate: number }[] = [];
    for (const e of this.pool.endpoints) {
      const before = this.snapshots.get(e);
      const now = Float64Array.from(e.responses);
      this.snapshots.set(e, now);
      if (before === undefined || e.state !== EndpointState.healthy) continue;
      let total = 0;
      for (let i = 0; i < now.length; i++) total += now[i] - before[i];
      const failures = now[0] - before[0] + (now[5] - before[5]);
      if (total > 0) rates.push({ e, total, rate: (total - failures) / total });
    }
    const sr = s.successRate;
    if (sr) {
      const qualified = rates.filter((r) => r.total >= sr.requestVolume);
      if (qualified.length >= sr.minimumHosts) {
        const mean = qualified.reduce((a, r) => a + r.rate, 0) / qualified.length;
        const stdev = Math.sqrt(qualified.reduce((a, r) => a + (r.rate - mean) ** 2, 0) / qualified.length);
        const floor = mean - sr.stdevFactor * stdev;
        for (const r of qualified) {
          if (r.rate < floor) this.eject(r.e, `success rate ${(r.rate * 100).toFixed(1)}% below the pool's ${(floor * 100).toFixed(1)}% (mean ${(mean * 100).toFixed(1)}% − ${sr.stdevFactor} stdev)`);
        }
      }
    }
    const fp = s.failurePercentage;
    if (fp) {
      const qualified = rates.filter((r) => r.total >= fp.requestVolume && r.e.state === EndpointState.healthy);
      if (qualified.length >= fp.minimumHosts) {
        for (const r of qualified) {
          const failed = (1 - r.rate) * 100;
          if (failed >= fp.threshold) this.eject(r.e, `${failed.toFixed(1)}% of ${r.total} requests failed (threshold ${fp.threshold}%)`);
        }
      }
    }
  }

  private schedule(e: Endpoint, ms: number): void {
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(e);
      if (!this.stopped) this.unEject(e);
    }, ms);
    this.timers.set(e, handle);
  }

  private unEject(e: Endpoint): void {
    if (e.state !== EndpointState.ejected) return; // an operator drained or disabled it meanwhile
    const to = returnState(e, this.activeChecks);
    log('info', 'endpoint returned', { pool: this.pool.name, endpoint: e.key, to: to === EndpointState.healthy ? 'healthy' : 'unhealthy', ejections: e.ejections });
    publish({ kind: 'outlier', pool: this.pool.name, endpoint: e.key, from: 'ejected', to: endpointStateNames[to], reason: 'ejection time over' });
    this.pool.refresh();
  }
}

/** Ends `e`'s ejection: back to healthy, or to unhealthy with its probe run cleared when active checks run
 *  (so `rise` successful probes bring it back). Returns the new state. */
export function returnState(e: Endpoint, activeChecks: boolean): typeof EndpointState.healthy | typeof EndpointState.unhealthy {
  e.ejectedUntil = 0;
  e.consecutive5xx = 0;
  e.consecutiveGatewayFailures = 0;
  if (activeChecks) {
    e.state = EndpointState.unhealthy;
    e.probeSuccesses = 0;
  } else {
    e.state = EndpointState.healthy;
  }
  return e.state;
}

/** Outlier detection turned off for a pool (a reload removed it): its ejected endpoints return at once.
 *  Returns whether any did, so the caller refreshes the pool. */
export function releaseEjected(pool: Pool, activeChecks: boolean): boolean {
  let changed = false;
  for (const e of pool.endpoints) {
    if (e.state !== EndpointState.ejected) continue;
    returnState(e, activeChecks);
    log('info', 'endpoint returned', { pool: pool.name, endpoint: e.key, reason: 'outlier detection off' });
    changed = true;
  }
  return changed;
}
