// The HTTP runs as one Markdown table: medians over rounds per variant, req/s as a ratio of (a) no rate limit,
// the p99 each limiter adds over (a), and lines saying whether the targets hold: the memory limiter keeps
// ≥ 0.95× the throughput without one; the Redis limiter's added p99 is reported (one round trip per request).
import { DISTURBED_PCT, type Row } from '../report.ts';
import type { VariantName } from './variants.ts';

export const MEMORY_GOAL = 0.95;

const LABELS: Readonly<Record<VariantName, string>> = { none: '(a) none', memory: '(b) memory', redis: '(c) redis' };

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const ms = (value: number): string => `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
const signedMs = (value: number): string => `${value < 0 ? '−' : '+'}${ms(Math.abs(value))}`;

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

const oneLine = (text: string): string => {
  const line = text.split('\n')[0].replaceAll('|', '/');
  return line.length > 70 ? `${line.slice(0, 67)}…` : line;
};

/**
 * `unchecked` holds, per variant, the runs in which the policy did not count every request as admitted (or
 * Redis failed): such a row does not measure what it claims.
 */
export function renderRateLimit(rows: readonly Row[], unchecked: ReadonlyMap<string, number>): string {
  const base = rows.find((row) => row.target === 'none' && row.rounds > 0);
  const body = rows.map((row) => {
    const label = LABELS[row.target as VariantName] ?? row.target;
    if (row.rounds === 0) return [label, 'failed', '—', '—', '—', '—', '—', '—', oneLine(row.failure ?? 'no completed run')];
    const problems = [
      ...(row.errors > 0 ? [`${row.errors} non-2xx or socket`] : []),
      ...((unchecked.get(row.target) ?? 0) > 0 ? [`${unchecked.get(row.target)} run(s) not all checked`] : []),
      ...(row.failure === undefined ? [] : [oneLine(row.failure)]),
    ];
    return [
      label,
      integer.format(row.requestsPerS),
      base === undefined ? '—' : `${(row.requestsPerS / base.requestsPerS).toFixed(2)}×`,
      ms(row.p50Ms),
      ms(row.p99Ms),
      base === undefined || row === base ? '—' : signedMs(row.p99Ms - base.p99Ms),
      row.rssKiB === undefined ? '—' : `${(row.rssKiB / 1024).toFixed(1)} MiB`,
      row.cpuPct === undefined ? '—' : `${row.cpuPct.toFixed(0)}%`,
      problems.length === 0 ? '0' : problems.join('; '),
    ];
  });
  const lines = [table(['variant', 'req/s', 'vs none', 'p50', 'p99', 'p99 added', 'peak RSS', 'CPU', 'errors'], body), ''];
  const memory = rows.find((row) => row.target === 'memory' && row.rounds > 0);
  const redis = rows.find((row) => row.target === 'redis' && row.rounds > 0);
  if (base !== undefined && memory !== undefined) {
    const ratio = memory.requestsPerS / base.requestsPerS;
    const verdict = ratio >= MEMORY_GOAL ? 'meets' : 'misses';
    lines.push(`- Memory limiter: ${ratio.toFixed(2)}× the req/s without one — ${verdict} the target of ≥ ${MEMORY_GOAL}×.`);
  }
  if (base !== undefined && redis !== undefined) {
    lines.push(
      `- Redis limiter: p99 ${signedMs(redis.p99Ms - base.p99Ms)} and p50 ${signedMs(redis.p50Ms - base.p50Ms)} over no limit ` +
        `(one round trip to Redis per request), at ${(redis.requestsPerS / base.requestsPerS).toFixed(2)}× the req/s.`,
    );
  }
  const checked = rows.filter((row) => row.target !== 'none' && row.rounds > 0 && (unchecked.get(row.target) ?? 0) === 0);
  if (checked.length > 0) {
    lines.push(`- Checked: in every run of ${checked.map((row) => LABELS[row.target as VariantName]).join(' and ')}, the policy counted every response as admitted (\`fulcrum_ratelimit_requests_total\`; at most one more per connection, still in flight at the end), none rejected, no Redis failure.`);
  }
  const disturbed = rows.filter((row) => row.disturbed > 0).map((row) => `${LABELS[row.target as VariantName]} ${row.disturbed}/${row.rounds}`);
  if (disturbed.length > 0) lines.push(`- Runs disturbed by other processes (>${DISTURBED_PCT}% of a core): ${disturbed.join(', ')}.`);
  return lines.join('\n');
}
