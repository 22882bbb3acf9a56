// The HTTP part of `npm run bench:ratelimit`: wrk against three `fulcrum run` processes that differ only in the
// route's rate limit — (a) none, (b) memory store, (c) Redis — in interleaved rounds (order rotated each round),
// reporting req/s as a ratio of (a) and the p99 each limiter adds. After every run of (b) and (c) the admin
// /metrics must show every request admitted by the policy and no Redis failure, or the row says so.
// Flow: options → binaries → backends → redis-server → start + check + warm up → rounds → table (→ docs).
import { readFileSync } from 'node:fs';
import { SMALL_BODY, startBackends } from '../backends.ts';
import { snapshot, usage, type CpuUsage } from '../cpu.ts';
import { writeResults } from '../docs.ts';
import { startBench } from '../lifecycle.ts';
import { freePort, probe } from '../net.ts';
import { childrenOf, peakRssKiB, resetPeakRss } from '../processes.ts';
import { isDisturbed, summarize, type Sample } from '../report.ts';
import { describeMachine, ensureBinaries, nodeBinary, pinSelf, planCpus, ROOT, type CpuPlan } from '../system.ts';
import { runWrk } from '../wrk.ts';
import { readOptions, USAGE, type RateLimitBenchOptions } from './options.ts';
import { startRedis, type RunningRedis } from './redis.ts';
import { renderRateLimit } from './report.ts';
import { readChecked, startVariant, VARIANTS, type Checked, type RunningVariant } from './variants.ts';

const PATH = '/';
const BODY = `${SMALL_BODY.length}-byte body (GET /)`;

interface Shared {
  readonly dir: string;
  readonly cpus: CpuPlan;
  readonly backendPid: number | undefined;
  readonly redis: RunningRedis;
}

/** utime + stime of a process in clock ticks (fields 14–15 of /proc/<pid>/stat); 0 once it is gone. */
function ticksOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

interface Run {
  readonly sample: Sample;
  /** Redis's CPU over the run, in % of one core (clock ticks are 1/100 s). */
  readonly redisPct: number;
  /** null for (a); else whether the policy admitted every request (and no other) and Redis never failed. */
  readonly checked: boolean | null;
  readonly counted: Checked | null;
}

async function measure(live: RunningVariant, durationS: number, options: RateLimitBenchOptions, shared: Shared): Promise<Run> {
  const pid = live.running.measuredPid;
  if (pid !== undefined) resetPeakRss(pid);
  const watched = { proxyPid: pid, backendPid: shared.backendPid, proxyCore: shared.cpus.proxy, loadCores: shared.cpus.load };
  const limited = live.variant.name !== 'none';
  const countedBefore = limited ? await readChecked(live) : null;
  const redisBefore = ticksOf(shared.redis.launched.pid);
  const startedMs = performance.now();
  const before = snapshot(watched);
  const result = await runWrk({
    url: live.running.url + PATH,
    connections: options.connections,
    durationS,
    cpus: shared.cpus.load,
    logPath: `${shared.dir}/load-${live.variant.name}.log`,
  });
  const cpu = usage(before, snapshot(watched));
  const redisPct = (ticksOf(shared.redis.launched.pid) - redisBefore) / ((performance.now() - startedMs) / 1000);
  // Redis is ours, on the load side: its CPU is not another process's disturbance
  const ownCpu: CpuUsage = { ...cpu, foreignLoadPct: cpu.foreignLoadPct === undefined ? undefined : Math.max(0, cpu.foreignLoadPct - redisPct) };
  let counted: Checked | null = null;
  let checked: boolean | null = null;
  if (countedBefore !== null) {
    const after = await readChecked(live);
    counted = { admitted: after.admitted - countedBefore.admitted, rejected: after.rejected - countedBefore.rejected, failures: after.failures - countedBefore.failures };
    // wrk counts completed responses; requests still in flight at its end (one per connection at most) were
    // admitted too
    const inFlight = counted.admitted - result.requests;
    checked = inFlight >= 0 && inFlight <= options.connections && counted.rejected === 0 && counted.failures === 0;
  }
  const rssKiB = pid === undefined ? undefined : peakRssKiB(pid);
  return { sample: { target: live.variant.name, body: BODY, result, rssKiB, cpu: ownCpu }, redisPct, checked, counted };
}

function describeRun({ sample, redisPct, checked, counted }: Run): string {
  const { target, result, rssKiB, cpu } = sample;
  const errors = result.non2xx + result.socketErrors;
  return (
    `${target.padEnd(7)}${Math.round(result.requestsPerS).toString().padStart(8)} req/s` +
    `  p50 ${result.p50Ms.toFixed(2)} ms  p99 ${result.p99Ms.toFixed(2)} ms` +
    (rssKiB === undefined ? '' : `  rss ${(rssKiB / 1024).toFixed(1)} MiB`) +
    (cpu.processPct === undefined ? '' : `  cpu ${cpu.processPct.toFixed(0)}%`) +
    (target === 'redis' ? `  redis cpu ${redisPct.toFixed(0)}%` : '') +
    (counted === null ? '' : `  checked ${counted.admitted} admitted / ${result.requests} responses`) +
    (checked === false ? `  NOT ALL CHECKED: ${counted!.rejected} rejected, ${counted!.failures} Redis failures` : '') +
    (isDisturbed(cpu)
      ? `  DISTURBED: other processes took ${(cpu.foreignProxyPct ?? 0).toFixed(0)}% of the proxy core, ${(cpu.foreignLoadPct ?? 0).toFixed(0)}% of a core on the load side`
      : '') +
    (errors === 0 ? '' : `  ERRORS: ${result.non2xx} non-2xx/3xx, ${result.socketErrors} socket`)
  );
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const shift = items.length === 0 ? 0 : by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** A GET answered 200 with the body, and for (b) and (c) counted by the policy: the limiter is on the path. */
/** The admin listener binds after the data listeners: its first read waits for it (up to 10 s). */
async function firstRead(live: RunningVariant): Promise<Checked> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await readChecked(live);
    } catch (error) {
      if (Date.now() > deadline || !String((error as Error).message).includes('ECONNREFUSED')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function check(live: RunningVariant): Promise<void> {
  const before = live.variant.name === 'none' ? null : await firstRead(live);
  const answer = await probe(live.running.url + PATH, 5000);
  if (answer.status !== 200 || answer.bytes !== SMALL_BODY.length) {
    throw new Error(`GET ${PATH} answered ${answer.status} with ${answer.bytes} bytes, want 200 with ${SMALL_BODY.length}`);
  }
  if (before !== null) {
    const after = await readChecked(live);
    if (after.admitted !== before.admitted + 1) throw new Error(`the rate limit policy did not count the check request (admitted ${before.admitted} → ${after.admitted})`);
  }
}

async function main(options: RateLimitBenchOptions, dir: string): Promise<void> {
  const cpus = planCpus(options.pin);
  const binaries = ensureBinaries(['wrk', 'nginx', 'redis-server', ...(cpus.proxy ? ['taskset'] : [])]);
  const node = nodeBinary();
  const machine = describeMachine(binaries, node);
  console.log(`machine: ${machine.nproc} cores, ${machine.cpuModel}; ${Object.entries(machine.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`pinning: ${cpus.description}`);
  const settings = `wrk -t1 -c${options.connections} -d${options.durationS}s --latency, keep-alive, GET / (13-byte body); ${options.rounds} round(s), medians`;
  console.log(`load: ${settings}`);

  if (cpus.load !== undefined) pinSelf(cpus.load);
  const backends = await startBackends(dir, binaries.nginx, cpus.load);
  const backendWorkers = childrenOf(backends.launched.pid);
  const backendPid = backendWorkers.length === 1 ? backendWorkers[0] : undefined;
  console.log(`backends: nginx on ports ${backends.upstreams.map((u) => u.port).join(', ')}`);
  const redis = await startRedis(binaries['redis-server'], dir, cpus.load);
  console.log(`redis: redis-server ${redis.version} at ${redis.url}`);
  const shared: Shared = { dir, cpus, backendPid, redis };

  const failures = new Map<string, string>();
  let live: RunningVariant[] = [];
  const drop = (entry: RunningVariant, reason: string): void => {
    failures.set(entry.variant.name, reason);
    live = live.filter((l) => l !== entry);
    console.log(`  ${entry.variant.name} FAILED: ${reason}`);
  };
  console.log('starting fulcrum three times:');
  for (const variant of VARIANTS) {
    try {
      const context = { dir, port: await freePort(), upstreams: backends.upstreams, cpus: cpus.proxy, node, root: ROOT, binaries };
      const entry = await startVariant(variant, context, redis.url);
      await check(entry);
      live.push(entry);
      console.log(`  ${variant.name.padEnd(7)} ready at ${entry.running.url}: ${variant.summary}`);
    } catch (error) {
      failures.set(variant.name, (error as Error).message);
      console.log(`  ${variant.name.padEnd(7)} FAILED: ${(error as Error).message}`);
    }
  }

  console.log(`warming up (${options.warmupS}s per variant):`);
  for (const entry of [...live]) {
    try {
      await measure(entry, options.warmupS, options, shared);
    } catch (error) {
      drop(entry, `warm-up: ${(error as Error).message}`);
    }
  }

  const samples: Sample[] = [];
  const unchecked = new Map<string, number>();
  for (let round = 0; round < options.rounds; round++) {
    for (const entry of rotate(live, round)) {
      if (!live.includes(entry)) continue;
      const ended = entry.running.launched?.exitReason;
      if (ended !== undefined) {
        drop(entry, `process ended (${ended})`);
        continue;
      }
      try {
        const run = await measure(entry, options.durationS, options, shared);
        samples.push(run.sample);
        if (run.checked === false) unchecked.set(entry.variant.name, (unchecked.get(entry.variant.name) ?? 0) + 1);
        console.log(`round ${round + 1}/${options.rounds}  ${describeRun(run)}`);
      } catch (error) {
        drop(entry, (error as Error).message);
      }
    }
  }

  const rows = summarize(VARIANTS.map((v) => v.name), BODY, samples, failures);
  const heading = `${BODY}, ${options.connections} connections`;
  const table = renderRateLimit(rows, unchecked);
  console.log(`\n${heading}, medians of ${options.rounds} round(s)\n${table}\n`);
  console.log(`pinning: ${cpus.description}`);
  if (failures.size > 0 || unchecked.size > 0) process.exitCode = 1;

  if (options.writeDocs) {
    const command = ['npm run bench:ratelimit', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
    const versioned = { ...machine, versions: { ...machine.versions, redis: redis.version } };
    const tables = new Map([[heading, table]]);
    writeResults(`${ROOT}/docs/benchmarks.md`, { date: new Date(), command, machine: versioned, pinning: cpus.description, settings, tables }, 'ratelimit', 'Rate limiting over HTTP');
    console.log('wrote docs/benchmarks.md');
  }
}

startBench('bench-ratelimit', USAGE, readOptions, main);
