// One h2load run (nghttp2's HTTP/2 load generator, one thread) and the numbers read from its report. h2load
// prints no percentiles, so p50 and p99 come from its per-request log (`--log-file`: start, status, µs).
// It keeps `connections / streams` connections open with `streams` requests in flight on each, so the
// requests in flight match wrk's `connections`.
import { readFileSync } from 'node:fs';
import { launch } from './processes.ts';
import type { WrkResult } from './wrk.ts';

export interface H2Load {
  readonly url: string;
  /** Requests in flight in all. */
  readonly connections: number;
  /** Concurrent streams per connection. */
  readonly streams: number;
  readonly durationS: number;
  readonly cpus: string | undefined;
  readonly logPath: string;
}

export async function runH2load(load: H2Load): Promise<WrkResult> {
  const clients = Math.max(1, Math.round(load.connections / load.streams));
  const requestLog = `${load.logPath}.requests`;
  const args = ['-t1', `-c${clients}`, `-m${load.streams}`, '-D', String(load.durationS), `--log-file=${requestLog}`, load.url];
  const h2load = launch('h2load', 'h2load', args, load.logPath, load.cpus);
  // h2load stops itself after the duration; the guard only covers a wedged run.
  const guard = setTimeout(() => {
    try {
      process.kill(h2load.pid, 'SIGKILL');
    } catch {
      // ended meanwhile
    }
  }, (load.durationS + 20) * 1000);
  await h2load.exited;
  clearTimeout(guard);
  const report = readFileSync(load.logPath, 'utf8');
  if (h2load.exitReason !== 'exit code 0') {
    throw new Error(`h2load ${h2load.exitReason}: ${report.trim().split('\n').slice(-2).join(' / ')}`);
  }
  return parseH2load(report, readFileSync(requestLog, 'latin1'));
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function parseH2load(report: string, requestLog: string): WrkResult {
  const rate = /^finished in [\d.]+\w*, ([\d.]+) req\/s/m.exec(report);
  const requests = /^requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, \d+ failed, (\d+) errored, (\d+) timeout/m.exec(report);
  const statuses = /^status codes: \d+ 2xx, \d+ 3xx, (\d+) 4xx, (\d+) 5xx/m.exec(report);
  if (rate === null || requests === null || statuses === null) throw new Error(`unreadable h2load report: ${report.trim().slice(-300)}`);
  const micros: number[] = [];
  for (const line of requestLog.split('\n')) {
    const [, status, elapsed] = line.split('\t');
    if (Number(status) > 0 && elapsed !== undefined) micros.push(Number(elapsed));
  }
  const sorted = Float64Array.from(micros).sort();
  return {
    requestsPerS: Number(rate[1]),
    p50Ms: percentile(sorted, 50) / 1000,
    p99Ms: percentile(sorted, 99) / 1000,
    requests: Number(requests[2]),
    non2xx: Number(statuses[1]) + Number(statuses[2]),
    socketErrors: Number(requests[3]) + Number(requests[4]),
  };
}
