// Every process the harness starts goes through `launch`, so `stopAll` can end each one by its PID at exit —
// normal end, thrown error or Ctrl-C alike. Children get their own process group (detached): a terminal's
// Ctrl-C then reaches only the harness, which stops them in order, and a master's workers go with their group.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';

export interface Launched {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Set once the process has ended: a short "exit code N" / "signal S" text. */
  exitReason: string | undefined;
  readonly exited: Promise<void>;
}

const running = new Set<ChildProcess>();

/** Starts `command`, pinned to `cpus` with taskset when given (taskset execs, so the PID stays the command's). */
export function launch(name: string, command: string, args: readonly string[], logPath: string, cpus?: string): Launched {
  const argv = cpus === undefined ? [command, ...args] : ['taskset', '-c', cpus, command, ...args];
  const log = openSync(logPath, 'w');
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  running.add(child);
  let resolveExit!: () => void;
  const launched: Launched = {
    name,
    pid: child.pid,
    logPath,
    exitReason: undefined,
    exited: new Promise<void>((resolve) => (resolveExit = resolve)),
  };
  child.on('error', (error) => {
    launched.exitReason = error.message;
    running.delete(child);
    resolveExit();
  });
  child.on('exit', (code, signal) => {
    launched.exitReason = signal === null ? `exit code ${code}` : `signal ${signal}`;
    running.delete(child);
    resolveExit();
  });
  return launched;
}

/** Stops one started process (its group): SIGTERM, then SIGKILL after 2 s. */
export async function stop(launched: Launched): Promise<void> {
  if (launched.exitReason !== undefined) return;
  signalGroup(launched.pid, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(launched.pid, 'SIGKILL'), 2000);
  await launched.exited;
  clearTimeout(timer);
}

/** Synchronous so it can run from an 'exit' handler: SIGTERM to each group, then SIGKILL to stragglers. */
export function stopAll(): void {
  for (const child of running) signalGroup(child.pid!, 'SIGTERM');
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline && [...running].some((c) => isAlive(c.pid!))) sleepSync(20);
  for (const child of running) {
    if (isAlive(child.pid!)) signalGroup(child.pid!, 'SIGKILL');
  }
  running.clear();
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    // A zombie still answers kill(0); its state letter in /proc says it is done.
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The direct children of `pid` (NGINX and HAProxy masters run the traffic in a worker child). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      // Field 4 (ppid) follows the ")" that closes the command name, which may itself hold spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return children;
}

/** Peak resident set size in KiB since start or since the last `resetPeakRss` (VmHWM). */
export function peakRssKiB(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

/** Resident set size in KiB now (VmRSS). */
export function currentRssKiB(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

/** Writing 5 to clear_refs resets VmHWM (Linux ≥ 4.0), so each run reports its own peak. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}
