// What the harness needs from the machine: the load and proxy binaries (installed from Debian when
// running as root), the cores to pin to, and a description of the machine for the results.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const DEBIAN_PACKAGE: Record<string, string> = {
  wrk: 'wrk',
  haproxy: 'haproxy',
  nginx: 'nginx',
  taskset: 'util-linux',
  prlimit: 'util-linux',
  h2load: 'nghttp2-client',
  openssl: 'openssl',
};

/** The repository root. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

/** The project's Node.js: this one when it is 26 or newer (as under npm), else the `node` package's binary. */
export function nodeBinary(): string {
  const major = Number(process.versions.node.split('.')[0]);
  return major >= 26 ? process.execPath : `${ROOT}/node_modules/.bin/node`;
}

/** Absolute path of `name`, looking past a PATH that lacks the sbin folders. */
export function findBinary(name: string): string | undefined {
  const folders = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  return folders
    .filter((folder) => folder.startsWith('/'))
    .map((folder) => `${folder}/${name}`)
    .find((path) => existsSync(path));
}

/** Installs the Debian packages for missing binaries when root; otherwise stops with their names. */
export function ensureBinaries(names: readonly string[]): Record<string, string> {
  const missing = names.filter((name) => findBinary(name) === undefined);
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((name) => DEBIAN_PACKAGE[name] ?? name))];
    if (process.getuid?.() !== 0) {
      throw new Error(`missing ${missing.join(', ')}: install the Debian packages ${packages.join(' ')} (apt-get install ${packages.join(' ')})`);
    }
    console.log(`installing ${packages.join(' ')} with apt-get …`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [['update', '-qq'], ['install', '-y', '-qq', ...packages]]) {
      const result = spawnSync('apt-get', args, { stdio: 'inherit', env });
      if (result.status !== 0) throw new Error(`apt-get ${args[0]} failed (exit ${result.status})`);
    }
  }
  const paths: Record<string, string> = {};
  for (const name of names) {
    const path = findBinary(name);
    if (path === undefined) throw new Error(`${name} is still missing after installing`);
    paths[name] = path;
  }
  return paths;
}

export interface CpuPlan {
  /** The core the proxy under test runs on; undefined when not pinning. */
  readonly proxy: string | undefined;
  /** The cores wrk and the backends share; undefined when not pinning. */
  readonly load: string | undefined;
  readonly description: string;
}

/** The cores this process may use, from Cpus_allowed_list ("0-3,6"). */
function allowedCpus(): number[] {
  const match = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'latin1'));
  if (match === null) return [];
  return match[1].split(',').flatMap((range) => {
    const [from, to = from] = range.split('-').map(Number);
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}

/**
 * The proxy gets the last allowed core to itself; wrk and the backends share the rest. Every target
 * gets the same core, so they compete on equal terms; `direct` then measures what the load side alone can do.
 */
export function planCpus(pin: boolean): CpuPlan {
  const cpus = allowedCpus();
  if (!pin || cpus.length < 2) {
    const why = pin ? 'fewer than 2 cores' : '--no-pin';
    return { proxy: undefined, load: undefined, description: `not pinned (${why}): all processes share ${cpus.length} core(s)` };
  }
  const proxy = String(cpus[cpus.length - 1]);
  const load = cpus.slice(0, -1).join(',');
  return { proxy, load, description: `proxy on core ${proxy}; load generator and backends on core(s) ${load}` };
}

/** Moves this process and all its threads onto `cores`. */
export function pinSelf(cores: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cores, String(process.pid)], { stdio: 'ignore' });
}

export interface Machine {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly kernel: string;
  readonly versions: Readonly<Record<string, string>>;
}

function firstLine(command: string, args: readonly string[]): string {
  try {
    const result = spawnSync(command, args, { encoding: 'utf8' });
    return `${result.stdout}${result.stderr}`.trim().split('\n')[0] ?? '?';
  } catch {
    return '?';
  }
}

export function describeMachine(binaries: Readonly<Record<string, string>>, node: string): Machine {
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'latin1'))?.[1] ?? 'unknown';
  const versions: Record<string, string> = { node: execFileSync(node, ['--version'], { encoding: 'utf8' }).trim() };
  if (binaries.wrk) versions.wrk = /wrk (\S+)/.exec(firstLine(binaries.wrk, ['--version']))?.[1] ?? '?';
  if (binaries.haproxy) versions.haproxy = /version (\S+)/.exec(firstLine(binaries.haproxy, ['-v']))?.[1] ?? '?';
  if (binaries.nginx) versions.nginx = /nginx\/(\S+)/.exec(firstLine(binaries.nginx, ['-v']))?.[1] ?? '?';
  if (binaries.h2load) versions.h2load = /nghttp2\/(\S+)/.exec(firstLine(binaries.h2load, ['--version']))?.[1] ?? '?';
  if (binaries.openssl) versions.openssl = /OpenSSL (\S+)/.exec(firstLine(binaries.openssl, ['version']))?.[1] ?? '?';
  return { nproc: os.availableParallelism(), cpuModel, kernel: `${os.type()} ${os.release()}`, versions };
}
