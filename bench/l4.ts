// `npm run bench:l4`: Fulcrum's `tcp` listener next to HAProxy in `mode tcp` and the peer reached directly,
// in interleaved rounds (order rotated each round): (a) one bulk stream each way, (b) echo round trips over
// many connections, (c) the proxy's memory for idle connections, each round on a freshly started proxy.
// A target that fails to start or to pass bytes is reported and left out; the others still run.
// Flow: options → binaries → open-files limit → peer → start + check + warm up → rounds of a, b → stop →
// rounds of c → tables (and docs/benchmarks.md with --write-docs).
import { snapshot, usage, type CpuUsage } from './cpu.ts';
import { writeResults } from './docs.ts';
import { checkThrough } from './l4/check.ts';
import { fitOpenFiles, IDLE_HEADROOM, measureIdle } from './l4/idle.ts';
import { readOptions, USAGE, type L4Options } from './l4/options.ts';
import { renderBulk, renderEcho, renderIdle, type BulkSample, type Direction, type EchoSample, type IdleSample } from './l4/report.ts';
import { bulkLimitS, runLoad, type BulkResult, type EchoResult } from './l4/run-load.ts';
import { TARGETS, type L4Context, type L4Running, type L4Target } from './l4/targets.ts';
import { startBench } from './lifecycle.ts';
import { freePort, HOST, waitForListening } from './net.ts';
import { launch, peakRssKiB, resetPeakRss, stop, type Launched } from './processes.ts';
import { isDisturbed } from './report.ts';
import { describeMachine, ensureBinaries, nodeBinary, pinSelf, planCpus, ROOT, type CpuPlan } from './system.ts';

const MiB = 1024 * 1024;

interface Live {
  readonly target: L4Target;
  readonly running: L4Running;
}

/** What every target and run shares. */
interface Shared {
  readonly dir: string;
  readonly cpus: CpuPlan;
  readonly node: string;
  readonly binaries: Record<string, string>;
  readonly peer: Launched;
  readonly peerPort: number;
}

/** Connection limit of both proxies in scenarios a and b (HAProxy's `maxconn`, Fulcrum's `maxConnections`). */
const TRAFFIC_MAX_CONNECTIONS = 4096;

function selectTargets(names: readonly string[] | undefined): L4Target[] {
  if (names === undefined) return [...TARGETS];
  const unknown = names.filter((name) => !TARGETS.some((t) => t.name === name));
  if (unknown.length > 0) throw new Error(`unknown target(s) ${unknown.join(', ')}; known: ${TARGETS.map((t) => t.name).join(', ')}`);
  return TARGETS.filter((t) => names.includes(t.name));
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const shift = items.length === 0 ? 0 : by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

async function startTarget(target: L4Target, shared: Shared, maxConnections: number): Promise<L4Running> {
  const context: L4Context = {
    dir: shared.dir,
    port: await freePort(),
    upstreams: [{ host: HOST, port: shared.peerPort }],
    cpus: shared.cpus.proxy,
    node: shared.node,
    root: ROOT,
    binaries: shared.binaries,
    maxConnections,
  };
  return target.start(context);
}

/** One load run; the proxy's peak RSS is reset before it, so the peak read after belongs to this run. */
async function measure(
  live: Live,
  args: readonly (string | number)[],
  limitS: number,
  shared: Shared,
): Promise<{ result: BulkResult | EchoResult; rssKiB: number | undefined; cpu: CpuUsage }> {
  const pid = live.running.measuredPid;
  if (pid !== undefined) resetPeakRss(pid);
  const watched = { proxyPid: pid, backendPid: shared.peer.pid, proxyCore: shared.cpus.proxy, loadCores: shared.cpus.load };
  const before = snapshot(watched);
  const result = await runLoad([args[0], live.running.port, ...args.slice(1)], {
    node: shared.node,
    root: ROOT,
    cpus: shared.cpus.load,
    logPath: `${shared.dir}/load-${live.target.name}.log`,
    limitS,
  });
  const cpu = usage(before, snapshot(watched));
  return { result, rssKiB: pid === undefined ? undefined : peakRssKiB(pid), cpu };
}

function describeRun(target: string, what: string, rssKiB: number | undefined, cpu: CpuUsage): string {
  return (
    `${target.padEnd(8)}${what}` +
    (rssKiB === undefined ? '' : `  rss ${(rssKiB / 1024).toFixed(1)} MiB`) +
    (cpu.processPct === undefined ? '' : `  cpu ${cpu.processPct.toFixed(0)}%`) +
    (isDisturbed(cpu)
      ? `  DISTURBED: other processes took ${(cpu.foreignProxyPct ?? 0).toFixed(0)}% of the proxy core, ${(cpu.foreignLoadPct ?? 0).toFixed(0)}% of a core on the load side`
      : '')
  );
}

/** Scenarios a and b on long-lived targets; they are stopped at the end. */
async function runTraffic(
  targets: readonly L4Target[],
  options: L4Options,
  shared: Shared,
  failures: Map<string, string>,
): Promise<{ bulk: BulkSample[]; echo: EchoSample[] }> {
  const bulk: BulkSample[] = [];
  const echo: EchoSample[] = [];
  let live: Live[] = [];
  console.log('starting targets:');
  for (const target of targets) {
    try {
      const running = await startTarget(target, shared, Math.max(TRAFFIC_MAX_CONNECTIONS, options.connections + 100));
      await checkThrough(running.port);
      live.push({ target, running });
      console.log(`  ${target.name.padEnd(8)} ready on port ${running.port}`);
    } catch (error) {
      failures.set(target.name, (error as Error).message);
      console.log(`  ${target.name.padEnd(8)} FAILED: ${(error as Error).message}`);
    }
  }
  const drop = (entry: Live, reason: string): void => {
    failures.set(entry.target.name, reason);
    live = live.filter((l) => l !== entry);
    console.log(`  ${entry.target.name} FAILED: ${reason}`);
  };
  const stillRunning = (entry: Live): boolean => {
    const ended = entry.running.launched?.exitReason;
    if (ended !== undefined) drop(entry, `process ended (${ended})`);
    return ended === undefined;
  };

  const directions: Direction[] = options.scenarios.includes('a') ? ['upload', 'download'] : [];
  const echoes = options.scenarios.includes('b');
  const echoArgs = (durationS: number): (string | number)[] => ['echo', options.connections, durationS, options.messageBytes];
  const warmBytes = Math.max(MiB, Math.floor(options.bytes / 8));
  const warmUps = [...(directions.length > 0 ? [`${(warmBytes / MiB).toFixed(0)} MiB each way`] : []), ...(echoes ? [`${options.warmupS}s of echo`] : [])];
  console.log(`warming up (${warmUps.join(', ')} per target):`);
  for (const entry of [...live]) {
    try {
      for (const direction of directions) await measure(entry, [direction, warmBytes], bulkLimitS(warmBytes), shared);
      if (echoes) await measure(entry, echoArgs(options.warmupS), options.warmupS + 20, shared);
    } catch (error) {
      drop(entry, `warm-up: ${(error as Error).message}`);
    }
  }

  for (let round = 0; round < options.rounds; round++) {
    const tag = `round ${round + 1}/${options.rounds}`;
    for (const direction of directions) {
      for (const entry of rotate(live, round)) {
        if (!live.includes(entry) || !stillRunning(entry)) continue;
        try {
          const run = await measure(entry, [direction, options.bytes], bulkLimitS(options.bytes), shared);
          const result = run.result as BulkResult;
          const mibPerS = result.bytes / MiB / result.seconds;
          bulk.push({ target: entry.target.name, direction, mibPerS, rssKiB: run.rssKiB, cpu: run.cpu });
          console.log(`${tag}  ${direction.padEnd(8)}  ${describeRun(entry.target.name, `${mibPerS.toFixed(0).padStart(6)} MiB/s`, run.rssKiB, run.cpu)}`);
        } catch (error) {
          drop(entry, (error as Error).message);
        }
      }
    }
    if (!echoes) continue;
    for (const entry of rotate(live, round)) {
      if (!live.includes(entry) || !stillRunning(entry)) continue;
      try {
        const run = await measure(entry, echoArgs(options.durationS), options.durationS + 20, shared);
        const result = run.result as EchoResult;
        echo.push({ target: entry.target.name, result, rssKiB: run.rssKiB, cpu: run.cpu });
        const what =
          `${Math.round(result.roundTrips / result.seconds).toString().padStart(7)} round trips/s` +
          `  p50 ${result.p50Ms.toFixed(3)} ms  p99 ${result.p99Ms.toFixed(3)} ms` +
          (result.errors === 0 ? '' : `  ERRORS: ${result.errors}`);
        console.log(`${tag}  echo      ${describeRun(entry.target.name, what, run.rssKiB, run.cpu)}`);
      } catch (error) {
        drop(entry, (error as Error).message);
      }
    }
  }
  for (const entry of live) if (entry.running.launched !== undefined) await stop(entry.running.launched);
  return { bulk, echo };
}

/** Scenario c: every round starts each proxy afresh, so each measures from the same state. */
async function runIdle(
  targets: readonly L4Target[],
  count: number,
  options: L4Options,
  shared: Shared,
  failures: Map<string, string>,
): Promise<IdleSample[]> {
  const samples: IdleSample[] = [];
  let proxies = targets.filter((t) => t.name !== 'direct');
  for (let round = 0; round < options.rounds; round++) {
    for (const target of rotate(proxies, round)) {
      if (!proxies.includes(target)) continue;
      let running: L4Running | undefined;
      try {
        running = await startTarget(target, shared, count + IDLE_HEADROOM);
        if (running.measuredPid === undefined) throw new Error('no process to measure');
        const memory = await measureIdle(running.measuredPid, running.port, count);
        samples.push({ target: target.name, memory });
        const growth = memory.heldKiB - memory.beforeKiB;
        console.log(
          `round ${round + 1}/${options.rounds}  idle      ${target.name.padEnd(8)}` +
            `rss ${(memory.beforeKiB / 1024).toFixed(1)} → ${(memory.heldKiB / 1024).toFixed(1)} MiB holding ${count}` +
            `  (+${(growth / 1024).toFixed(1)} MiB, ${(growth / count).toFixed(2)} KiB per connection)` +
            `  after close ${(memory.closedKiB / 1024).toFixed(1)} MiB`,
        );
      } catch (error) {
        failures.set(target.name, (error as Error).message);
        proxies = proxies.filter((t) => t !== target);
        console.log(`  ${target.name} FAILED: ${(error as Error).message}`);
      } finally {
        if (running?.launched !== undefined) await stop(running.launched);
      }
    }
  }
  return samples;
}

async function main(options: L4Options, dir: string): Promise<void> {
  const targets = selectTargets(options.targets);
  const cpus = planCpus(options.pin);
  const idle = options.scenarios.includes('c');
  let idleCount = options.idleConnections;
  const needed = [
    ...(targets.some((t) => t.name === 'haproxy') ? ['haproxy'] : []),
    ...(cpus.proxy ? ['taskset'] : []),
    ...(idle ? ['prlimit'] : []),
  ];
  const binaries = ensureBinaries(needed);
  const node = nodeBinary();
  const machine = describeMachine(binaries, node);
  console.log(`machine: ${machine.nproc} cores, ${machine.cpuModel}; ${Object.entries(machine.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`pinning: ${cpus.description}`);
  if (idle) {
    idleCount = fitOpenFiles(options.idleConnections, binaries.prlimit);
    if (idleCount < options.idleConnections) {
      console.log(
        `WARNING: ${options.idleConnections} idle connections need a higher open-files limit than this process's ` +
          `(hard limit, not raisable here); holding ${idleCount} instead. Raise it (\`ulimit -Hn\`, as root with ` +
          'CAP_SYS_RESOURCE) to measure the full count.',
      );
    }
    if (idleCount < 1) throw new Error('the open-files limit leaves no room for idle connections');
  }
  const settings = [
    ...(options.scenarios.includes('a') ? [`bulk ${(options.bytes / MiB).toFixed(0)} MiB per stream in 1 MiB writes`] : []),
    ...(options.scenarios.includes('b') ? [`echo ${options.connections} connections × ${options.messageBytes}-byte messages for ${options.durationS}s`] : []),
    ...(idle ? [`idle ${idleCount} connections, each proxy started afresh`] : []),
  ].join('; ') + `; ${options.rounds} round(s), medians`;
  console.log(`load: ${settings}`);

  // The harness's own bits of work (spawning, reading /proc, the idle sockets) stay off the proxy's core too.
  if (cpus.load !== undefined) pinSelf(cpus.load);
  const peerPort = await freePort();
  const peer = launch('peer', node, [`${ROOT}/bench/l4/peer.ts`, String(peerPort)], `${dir}/peer.log`, cpus.load);
  await waitForListening(peerPort, peer, 10_000);
  await checkThrough(peerPort);
  console.log(`peer: bench/l4/peer.ts on port ${peerPort}`);
  const shared: Shared = { dir, cpus, node, binaries, peer, peerPort };

  const failures = new Map<string, string>();
  const traffic = options.scenarios.some((s) => s !== 'c') ? await runTraffic(targets, options, shared, failures) : { bulk: [], echo: [] };
  const idleSamples = idle ? await runIdle(targets, idleCount, options, shared, failures) : [];

  const names = targets.map((t) => t.name);
  const bytes = options.bytes >= 1024 * MiB ? `${options.bytes / (1024 * MiB)} GiB` : `${(options.bytes / MiB).toFixed(0)} MiB`;
  const tables = new Map<string, string>();
  if (options.scenarios.includes('a')) {
    tables.set(`(a) Bulk upload: ${bytes}, load → proxy → sink`, renderBulk(names, 'upload', traffic.bulk, failures));
    tables.set(`(a) Bulk download: ${bytes}, source → proxy → load`, renderBulk(names, 'download', traffic.bulk, failures));
  }
  if (options.scenarios.includes('b')) {
    tables.set(`(b) Echo: ${options.connections} connections, ${options.messageBytes}-byte messages`, renderEcho(names, traffic.echo, failures));
  }
  if (idle) {
    const proxies = names.filter((name) => name !== 'direct');
    tables.set(`(c) ${idleCount.toLocaleString('en-US')} idle connections`, renderIdle(proxies, idleCount, idleSamples, failures));
  }
  console.log('');
  for (const [heading, table] of tables) console.log(`${heading}, medians of ${options.rounds} round(s)\n${table}\n`);
  console.log(`pinning: ${cpus.description}`);

  // Results still print when a target failed, but the exit status says the comparison is incomplete.
  if (failures.size > 0) process.exitCode = 1;

  if (options.writeDocs) {
    const command = ['npm run bench:l4', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
    writeResults(`${ROOT}/docs/benchmarks.md`, { date: new Date(), command, machine, pinning: cpus.description, settings, tables }, 'l4', 'L4 results');
    console.log('wrote docs/benchmarks.md');
  }
}

startBench('bench-l4', USAGE, readOptions, main);
