// CPU accounting around one run, from /proc: how much of a core the proxy used (≈100% means the proxy was
// the bottleneck; well below means the load side was), and how much CPU went to processes the harness did
// not start, on the proxy's core and on the load side's — the sign that a run was disturbed.
import { readFileSync } from 'node:fs';

/** USER_HZ: the unit of /proc tick counts, 100 on every mainstream Linux architecture. */
const TICKS_PER_S = 100;

/** The processes whose CPU is ours: the proxy under test and, on the load side, the backends' worker. */
export interface Watched {
  readonly proxyPid: number | undefined;
  readonly backendPid: number | undefined;
  readonly proxyCore: string | undefined;
  readonly loadCores: string | undefined;
}

export interface CpuSnapshot {
  readonly atMs: number;
  readonly proxyTicks: number | undefined;
  readonly proxyCoreBusy: number | undefined;
  /** The harness itself, the children it has reaped (each finished wrk) and the backends' worker. */
  readonly loadOwnTicks: number;
  readonly loadCoresBusy: number | undefined;
}

/** utime + stime (+ cutime + cstime of reaped children when asked), fields 14–17 of /proc/<pid>/stat. */
function processTicks(pid: number | 'self', withChildren = false): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').slice(11, 15).map(Number);
    return fields[0] + fields[1] + (withChildren ? fields[2] + fields[3] : 0);
  } catch {
    return undefined;
  }
}

/** user + nice + system ticks of the listed cores (interrupt time left out: loopback traffic lands there too). */
function busyTicks(cores: string): number {
  const wanted = new Set(cores.split(',').map((core) => `cpu${core}`));
  let busy = 0;
  for (const line of readFileSync('/proc/stat', 'latin1').split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (!wanted.has(fields[0])) continue;
    busy += Number(fields[1]) + Number(fields[2]) + Number(fields[3]);
  }
  return busy;
}

export function snapshot(watched: Watched): CpuSnapshot {
  const { proxyPid, backendPid, proxyCore, loadCores } = watched;
  return {
    atMs: performance.now(),
    proxyTicks: proxyPid === undefined ? undefined : processTicks(proxyPid),
    proxyCoreBusy: proxyCore === undefined ? undefined : busyTicks(proxyCore),
    loadOwnTicks: (processTicks('self', true) ?? 0) + (backendPid === undefined ? 0 : (processTicks(backendPid) ?? 0)),
    loadCoresBusy: loadCores === undefined ? undefined : busyTicks(loadCores),
  };
}

export interface CpuUsage {
  /** Share of one core the proxy used, 0–100+ (helper threads can push a Node.js process past 100). */
  readonly processPct: number | undefined;
  /** CPU other processes took on the proxy's core, in % of that core; undefined when not pinned. */
  readonly foreignProxyPct: number | undefined;
  /** CPU other processes took on the load side's cores, in % of one core; undefined when not pinned. */
  readonly foreignLoadPct: number | undefined;
}

export function usage(before: CpuSnapshot, after: CpuSnapshot): CpuUsage {
  const ticks = ((after.atMs - before.atMs) / 1000) * TICKS_PER_S;
  const delta = (a: number | undefined, b: number | undefined): number | undefined =>
    a === undefined || b === undefined ? undefined : b - a;
  const percent = (share: number | undefined): number | undefined => (share === undefined ? undefined : Math.max(0, (100 * share) / ticks));
  const proxy = delta(before.proxyTicks, after.proxyTicks);
  const proxyCore = delta(before.proxyCoreBusy, after.proxyCoreBusy);
  const loadCores = delta(before.loadCoresBusy, after.loadCoresBusy);
  const loadOwn = after.loadOwnTicks - before.loadOwnTicks;
  return {
    processPct: percent(proxy),
    foreignProxyPct: percent(proxyCore === undefined ? undefined : proxyCore - (proxy ?? 0)),
    foreignLoadPct: percent(loadCores === undefined ? undefined : loadCores - loadOwn),
  };
}
