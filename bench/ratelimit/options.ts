// Command-line options of the HTTP part of `npm run bench:ratelimit` (bench/ratelimit/http.ts), with their defaults.
import { parseArgs } from 'node:util';
import { commonOptions, commonValues } from '../options.ts';

export interface RateLimitBenchOptions {
  /** Interleaved rounds; each reported number is the median over rounds. Default 3. */
  readonly rounds: number;
  /** Length of one wrk run in seconds. Default 10. */
  readonly durationS: number;
  /** Warm-up run per variant before the rounds, in seconds. Default 3. */
  readonly warmupS: number;
  /** wrk keep-alive connections. Default 50. */
  readonly connections: number;
  /** Rewrite the "Rate limiting over HTTP" section of docs/benchmarks.md. Default off. */
  readonly writeDocs: boolean;
  /** Pin Fulcrum to one core and wrk, the backends and Redis to the others. Default on when there are ≥ 2 cores. */
  readonly pin: boolean;
}

export const USAGE = `usage: node bench/ratelimit/http.ts [--rounds 3] [--duration 10s] [--warmup 3s] [--connections 50]
                                [--no-pin] [--write-docs]
  (also run by npm run bench:ratelimit -- …, after the per-check micro-benchmark)
  Fulcrum three times over HTTP/1.1: (a) no rate limit, (b) a memory limiter on every request,
  (c) a Redis-backed limiter on every request; the limit admits everything, so (b) and (c) measure the check`;

export function readOptions(argv: readonly string[]): RateLimitBenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: commonOptions('3s'),
  });
  if (values.help) return 'help';
  return commonValues(values);
}
