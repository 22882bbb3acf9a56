// Prometheus metrics, read at scrape time: every family below is a prom-client Gauge or Counter whose
// `collect()` reads the data plane's plain counters (endpoint and pool fields, listener connection sets), so
// the hot path never calls prom-client (ARCHITECTURE.md hot path rule 8). Names follow STYLE.md
// (`fulcrum_<part>_<what>_<unit>`); labels hold config names only — pool names and endpoint addresses as
// written in the config, listener names — never a client address or a path.
//
// Counters are process-lifetime: endpoints are reused across reloads by pool and address, so their counts
// carry on; an endpoint a reload removes leaves the output, one it adds starts from 0.
// Adding a family (per-route or per-listener counters, latency histograms) is one entry in `families`.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { endpointStateNames, type Endpoint } from '../upstream/endpoint.ts';
import type { Pool } from '../upstream/pool.ts';

/** What the metrics read: the running generation, reload counts and listeners (the Runtime fits it). */
export interface MetricsSource {
  /** Read at every scrape, so a reload's new generation shows in the next one. */
  readonly generation: { readonly id: number; readonly pools: ReadonlyMap<string, Pool> };
  readonly reloadsSucceeded: number;
  readonly reloadsFailed: number;
  listenerStats(): readonly { readonly name: string; readonly connections: number }[];
}

type Labels = Record<string, string>;
type Emit = (labels: Labels, value: number) => void;

interface Family {
  readonly name: string;
  readonly help: string;
  /** `counter`: a process-lifetime count that never decreases; `gauge`: a current value. */
  readonly type: 'counter' | 'gauge';
  readonly labelNames: readonly string[];
  read(source: MetricsSource, emit: Emit): void;
}

/** One series per endpoint of every pool, labelled {pool, endpoint}. */
function perEndpoint(value: (e: Endpoint) => number): Family['read'] {
  return (source, emit) => {
    for (const p of source.generation.pools.values()) {
      for (const e of p.endpoints) emit({ pool: p.name, endpoint: e.key }, value(e));
    }
  };
}

/** The wait queue length when the data plane's socket cache has one (http/upstream-connections). */
function queueLength(e: Endpoint): number {
  const q = (e.connections as { queueLength?: unknown } | null)?.queueLength;
  return typeof q === 'number' ? q : 0;
}

const families: readonly Family[] = [
  {
    name: 'fulcrum_config_generation',
    help: 'Number of the running config generation (1 at start, +1 per applied reload).',
    type: 'gauge',
    labelNames: [],
    read: (s, emit) => emit({}, s.generation.id),
  },
  {
    name: 'fulcrum_config_reloads_total',
    help: 'Reloads since the process started, by result.',
    type: 'counter',
    labelNames: ['result'],
    read: (s, emit) => {
      emit({ result: 'success' }, s.reloadsSucceeded);
      emit({ result: 'failure' }, s.reloadsFailed);
    },
  },
  {
    name: 'fulcrum_downstream_connections',
    help: 'Open client connections per listener.',
    type: 'gauge',
    labelNames: ['listener'],
    read: (s, emit) => {
      for (const l of s.listenerStats()) emit({ listener: l.name }, l.connections);
    },
  },
  {
    name: 'fulcrum_pool_panic',
    help: 'Whether the pool is in panic mode (1) and balances over all its endpoints, healthy or not.',
    type: 'gauge',
    labelNames: ['pool'],
    read: (s, emit) => {
      for (const p of s.generation.pools.values()) emit({ pool: p.name }, p.panic ? 1 : 0);
    },
  },
  {
    name: 'fulcrum_pool_endpoints',
    help: 'Endpoints of the pool per state.',
    type: 'gauge',
    labelNames: ['pool', 'state'],
    read: (s, emit) => {
      const counts = new Array<number>(endpointStateNames.length);
      for (const p of s.generation.pools.values()) {
        counts.fill(0);
        for (const e of p.endpoints) counts[e.state]++;
        endpointStateNames.forEach((state, i) => emit({ pool: p.name, state }, counts[i]));
      }
    },
  },
  {
    name: 'fulcrum_endpoint_requests_total',
    help: 'Exchanges sent to the endpoint, successful or not.',
    type: 'counter',
    labelNames: ['pool', 'endpoint'],
    read: perEndpoint((e) => e.requests),
  },
  {
    name: 'fulcrum_endpoint_failures_total',
    help: 'Connect failures, resets and timeouts of exchanges sent to the endpoint.',
    type: 'counter',
    labelNames: ['pool', 'endpoint'],
    read: perEndpoint((e) => e.failures),
  },
  {
    name: 'fulcrum_endpoint_in_flight',
    help: 'Exchanges using the endpoint now.',
    type: 'gauge',
    labelNames: ['pool', 'endpoint'],
    read: perEndpoint((e) => e.inFlight),
  },
  {
    name: 'fulcrum_endpoint_state',
    help: 'The endpoint state as a state set: 1 for the current state, 0 for the others.',
    type: 'gauge',
    labelNames: ['pool', 'endpoint', 'state'],
    read: (s, emit) => {
      for (const p of s.generation.pools.values()) {
        for (const e of p.endpoints) {
          endpointStateNames.forEach((state, i) => emit({ pool: p.name, endpoint: e.key, state }, e.state === i ? 1 : 0));
        }
      }
    },
  },
  {
    name: 'fulcrum_endpoint_weight',
    help: 'The endpoint weight (config, or set through the admin API).',
    type: 'gauge',
    labelNames: ['pool', 'endpoint'],
    read: perEndpoint((e) => e.weight),
  },
  {
    name: 'fulcrum_endpoint_connections',
    help: 'Upstream keep-alive connections to the endpoint, idle or carrying an exchange.',
    type: 'gauge',
    labelNames: ['pool', 'endpoint', 'state'],
    read: (s, emit) => {
      for (const p of s.generation.pools.values()) {
        for (const e of p.endpoints) {
          emit({ pool: p.name, endpoint: e.key, state: 'idle' }, e.connections?.idleCount ?? 0);
          emit({ pool: p.name, endpoint: e.key, state: 'active' }, e.connections?.activeCount ?? 0);
        }
      }
    },
  },
  {
    name: 'fulcrum_endpoint_queue_length',
    help: 'Exchanges waiting for a connection to the endpoint (maxConnections reached).',
    type: 'gauge',
    labelNames: ['pool', 'endpoint'],
    read: perEndpoint(queueLength),
  },
  {
    name: 'fulcrum_endpoint_health_checks_total',
    help: 'Active health check probes run against the endpoint.',
    type: 'counter',
    labelNames: ['pool', 'endpoint'],
    read: perEndpoint((e) => e.probes),
  },
  {
    name: 'fulcrum_endpoint_health_transitions_total',
    help: 'Moves between healthy and unhealthy decided by active health checks.',
    type: 'counter',
    labelNames: ['pool', 'endpoint'],
    read: perEndpoint((e) => e.healthTransitions),
  },
  {
    name: 'fulcrum_endpoint_ejections_total',
    help: 'Times outlier detection ejected the endpoint.',
    type: 'counter',
    labelNames: ['pool', 'endpoint'],
    read: perEndpoint((e) => e.ejections),
  },
];

/** The metric names this module defines (without the process metrics). */
export const metricNames: readonly string[] = families.map((f) => f.name);

let processRegistry: Registry | null = null;

/** prom-client's process and Node.js metrics (CPU, memory, event loop lag, GC), prefixed `fulcrum_`: one set
 *  per process, shared by every registry built here. */
function processMetrics(): Registry {
  if (processRegistry === null) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'fulcrum_' });
  }
  return processRegistry;
}

/** A registry (not prom-client's global one) serving every family, read from `source` at each scrape. */
export function createMetricsRegistry(source: MetricsSource): Registry {
  const own = new Registry();
  for (const f of families) {
    const config = { name: f.name, help: f.help, labelNames: f.labelNames, registers: [own] };
    if (f.type === 'gauge') {
      new Gauge({
        ...config,
        collect() {
          this.reset();
          f.read(source, (labels, value) => this.set(labels, value));
        },
      });
    } else {
      new Counter({
        ...config,
        collect() {
          this.reset();
          f.read(source, (labels, value) => this.inc(labels, value));
        },
      });
    }
  }
  return Registry.merge([own, processMetrics()]);
}
