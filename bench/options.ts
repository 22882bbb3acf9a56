// Command-line options of `npm run bench`, with their defaults.
import { parseArgs } from 'node:util';
import { PROTOCOLS, type Protocol } from './protocols.ts';

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
  /** Client protocols to load each target with (those it supports). Default http only. */
  readonly protocols: readonly Protocol[];
  /** HTTP/2 rows: concurrent streams per connection; connections / streams connections. Default 10. */
  readonly h2Streams: number;
  /** Rewrite the results section of docs/benchmarks.md. Default off. */
  readonly writeDocs: boolean;
  /** Pin the proxy to one core and load + backends to the others. Default on when there are ≥ 2 cores. */
  readonly pin: boolean;
}

export const USAGE = `usage: npm run bench -- [--rounds 3] [--duration 10s] [--warmup 3s] [--connections 50]
                        [--only direct,fulcrum,haproxy,nginx,fast-proxy,reply-from,http-proxy]
                        [--protocols http,https,h2c,h2 | all] [--h2-streams 10] [--no-pin] [--write-docs]
  --protocols: http (wrk), https (wrk over TLS), h2c and h2 (h2load; HTTP/2 cleartext and over TLS);
  TLS and HTTP/2 rows run for direct, fulcrum, haproxy and nginx`;

/** Whole seconds from "10s", "1m" or "10". */
export function seconds(text: string, option: string): number {
  const match = /^(\d+)(s|m)?$/.exec(text);
  if (match === null || Number(match[1]) === 0) throw new Error(`--${option} wants whole seconds like 10s or 1m, got "${text}"`);
  return Number(match[1]) * (match[2] === 'm' ? 60 : 1);
}

export function positive(text: string, option: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${option} wants a positive integer, got "${text}"`);
  return n;
}

function protocols(text: string): Protocol[] {
  const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.includes('all')) return [...PROTOCOLS];
  const unknown = names.filter((name) => !PROTOCOLS.includes(name as Protocol));
  if (unknown.length > 0 || names.length === 0) throw new Error(`--protocols wants some of ${PROTOCOLS.join(', ')} or all, got "${text}"`);
  return PROTOCOLS.filter((protocol) => names.includes(protocol));
}

/** The options every bench takes: rounds, duration, warm-up, connections, --write-docs, --no-pin, --help. */
export function commonOptions(warmup: string) {
  return {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10s' },
    warmup: { type: 'string', default: warmup },
    connections: { type: 'string', default: '50' },
    'write-docs': { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  } as const;
}

/** Those options' values, checked. */
export function commonValues(values: { rounds: string; duration: string; warmup: string; connections: string; 'write-docs': boolean; 'no-pin': boolean }) {
  return {
    rounds: positive(values.rounds, 'rounds'),
    durationS: seconds(values.duration, 'duration'),
    warmupS: seconds(values.warmup, 'warmup'),
    connections: positive(values.connections, 'connections'),
    writeDocs: values['write-docs'],
    pin: !values['no-pin'],
  };
}

export function readOptions(argv: readonly string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      ...commonOptions('3s'),
      only: { type: 'string' },
      protocols: { type: 'string', default: 'http' },
      'h2-streams': { type: 'string', default: '10' },
    },
  });
  if (values.help) return 'help';
  return {
    ...commonValues(values),
    only: values.only?.split(',').map((name) => name.trim()).filter((name) => name !== ''),
    protocols: protocols(values.protocols),
    h2Streams: positive(values['h2-streams'], 'h2-streams'),
  };
}
