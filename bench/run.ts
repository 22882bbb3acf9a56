// `npm run bench`: wrk against Fulcrum, HAProxy, NGINX, three Node.js proxies and the backends directly,
// in interleaved rounds (order rotated each round) so drift on the machine spreads over every target.
// A target that fails to start or to answer is reported and left out; the others still run.
// Flow: options → binaries → backends → start + check + warm up each target → rounds → tables.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { LARGE_BODY_BYTES, SMALL_BODY, startBackends } from './backends.ts';
import { snapshot, usage } from './cpu.ts';
import { writeResults } from './docs.ts';
import { freePort, probe } from './net.ts';
import { readOptions, USAGE, type BenchOptions } from './options.ts';
import { childrenOf, peakRssKiB, resetPeakRss, stopAll } from './processes.ts';
import { isDisturbed, renderTable, summarize, type Sample } from './report.ts';
import { describeMachine, ensureBinaries, pinSelf, planCpus, type CpuPlan } from './system.ts';
import { direct, fulcrum, haproxy, nginx, nodeProxy, type RunningTarget, type Target, type Upstream } from './targets/index.ts';
import { runWrk } from './wrk.ts';

const TARGETS: readonly Target[] = [
  direct,
  fulcrum,
  haproxy,
  nginx,
  nodeProxy('fast-proxy', '`fast-proxy` in undici mode, one undici Pool per backend taken in turn'),
  nodeProxy('reply-from', '`@fastify/reply-from` on fastify, undici BalancedPool over both backends'),
  nodeProxy('http-proxy', '`http-proxy` with a keep-alive `http.Agent`, backends taken in turn'),
];

interface Body {
  readonly label: string;
  readonly path: string;
  readonly bytes: number;
}

const BODIES: readonly Body[] = [
  { label: `${SMALL_BODY.length}-byte body (GET /)`, path: '/', bytes: SMALL_BODY.length },
  { label: '64 KiB body (GET /64k)', path: '/64k', bytes: LARGE_BODY_BYTES },
];

const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

/** The project's Node.js: this one when it is 26 or newer (as under npm), else the `node` package's binary. */
function nodeBinary(): string {
  const major = Number(process.versions.node.split('.')[0]);
  return major >= 26 ? process.execPath : `${ROOT}/node_modules/.bin/node`;
}

function selectTargets(only: readonly string[] | undefined): Target[] {
  if (only === undefined) return [...TARGETS];
  const unknown = only.filter((name) => !TARGETS.some((t) => t.name === name));
  if (unknown.length > 0) throw new Error(`unknown target(s) ${unknown.join(', ')}; known: ${TARGETS.map((t) => t.name).join(', ')}`);
  return TARGETS.filter((t) => only.includes(t.name));
}

/** One GET per body on a fresh connection: right status and length, or the target is failed before load. */
async function check(origin: string): Promise<void> {
  for (const body of BODIES) {
    const answer = await probe(origin + body.path);
    if (answer.status !== 200 || answer.bytes !== body.bytes) {
      throw new Error(`GET ${body.path} answered ${answer.status} with ${answer.bytes} bytes, want 200 with ${body.bytes}`);
    }
  }
}

interface Live {
  readonly target: Target;
  readonly running: RunningTarget;
}

/** What every target and run shares. */
interface Shared {
  readonly dir: string;
  readonly upstreams: readonly Upstream[];
  readonly cpus: CpuPlan;
  readonly binaries: Record<string, string>;
  readonly node: string;
  /** The backends' worker, whose CPU counts as the load side's own. */
  readonly backendPid: number | undefined;
}

async function startAll(targets: readonly Target[], shared: Shared, failures: Map<string, string>): Promise<Live[]> {
  const live: Live[] = [];
  for (const target of targets) {
    try {
      const context = { ...shared, port: await freePort(), cpus: shared.cpus.proxy, root: ROOT };
      const running = await target.start(context);
      await check(running.url);
      live.push({ target, running });
      console.log(`  ${target.name.padEnd(11)} ready at ${running.url}`);
    } catch (error) {
      failures.set(target.name, (error as Error).message);
      console.log(`  ${target.name.padEnd(11)} FAILED: ${(error as Error).message}`);
    }
  }
  return live;
}

/** One wrk run; the target's peak RSS is reset before it, so the peak read after belongs to this run. */
async function measure(live: Live, body: Body, durationS: number, options: BenchOptions, shared: Shared): Promise<Sample> {
  const pid = live.running.measuredPid;
  if (pid !== undefined) resetPeakRss(pid);
  const watched = { proxyPid: pid, backendPid: shared.backendPid, proxyCore: shared.cpus.proxy, loadCores: shared.cpus.load };
  const before = snapshot(watched);
  const result = await runWrk({
    url: live.running.url + body.path,
    connections: options.connections,
    durationS,
    cpus: shared.cpus.load,
    logPath: `${shared.dir}/wrk-${live.target.name}.log`,
  });
  const cpu = usage(before, snapshot(watched));
  const rssKiB = pid === undefined ? undefined : peakRssKiB(pid);
  return { target: live.target.name, body: body.label, result, rssKiB, cpu };
}

function describeSample({ target, result, rssKiB, cpu }: Sample): string {
  const errors = result.non2xx + result.socketErrors;
  return (
    `${target.padEnd(11)}${Math.round(result.requestsPerS).toString().padStart(8)} req/s` +
    `  p50 ${result.p50Ms.toFixed(2)} ms  p99 ${result.p99Ms.toFixed(2)} ms` +
    (rssKiB === undefined ? '' : `  rss ${(rssKiB / 1024).toFixed(1)} MiB`) +
    (cpu.processPct === undefined ? '' : `  cpu ${cpu.processPct.toFixed(0)}%`) +
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

async function main(options: BenchOptions, dir: string): Promise<void> {
  const targets = selectTargets(options.only);
  const cpus = planCpus(options.pin);
  const needed = ['wrk', 'nginx', ...(targets.some((t) => t.name === 'haproxy') ? ['haproxy'] : []), ...(cpus.proxy ? ['taskset'] : [])];
  const binaries = ensureBinaries(needed);
  const node = nodeBinary();
  const machine = describeMachine(binaries, node);
  console.log(`machine: ${machine.nproc} cores, ${machine.cpuModel}; ${Object.entries(machine.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`pinning: ${cpus.description}`);
  const settings = `wrk -t1 -c${options.connections} -d${options.durationS}s --latency, keep-alive; ${options.rounds} round(s), medians`;
  console.log(`load: ${settings}`);

  // The harness's own bits of work (spawning, reading /proc) stay off the proxy's core too.
  if (cpus.load !== undefined) pinSelf(cpus.load);
  const backends = await startBackends(dir, binaries.nginx, cpus.load);
  for (const upstream of backends.upstreams) await check(`http://${upstream.host}:${upstream.port}`);
  console.log(`backends: nginx on ports ${backends.upstreams.map((u) => u.port).join(', ')}`);

  const failures = new Map<string, string>();
  const backendWorkers = childrenOf(backends.launched.pid);
  const backendPid = backendWorkers.length === 1 ? backendWorkers[0] : undefined;
  const shared: Shared = { dir, upstreams: backends.upstreams, cpus, binaries, node, backendPid };
  console.log('starting targets:');
  let live = await startAll(targets, shared, failures);

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

  console.log(`warming up (${options.warmupS}s per target and body):`);
  for (const entry of [...live]) {
    for (const body of BODIES) {
      if (!stillRunning(entry)) break;
      try {
        await measure(entry, body, options.warmupS, options, shared);
      } catch (error) {
        drop(entry, `warm-up: ${(error as Error).message}`);
        break;
      }
    }
  }

  const samples: Sample[] = [];
  for (let round = 0; round < options.rounds; round++) {
    for (const body of BODIES) {
      for (const entry of rotate(live, round)) {
        if (!live.includes(entry) || !stillRunning(entry)) continue;
        try {
          const sample = await measure(entry, body, options.durationS, options, shared);
          samples.push(sample);
          console.log(`round ${round + 1}/${options.rounds}  ${body.path.padEnd(4)}  ${describeSample(sample)}`);
        } catch (error) {
          drop(entry, (error as Error).message);
        }
      }
    }
  }

  const names = targets.map((t) => t.name);
  const tables = new Map(BODIES.map((body) => [body.label, renderTable(summarize(names, body.label, samples, failures))]));
  console.log('');
  for (const [label, table] of tables) console.log(`${label}, medians of ${options.rounds} round(s)\n${table}\n`);
  console.log(`pinning: ${cpus.description}`);

  // Results still print when a target failed, but the exit status says the comparison is incomplete.
  if (failures.size > 0) process.exitCode = 1;

  if (options.writeDocs) {
    const command = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
    writeResults(`${ROOT}/docs/benchmarks.md`, { date: new Date(), command, machine, pinning: cpus.description, settings, tables });
    console.log('wrote docs/benchmarks.md');
  }
}

function start(): void {
  let options: BenchOptions | 'help';
  try {
    options = readOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (options === 'help') {
    console.log(USAGE);
    return;
  }
  // Readable by the unprivileged NGINX workers that a root master starts.
  const dir = mkdtempSync(`${os.tmpdir()}/fulcrum-bench-`);
  chmodSync(dir, 0o755);
  let cleaned = false;
  const cleanUp = (): void => {
    if (cleaned) return;
    cleaned = true;
    stopAll();
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanUp);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.on(signal, () => {
      console.error(`\n${signal}: stopping`);
      cleanUp();
      process.exit(code);
    });
  }
  main(options, dir)
    .catch((error: unknown) => {
      console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    })
    .finally(cleanUp);
}

start();
