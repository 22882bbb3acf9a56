// Runs bench/l4/load.ts as its own process on the load cores and reads its one-line JSON result.
// A guard kills a run that outlives its bound, so no run can hang the harness.
import { readFileSync } from 'node:fs';
import { launch } from '../processes.ts';

export interface BulkResult {
  readonly kind: 'bulk';
  readonly bytes: number;
  readonly seconds: number;
}

export interface EchoResult {
  readonly kind: 'echo';
  readonly roundTrips: number;
  readonly seconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Connections that failed (reset, refused). */
  readonly errors: number;
}

export type LoadResult = BulkResult | EchoResult;

export interface LoadRun {
  readonly node: string;
  readonly root: string;
  readonly cpus: string | undefined;
  readonly logPath: string;
  /** Killed after this many seconds. */
  readonly limitS: number;
}

export async function runLoad(args: readonly (string | number)[], run: LoadRun): Promise<LoadResult> {
  const script = `${run.root}/bench/l4/load.ts`;
  const load = launch('l4-load', run.node, [script, ...args.map(String)], run.logPath, run.cpus);
  const guard = setTimeout(() => {
    try {
      process.kill(load.pid, 'SIGKILL');
    } catch {
      // ended meanwhile
    }
  }, run.limitS * 1000);
  await load.exited;
  clearTimeout(guard);
  const output = readFileSync(run.logPath, 'utf8').trim();
  if (load.exitReason !== 'exit code 0') {
    throw new Error(`load ${args[0]} ${load.exitReason}: ${output.split('\n').slice(-2).join(' / ') || 'no output'}`);
  }
  return JSON.parse(output.split('\n').at(-1) ?? '') as LoadResult;
}

/** Seconds a bulk transfer may take before it is killed: as if at 20 MiB/s, plus start-up. */
export function bulkLimitS(bytes: number): number {
  return 30 + Math.ceil(bytes / (20 * 1024 * 1024));
}
