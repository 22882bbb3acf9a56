// Read-only views of the running balancer: GET /status, /pools, /pools/POOL and /config. Each reads the
// current generation at request time, so a change made through a verb shows in the next read.
import { endpointStateNames, type Endpoint } from '../../upstream/endpoint.ts';
import type { Pool } from '../../upstream/pool.ts';
import type { Config } from '../config/schema.ts';
import type { Generation } from '../generation.ts';
import type { Runtime } from '../runtime.ts';
import { fail, type AdminRoute } from './route.ts';

export function endpointView(e: Endpoint): object {
  return {
    address: e.key,
    weight: e.weight,
    state: endpointStateNames[e.state],
    inFlight: e.inFlight,
    requests: e.requests,
    failures: e.failures,
    idleConnections: e.connections?.idleCount ?? 0,
    activeConnections: e.connections?.activeCount ?? 0,
    health: { probes: e.probes, successes: e.probeSuccesses, failures: e.probeFailures, lastProbe: e.lastProbe, transitions: e.healthTransitions },
    outlier: { consecutive5xx: e.consecutive5xx, consecutiveGatewayFailures: e.consecutiveGatewayFailures, ejections: e.ejections },
  };
}

/** Sums over a pool's endpoints; `states` counts endpoints per state, `eligible` those the balancer picks from. */
function totals(p: Pool): object {
  const states = Object.fromEntries(endpointStateNames.map((s) => [s, 0])) as Record<string, number>;
  let inFlight = 0;
  let requests = 0;
  let failures = 0;
  let idleConnections = 0;
  let activeConnections = 0;
  for (const e of p.endpoints) {
    states[endpointStateNames[e.state]]++;
    inFlight += e.inFlight;
    requests += e.requests;
    failures += e.failures;
    idleConnections += e.connections?.idleCount ?? 0;
    activeConnections += e.connections?.activeCount ?? 0;
  }
  return { endpoints: p.endpoints.length, eligible: p.eligible.length, states, inFlight, requests, failures, idleConnections, activeConnections };
}

export function poolView(g: Generation, p: Pool): object {
  return {
    name: p.name,
    algorithm: g.config.pools.find((c) => c.name === p.name)?.balancer.algorithm,
    panic: p.panic,
    totals: totals(p),
    endpoints: p.endpoints.map(endpointView),
  };
}

/** A read-only view of the running generation. */
export function status(rt: Runtime): object {
  const g = rt.generation;
  return {
    generation: g.id,
    listeners: rt.listenerStats(),
    pools: [...g.pools.values()].map((p) => poolView(g, p)),
  };
}

const redacted = '<redacted>';
/** Config keys whose values are secrets: `admin.token`, `pools[].sticky.cookie.secret`. */
const secretKeys = new Set(['token', 'secret']);

/**
 * The running config as plain JSON: defaults filled in, durations in milliseconds, addresses and CIDRs as
 * their canonical text, secrets replaced by "<redacted>".
 */
export function configView(config: Config): unknown {
  return JSON.parse(
    JSON.stringify(config, (key, value: unknown) => {
      if (secretKeys.has(key) && typeof value === 'string') return redacted;
      if (typeof value === 'object' && value !== null && 'text' in value && typeof value.text === 'string' && ('port' in value || 'prefix' in value)) {
        return value.text;
      }
      return value;
    }),
  );
}

export function statusRoutes(rt: Runtime): AdminRoute[] {
  return [
    { path: '/status', pattern: /^\/status$/, methods: { GET: () => ({ status: 200, body: status(rt) }) } },
    { path: '/config', pattern: /^\/config$/, methods: { GET: () => ({ status: 200, body: configView(rt.generation.config) }) } },
    {
      path: '/pools',
      pattern: /^\/pools$/,
      methods: {
        GET: () => {
          const g = rt.generation;
          return { status: 200, body: { generation: g.id, pools: [...g.pools.values()].map((p) => poolView(g, p)) } };
        },
      },
    },
    {
      path: '/pools/POOL',
      pattern: /^\/pools\/([^/]+)$/,
      methods: {
        GET: ({ params: [name] }) => {
          const g = rt.generation;
          const p = g.pools.get(name);
          if (p === undefined) return fail(404, `no pool named ${JSON.stringify(name)} (pools: ${[...g.pools.keys()].join(', ')})`);
          return { status: 200, body: { generation: g.id, ...poolView(g, p) } };
        },
      },
    },
  ];
}
