// L4 connection limits per source address, checked when a TCP listener accepts: at most `maxConnections` open
// at once and at most `rate` new connections (a token bucket with `burst`), like HAProxy's
// `tcp-request connection reject if { src_conn_cur ge N } || { src_conn_rate gt R }` over a stick table.
// Bounded: at most `maxSources` addresses tracked, idle ones (no open connection) evicted least recently used
// first; when every tracked source has open connections, a new source is admitted untracked and counted
// (HAProxy does the same when its table is full), rather than turned away for the table's sake.
import { z } from 'zod';
import { integerIn } from '../core/schema-helpers.ts';
import { burstSchema, rateSchema } from './rate.ts';
import type { Rate } from './types.ts';

export const connectionLimitSchema = z.strictObject({
  /** Open connections per source; absent = no cap. HAProxy `src_conn_cur`. */
  maxConnections: integerIn(1, 1_000_000).optional(),
  /** New connections per source, e.g. `20/s`; absent = no rate limit. HAProxy `src_conn_rate`. */
  rate: rateSchema.optional(),
  /** Connections a quiet source may open at once under `rate`; default the rate's N. */
  burst: burstSchema.optional(),
  /** Sources tracked; default 100000. HAProxy stick-table `size`. */
  maxSources: integerIn(1, 10_000_000).prefault(100_000),
});
export type ConnectionLimitOptions = z.output<typeof connectionLimitSchema>;

class Source {
  open: number;
  /** tokens × W, as token-bucket.ts */
  level: number;
  stampMs: number;
  constructor() {
    this.open = 0;
    this.level = 0;
    this.stampMs = 0;
  }
}

/** How far from the old end a full table looks for an idle source to evict. */
const evictionScan = 8;

export class ConnectionLimiter {
  readonly maxConnections: number;
  readonly maxSources: number;
  // counters, read at scrape time
  refusedConcurrent: number;
  refusedRate: number;
  /** Admitted without tracking because every tracked source had open connections. */
  untracked: number;
  private readonly sources: Map<string, Source>;
  private readonly rate: Rate | null;
  private readonly perUnit: number;
  private readonly full: number;

  constructor(options: ConnectionLimitOptions) {
    this.maxConnections = options.maxConnections ?? Infinity;
    this.maxSources = options.maxSources;
    this.refusedConcurrent = 0;
    this.refusedRate = 0;
    this.untracked = 0;
    this.sources = new Map();
    this.rate = options.rate ?? null;
    this.perUnit = this.rate === null ? 0 : this.rate.perMs;
    this.full = this.rate === null ? 0 : (options.burst ?? this.rate.requests) * this.rate.perMs;
  }

  get size(): number {
    return this.sources.size;
  }

  /** Open connections tracked for `ip` (tests, admin). */
  openCount(ip: string): number {
    return this.sources.get(ip)?.open ?? 0;
  }

  /** Counts a new connection from `ip` when both limits allow it; false = refuse it (close the socket). */
  tryOpen(ip: string, nowMs: number): boolean {
    let s = this.sources.get(ip);
    if (s !== undefined) {
      this.sources.delete(ip);
      this.sources.set(ip, s);
    } else {
      if (this.sources.size >= this.maxSources && !this.evictIdle()) {
        this.untracked++;
        return true;
      }
      s = new Source();
      s.level = this.full;
      s.stampMs = nowMs;
      this.sources.set(ip, s);
    }
    if (s.open >= this.maxConnections) {
      this.refusedConcurrent++;
      return false;
    }
    if (this.rate !== null) {
      if (nowMs > s.stampMs) {
        s.level = Math.min(this.full, s.level + (nowMs - s.stampMs) * this.rate.requests);
        s.stampMs = nowMs;
      }
      if (s.level < this.perUnit) {
        this.refusedRate++;
        return false;
      }
      s.level -= this.perUnit;
    }
    s.open++;
    return true;
  }

  /** A connection `tryOpen` admitted has closed. */
  close(ip: string): void {
    const s = this.sources.get(ip);
    if (s === undefined || s.open === 0) return;
    // without a rate, an idle source holds nothing worth keeping
    if (--s.open === 0 && this.rate === null) this.sources.delete(ip);
  }

  /** Drops the least recently used idle source among the oldest few; false when none is idle. */
  private evictIdle(): boolean {
    let scanned = 0;
    for (const [ip, s] of this.sources) {
      if (s.open === 0) {
        this.sources.delete(ip);
        return true;
      }
      if (++scanned === evictionScan) break;
    }
    return false;
  }
}
