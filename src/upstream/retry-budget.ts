// Retry budget (Finagle's RetryBudget; Envoy's retry_budget has the same aim): retries may add at most
// `percent` % of the pool's requests over the last 10 s, plus a reserve of `minPerSecond` retries per second
// so a quiet pool can still retry. When every endpoint fails, upstream attempts stay within
// (1 + percent/100) × requests + the reserve, instead of maxTries × requests: retries cannot multiply an
// overload into a collapse. Counts live in ten one-second buckets (no timer; time advances on use).

const BUCKETS = 10;

export class RetryBudget {
  percent: number;
  minPerSecond: number;
  private readonly requests: Float64Array;
  private readonly retries: Float64Array;
  private requestTotal: number;
  private retryTotal: number;
  /** The second (ms / 1000, floored) the newest bucket belongs to. */
  private second: number;
  /** Retries refused by the budget and retries granted, for metrics. */
  exhausted: number;
  granted: number;

  constructor(percent: number, minPerSecond: number) {
    this.percent = percent;
    this.minPerSecond = minPerSecond;
    this.requests = new Float64Array(BUCKETS);
    this.retries = new Float64Array(BUCKETS);
    this.requestTotal = 0;
    this.retryTotal = 0;
    this.second = 0;
    this.exhausted = 0;
    this.granted = 0;
  }

  /** A request (its first try) started. */
  // HOT PATH: one bucket increment.
  deposit(nowMs: number): void {
    const i = this.advance(nowMs);
    this.requests[i]++;
    this.requestTotal++;
  }

  /** A retry wants to start: true (and counted) when the budget allows it. */
  tryWithdraw(nowMs: number): boolean {
    const i = this.advance(nowMs);
    const allowed = (this.requestTotal * this.percent) / 100 + this.minPerSecond * BUCKETS;
    if (this.retryTotal + 1 > allowed) {
      this.exhausted++;
      return false;
    }
    this.retries[i]++;
    this.retryTotal++;
    this.granted++;
    return true;
  }

  /** Moves the window to `nowMs`, clearing the buckets of the seconds that passed; returns the current bucket. */
  private advance(nowMs: number): number {
    const s = Math.floor(nowMs / 1000);
    if (s !== this.second) {
      const gap = s - this.second;
      if (gap >= BUCKETS || gap < 0) {
        this.requests.fill(0);
        this.retries.fill(0);
        this.requestTotal = 0;
        this.retryTotal = 0;
      } else {
        for (let k = 1; k <= gap; k++) {
          const j = (this.second + k) % BUCKETS;
          this.requestTotal -= this.requests[j];
          this.retryTotal -= this.retries[j];
          this.requests[j] = 0;
          this.retries[j] = 0;
        }
      }
      this.second = s;
    }
    return s % BUCKETS;
  }
}
