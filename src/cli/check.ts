// `fulcrum check FILE` (like `haproxy -c` / `nginx -t`): loads and validates a config without starting
// anything. Exit status 0 when valid, 1 when the config has errors (each printed as file:line:column: path:
// message), 2 when the file cannot be read or the command is misused.
import { readFile } from 'node:fs/promises';
import { ConfigError, formatDiagnostic } from '../control/config/diagnostics.ts';
import { parseConfigText } from '../control/config/load.ts';
import type { Config } from '../control/config/schema.ts';
import { ExitCode } from './exit-codes.ts';

export interface CheckOutput {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

const usage = 'usage: fulcrum check FILE\n';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** One line describing what the config declares. */
export function summarize(config: Config): string {
  const routes = config.listeners.reduce((n, l) => n + ('routes' in l ? l.routes.length : 0), 0);
  const endpoints = config.pools.reduce((n, p) => n + p.endpoints.length, 0);
  return [
    plural(config.listeners.length, 'listener'),
    plural(routes, 'route'),
    plural(config.pools.length, 'pool'),
    plural(endpoints, 'endpoint'),
  ].join(', ');
}

/** `argv` is what follows `check` on the command line. Resolves to the exit status. */
export async function check(argv: string[], out: CheckOutput = process): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h')) {
    out.stdout.write(usage);
    return ExitCode.ok;
  }
  if (argv.length !== 1 || argv[0].startsWith('-')) {
    out.stderr.write(usage);
    return ExitCode.usage;
  }
  const file = argv[0];
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (error as Error).message;
    out.stderr.write(`${file}: cannot read the configuration: ${reason}\n`);
    return ExitCode.usage;
  }
  try {
    const config = parseConfigText(text, file);
    out.stdout.write(`${file}: configuration is valid (${summarize(config)})\n`);
    return ExitCode.ok;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const d of error.diagnostics) out.stderr.write(`${formatDiagnostic(d)}\n`);
    out.stderr.write(`${file}: configuration is invalid (${plural(error.diagnostics.length, 'error')})\n`);
    return ExitCode.invalidConfig;
  }
}
