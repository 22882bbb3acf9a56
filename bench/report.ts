// Turns the runs into one row per target and body: medians over rounds, the highest peak RSS, error counts,
// and ratios against HAProxy (the reference the project measures itself by). Rendered as a Markdown table,
// which reads the same in a terminal and in docs/benchmarks.md.
import type { CpuUsage } from './cpu.ts';
import type { WrkResult } from './wrk.ts';

export interface Sample {
  readonly target: string;
  readonly body: string;
  readonly result: WrkResult;
  readonly rssKiB: number | undefined;
  readonly cpu: CpuUsage;
}

/** A run in which other processes took more than this share of a core, proxy side or load side, is disturbed. */
export const DISTURBED_PCT = 10;

export function isDisturbed(cpu: CpuUsage): boolean {
  // With no proxy process (direct) the proxy core is unused, so only the load side can be disturbed.
  const proxySide = cpu.processPct !== undefined && (cpu.foreignProxyPct ?? 0) > DISTURBED_PCT;
  return proxySide || (cpu.foreignLoadPct ?? 0) > DISTURBED_PCT;
}

export interface Row {
  readonly target: string;
  readonly failure: string | undefined;
  readonly rounds: number;
  readonly requestsPerS: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly rssKiB: number | undefined;
  readonly cpuPct: number | undefined;
  /** Runs in which other processes took more than DISTURBED_PCT of a core (see isDisturbed). */
  readonly disturbed: number;
  /** Non-2xx/3xx responses plus socket errors, summed over rounds. */
  readonly errors: number;
}

export const REFERENCE = 'haproxy';

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function summarize(
  targets: readonly string[],
  body: string,
  samples: readonly Sample[],
  failures: ReadonlyMap<string, string>,
): Row[] {
  return targets.map((target) => {
    const runs = samples.filter((s) => s.target === target && s.body === body);
    const peaks = runs.map((s) => s.rssKiB).filter((kib) => kib !== undefined);
    const cpus = runs.map((s) => s.cpu.processPct).filter((pct) => pct !== undefined);
    const failure = runs.length === 0 ? (failures.get(target) ?? 'no completed run') : failures.get(target);
    return {
      target,
      failure,
      rounds: runs.length,
      requestsPerS: runs.length === 0 ? 0 : median(runs.map((s) => s.result.requestsPerS)),
      p50Ms: runs.length === 0 ? 0 : median(runs.map((s) => s.result.p50Ms)),
      p99Ms: runs.length === 0 ? 0 : median(runs.map((s) => s.result.p99Ms)),
      rssKiB: peaks.length === 0 ? undefined : Math.max(...peaks),
      cpuPct: cpus.length === 0 ? undefined : median(cpus),
      disturbed: runs.filter((s) => isDisturbed(s.cpu)).length,
      errors: runs.reduce((sum, s) => sum + s.result.non2xx + s.result.socketErrors, 0),
    };
  });
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function ms(value: number): string {
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
}

function ratio(value: number, reference: number | undefined): string {
  return reference === undefined || reference === 0 ? '—' : `${(value / reference).toFixed(2)}×`;
}

export function renderTable(rows: readonly Row[]): string {
  const reference = rows.find((row) => row.target === REFERENCE && row.rounds > 0);
  const lines = [
    ['target', 'req/s', 'p50', 'p99', 'peak RSS', 'CPU', 'req/s vs HAProxy', 'p99 vs HAProxy', 'errors'],
  ];
  for (const row of rows) {
    if (row.rounds === 0) {
      lines.push([row.target, 'failed', '—', '—', '—', '—', '—', '—', shorten(row.failure ?? '')]);
      continue;
    }
    lines.push([
      row.target,
      integer.format(row.requestsPerS),
      ms(row.p50Ms),
      ms(row.p99Ms),
      row.rssKiB === undefined ? '—' : `${(row.rssKiB / 1024).toFixed(1)} MiB`,
      row.cpuPct === undefined ? '—' : `${row.cpuPct.toFixed(0)}%`,
      ratio(row.requestsPerS, reference?.requestsPerS),
      ratio(row.p99Ms, reference?.p99Ms),
      row.errors === 0 && row.failure === undefined ? '0' : shorten(`${row.errors}${row.failure ? `; ${row.failure}` : ''}`),
    ]);
  }
  const widths = lines[0].map((_, column) => Math.max(...lines.map((line) => line[column].length)));
  const format = (line: readonly string[]): string =>
    `| ${line.map((cell, column) => (column === 0 || column === line.length - 1 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join(' | ')} |`;
  const rule = `|${widths.map((width, column) => (column === 0 || column === widths.length - 1 ? ':' : '-') + '-'.repeat(width) + (column === 0 || column === widths.length - 1 ? '-' : ':')).join('|')}|`;
  const disturbed = rows.filter((row) => row.disturbed > 0).map((row) => `${row.target} ${row.disturbed}/${row.rounds}`);
  const note = disturbed.length === 0 ? [] : ['', `Runs disturbed by other processes (>${DISTURBED_PCT}% of a core): ${disturbed.join(', ')}.`];
  return [format(lines[0]), rule, ...lines.slice(1).map(format), ...note].join('\n');
}

/** Table cells hold one line; the full reason is printed when the failure happens. */
function shorten(text: string): string {
  const line = text.split('\n')[0].replaceAll('|', '/');
  return line.length > 70 ? `${line.slice(0, 67)}…` : line;
}
