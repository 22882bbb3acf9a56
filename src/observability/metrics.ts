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
import { LATENCY_BOUNDS_S, type LatencyHistogram } from '../core/histogram.ts';
import type { ListenerStats } from '../http/listener-settings.ts';
import type { Route } from '../routing/route.ts';
import type { RateLimitPolicy } from '../filters/rate-limit.ts';
import type { RuleTable } from '../routing/rule-table.ts';
import { endpointStateNames, type Endpoint } from '../upstream/endpoint.ts';
import type { Pool } from '../upstream/pool.ts';

/** What the metrics read: the running generation, reload counts and listeners (the Runtime fits it). */
export interface MetricsSource {
  /** Read at every scrape, so a reload's new generation shows in the next one. */
  readonly generation: {
    readonly id: number;
    readonly pools: ReadonlyMap<string, Pool>;
    readonly listeners: ReadonlyMap<string, { readonly stats: ListenerStats; readonly routes: RuleTable<Route> }>;
    readonly rateLimitPolicies?: ReadonlyMap<string, RateLimitPolicy>;
  };
  readonly reloadsSucceeded: number;
  readonly reloadsFailed: number;
  listenerStats(): readonly { readonly name: string; readonly connections: number }[];
  /** L4 listeners' counters by name (l4/ StreamListenerCounters, UdpListenerCounters); absent: none. */
  l4Stats?(): readonly { readonly name: string; readonly counters: Readonly<Record<string, number>> }[];
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

/** Labels for responses by status class (index = Endpoint.responses / RouteStats.responses index). */
const classNames = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'];

/** Histogram families: the data plane's LatencyHistograms rendered as Prometheus histograms. */
interface HistogramFamily {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  read(source: MetricsSource, emit: (labels: Labels, h: LatencyHistogram) => void): void;
}

function perListener(read: (name: string, stats: ListenerStats, emit: Emit) => void): Family['read'] {
  return (s, emit) => {
    for (const [name, l] of s.generation.listeners) read(name, l.stats, emit);
  };
}

function perPool(value: (p: Pool) => number): Family['read'] {
  return (s, emit) => {
    for (const p of s.generation.pools.values()) emit({ pool: p.name }, value(p));
  };
}

const trafficFamilies: readonly Family[] = [
  {
    name: 'fulcrum_downstream_connections_total',
    help: 'Client connections accepted per listener.',
    type: 'counter',
    labelNames: ['listener'],
    read: perListener((listener, st, emit) => emit({ listener }, st.accepted)),
  },
  {
    name: 'fulcrum_downstream_requests_total',
    help: 'Request heads received per listener (routed or not).',
    type: 'counter',
    labelNames: ['listener'],
    read: perListener((listener, st, emit) => emit({ listener }, st.requests)),
  },
  {
    name: 'fulcrum_downstream_received_bytes_total',
    help: 'Bytes read from clients per listener.',
    type: 'counter',
    labelNames: ['listener'],
    read: perListener((listener, st, emit) => emit({ listener }, st.bytesIn)),
  },
  {
    name: 'fulcrum_downstream_sent_bytes_total',
    help: 'Bytes written to clients per listener.',
    type: 'counter',
    labelNames: ['listener'],
    read: perListener((listener, st, emit) => emit({ listener }, st.bytesOut)),
  },
  {
    name: 'fulcrum_downstream_local_replies_total',
    help: "Fulcrum's own error replies per listener and reason code (no_route, circuit_open, upstream_timeout, …).",
    type: 'counter',
    labelNames: ['listener', 'reason'],
    read: perListener((listener, st, emit) => {
      for (const [reason, n] of st.localReplies) emit({ listener, reason }, n);
    }),
  },
  {
    name: 'fulcrum_websocket_tunnels_total',
    help: 'WebSocket tunnels opened per listener (the endpoint answered 101).',
    type: 'counter',
    labelNames: ['listener'],
    read: perListener((listener, st, emit) => emit({ listener }, st.tunnels)),
  },
  {
    name: 'fulcrum_websocket_tunnels_open',
    help: 'WebSocket tunnels open now per listener.',
    type: 'gauge',
    labelNames: ['listener'],
    read: perListener((listener, st, emit) => emit({ listener }, st.tunnelsOpen)),
  },
  {
    name: 'fulcrum_websocket_tunnels_closed_total',
    help: 'WebSocket tunnels Fulcrum closed with 1001 Going Away (idle timeout, or the endpoint deregistered).',
    type: 'counter',
    labelNames: ['listener'],
    read: perListener((listener, st, emit) => emit({ listener }, st.tunnelsClosed)),
  },
  {
    name: 'fulcrum_route_responses_total',
    help: 'Exchanges per route by final status class ("none": the client connection was closed instead).',
    type: 'counter',
    labelNames: ['listener', 'route', 'class'],
    read: (s, emit) => {
      for (const [listener, l] of s.generation.listeners) {
        for (const r of l.routes.rules) r.stats.responses.forEach((n, i) => emit({ listener, route: r.name, class: classNames[i] }, n));
      }
    },
  },
  {
    name: 'fulcrum_endpoint_responses_total',
    help: 'Tries per endpoint by outcome: a response status class, or "none" (gateway failure).',
    type: 'counter',
    labelNames: ['pool', 'endpoint', 'class'],
    read: (s, emit) => {
      for (const p of s.generation.pools.values()) {
        for (const e of p.endpoints) e.responses.forEach((n, i) => emit({ pool: p.name, endpoint: e.key, class: classNames[i] }, n));
      }
    },
  },
  {
    name: 'fulcrum_pool_requests_active',
    help: 'Requests in flight to the pool (circuit breaker maxRequests counts these).',
    type: 'gauge',
    labelNames: ['pool'],
    read: perPool((p) => p.breaker.requests),
  },
  {
    name: 'fulcrum_pool_requests_pending',
    help: 'Requests waiting for an upstream connection (circuit breaker maxPending counts these).',
    type: 'gauge',
    labelNames: ['pool'],
    read: perPool((p) => p.breaker.pending),
  },
  {
    name: 'fulcrum_pool_retries_total',
    help: 'Retries started (connect failures, resets, retried statuses, per-try timeouts).',
    type: 'counter',
    labelNames: ['pool'],
    read: perPool((p) => p.retryBudget.granted),
  },
  {
    name: 'fulcrum_pool_retries_refused_total',
    help: 'Retries the retry budget refused.',
    type: 'counter',
    labelNames: ['pool'],
    read: perPool((p) => p.retryBudget.exhausted),
  },
  {
    name: 'fulcrum_pool_circuit_open_total',
    help: 'Requests a circuit breaker turned away with 503, by cap.',
    type: 'counter',
    labelNames: ['pool', 'limit'],
    read: (s, emit) => {
      for (const p of s.generation.pools.values()) for (const [limit, n] of Object.entries(p.breaker.trips)) emit({ pool: p.name, limit }, n);
    },
  },
];

/** Each rate limit policy once (listener policies are shared by that listener's routes). */
function perPolicy(read: (p: RateLimitPolicy, emit: Emit) => void): Family['read'] {
  return (s, emit) => {
    for (const p of s.generation.rateLimitPolicies?.values() ?? []) read(p, emit);
  };
}

const rateLimitFamilies: readonly Family[] = [
  {
    name: 'fulcrum_ratelimit_requests_total',
    help: 'Requests checked by a rate limit policy, by result: admitted, delayed (leaky bucket, admitted after a wait), rejected (429), skipped (exempt or no key).',
    type: 'counter',
    labelNames: ['route', 'policy', 'result'],
    read: perPolicy((p, emit) => {
      const labels = { route: p.routeName, policy: p.name };
      emit({ ...labels, result: 'admitted' }, p.admitted);
      emit({ ...labels, result: 'delayed' }, p.delayed);
      emit({ ...labels, result: 'rejected' }, p.rejected);
      emit({ ...labels, result: 'skipped' }, p.skipped);
    }),
  },
  {
    name: 'fulcrum_ratelimit_keys',
    help: 'Keys held by a memory-store policy (0 for Redis).',
    type: 'gauge',
    labelNames: ['route', 'policy'],
    read: perPolicy((p, emit) => emit({ route: p.routeName, policy: p.name }, p.keys)),
  },
  {
    name: 'fulcrum_ratelimit_store_failures_total',
    help: 'Redis checks that failed (answered by failOpen).',
    type: 'counter',
    labelNames: ['route', 'policy'],
    read: perPolicy((p, emit) => emit({ route: p.routeName, policy: p.name }, p.redis?.failures ?? 0)),
  },
];

/** One series per L4 listener that has the counter (stream listeners and UDP listeners count different things). */
function l4Counter(field: string): Family['read'] {
  return (s, emit) => {
    for (const l of s.l4Stats?.() ?? []) if (typeof l.counters[field] === 'number') emit({ listener: l.name }, l.counters[field]);
  };
}

const l4Families: readonly Family[] = [
  ['fulcrum_l4_connections_total', 'counter', 'accepted', 'TCP connections accepted by an L4 listener.'],
  ['fulcrum_l4_connections_active', 'gauge', 'active', 'TCP connections open through an L4 listener.'],
  ['fulcrum_l4_connections_refused_total', 'counter', 'refused', 'TCP connections refused (maxConnections).'],
  ['fulcrum_l4_connect_failures_total', 'counter', 'connectFailures', 'Upstream connect attempts that failed.'],
  ['fulcrum_l4_no_upstream_total', 'counter', 'upstreamUnavailable', 'Connections closed because no endpoint could take them.'],
  ['fulcrum_l4_received_bytes_total', 'counter', 'bytesIn', 'Bytes read from clients by an L4 listener.'],
  ['fulcrum_l4_sent_bytes_total', 'counter', 'bytesOut', 'Bytes written to clients by an L4 listener.'],
  ['fulcrum_l4_client_hellos_malformed_total', 'counter', 'clientHellosMalformed', 'tls-passthrough: connections closed for a malformed ClientHello.'],
  ['fulcrum_l4_client_hello_timeouts_total', 'counter', 'clientHelloTimeouts', 'tls-passthrough: connections closed without a ClientHello in time.'],
  ['fulcrum_l4_no_route_total', 'counter', 'noRoute', 'tls-passthrough: connections whose SNI matched no route and no default pool.'],
  ['fulcrum_l4_proxy_headers_rejected_total', 'counter', 'proxyHeadersRejected', 'Connections closed for a missing, invalid or untrusted PROXY header.'],
  ['fulcrum_l4_udp_flows_total', 'counter', 'flowsCreated', 'UDP flows created.'],
  ['fulcrum_l4_udp_flows_active', 'gauge', 'flowsActive', 'UDP flows open.'],
  ['fulcrum_l4_udp_datagrams_received_total', 'counter', 'datagramsIn', 'UDP datagrams from clients.'],
  ['fulcrum_l4_udp_datagrams_sent_total', 'counter', 'datagramsOut', 'UDP datagrams to clients.'],
].map(([name, type, field, help]) => ({ name, help, type: type as 'counter' | 'gauge', labelNames: ['listener'], read: l4Counter(field) }));

const histogramFamilies: readonly HistogramFamily[] = [
  {
    name: 'fulcrum_route_duration_seconds',
    help: 'Whole exchanges per route: request head received to response complete.',
    labelNames: ['listener', 'route'],
    read: (s, emit) => {
      for (const [listener, l] of s.generation.listeners) for (const r of l.routes.rules) emit({ listener, route: r.name }, r.stats.duration);
    },
  },
  {
    name: 'fulcrum_endpoint_response_seconds',
    help: "Per try: from its start (queue wait and connect included) to the endpoint's response head.",
    labelNames: ['pool', 'endpoint'],
    read: (s, emit) => {
      for (const p of s.generation.pools.values()) for (const e of p.endpoints) emit({ pool: p.name, endpoint: e.key }, e.responseLatency);
    },
  },
  {
    name: 'fulcrum_endpoint_connect_seconds',
    help: 'New upstream connections: time to connect.',
    labelNames: ['pool', 'endpoint'],
    read: (s, emit) => {
      for (const p of s.generation.pools.values()) for (const e of p.endpoints) emit({ pool: p.name, endpoint: e.key }, e.connectLatency);
    },
  },
];

/** A prom-client metric object rendering a histogram family from the data plane's bucket counts. */
function histogramMetric(f: HistogramFamily, source: MetricsSource) {
  return {
    name: f.name,
    help: f.help,
    type: 'histogram',
    aggregator: 'sum',
    reset(): void {},
    get() {
      const values: { labels: Labels; value: number; metricName: string }[] = [];
      f.read(source, (labels, h) => {
        let cumulative = 0;
        LATENCY_BOUNDS_S.forEach((le, i) => {
          cumulative += h.counts[i];
          values.push({ labels: { ...labels, le: String(le) }, value: cumulative, metricName: `${f.name}_bucket` });
        });
        values.push({ labels: { ...labels, le: '+Inf' }, value: h.count, metricName: `${f.name}_bucket` });
        values.push({ labels, value: h.sum, metricName: `${f.name}_sum` });
        values.push({ labels, value: h.count, metricName: `${f.name}_count` });
      });
      return { name: f.name, help: f.help, type: 'histogram', aggregator: 'sum', values };
    },
  };
}

/** The metric names this module defines (without the process metrics). */
export const metricNames: readonly string[] = [...families, ...trafficFamilies, ...rateLimitFamilies, ...l4Families, ...histogramFamilies].map((f) => f.name);

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
  for (const f of histogramFamilies) own.registerMetric(histogramMetric(f, source) as unknown as Parameters<Registry['registerMetric']>[0]);
  for (const f of [...families, ...trafficFamilies, ...rateLimitFamilies, ...l4Families]) {
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
