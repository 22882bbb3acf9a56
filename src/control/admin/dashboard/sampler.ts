// The dashboard's time series: once a second (intervalMs) it reads every endpoint's plain counters — requests,
// responses by class, the response-latency histogram — and keeps what changed since the last read as
// requests/s, error rate ((gateway failures + 5xx) / responses), p50 and p99 (LatencyHistogram.quantileMs over
// the delta), per endpoint, per pool (the sum of its endpoints' deltas) and per listener (requests/s), in
// fixed rings of the last `windowMs` (5 minutes). Reads only: the data plane is not touched.
//
//   tick t:  delta = counters(t) − counters(t−1)  →  ring[t mod capacity]   (NaN = no data: no responses,
//                                                                            or the endpoint is new)
import { LatencyHistogram } from '../../../core/histogram.ts';
import type { Endpoint } from '../../../upstream/endpoint.ts';

/** What the sampler reads: pools by name with their endpoints (a generation's `pools`). */
export interface SampledPool {
  readonly name: string;
  readonly endpoints: readonly Endpoint[];
}

export interface SampledListener {
  readonly name: string;
  readonly stats: { readonly requests: number };
}

export interface SamplerSource {
  pools(): Iterable<SampledPool>;
  listeners(): Iterable<SampledListener>;
}

/** One sample; NaN where there was nothing to measure (no responses in the interval, or no baseline yet). */
export interface Point {
  readonly rps: number;
  readonly errorRate: number;
  readonly p50: number;
  readonly p99: number;
}

/** A series oldest first, NaN turned into null (JSON has no NaN). */
export interface SeriesView {
  readonly rps: (number | null)[];
  readonly errorRate: (number | null)[];
  readonly p50: (number | null)[];
  readonly p99: (number | null)[];
}

/** Defaults: a sample a second, five minutes kept. */
export const defaultIntervalMs = 1000;
export const defaultWindowMs = 5 * 60 * 1000;

const latencyBuckets = new LatencyHistogram().counts.length;

/** Four rings of one capacity, NaN-filled until written. */
class Rings {
  readonly rps: Float64Array;
  readonly errorRate: Float64Array;
  readonly p50: Float64Array;
  readonly p99: Float64Array;

  constructor(capacity: number) {
    this.rps = new Float64Array(capacity).fill(NaN);
    this.errorRate = new Float64Array(capacity).fill(NaN);
    this.p50 = new Float64Array(capacity).fill(NaN);
    this.p99 = new Float64Array(capacity).fill(NaN);
  }

  write(slot: number, rps: number, errorRate: number, p50: number, p99: number): void {
    this.rps[slot] = rps;
    this.errorRate[slot] = errorRate;
    this.p50[slot] = p50;
    this.p99[slot] = p99;
  }
}

/** Deltas over one interval, summed over endpoints for a pool. */
class Delta {
  requests: number;
  readonly responses: Float64Array;
  readonly latency: Float64Array;
  /** False when there is no baseline (a new endpoint, or counters that went backwards). */
  valid: boolean;

  constructor() {
    this.requests = 0;
    this.responses = new Float64Array(6);
    this.latency = new Float64Array(latencyBuckets);
    this.valid = true;
  }

  clear(): void {
    this.requests = 0;
    this.responses.fill(0);
    this.latency.fill(0);
    this.valid = true;
  }

  add(d: Delta): void {
    this.requests += d.requests;
    for (let i = 0; i < 6; i++) this.responses[i] += d.responses[i];
    for (let i = 0; i < this.latency.length; i++) this.latency[i] += d.latency[i];
  }

  /** Writes requests/s, error rate and p50/p99 for an interval of `seconds` into `rings` at `slot`. */
  writeTo(rings: Rings, slot: number, seconds: number): void {
    if (!this.valid || seconds <= 0) return rings.write(slot, NaN, NaN, NaN, NaN);
    let responses = 0;
    for (let i = 0; i < 6; i++) responses += this.responses[i];
    let timed = 0;
    for (let i = 0; i < this.latency.length; i++) timed += this.latency[i];
    rings.write(
      slot,
      this.requests / seconds,
      responses > 0 ? (this.responses[0] + this.responses[5]) / responses : NaN,
      timed > 0 ? LatencyHistogram.quantileMs(this.latency, 0.5) : NaN,
      timed > 0 ? LatencyHistogram.quantileMs(this.latency, 0.99) : NaN,
    );
  }
}

/** One endpoint's baseline (its counters at the last sample) and series. */
class EndpointTrack {
  readonly rings: Rings;
  readonly delta: Delta;
  private requests: number;
  private readonly responses: Float64Array;
  private readonly latency: Float64Array;
  /** The sample this track was last read at: an endpoint in two pools is read once per sample. */
  seenAt: number;

  constructor(capacity: number, e: Endpoint) {
    this.rings = new Rings(capacity);
    this.delta = new Delta();
    this.requests = e.requests;
    this.responses = Float64Array.from(e.responses);
    this.latency = Float64Array.from(e.responseLatency.counts);
    this.delta.valid = false;
    this.seenAt = -1;
  }

  /** The delta since the last read; the baseline moves to now. */
  read(e: Endpoint): void {
    const d = this.delta;
    d.clear();
    d.requests = e.requests - this.requests;
    this.requests = e.requests;
    for (let i = 0; i < 6; i++) {
      d.responses[i] = e.responses[i] - this.responses[i];
      this.responses[i] = e.responses[i];
    }
    const counts = e.responseLatency.counts;
    for (let i = 0; i < counts.length; i++) {
      d.latency[i] = counts[i] - this.latency[i];
      this.latency[i] = counts[i];
    }
    if (d.requests < 0 || d.responses.some((x) => x < 0) || d.latency.some((x) => x < 0)) d.valid = false;
  }
}

class PoolTrack {
  readonly rings: Rings;
  readonly delta: Delta;
  seenAt: number;

  constructor(capacity: number) {
    this.rings = new Rings(capacity);
    this.delta = new Delta();
    this.seenAt = -1;
  }
}

class ListenerTrack {
  readonly rps: Float64Array;
  requests: number;
  fresh: boolean;
  seenAt: number;

  constructor(capacity: number, requests: number) {
    this.rps = new Float64Array(capacity).fill(NaN);
    this.requests = requests;
    this.fresh = true;
    this.seenAt = -1;
  }
}

export type SampleListener = (at: number) => void;

function nullable(x: number): number | null {
  return Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null;
}

export class Sampler {
  readonly intervalMs: number;
  /** Samples kept: windowMs / intervalMs. */
  readonly capacity: number;
  private readonly source: SamplerSource;
  private readonly endpoints: Map<Endpoint, EndpointTrack>;
  private readonly pools: Map<string, PoolTrack>;
  private readonly listeners: Map<string, ListenerTrack>;
  /** Wall-clock time of each sample, by slot. */
  private readonly times: Float64Array;
  /** Samples taken so far; the next one goes to slot `taken % capacity`. */
  private taken: number;
  private lastAt: number;
  private timer: NodeJS.Timeout | null;
  private readonly subscribers: Set<SampleListener>;

  constructor(source: SamplerSource, intervalMs = defaultIntervalMs, windowMs = defaultWindowMs) {
    if (!(intervalMs > 0) || !(windowMs >= intervalMs)) throw new RangeError(`need 0 < intervalMs ≤ windowMs, got ${intervalMs} and ${windowMs}`);
    this.intervalMs = intervalMs;
    this.capacity = Math.ceil(windowMs / intervalMs);
    this.source = source;
    this.endpoints = new Map();
    this.pools = new Map();
    this.listeners = new Map();
    this.times = new Float64Array(this.capacity);
    this.taken = 0;
    this.lastAt = NaN;
    this.timer = null;
    this.subscribers = new Set();
  }

  /** Samples every intervalMs on an unref'd timer (taking a baseline now). Idempotent. */
  start(): void {
    if (this.timer !== null) return;
    if (this.taken === 0) this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  get running(): boolean {
    return this.timer !== null;
  }

  /** Samples taken since start (the first one only sets baselines: its values are NaN). */
  get samples(): number {
    return this.taken;
  }

  /** Called after every sample with its time. Returns the unsubscribe function. */
  onSample(fn: SampleListener): () => void {
    const own: SampleListener = (at) => fn(at);
    this.subscribers.add(own);
    return () => {
      this.subscribers.delete(own);
    };
  }

  /** Reads every counter once and writes one point per endpoint, pool and listener. `now` for tests. */
  sample(now = Date.now()): void {
    const tick = this.taken;
    const slot = tick % this.capacity;
    const seconds = Number.isNaN(this.lastAt) ? 0 : (now - this.lastAt) / 1000;
    for (const p of this.source.pools()) {
      let pt = this.pools.get(p.name);
      if (pt === undefined) {
        pt = new PoolTrack(this.capacity);
        this.pools.set(p.name, pt);
      }
      pt.seenAt = tick;
      pt.delta.clear();
      for (const e of p.endpoints) {
        let et = this.endpoints.get(e);
        if (et === undefined) {
          et = new EndpointTrack(this.capacity, e);
          this.endpoints.set(e, et);
        } else if (et.seenAt !== tick) {
          et.read(e);
        }
        if (et.seenAt !== tick) {
          et.seenAt = tick;
          et.delta.writeTo(et.rings, slot, seconds);
        }
        if (et.delta.valid) pt.delta.add(et.delta);
      }
      pt.delta.writeTo(pt.rings, slot, seconds);
    }
    for (const l of this.source.listeners()) {
      let lt = this.listeners.get(l.name);
      if (lt === undefined) {
        lt = new ListenerTrack(this.capacity, l.stats.requests);
        this.listeners.set(l.name, lt);
      }
      const d = l.stats.requests - lt.requests;
      lt.rps[slot] = lt.fresh || seconds <= 0 || d < 0 ? NaN : d / seconds;
      lt.requests = l.stats.requests;
      lt.fresh = false;
      lt.seenAt = tick;
    }
    // what a reload removed leaves the dashboard
    for (const [e, t] of this.endpoints) if (t.seenAt !== tick) this.endpoints.delete(e);
    for (const [name, t] of this.pools) if (t.seenAt !== tick) this.pools.delete(name);
    for (const [name, t] of this.listeners) if (t.seenAt !== tick) this.listeners.delete(name);
    this.times[slot] = now;
    this.taken++;
    this.lastAt = now;
    for (const fn of this.subscribers) fn(now);
  }

  /** How many of the kept samples to read: all of them, or the last `n`. */
  private span(n: number): number {
    return Math.max(0, Math.min(n, this.taken, this.capacity));
  }

  private read(ring: Float64Array, n: number): (number | null)[] {
    const count = this.span(n);
    const out: (number | null)[] = new Array(count);
    for (let i = 0; i < count; i++) out[i] = nullable(ring[(this.taken - count + i) % this.capacity]);
    return out;
  }

  private view(rings: Rings, n: number): SeriesView {
    return { rps: this.read(rings.rps, n), errorRate: this.read(rings.errorRate, n), p50: this.read(rings.p50, n), p99: this.read(rings.p99, n) };
  }

  /** The sample times (ms since the epoch), oldest first: all kept, or the last `n`. */
  sampleTimes(n = this.capacity): number[] {
    const count = this.span(n);
    const out: number[] = new Array(count);
    for (let i = 0; i < count; i++) out[i] = this.times[(this.taken - count + i) % this.capacity];
    return out;
  }

  /** An endpoint's series (all kept, or the last `n` samples), or null when it has not been sampled. */
  endpointSeries(e: Endpoint, n = this.capacity): SeriesView | null {
    const t = this.endpoints.get(e);
    return t === undefined ? null : this.view(t.rings, n);
  }

  poolSeries(name: string, n = this.capacity): SeriesView | null {
    const t = this.pools.get(name);
    return t === undefined ? null : this.view(t.rings, n);
  }

  /** A listener's requests/s. */
  listenerSeries(name: string, n = this.capacity): (number | null)[] | null {
    const t = this.listeners.get(name);
    return t === undefined ? null : this.read(t.rps, n);
  }

  /** The latest point of an endpoint, NaN where there was nothing to measure; null when never sampled. */
  endpointLast(e: Endpoint): Point | null {
    const t = this.endpoints.get(e);
    if (t === undefined || this.taken === 0) return null;
    const s = (this.taken - 1) % this.capacity;
    return { rps: t.rings.rps[s], errorRate: t.rings.errorRate[s], p50: t.rings.p50[s], p99: t.rings.p99[s] };
  }
}
