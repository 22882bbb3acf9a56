// Access logs: one line per exchange, as JSON through pino (a fast structured logger) or in the NCSA common /
// combined formats, to stdout, stderr or a file. Writes are asynchronous and buffered (pino's sonic-boom
// destination), so a slow disk never blocks a request; one destination per target is shared by every
// listener and generation that writes to it. Sampling is decided when an exchange starts.
import { createRequire } from 'node:module';
import type { DestinationStream } from 'pino';
import { Random } from '../core/random.ts';
import type { AccessLogEntry, AccessLogSink } from '../http/access-log-sink.ts';

export const accessLogFields = [
  'time', 'requestId', 'traceId', 'clientAddress', 'listener', 'route', 'pool', 'endpoint', 'method', 'host', 'path',
  'status', 'bytesIn', 'bytesOut', 'connectMs', 'ttfbMs', 'totalMs', 'retries', 'reason',
] as const;
export type AccessLogField = (typeof accessLogFields)[number];

export interface AccessLogOptions {
  /** `stdout`, `stderr` or a file path (appended to, created with its folders). */
  readonly destination: string;
  readonly format: 'json' | 'common' | 'combined';
  /** Share of exchanges logged, 0..1. */
  readonly sample: number;
  /** JSON only: the fields written, in this order; null = all. */
  readonly fields: readonly AccessLogField[] | null;
}

type Destination = DestinationStream & { flushSync?(): void; flush?(cb?: (err?: Error) => void): void; end?(): void };
const destinations = new Map<string, Destination>();

const require = createRequire(import.meta.url);

function destinationFor(target: string): Destination {
  let d = destinations.get(target);
  if (d === undefined) {
    // loaded on first use: only listeners with an access log need pino
    const pino = require('pino') as typeof import('pino');
    const fd = target === 'stdout' ? 1 : target === 'stderr' ? 2 : undefined;
    d = (fd !== undefined ? pino.destination({ dest: fd, sync: false }) : pino.destination({ dest: target, sync: false, mkdir: true, append: true })) as Destination;
    destinations.set(target, d);
  }
  return d;
}

/** Writes out whatever the access logs hold (on stop, and for tests). */
export function flushAccessLogs(): Promise<void> {
  return Promise.all(
    [...destinations.values()].map(
      (d) =>
        new Promise<void>((resolve) => {
          if (typeof d.flush !== 'function') return resolve();
          try {
            d.flush(() => resolve());
          } catch {
            resolve(); // not open yet: nothing buffered
          }
        }),
    ),
  ).then(() => undefined);
}

const rng = new Random();
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `[10/Oct/2000:13:55:36 +0000]`, always UTC. */
function clfTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => (n < 10 ? '0' + n : String(n));
  return `[${p(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000]`;
}

function quoted(s: string): string {
  return s === '' ? '"-"' : '"' + s.replace(/[\\"]/g, (c) => '\\' + c).replace(/[\x00-\x1f\x7f]/g, '') + '"';
}

export class AccessLog implements AccessLogSink {
  readonly wantsAgent: boolean;
  private readonly options: AccessLogOptions;
  private readonly destination: Destination;

  constructor(options: AccessLogOptions) {
    this.options = options;
    this.wantsAgent = options.format === 'combined';
    this.destination = destinationFor(options.destination);
  }

  sample(): boolean {
    const share = this.options.sample;
    return share >= 1 || (share > 0 && rng.nextUint32() / 4294967296 < share);
  }

  record(e: AccessLogEntry): void {
    if (this.options.format === 'json') {
      // one flat object per line, exactly the configured fields (no logger envelope: level, pid, msg)
      this.destination.write(JSON.stringify(this.json(e)) + '\n');
      return;
    }
    // NCSA common log format: host ident authuser [date] "request" status bytes; combined adds referer and agent.
    let line = `${e.clientAddress} - - ${clfTime(e.time)} ${quoted(`${e.method} ${e.path} HTTP/1.1`)} ${e.status === 0 ? '-' : e.status} ${e.bytesOut}`;
    if (this.wantsAgent) line += ` ${quoted(e.referer)} ${quoted(e.userAgent)}`;
    this.destination.write(line + '\n');
  }

  private json(e: AccessLogEntry): Record<string, unknown> {
    const all: Record<AccessLogField, unknown> = {
      time: new Date(e.time).toISOString(),
      requestId: e.requestId,
      traceId: e.traceId,
      clientAddress: e.clientAddress,
      listener: e.listener,
      route: e.route,
      pool: e.pool,
      endpoint: e.endpoint,
      method: e.method,
      host: e.host,
      path: e.path,
      status: e.status,
      bytesIn: e.bytesIn,
      bytesOut: e.bytesOut,
      connectMs: e.connectMs < 0 ? null : round(e.connectMs),
      ttfbMs: e.ttfbMs < 0 ? null : round(e.ttfbMs),
      totalMs: round(e.totalMs),
      retries: e.retries,
      reason: e.reason,
    };
    const fields = this.options.fields;
    if (fields === null) return all;
    const picked: Record<string, unknown> = {};
    for (const f of fields) picked[f] = all[f];
    return picked;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
