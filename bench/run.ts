// `npm run bench`: wrk against Fulcrum, HAProxy, NGINX, three Node.js proxies and the backends directly,
// in interleaved rounds (order rotated each round) so drift on the machine spreads over every target.
// With --protocols, also over TLS (wrk) and HTTP/2 (h2load), each protocol on its own instance of a target.
// A target that fails to start or to answer is reported and left out; the others still run.
// Flow: options → binaries → certificate → backends → start + check + warm up each target → rounds → tables.
import { LARGE_BODY_BYTES, SMALL_BODY, startBackends } from './backends.ts';
import { snapshot, usage } from './cpu.ts';
import { writeResults } from './docs.ts';
import { runH2load } from './h2load.ts';
import { startBench } from './lifecycle.ts';
import { freePort, probe } from './net.ts';
import { readOptions, USAGE, type BenchOptions } from './options.ts';
import { childrenOf, peakRssKiB, resetPeakRss } from './processes.ts';
import { PROTOCOL_INFO, usesTls, type Protocol } from './protocols.ts';
import { isDisturbed, renderTable, summarize, type Sample } from './report.ts';
import { describeMachine, ensureBinaries, nodeBinary, pinSelf, planCpus, ROOT, type CpuPlan } from './system.ts';
import { direct, fulcrum, haproxy, nginx, nodeProxy, type RunningTarget, type Target, type Upstream } from './targets/index.ts';
import { makeCertificate, type TlsFiles } from './tls.ts';
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

/** One table: a protocol and a body. Plain HTTP/1.1 tables keep the body's label as their name. */
interface Case {
  readonly protocol: Protocol;
  readonly body: Body;
  readonly label: string;
}

function casesOf(protocols: readonly Protocol[]): Case[] {
  return protocols.flatMap((protocol) =>
    BODIES.map((body) => {
      const prefix = PROTOCOL_INFO[protocol].label;
      return { protocol, body, label: prefix === '' ? body.label : `${prefix}, ${body.label}` };
    }),
  );
}

function selectTargets(only: readonly string[] | undefined): Target[] {
  if (only === undefined) return [...TARGETS];
  const unknown = only.filter((name) => !TARGETS.some((t) => t.name === name));
  if (unknown.length > 0) throw new Error(`unknown target(s) ${unknown.join(', ')}; known: ${TARGETS.map((t) => t.name).join(', ')}`);
  return TARGETS.filter((t) => only.includes(t.name));
}

/** One GET per body on a fresh connection: right status and length, or the target is failed before load. */
async function check(origin: string, protocol: Protocol = 'http'): Promise<void> {
  for (const body of BODIES) {
    const answer = await probe(origin + body.path, 5000, PROTOCOL_INFO[protocol].http2);
    if (answer.status !== 200 || answer.bytes !== body.bytes) {
      throw new Error(`GET ${body.path} answered ${answer.status} with ${answer.bytes} bytes, want 200 with ${body.bytes}`);
    }
  }
}

interface Live {
  readonly target: Target;
  readonly protocol: Protocol;
  readonly running: RunningTarget;
  /** The target's name, with the protocol for the others than http: logs and messages. */
  readonly instance: string;
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
  readonly tls: TlsFiles | undefined;
  readonly backendOrigins: Partial<Record<Protocol, string>>;
}

/** Failure reasons per protocol, then per target name. */
type Failures = Map<Protocol, Map<string, string>>;

function fail(failures: Failures, protocol: Protocol, target: string, reason: string): void {
  const map = failures.get(protocol) ?? new Map<string, string>();
  map.set(target, reason);
  failures.set(protocol, map);
}

async function startAll(targets: readonly Target[], protocols: readonly Protocol[], shared: Shared, failures: Failures): Promise<Live[]> {
  const live: Live[] = [];
  for (const protocol of protocols) {
    for (const target of targets.filter((t) => t.protocols.includes(protocol))) {
      const instance = protocol === 'http' ? target.name : `${target.name} ${protocol}`;
      try {
        const context = { ...shared, port: await freePort(), cpus: shared.cpus.proxy, root: ROOT, protocol };
        const running = await target.start(context);
        await check(running.url, protocol);
        live.push({ target, protocol, running, instance });
        console.log(`  ${instance.padEnd(17)} ready at ${running.url}`);
      } catch (error) {
        fail(failures, protocol, target.name, (error as Error).message);
        console.log(`  ${instance.padEnd(17)} FAILED: ${(error as Error).message}`);
      }
    }
  }
  return live;
}

/** One wrk (h2load for HTTP/2) run; the target's peak RSS is reset before it, so the peak read after belongs to this run. */
async function measure(live: Live, item: Case, durationS: number, options: BenchOptions, shared: Shared): Promise<Sample> {
  const pid = live.running.measuredPid;
  if (pid !== undefined) resetPeakRss(pid);
  const watched = { proxyPid: pid, backendPid: shared.backendPid, proxyCore: shared.cpus.proxy, loadCores: shared.cpus.load };
  const before = snapshot(watched);
  const load = {
    url: live.running.url + item.body.path,
    connections: options.connections,
    durationS,
    cpus: shared.cpus.load,
    logPath: `${shared.dir}/load-${live.instance.replace(' ', '-')}.log`,
  };
  const result = PROTOCOL_INFO[live.protocol].http2 ? await runH2load({ ...load, streams: options.h2Streams }) : await runWrk(load);
  const cpu = usage(before, snapshot(watched));
  const rssKiB = pid === undefined ? undefined : peakRssKiB(pid);
  return { target: live.target.name, body: item.label, result, rssKiB, cpu };
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
  const { protocols } = options;
  const tlsNeeded = protocols.some(usesTls);
  const http2Needed = protocols.some((p) => PROTOCOL_INFO[p].http2);
  const cpus = planCpus(options.pin);
  const needed = [
    'wrk',
    'nginx',
    ...(targets.some((t) => t.name === 'haproxy') ? ['haproxy'] : []),
    ...(cpus.proxy ? ['taskset'] : []),
    ...(tlsNeeded ? ['openssl'] : []),
    ...(http2Needed ? ['h2load'] : []),
  ];
  const binaries = ensureBinaries(needed);
  const node = nodeBinary();
  const machine = describeMachine(binaries, node);
  console.log(`machine: ${machine.nproc} cores, ${machine.cpuModel}; ${Object.entries(machine.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`pinning: ${cpus.description}`);
  const h2Clients = Math.max(1, Math.round(options.connections / options.h2Streams));
  const settings =
    `wrk -t1 -c${options.connections} -d${options.durationS}s --latency, keep-alive` +
    (http2Needed ? `; HTTP/2: h2load -t1 -c${h2Clients} -m${options.h2Streams} -D ${options.durationS}` : '') +
    (tlsNeeded ? '; TLS: self-signed ECDSA P-256 certificate, versions and ciphers as negotiated by default' : '') +
    `; ${options.rounds} round(s), medians`;
  console.log(`load: ${settings}`);

  // The harness's own bits of work (spawning, reading /proc) stay off the proxy's core too.
  if (cpus.load !== undefined) pinSelf(cpus.load);
  const tls = tlsNeeded ? makeCertificate(dir, binaries.openssl) : undefined;
  const backends = await startBackends(dir, binaries.nginx, cpus.load, protocols, tls);
  for (const upstream of backends.upstreams) await check(`http://${upstream.host}:${upstream.port}`);
  console.log(`backends: nginx on ports ${backends.upstreams.map((u) => u.port).join(', ')}`);

  const failures: Failures = new Map();
  const backendWorkers = childrenOf(backends.launched.pid);
  const backendPid = backendWorkers.length === 1 ? backendWorkers[0] : undefined;
  const shared: Shared = { dir, upstreams: backends.upstreams, cpus, binaries, node, backendPid, tls, backendOrigins: backends.origins };
  console.log('starting targets:');
  let live = await startAll(targets, protocols, shared, failures);
  const cases = casesOf(protocols);

  const drop = (entry: Live, reason: string): void => {
    fail(failures, entry.protocol, entry.target.name, reason);
    live = live.filter((l) => l !== entry);
    console.log(`  ${entry.instance} FAILED: ${reason}`);
  };
  const stillRunning = (entry: Live): boolean => {
    const ended = entry.running.launched?.exitReason;
    if (ended !== undefined) drop(entry, `process ended (${ended})`);
    return ended === undefined;
  };

  console.log(`warming up (${options.warmupS}s per target, protocol and body):`);
  for (const entry of [...live]) {
    for (const item of cases.filter((c) => c.protocol === entry.protocol)) {
      if (!stillRunning(entry)) break;
      try {
        await measure(entry, item, options.warmupS, options, shared);
      } catch (error) {
        drop(entry, `warm-up: ${(error as Error).message}`);
        break;
      }
    }
  }

  const samples: Sample[] = [];
  for (let round = 0; round < options.rounds; round++) {
    for (const item of cases) {
      for (const entry of rotate(live.filter((l) => l.protocol === item.protocol), round)) {
        if (!live.includes(entry) || !stillRunning(entry)) continue;
        try {
          const sample = await measure(entry, item, options.durationS, options, shared);
          samples.push(sample);
          console.log(`round ${round + 1}/${options.rounds}  ${item.protocol.padEnd(5)} ${item.body.path.padEnd(4)}  ${describeSample(sample)}`);
        } catch (error) {
          drop(entry, (error as Error).message);
        }
      }
    }
  }

  const tables = new Map(
    cases.map((item) => {
      const names = targets.filter((t) => t.protocols.includes(item.protocol)).map((t) => t.name);
      const reasons = failures.get(item.protocol) ?? new Map<string, string>();
      return [item.label, renderTable(summarize(names, item.label, samples, reasons))];
    }),
  );
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

startBench('bench', USAGE, readOptions, main);
