// Start and end of a benchmark harness: a temp folder for configs and logs, and on every way out (normal end,
// thrown error, Ctrl-C, SIGTERM, SIGHUP) every process it started stopped by its PID and the folder removed.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { stopAll } from './processes.ts';

export function runHarness(name: string, body: (dir: string) => Promise<void>): void {
  // Readable by the unprivileged NGINX workers that a root master starts.
  const dir = mkdtempSync(`${os.tmpdir()}/fulcrum-${name}-`);
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
  body(dir)
    .catch((error: unknown) => {
      console.error(`${name} failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    })
    .finally(cleanUp);
}

/** A bench's entry: parse its options (usage and exit 2 on a bad one, usage alone for `--help`), then run it
 *  in a harness with its own temporary folder. */
export function startBench<O>(name: string, usage: string, readOptions: (argv: string[]) => O | 'help', main: (options: O, dir: string) => Promise<void>): void {
  let options: O | 'help';
  try {
    options = readOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
  if (options === 'help') {
    console.log(usage);
    return;
  }
  const chosen = options;
  runHarness(name, (dir) => main(chosen, dir));
}
