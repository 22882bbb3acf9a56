// A fixed-bucket latency histogram for the hot path: plain typed-array counts bumped per observation and read
// by the metrics at scrape time (ARCHITECTURE.md hot path rule 8: no metrics library per request). Bucket
// bounds are Prometheus' defaults extended to 10 s, in seconds, so p50/p95/p99 can be derived by
// `histogram_quantile` and by the dashboard.

/** Upper bounds in seconds (le); an implicit +Inf bucket follows. */
export const LATENCY_BOUNDS_S: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BOUNDS_MS = Float64Array.from(LATENCY_BOUNDS_S, (s) => s * 1000);

export class LatencyHistogram {
  /** counts[i]: observations in (bound[i-1], bound[i]]; the last entry is +Inf. Not cumulative. */
  readonly counts: Float64Array;
  /** Sum of observations, in seconds. */
  sum: number;
  count: number;

  constructor() {
    this.counts = new Float64Array(BOUNDS_MS.length + 1);
    this.sum = 0;
    this.count = 0;
  }

  // HOT PATH: a short scan (most observations land in the first few buckets).
  observe(ms: number): void {
    let i = 0;
    while (i < BOUNDS_MS.length && ms > BOUNDS_MS[i]) i++;
    this.counts[i]++;
    this.sum += ms / 1000;
    this.count++;
  }

  /** The q-quantile (0..1) in ms by linear interpolation inside its bucket, from counts (e.g. a delta). */
  static quantileMs(counts: ArrayLike<number>, q: number): number {
    let total = 0;
    for (let i = 0; i < counts.length; i++) total += counts[i];
    if (total === 0) return 0;
    const rank = q * total;
    let seen = 0;
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] === 0) continue;
      if (seen + counts[i] >= rank) {
        const lower = i === 0 ? 0 : BOUNDS_MS[i - 1];
        const upper = i < BOUNDS_MS.length ? BOUNDS_MS[i] : BOUNDS_MS[BOUNDS_MS.length - 1];
        return lower + (upper - lower) * ((rank - seen) / counts[i]);
      }
      seen += counts[i];
    }
    return BOUNDS_MS[BOUNDS_MS.length - 1];
  }
}

/** Responses by status class: [0] no response (gateway failure or local reply), [1..5] = 1xx..5xx. */
export function statusClass(status: number): number {
  const c = (status / 100) | 0;
  return c >= 1 && c <= 5 ? c : 0;
}
