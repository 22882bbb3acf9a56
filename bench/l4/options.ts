// Command-line options of `npm run bench:l4`, with their defaults.
import { parseArgs } from 'node:util';
import { commonOptions, commonValues, positive } from '../options.ts';

/** a: bulk throughput (upload and download), b: echo round trips, c: idle connections' memory. */
export type Scenario = 'a' | 'b' | 'c';

const SCENARIO_NAMES: Readonly<Record<string, Scenario>> = { a: 'a', bulk: 'a', b: 'b', echo: 'b', c: 'c', idle: 'c' };

export interface L4Options {
  /** Interleaved rounds; each reported number is the median over rounds. Default 3. */
  readonly rounds: number;
  /** Length of one echo run in seconds. Default 10. */
  readonly durationS: number;
  /** Echo run per target before the rounds, in seconds (bulk warms up with a transfer of bytes / 8). Default 2. */
  readonly warmupS: number;
  /** Bytes of one bulk transfer. Default 1 GiB. */
  readonly bytes: number;
  /** Echo connections. Default 50. */
  readonly connections: number;
  /** Echo message size. Default 64 bytes. */
  readonly messageBytes: number;
  /** Idle proxied connections held at once. Default 10,000. */
  readonly idleConnections: number;
  /** Scenarios to run. Default all. */
  readonly scenarios: readonly Scenario[];
  /** Target names to run; undefined runs all. */
  readonly targets: readonly string[] | undefined;
  /** Rewrite the L4 results section of docs/benchmarks.md. Default off. */
  readonly writeDocs: boolean;
  /** Pin the proxy to one core and the load side to the others. Default on when there are ≥ 2 cores. */
  readonly pin: boolean;
}

export const USAGE = `usage: npm run bench:l4 -- [--rounds 3] [--duration 10s] [--warmup 2s] [--bytes 1GiB]
                           [--connections 50] [--message-bytes 64] [--idle-connections 10000]
                           [--only a,b,c] [--targets direct,fulcrum,haproxy] [--no-pin] [--write-docs]
  a (bulk): one stream of --bytes to a sink and one from a source, MiB/s
  b (echo): --connections connections each sending --message-bytes and waiting for the echo, round trips/s
  c (idle): --idle-connections idle proxied connections, the proxy's RSS growth`;

const UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 };

/** Bytes from "1GiB", "64MiB", "512k" or "1048576". */
export function size(text: string, option: string): number {
  const match = /^(\d+)([a-z]*)$/i.exec(text);
  const unit = match === null ? undefined : UNITS[match[2].toLowerCase()];
  if (match === null || unit === undefined || Number(match[1]) === 0) {
    throw new Error(`--${option} wants a size like 1GiB, 64MiB or 65536, got "${text}"`);
  }
  return Number(match[1]) * unit;
}

function scenarios(text: string): Scenario[] {
  const names = text.split(',').map((name) => name.trim().toLowerCase()).filter((name) => name !== '');
  const unknown = names.filter((name) => SCENARIO_NAMES[name] === undefined);
  if (unknown.length > 0 || names.length === 0) throw new Error(`--only wants a, b, c (bulk, echo, idle), got "${text}"`);
  return (['a', 'b', 'c'] as const).filter((s) => names.some((name) => SCENARIO_NAMES[name] === s));
}

export function readOptions(argv: readonly string[]): L4Options | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      ...commonOptions('2s'),
      bytes: { type: 'string', default: '1GiB' },
      'message-bytes': { type: 'string', default: '64' },
      'idle-connections': { type: 'string', default: '10000' },
      only: { type: 'string', default: 'a,b,c' },
      targets: { type: 'string' },
    },
  });
  if (values.help) return 'help';
  return {
    ...commonValues(values),
    bytes: size(values.bytes, 'bytes'),
    messageBytes: positive(values['message-bytes'], 'message-bytes'),
    idleConnections: positive(values['idle-connections'], 'idle-connections'),
    scenarios: scenarios(values.only),
    targets: values.targets?.split(',').map((name) => name.trim()).filter((name) => name !== ''),
  };
}
