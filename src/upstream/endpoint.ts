// One upstream address with its weight, state and live counters. Endpoints are keyed by address and kept
// across reloads (ARCHITECTURE.md: "endpoints keyed by address keep state, counters and connections"), so
// counters here are plain number fields read at scrape time.
import { LatencyHistogram } from '../core/histogram.ts';

/** Endpoint states as small integers (hot path rule 2). */
export const EndpointState = {
  healthy: 0,
  unhealthy: 1,
  ejected: 2,
  draining: 3,
  disabled: 4,
} as const;
export type EndpointStateValue = (typeof EndpointState)[keyof typeof EndpointState];
export const endpointStateNames = ['healthy', 'unhealthy', 'ejected', 'draining', 'disabled'] as const;

/** What a data plane hangs on an endpoint to hold its upstream sockets (http/upstream-connections for L7). */
export interface EndpointConnectionsLike {
  /** Closes idle sockets now and the busy ones as they finish; no new ones are opened afterwards. */
  close(): void;
  /** Closes the idle sockets only (the endpoint is draining; busy ones finish and idle out). */
  closeIdle(): void;
  /** Closes every socket, busy ones too (the deregistration delay passed). */
  destroyAll(): void;
  readonly idleCount: number;
  readonly activeCount: number;
  /** Sockets open or opening. */
  readonly openCount: number;
}

/**
 * The endpoint's connections of class `kind` (HTTP/1.1 sockets or HTTP/2 sessions), created on first use. Those
 * of another kind — left by a generation whose pool had the other `protocol` — are closed: they finish what they
 * carry and go.
 */
export function connectionsOfKind<T extends EndpointConnectionsLike, S>(
  endpoint: Endpoint,
  kind: new (endpoint: Endpoint, settings: S) => T,
  settings: S,
): T {
  const c = endpoint.connections;
  if (c instanceof kind) return c;
  if (c !== null) c.close();
  const created = new kind(endpoint, settings);
  endpoint.connections = created;
  return created;
}

export class Endpoint {
  /** `host:port` as written in config (IPv6 in brackets); identity across reloads. */
  readonly key: string;
  readonly host: string;
  readonly port: number;
  /** The configured weight (0..256). */
  private configuredWeight: number;
  /** The weight load-aware and round-robin balancers use: the configured weight, or less while the endpoint
   *  is in slow start (pool.ts). Hash balancers use the configured weight, so slow start moves no keys. */
  effectiveWeight: number;
  /** When slow start began (Date.now()), or 0 when the endpoint is not ramping up. */
  rampStart: number;
  /** Flap damping (health/scheduler.ts): recent health transition times, the hold-down end and how many
   *  hold-downs ran back to back (each doubles the next). */
  flapTimes: number[];
  holdUntil: number;
  holds: number;
  /** When the last hold-down was due to end (kept when an operator ends it early). */
  lastHoldEnd: number;
  /** Ends the deregistration delay of a draining endpoint: closes what is still open. */
  deregisterTimer: NodeJS.Timeout | null;
  state: EndpointStateValue;
  /** Exchanges currently using this endpoint: read and written through `inFlight`. */
  private inFlightCount: number;
  /** Told after every `inFlight` change, so a load-ordered balancer (least-connections, least-response-time)
   *  re-sorts the endpoint in O(log n) rather than scanning all at each pick; null when no balancer listens.
   *  Set by the balancer that currently has the endpoint in its table (balancing/load-tree.ts). */
  loadHook: ((e: Endpoint) => void) | null;
  /** Exchanges sent here, successful or not. */
  requests: number;
  /** Connect failures, resets and timeouts. */
  failures: number;
  /** Tries by outcome: [0] no response (gateway failure), [1..5] responses by status class. */
  readonly responses: Float64Array;
  /** Time from a try's start to its response head (connect and queue wait included). */
  readonly responseLatency: LatencyHistogram;
  /** Time to open a new upstream connection. */
  readonly connectLatency: LatencyHistogram;
  /** Balancers mark an endpoint tried by stamping the exchange's pick epoch (allocation-free exclusion). */
  triedEpoch: number;
  /** The L7 socket cache; created by the data plane on first use. */
  connections: EndpointConnectionsLike | null;
  /** Active health checks (upstream/health/scheduler.ts): probes run, consecutive successes and failures,
   *  what the last probe saw, and healthy ⇄ unhealthy moves. Kept across reloads with the endpoint. */
  probes: number;
  probeSuccesses: number;
  probeFailures: number;
  lastProbe: string;
  healthTransitions: number;
  /** Outlier detection (upstream/health/outlier.ts): the current runs of 5xx answers and of gateway failures,
   *  how many times it has been ejected, and when (the detector's clock, ms) an ejection ends; 0 = not ejected. */
  consecutive5xx: number;
  consecutiveGatewayFailures: number;
  ejections: number;
  ejectedUntil: number;

  constructor(key: string, host: string, port: number, weight: number) {
    this.key = key;
    this.host = host;
    this.port = port;
    this.configuredWeight = weight;
    this.effectiveWeight = weight;
    this.rampStart = 0;
    this.deregisterTimer = null;
    this.flapTimes = [];
    this.holdUntil = 0;
    this.holds = 0;
    this.lastHoldEnd = 0;
    this.state = EndpointState.healthy;
    this.inFlightCount = 0;
    this.loadHook = null;
    this.requests = 0;
    this.failures = 0;
    this.responses = new Float64Array(6);
    this.responseLatency = new LatencyHistogram();
    this.connectLatency = new LatencyHistogram();
    this.triedEpoch = -1; // never equal to a pick epoch, including a fresh PickContext's 0
    this.connections = null;
    this.probes = 0;
    this.probeSuccesses = 0;
    this.probeFailures = 0;
    this.lastProbe = '';
    this.healthTransitions = 0;
    this.consecutive5xx = 0;
    this.consecutiveGatewayFailures = 0;
    this.ejections = 0;
    this.ejectedUntil = 0;
  }

  /** Back to healthy with the health counters cleared (active checks turned off for its pool). */
  resetHealth(): void {
    if (this.state === EndpointState.unhealthy) this.state = EndpointState.healthy;
    this.probeSuccesses = 0;
    this.probeFailures = 0;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  // HOT PATH: every exchange start and end (`endpoint.inFlight++` / `--`); one null check when no hook is set.
  set inFlight(value: number) {
    this.inFlightCount = value;
    const hook = this.loadHook;
    if (hook !== null) hook(this);
  }

  get weight(): number {
    return this.configuredWeight;
  }

  /** A new weight (config, admin) takes effect at once and ends any slow start in progress. */
  set weight(value: number) {
    if (value === this.configuredWeight) return;
    this.configuredWeight = value;
    this.effectiveWeight = value;
    this.rampStart = 0;
  }

  /** May take new work: healthy with a positive weight. */
  get eligible(): boolean {
    return this.state === EndpointState.healthy && this.weight > 0;
  }
}
