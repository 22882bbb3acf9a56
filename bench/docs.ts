// `--write-docs`: replaces the results section of docs/benchmarks.md (between the two markers) with this
// run's tables, the command that produced them and the machine they came from. The rest of the page is kept.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Machine } from './system.ts';

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

export interface Results {
  readonly date: Date;
  readonly command: string;
  readonly machine: Machine;
  readonly pinning: string;
  readonly settings: string;
  /** Body label → rendered table. */
  readonly tables: ReadonlyMap<string, string>;
}

function section(results: Results): string {
  const { machine } = results;
  const versions = Object.entries(machine.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  const lines = [
    START,
    `Measured ${results.date.toISOString().slice(0, 10)} with \`${results.command}\`.`,
    '',
    `- Machine: ${machine.nproc} cores (nproc), ${machine.cpuModel}, ${machine.kernel}`,
    `- Versions: ${versions}`,
    `- CPU pinning: ${results.pinning}`,
    `- Load: ${results.settings}`,
  ];
  for (const [body, table] of results.tables) lines.push('', `### ${body}`, '', table);
  lines.push(END);
  return lines.join('\n');
}

export function writeResults(path: string, results: Results): void {
  const page = readFileSync(path, 'utf8');
  const start = page.indexOf(START);
  const end = page.indexOf(END);
  const next =
    start === -1 || end < start
      ? `${page.trimEnd()}\n\n## Results\n\n${section(results)}\n`
      : page.slice(0, start) + section(results) + page.slice(end + END.length);
  writeFileSync(path, next);
}
