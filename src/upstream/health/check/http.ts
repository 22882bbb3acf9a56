// http: one HTTP/1.1 request per probe; healthy when the status is expected and, if asked, the body contains
// a string. HAProxy `option httpchk` + `http-check expect status|string`, Envoy `http_health_check`
// (`expected_statuses`, default 200 there; here 200-399 like HAProxy's default `expect` of 2xx/3xx).
// A fresh connection per probe (no keep-alive: a probe must see whether connecting still works), closed once
// the answer is judged; at most 64 KiB of body is read, and only when `bodyContains` is set.
import { z } from 'zod';
import type { Plugin } from '../../../core/registry.ts';
import { describeFound } from '../../../core/units.ts';
import type { Endpoint } from '../../endpoint.ts';
import { errorDetail, type HealthCheck, type HealthCheckDeps, type ProbeResult } from '../types.ts';

/** Body bytes read when matching `bodyContains`; the match must appear within them. */
export const maxBodyBytes = 64 * 1024;

/** Inclusive status ranges: `200-399` → [[200, 399]]. */
export type StatusRanges = readonly (readonly [number, number])[];

const rangePattern = /^([1-5][0-9][0-9])(?:-([1-5][0-9][0-9]))?$/;

/** `200`, `"204"`, `"200-399"`, `"200,204"` or a list of those; undefined when not one of them. */
export function parseStatusRanges(value: unknown): StatusRanges | undefined {
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0) return undefined;
  const out: [number, number][] = [];
  for (const item of items) {
    const parts = typeof item === 'number' ? [String(item)] : typeof item === 'string' ? item.split(',') : [];
    if (parts.length === 0) return undefined;
    for (const part of parts) {
      const m = rangePattern.exec(part.trim());
      if (m === null) return undefined;
      const lo = Number(m[1]);
      const hi = m[2] === undefined ? lo : Number(m[2]);
      if (hi < lo) return undefined;
      out.push([lo, hi]);
    }
  }
  return out;
}

export function statusExpected(status: number, ranges: StatusRanges): boolean {
  for (const [lo, hi] of ranges) if (status >= lo && status <= hi) return true;
  return false;
}

const expectSchema = z.unknown().transform((value, ctx): StatusRanges => {
  const ranges = parseStatusRanges(value);
  if (ranges === undefined) {
    const message = `expected a status like 200, a range like "200-399", or a list of them, found ${describeFound(value)}`;
    ctx.issues.push({ code: 'custom', message, input: value });
    return z.NEVER;
  }
  return ranges;
});

const headerName = z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'expected an HTTP header name');
const headerValue = z.string().regex(/^[\t\x20-\x7e\x80-\xff]*$/, 'expected a header value without control characters');

export const schema = z.strictObject({
  /** Default GET (Envoy's only method; HAProxy's `option httpchk` defaults to OPTIONS). */
  method: z.string().regex(/^[A-Z]+$/, 'expected an uppercase HTTP method like "GET"').default('GET'),
  /** Request target, query allowed. Default `/`, like HAProxy's `option httpchk`. */
  path: z.string().regex(/^\/[^\s#\x00-\x1f\x7f]*$/, 'expected a path starting with "/"').default('/'),
  /** Host header; default the endpoint's `host:port` (the probed port). */
  host: z.string().regex(/^[^\s\x00-\x1f\x7f/]+$/, 'expected a host like "app.internal"').optional(),
  /** Extra request headers. */
  headers: z.record(headerName, headerValue).default(() => ({})),
  /** Statuses that count as healthy. Default 200-399, HAProxy's default (2xx and 3xx). */
  expect: expectSchema.prefault('200-399'),
  /** The body must contain this text (within the first 64 KiB). HAProxy `http-check expect string`. */
  bodyContains: z.string().min(1).optional(),
  /** The body (its first 64 KiB, as UTF-8) must match this regular expression. HAProxy `http-check expect rstring`. */
  bodyMatches: z
    .string()
    .min(1)
    .max(1000)
    .refine(
      (p) => {
        try {
          new RegExp(p);
          return true;
        } catch {
          return false;
        }
      },
      { error: 'expected a valid regular expression' },
    )
    .optional(),
});
export type HttpCheckOptions = z.output<typeof schema>;

/** TLS for `https` probes: the CA bundle read once, SNI, and whether to verify. */
export interface ProbeTls {
  readonly ca: Buffer | undefined;
  readonly servername: string | undefined;
  readonly verify: boolean;
}

export class HttpCheck implements HealthCheck {
  private readonly options: HttpCheckOptions;
  private readonly tls: ProbeTls | null;
  private readonly port: number | null;
  private readonly host: string | null;
  private readonly needle: Buffer | null;
  private readonly pattern: RegExp | null;
  /** `headers` with lowercased names, after a default User-Agent; Host and Connection are set per probe. */
  private readonly headers: Record<string, string>;

  constructor(options: HttpCheckOptions, deps: HealthCheckDeps, tls: ProbeTls | null = null) {
    this.options = options;
    this.tls = tls;
    this.port = deps.port;
    this.host = deps.host;
    this.pattern = options.bodyMatches === undefined ? null : new RegExp(options.bodyMatches);
    this.needle = options.bodyContains === undefined ? null : Buffer.from(options.bodyContains, 'utf8');
    this.headers = { 'user-agent': 'fulcrum-health-check' };
    for (const [name, value] of Object.entries(options.headers)) {
      const lower = name.toLowerCase();
      if (lower !== 'host' && lower !== 'connection') this.headers[lower] = value;
    }
  }

  async probe(e: Endpoint, signal: AbortSignal): Promise<ProbeResult> {
    const o = this.options;
    const port = this.port ?? e.port;
    const host = this.host ?? e.host;
    const hostHeader = o.host ?? (host.includes(':') ? `[${host}]` : host) + ':' + port;
    // loaded on first use: node:http costs ~15 MB of resident memory, and only pools with http checks need it
    const t = this.tls;
    const http = t === null ? await import('node:http') : await import('node:https');
    return new Promise((resolve) => {
      if (signal.aborted) return resolve({ ok: false, detail: 'aborted' });
      let connected = false;
      let settled = false;
      const options = {
        host,
        port,
        method: o.method,
        path: o.path,
        headers: { ...this.headers, host: hostHeader, connection: 'close' },
        agent: false as const,
      };
      const req =
        t === null
          ? http.request(options)
          : http.request({ ...options, ca: t.ca, servername: t.servername ?? (/^[0-9.]+$|:/.test(host) ? undefined : host), rejectUnauthorized: t.verify });
      const done = (result: ProbeResult): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        req.destroy();
        resolve(result);
      };
      const onAbort = (): void => done({ ok: false, detail: 'aborted' });
      signal.addEventListener('abort', onAbort, { once: true });
      req.once('socket', (socket) => socket.once('connect', () => (connected = true)));
      req.on('error', (err) => done({ ok: false, detail: errorDetail(connected ? 'read' : 'connect', err) }));
      req.once('response', (res) => {
        res.on('error', () => {});
        const status = res.statusCode ?? 0;
        if (!statusExpected(status, o.expect)) return done({ ok: false, detail: `status ${status}` });
        if (this.needle === null && this.pattern === null) return done({ ok: true, detail: `status ${status}` });
        const needle = this.needle;
        const pattern = this.pattern;
        const chunks: Buffer[] = [];
        let bytes = 0;
        const judge = (): void => {
          const body = Buffer.concat(chunks, Math.min(bytes, maxBodyBytes));
          if (needle !== null && !body.includes(needle)) return done({ ok: false, detail: `status ${status}, body lacks ${JSON.stringify(o.bodyContains)}` });
          if (pattern !== null && !pattern.test(body.toString('utf8'))) return done({ ok: false, detail: `status ${status}, body does not match /${o.bodyMatches}/` });
          done({ ok: true, detail: `status ${status}` });
        };
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          bytes += chunk.length;
          if (bytes >= maxBodyBytes) judge();
        });
        res.once('end', judge);
        // after 'end' this is a no-op; before it, the connection broke mid-body
        res.once('close', () => done({ ok: false, detail: `status ${status}, body cut short` }));
      });
      req.end();
    });
  }
}

export const httpCheck = {
  name: 'http',
  schema,
  create: (options: HttpCheckOptions, deps: HealthCheckDeps) => new HttpCheck(options, deps),
} as const satisfies Plugin<typeof schema, HealthCheck, HealthCheckDeps>;
