// `--write-docs`: replaces one results section of docs/benchmarks.md (between its two markers, `results` for
// `npm run bench`, `l4` for `npm run bench:l4`) with this run's tables, the command that produced them and the
// machine they came from. The rest of the page is kept.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Machine } from './system.ts';

const start = (name: string): string => `<!-- bench:${name}:start -->`;
const end = (name: string): string => `<!-- bench:${name}:end -->`;

export interface Results {
  readonly date: Date;
  readonly command: string;
  readonly machine: Machine;
  readonly pinning: string;
  readonly settings: string;
  /** Heading → rendered table (and any lines under it). */
  readonly tables: ReadonlyMap<string, string>;
}

function section(results: Results, name: string): string {
  const { machine } = results;
  const versions = Object.entries(machine.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  const lines = [
    start(name),
    `Measured ${results.date.toISOString().slice(0, 10)} with \`${results.command}\`.`,
    '',
    `- Machine: ${machine.nproc} cores (nproc), ${machine.cpuModel}, ${machine.kernel}`,
    `- Versions: ${versions}`,
    `- CPU pinning: ${results.pinning}`,
    `- Load: ${results.settings}`,
  ];
  for (const [body, table] of results.tables) lines.push('', `### ${body}`, '', table);
  lines.push(end(name));
  return lines.join('\n');
}

/** `name` picks the markers; a page without them gets the section appended under `## heading`. */
export function writeResults(path: string, results: Results, name = 'results', heading = 'Results'): void {
  const page = readFileSync(path, 'utf8');
  const from = page.indexOf(start(name));
  const to = page.indexOf(end(name));
  const next =
    from === -1 || to < from
      ? `${page.trimEnd()}\n\n## ${heading}\n\n${section(results, name)}\n`
      : page.slice(0, from) + section(results, name) + page.slice(to + end(name).length);
  writeFileSync(path, next);
}
