// What the dashboard's event stream carries: the running generation (pools, endpoints with state, weight and
// in-flight count, listeners) read at send time, with the sampler's series alongside. A `snapshot` holds
// every kept sample; a `tick` the same shape with only the newest one, which the page appends.
import type { StateEvent } from '../../../core/events.ts';
import { endpointStateNames } from '../../../upstream/endpoint.ts';
import type { Runtime } from '../../runtime.ts';
import type { Sampler, SeriesView } from './sampler.ts';

export interface EndpointRow {
  readonly address: string;
  readonly state: string;
  readonly weight: number;
  /** Below `weight` while the endpoint is in slow start. */
  readonly effectiveWeight: number;
  readonly inFlight: number;
  readonly requests: number;
  readonly failures: number;
  readonly ejections: number;
  readonly healthTransitions: number;
  readonly series: SeriesView;
}

export interface PoolRow {
  readonly name: string;
  readonly algorithm: string | undefined;
  readonly panic: boolean;
  readonly eligible: number;
  readonly series: SeriesView;
  readonly endpoints: EndpointRow[];
}

export interface ListenerRow {
  readonly name: string;
  readonly address: string;
  readonly connections: number;
  readonly rps: (number | null)[];
}

export interface DashboardView {
  /** Time of the newest sample (ms since the epoch). */
  readonly at: number;
  readonly generation: number;
  readonly intervalMs: number;
  /** How many samples the page keeps per series. */
  readonly windowSamples: number;
  readonly listeners: ListenerRow[];
  readonly pools: PoolRow[];
}

export interface Snapshot extends DashboardView {
  /** Recent state changes, oldest first. */
  readonly events: readonly StateEvent[];
}

const empty: SeriesView = { rps: [], errorRate: [], p50: [], p99: [] };

/** The current state with the last `samples` samples of every series (all kept when omitted). */
export function dashboardView(rt: Runtime, sampler: Sampler, samples = sampler.capacity): DashboardView {
  const g = rt.generation;
  const times = sampler.sampleTimes(1);
  const pools: PoolRow[] = [];
  for (const p of g.pools.values()) {
    pools.push({
      name: p.name,
      algorithm: g.config.pools.find((c) => c.name === p.name)?.balancer.algorithm,
      panic: p.panic,
      eligible: p.eligible.length,
      series: sampler.poolSeries(p.name, samples) ?? empty,
      endpoints: p.endpoints.map((e) => ({
        address: e.key,
        state: endpointStateNames[e.state],
        weight: e.weight,
        effectiveWeight: e.effectiveWeight,
        inFlight: e.inFlight,
        requests: e.requests,
        failures: e.failures,
        ejections: e.ejections,
        healthTransitions: e.healthTransitions,
        series: sampler.endpointSeries(e, samples) ?? empty,
      })),
    });
  }
  const listeners = rt.listenerStats().map((l) => ({ ...l, rps: sampler.listenerSeries(l.name, samples) ?? [] }));
  return {
    at: times.length > 0 ? times[0] : Date.now(),
    generation: g.id,
    intervalMs: sampler.intervalMs,
    windowSamples: sampler.capacity,
    listeners,
    pools,
  };
}
