// `npm test`: (1) make sure the system programs the tests drive are installed, (2) type-check the whole
// project, (3) run every test/**/*.test.ts with the Node test runner. Extra arguments are file filters:
// `npm test -- test/unit` runs only the files under test/unit (a path prefix, or else a substring).
// Exits non-zero when any step fails.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import { delimiter, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Programs the tests run, each with the Debian package that provides it. */
const requiredPrograms: readonly { readonly program: string; readonly debianPackage: string }[] = [
  { program: 'curl', debianPackage: 'curl' },
  // the Redis-backed rate limiter's tests run a real server
  { program: 'redis-server', debianPackage: 'redis-server' },
  // the dashboard's browser test drives Debian's Chromium through playwright-core
  { program: 'chromium', debianPackage: 'chromium' },
  // the L4 tests drive real peers: redis-cli through a tcp listener, HAProxy sending and receiving PROXY
  // headers, dig over a udp listener, openssl s_client through a tls-passthrough listener
  { program: 'redis-cli', debianPackage: 'redis-tools' },
  { program: 'haproxy', debianPackage: 'haproxy' },
  { program: 'dig', debianPackage: 'bind9-dnsutils' },
  { program: 'openssl', debianPackage: 'openssl' },
  // many concurrent HTTP/2 streams from a real load generator
  { program: 'h2load', debianPackage: 'nghttp2-client' },
];

/** Test files run in parallel; the machine this runs on has 2 cores. */
const testConcurrency = 2;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function header(title: string): void {
  const line = '='.repeat(72);
  process.stdout.write(`\n${line}\n== ${title}\n${line}\n`);
}

function onPath(program: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

function run(command: string, args: readonly string[], env?: NodeJS.ProcessEnv): number {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: env ?? process.env });
  if (result.error) {
    process.stderr.write(`cannot run ${command}: ${result.error.message}\n`);
    return 1;
  }
  if (result.signal) {
    process.stderr.write(`${command} was killed by ${result.signal}\n`);
    return 1;
  }
  return result.status ?? 1;
}

function ensureSystemPrograms(): boolean {
  header('system programs');
  const missing = requiredPrograms.filter((p) => !onPath(p.program));
  for (const p of requiredPrograms) {
    process.stdout.write(`${p.program}: ${missing.includes(p) ? 'missing' : 'found'}\n`);
  }
  if (missing.length === 0) return true;
  const packages = [...new Set(missing.map((p) => p.debianPackage))];
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    process.stderr.write(
      `missing programs: ${missing.map((p) => p.program).join(', ')}\n` +
        `install them with: sudo apt-get install -y ${packages.join(' ')}\n`,
    );
    return false;
  }
  process.stdout.write(`installing: ${packages.join(' ')}\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (run('apt-get', ['update'], env) !== 0) return false;
  if (run('apt-get', ['install', '-y', '--no-install-recommends', ...packages], env) !== 0) return false;
  const stillMissing = missing.filter((p) => !onPath(p.program));
  if (stillMissing.length > 0) {
    process.stderr.write(`still missing after install: ${stillMissing.map((p) => p.program).join(', ')}\n`);
    return false;
  }
  return true;
}

function typecheck(): boolean {
  header('type check (tsc --noEmit -p .)');
  const tsc = join(root, 'node_modules', '.bin', 'tsc');
  if (!existsSync(tsc)) {
    process.stderr.write('node_modules/.bin/tsc not found: run `npm ci` first\n');
    return false;
  }
  // Run tsc's script with this Node rather than whatever `node` the shebang finds first.
  const ok = run(process.execPath, [tsc, '--noEmit', '-p', '.']) === 0;
  process.stdout.write(ok ? 'no type errors\n' : '');
  return ok;
}

/** Every `*.test.ts` under `dir`, as root-relative paths with `/` separators, sorted. */
function findTestFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && entry.name.endsWith('.test.ts')) found.push(relative(root, full).split(sep).join('/'));
    }
  };
  if (existsSync(dir)) walk(dir);
  return found.sort();
}

/** Keeps the files each filter selects: a path prefix (file or folder) when it names one, else a substring. */
function applyFilters(files: readonly string[], filters: readonly string[]): string[] {
  if (filters.length === 0) return [...files];
  const selected = new Set<string>();
  for (const filter of filters) {
    const absolute = resolve(process.cwd(), filter);
    const asPath = relative(root, absolute).split(sep).join('/').replace(/\/+$/, '');
    const isPath = existsSync(absolute) && !asPath.startsWith('..');
    const isDir = isPath && statSync(absolute).isDirectory();
    for (const f of files) {
      const hit = isPath ? (isDir ? asPath === '' || f.startsWith(`${asPath}/`) : f === asPath) : f.includes(filter);
      if (hit) selected.add(f);
    }
  }
  return files.filter((f) => selected.has(f));
}

function runTests(filters: readonly string[]): boolean {
  const all = findTestFiles(join(root, 'test'));
  const files = applyFilters(all, filters);
  header(`tests (${files.length} file${files.length === 1 ? '' : 's'}${filters.length ? `, filter: ${filters.join(' ')}` : ''})`);
  if (files.length === 0) {
    process.stderr.write(`no test files match${filters.length ? ` ${filters.join(' ')}` : ' test/**/*.test.ts'}\n`);
    return false;
  }
  const args = ['--test', `--test-concurrency=${testConcurrency}`, '--test-reporter=spec', ...files];
  return run(process.execPath, args) === 0;
}

function main(): number {
  const filters = process.argv.slice(2);
  const steps: [string, () => boolean][] = [
    ['system programs', ensureSystemPrograms],
    ['type check', typecheck],
    ['tests', () => runTests(filters)],
  ];
  for (const [name, step] of steps) {
    if (!step()) {
      header(`FAILED: ${name}`);
      return 1;
    }
  }
  header('all steps passed');
  return 0;
}

process.exitCode = main();
