// The L4 runs as one Markdown table per scenario: medians over rounds, ratios against HAProxy, and a line per
// table saying whether Fulcrum meets its goal (bulk ≥ 0.9× HAProxy, echo ≥ 0.8×, idle growth ≤ 60 MB per
// 10,000 connections).
import type { CpuUsage } from '../cpu.ts';
import { DISTURBED_PCT, isDisturbed, median, REFERENCE } from '../report.ts';
import type { IdleMemory } from './idle.ts';
import type { EchoResult } from './run-load.ts';

export type Direction = 'upload' | 'download';

export interface BulkSample {
  readonly target: string;
  readonly direction: Direction;
  readonly mibPerS: number;
  readonly rssKiB: number | undefined;
  readonly cpu: CpuUsage;
}

export interface EchoSample {
  readonly target: string;
  readonly result: EchoResult;
  readonly rssKiB: number | undefined;
  readonly cpu: CpuUsage;
}

export interface IdleSample {
  readonly target: string;
  readonly memory: IdleMemory;
}

export const GOALS = { bulk: 0.9, echo: 0.8, idleBytesPer10k: 60e6 } as const;
const SUBJECT = 'fulcrum';

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const ms = (value: number): string => `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
const mib = (kib: number | undefined): string => (kib === undefined ? '—' : `${(kib / 1024).toFixed(1)} MiB`);
const pct = (values: readonly (number | undefined)[]): string => {
  const known = values.filter((v) => v !== undefined);
  return known.length === 0 ? '—' : `${median(known).toFixed(0)}%`;
};
const peak = (values: readonly (number | undefined)[]): number | undefined => {
  const known = values.filter((v) => v !== undefined);
  return known.length === 0 ? undefined : Math.max(...known);
};
const ratio = (value: number | undefined, reference: number | undefined): string =>
  value === undefined || reference === undefined || reference === 0 ? '—' : `${(value / reference).toFixed(2)}×`;

/** Markdown with the first and last columns left-aligned, numbers right-aligned. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const lines = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...lines.map((line) => line[column].length)));
  const left = (column: number): boolean => column === 0 || column === header.length - 1;
  const format = (line: readonly string[]): string =>
    `| ${line.map((cell, column) => (left(column) ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join(' | ')} |`;
  const rule = `|${widths.map((width, column) => (left(column) ? `:${'-'.repeat(width + 1)}` : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  return [format(header), rule, ...rows.map(format)].join('\n');
}

function failedRow(target: string, columns: number, failure: string | undefined): string[] {
  const reason = (failure ?? 'no completed run').split('\n')[0].replaceAll('|', '/');
  return [target, 'failed', ...Array<string>(columns - 3).fill('—'), reason.length > 70 ? `${reason.slice(0, 67)}…` : reason];
}

function disturbedNote(runs: ReadonlyMap<string, readonly { cpu: CpuUsage }[]>): string[] {
  const noted = [...runs].filter(([, samples]) => samples.some((s) => isDisturbed(s.cpu)));
  if (noted.length === 0) return [];
  const list = noted.map(([target, samples]) => `${target} ${samples.filter((s) => isDisturbed(s.cpu)).length}/${samples.length}`);
  return ['', `Runs disturbed by other processes (>${DISTURBED_PCT}% of a core): ${list.join(', ')}.`];
}

function verdict(what: string, value: number | undefined, goal: string, met: boolean | undefined): string {
  if (value === undefined || met === undefined) return `Goal: ${what} ${goal}: not measured in this run.`;
  return `Goal: ${what} ${goal}: ${met ? 'met' : 'NOT met'}.`;
}

function byTarget<T extends { target: string }>(targets: readonly string[], samples: readonly T[]): Map<string, T[]> {
  return new Map(targets.map((target) => [target, samples.filter((s) => s.target === target)]));
}

export function renderBulk(targets: readonly string[], direction: Direction, all: readonly BulkSample[], failures: ReadonlyMap<string, string>): string {
  const runs = byTarget(targets, all.filter((s) => s.direction === direction));
  const rate = (target: string): number | undefined => {
    const samples = runs.get(target) ?? [];
    return samples.length === 0 ? undefined : median(samples.map((s) => s.mibPerS));
  };
  const reference = rate(REFERENCE);
  const rows = targets.map((target) => {
    const samples = runs.get(target) ?? [];
    if (samples.length === 0) return failedRow(target, 6, failures.get(target));
    const failure = failures.get(target);
    return [
      target,
      integer.format(rate(target) ?? 0),
      mib(peak(samples.map((s) => s.rssKiB))),
      pct(samples.map((s) => s.cpu.processPct)),
      ratio(rate(target), reference),
      failure === undefined ? '' : failure.split('\n')[0],
    ];
  });
  const subject = rate(SUBJECT);
  const met = subject === undefined || reference === undefined ? undefined : subject >= GOALS.bulk * reference;
  return [
    table(['target', 'MiB/s', 'peak RSS', 'CPU', 'MiB/s vs HAProxy', 'failure'], rows),
    ...disturbedNote(runs),
    '',
    verdict('Fulcrum', subject, `≥ ${GOALS.bulk}× HAProxy (${ratio(subject, reference)})`, met),
  ].join('\n');
}

export function renderEcho(targets: readonly string[], all: readonly EchoSample[], failures: ReadonlyMap<string, string>): string {
  const runs = byTarget(targets, all);
  const of = (target: string, pick: (s: EchoSample) => number): number | undefined => {
    const samples = runs.get(target) ?? [];
    return samples.length === 0 ? undefined : median(samples.map(pick));
  };
  const rate = (s: EchoSample): number => s.result.roundTrips / s.result.seconds;
  const reference = { rate: of(REFERENCE, rate), p99: of(REFERENCE, (s) => s.result.p99Ms) };
  const rows = targets.map((target) => {
    const samples = runs.get(target) ?? [];
    if (samples.length === 0) return failedRow(target, 9, failures.get(target));
    const errors = samples.reduce((sum, s) => sum + s.result.errors, 0);
    const failure = failures.get(target);
    return [
      target,
      integer.format(of(target, rate) ?? 0),
      ms(of(target, (s) => s.result.p50Ms) ?? 0),
      ms(of(target, (s) => s.result.p99Ms) ?? 0),
      mib(peak(samples.map((s) => s.rssKiB))),
      pct(samples.map((s) => s.cpu.processPct)),
      ratio(of(target, rate), reference.rate),
      ratio(of(target, (s) => s.result.p99Ms), reference.p99),
      `${errors}${failure === undefined ? '' : `; ${failure.split('\n')[0]}`}`,
    ];
  });
  const subject = of(SUBJECT, rate);
  const met = subject === undefined || reference.rate === undefined ? undefined : subject >= GOALS.echo * reference.rate;
  return [
    table(['target', 'round trips/s', 'p50', 'p99', 'peak RSS', 'CPU', 'round trips/s vs HAProxy', 'p99 vs HAProxy', 'errors'], rows),
    ...disturbedNote(runs),
    '',
    verdict('Fulcrum', subject, `≥ ${GOALS.echo}× HAProxy's round trips/s (${ratio(subject, reference.rate)})`, met),
  ].join('\n');
}

export function renderIdle(targets: readonly string[], count: number, all: readonly IdleSample[], failures: ReadonlyMap<string, string>): string {
  const runs = byTarget(targets, all);
  const of = (target: string, pick: (m: IdleMemory) => number): number | undefined => {
    const samples = runs.get(target) ?? [];
    return samples.length === 0 ? undefined : median(samples.map((s) => pick(s.memory)));
  };
  const growth = (m: IdleMemory): number => m.heldKiB - m.beforeKiB;
  const reference = of(REFERENCE, growth);
  const rows = targets.map((target) => {
    const samples = runs.get(target) ?? [];
    if (samples.length === 0) return failedRow(target, 7, failures.get(target));
    const grown = of(target, growth) ?? 0;
    const failure = failures.get(target);
    return [
      target,
      mib(of(target, (m) => m.beforeKiB)),
      mib(of(target, (m) => m.heldKiB)),
      mib(grown),
      `${(grown / count).toFixed(2)} KiB`,
      mib(of(target, (m) => m.closedKiB)),
      ratio(grown, reference),
      failure === undefined ? '' : failure.split('\n')[0],
    ];
  });
  const subject = of(SUBJECT, growth);
  const goalBytes = (GOALS.idleBytesPer10k * count) / 10_000;
  const goal = `RSS growth ≤ ${(goalBytes / 1e6).toFixed(goalBytes < 10e6 ? 1 : 0)} MB (60 MB per 10,000 connections${count === 10_000 ? '' : ', scaled'})`;
  const met = subject === undefined ? undefined : subject * 1024 <= goalBytes;
  return [
    table(['target', 'RSS before', `RSS holding ${integer.format(count)}`, 'growth', 'per connection', 'RSS after close', 'growth vs HAProxy', 'failure'], rows),
    '',
    verdict('Fulcrum', subject, `${goal}${subject === undefined ? '' : `, measured ${((subject * 1024) / 1e6).toFixed(1)} MB`}`, met),
  ].join('\n');
}
