// Command-line options of `npm run bench`, with their defaults.
import { parseArgs } from 'node:util';

export interface BenchOptions {
  /** Interleaved rounds; each reported number is the median over rounds. Default 3. */
  readonly rounds: number;
  /** Length of one wrk run in seconds. Default 10. */
  readonly durationS: number;
  /** Length of the warm-up run per target and body before the rounds, in seconds. Default 3. */
  readonly warmupS: number;
  /** wrk keep-alive connections. Default 50. */
  readonly connections: number;
  /** Target names to run; undefined runs all. */
  readonly only: readonly string[] | undefined;
  /** Rewrite the results section of docs/benchmarks.md. Default off. */
  readonly writeDocs: boolean;
  /** Pin the proxy to one core and load + backends to the others. Default on when there are ≥ 2 cores. */
  readonly pin: boolean;
}

export const USAGE = `usage: npm run bench -- [--rounds 3] [--duration 10s] [--warmup 3s] [--connections 50]
                        [--only direct,fulcrum,haproxy,nginx,fast-proxy,reply-from,http-proxy]
                        [--no-pin] [--write-docs]`;

/** Whole seconds from "10s", "1m" or "10". */
function seconds(text: string, option: string): number {
  const match = /^(\d+)(s|m)?$/.exec(text);
  if (match === null || Number(match[1]) === 0) throw new Error(`--${option} wants whole seconds like 10s or 1m, got "${text}"`);
  return Number(match[1]) * (match[2] === 'm' ? 60 : 1);
}

function positive(text: string, option: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${option} wants a positive integer, got "${text}"`);
  return n;
}

export function readOptions(argv: readonly string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '10s' },
      warmup: { type: 'string', default: '3s' },
      connections: { type: 'string', default: '50' },
      only: { type: 'string' },
      'write-docs': { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  return {
    rounds: positive(values.rounds, 'rounds'),
    durationS: seconds(values.duration, 'duration'),
    warmupS: seconds(values.warmup, 'warmup'),
    connections: positive(values.connections, 'connections'),
    only: values.only?.split(',').map((name) => name.trim()).filter((name) => name !== ''),
    writeDocs: values['write-docs'],
    pin: !values['no-pin'],
  };
}
