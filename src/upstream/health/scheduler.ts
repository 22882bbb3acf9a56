// Active health checking for one pool: probes each endpoint on its own timer and owns the rise/fall counting
// (HAProxy `check inter rise fall`, Envoy `interval`/`healthy_threshold`/`unhealthy_threshold`); checks only
// probe (types.ts). Per endpoint at most one probe in flight and one timer, both cancelled by stop().
//
//   healthy ──(fall consecutive failures)──▶ unhealthy ──(rise consecutive successes)──▶ healthy
//
// The next probe is scheduled when the previous one settles, `interval` (or `unhealthyInterval` while
// unhealthy) later, ±jitter so endpoints do not fire in lockstep. Only healthy ⇄ unhealthy is decided here:
// an endpoint in another state (ejected, draining, disabled) is still probed and counted, never moved.
import { publish } from '../../core/events.ts';
import { log } from '../../core/log.ts';
import { EndpointState, endpointStateNames, type Endpoint, type EndpointStateValue } from '../endpoint.ts';
import type { HealthCheck, ProbeResult } from './types.ts';

export interface HealthSettings {
  readonly intervalMs: number;
  /** Interval while the endpoint is unhealthy. */
  readonly unhealthyIntervalMs: number;
  readonly timeoutMs: number;
  readonly rise: number;
  readonly fall: number;
  /** Each interval is scaled by a random factor in [1 - jitter, 1 + jitter]. Default 0.1 (see health.md). */
  readonly jitter: number;
  /** Flap damping; null = off. */
  readonly flap?: FlapDamping | null;
}

/**
 * An endpoint that moves between healthy and unhealthy `maxTransitions` times within `windowMs` is held
 * unhealthy for `holdDownMs`, doubled for each hold-down that starts within `maxHoldDownMs` of the previous
 * one's end, up to `maxHoldDownMs` (route flap damping, RFC 2439, applied to health).
 */
export interface FlapDamping {
  readonly maxTransitions: number;
  readonly windowMs: number;
  readonly holdDownMs: number;
  readonly maxHoldDownMs: number;
}

export const defaultJitter = 0.1;

/** Called after an endpoint changed state, so its pool can recompute the eligible set. */
export type TransitionListener = (e: Endpoint, from: EndpointStateValue, to: EndpointStateValue) => void;

class Probed {
  readonly endpoint: Endpoint;
  timer: NodeJS.Timeout | null;
  controller: AbortController | null;

  constructor(endpoint: Endpoint) {
    this.endpoint = endpoint;
    this.timer = null;
    this.controller = null;
  }
}

export class HealthScheduler {
  readonly pool: string;
  private readonly check: HealthCheck;
  private readonly settings: HealthSettings;
  private readonly onTransition: TransitionListener;
  private readonly random: () => number;
  private readonly probed: Probed[];
  private running: boolean;

  constructor(
    pool: string,
    endpoints: readonly Endpoint[],
    check: HealthCheck,
    settings: HealthSettings,
    onTransition: TransitionListener,
    random: () => number = Math.random,
  ) {
    this.pool = pool;
    this.check = check;
    this.settings = settings;
    this.onTransition = onTransition;
    this.random = random;
    this.probed = endpoints.map((e) => new Probed(e));
    this.running = false;
  }

  /** First probes are spread at random over one interval (HAProxy spreads its first checks the same way). */
  start(): void {
    if (this.running) return;
    this.running = true;
    for (const p of this.probed) this.schedule(p, this.random() * this.intervalFor(p.endpoint));
  }

  /** Cancels every timer and aborts probes in flight; their results are ignored. */
  stop(): void {
    this.running = false;
    for (const p of this.probed) {
      if (p.timer !== null) clearTimeout(p.timer);
      p.timer = null;
      p.controller?.abort();
      p.controller = null;
    }
  }

  private intervalFor(e: Endpoint): number {
    return e.state === EndpointState.unhealthy ? this.settings.unhealthyIntervalMs : this.settings.intervalMs;
  }

  private jittered(ms: number): number {
    const j = this.settings.jitter;
    return Math.max(1, Math.round(ms * (1 - j + 2 * j * this.random())));
  }

  private schedule(p: Probed, delayMs: number): void {
    if (!this.running) return;
    p.timer = setTimeout(() => {
      p.timer = null;
      void this.probeOnce(p);
    }, delayMs);
    p.timer.unref();
  }

  private async probeOnce(p: Probed): Promise<void> {
    const controller = new AbortController();
    p.controller = controller;
    const timeoutMs = this.settings.timeoutMs;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    timer.unref();
    // a check that ignores the abort must not stall this endpoint's schedule
    const aborted = new Promise<ProbeResult>((resolve) => {
      controller.signal.addEventListener('abort', () => resolve({ ok: false, detail: 'aborted' }), { once: true });
    });
    let result: ProbeResult;
    try {
      result = await Promise.race([this.check.probe(p.endpoint, controller.signal), aborted]);
    } catch (err) {
      result = { ok: false, detail: `check failed: ${(err as Error)?.message ?? String(err)}` };
    }
    clearTimeout(timer);
    if (p.controller !== controller) return; // stopped meanwhile (a restart made a new controller)
    p.controller = null;
    if (!this.running) return;
    if (timedOut) result = { ok: false, detail: `timeout after ${timeoutMs}ms` };
    this.record(p.endpoint, result);
    this.schedule(p, this.jittered(this.intervalFor(p.endpoint)));
  }

  /** Counts one result and moves the endpoint when a threshold is reached. Public for tests. */
  record(e: Endpoint, result: ProbeResult): void {
    e.probes++;
    e.lastProbe = result.detail;
    if (result.ok) {
      e.probeSuccesses++;
      e.probeFailures = 0;
      if (e.state === EndpointState.unhealthy && e.probeSuccesses >= this.settings.rise) {
        if (e.holdUntil > Date.now()) return; // held down: checks pass, but it flapped
        this.move(e, EndpointState.healthy, `${plural(e.probeSuccesses, 'successful check')}: ${result.detail}`);
      }
    } else {
      e.probeFailures++;
      e.probeSuccesses = 0;
      if (e.state === EndpointState.healthy && e.probeFailures >= this.settings.fall) {
        this.move(e, EndpointState.unhealthy, `${plural(e.probeFailures, 'failed check')}: ${result.detail}`);
      }
    }
  }

  private move(e: Endpoint, to: EndpointStateValue, reason: string): void {
    const from = e.state;
    e.state = to;
    e.healthTransitions++;
    log(to === EndpointState.healthy ? 'info' : 'warn', 'endpoint state', {
      pool: this.pool,
      endpoint: e.key,
      from: endpointStateNames[from],
      to: endpointStateNames[to],
      reason,
    });
    publish({ kind: 'health', pool: this.pool, endpoint: e.key, from: endpointStateNames[from], to: endpointStateNames[to], reason });
    this.onTransition(e, from, to);
    if (this.settings.flap) this.damp(e, to, this.settings.flap);
  }

  /** Counts a transition; on going unhealthy after too many within the window, starts a hold-down. */
  private damp(e: Endpoint, to: EndpointStateValue, f: FlapDamping): void {
    const now = Date.now();
    if (e.holds > 0 && now > e.lastHoldEnd + f.maxHoldDownMs) e.holds = 0; // stable long enough: back to the base hold
    e.flapTimes.push(now);
    while (e.flapTimes.length > 0 && e.flapTimes[0] <= now - f.windowMs) e.flapTimes.shift();
    if (to !== EndpointState.unhealthy || e.flapTimes.length < f.maxTransitions) return;
    const holdMs = Math.min(f.maxHoldDownMs, f.holdDownMs * 2 ** e.holds);
    e.holds++;
    e.holdUntil = now + holdMs;
    e.lastHoldEnd = e.holdUntil;
    e.flapTimes.length = 0;
    const reason = `flapping: ${f.maxTransitions} transitions within ${f.windowMs}ms; held unhealthy for ${holdMs}ms (hold-down ${e.holds})`;
    log('warn', 'endpoint held down', { pool: this.pool, endpoint: e.key, holdMs, holds: e.holds, reason });
    publish({ kind: 'health', pool: this.pool, endpoint: e.key, from: 'unhealthy', to: 'unhealthy', reason });
  }
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}
