// One wrk run and the numbers read from its text report. wrk keeps every connection alive,
// so a run measures steady-state proxying, not connection setup.
import { readFileSync } from 'node:fs';
import { launch } from './processes.ts';

export interface WrkLoad {
  readonly url: string;
  readonly connections: number;
  readonly durationS: number;
  readonly cpus: string | undefined;
  readonly logPath: string;
}

export interface WrkResult {
  readonly requestsPerS: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  /** Responses outside 2xx/3xx plus connect/read/write/timeout socket errors: any of these flags the run. */
  readonly non2xx: number;
  readonly socketErrors: number;
}

export async function runWrk(load: WrkLoad): Promise<WrkResult> {
  const args = ['-t1', `-c${load.connections}`, `-d${load.durationS}s`, '--latency', load.url];
  const wrk = launch('wrk', 'wrk', args, load.logPath, load.cpus);
  // wrk stops itself after the duration; the guard only covers a wedged run.
  const guard = setTimeout(() => {
    try {
      process.kill(wrk.pid, 'SIGKILL');
    } catch {
      // ended meanwhile
    }
  }, (load.durationS + 20) * 1000);
  await wrk.exited;
  clearTimeout(guard);
  const report = readFileSync(load.logPath, 'utf8');
  if (wrk.exitReason !== 'exit code 0') {
    throw new Error(`wrk ${wrk.exitReason}: ${report.trim().split('\n').slice(-2).join(' / ')}`);
  }
  return parseWrk(report);
}

const MS_PER_UNIT: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function latencyMs(report: string, percentile: string): number {
  const match = new RegExp(`^\\s*${percentile}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(report);
  if (match === null) throw new Error(`wrk report has no ${percentile}% latency`);
  return Number(match[1]) * MS_PER_UNIT[match[2]];
}

export function parseWrk(report: string): WrkResult {
  const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(report);
  const total = /^\s*(\d+) requests in /m.exec(report);
  if (rate === null || total === null) throw new Error(`unreadable wrk report: ${report.trim().slice(0, 200)}`);
  const sockets = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(report);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(report);
  return {
    requestsPerS: Number(rate[1]),
    p50Ms: latencyMs(report, '50'),
    p99Ms: latencyMs(report, '99'),
    requests: Number(total[1]),
    non2xx: non2xx === null ? 0 : Number(non2xx[1]),
    socketErrors: sockets === null ? 0 : sockets.slice(1).reduce((sum, n) => sum + Number(n), 0),
  };
}
