// grpc: the gRPC Health Checking Protocol (grpc/grpc doc/health-checking.md): one unary
// grpc.health.v1.Health/Check call per probe, healthy only on HTTP 200, grpc-status 0 and a HealthCheckResponse
// whose `status` is SERVING. Envoy `grpc_health_check`, Kubernetes `grpc` probes. HTTP/2 over cleartext with
// prior knowledge (RFC 9113 §3.3) or over TLS with ALPN h2; a fresh session per probe, destroyed once the
// answer is judged, and at most `maxResponseBytes` of reply read.
import { readFileSync } from 'node:fs';
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import { z } from 'zod';
import type { Plugin } from '../../../core/registry.ts';
import type { Endpoint } from '../../endpoint.ts';
import { errorDetail, type HealthCheck, type HealthCheckDeps, type ProbeResult } from '../types.ts';
import type { ProbeTls } from './http.ts';

export const checkPath = '/grpc.health.v1.Health/Check';

/** Reply bytes accepted: a HealthCheckResponse is 7 bytes framed; anything near this is not one. */
export const maxResponseBytes = 4096;

/** HealthCheckResponse.ServingStatus, by number. */
export const servingStatusNames = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;
const serving = 1;

/** gRPC status codes (grpc/grpc doc/statuscodes.md), by number. */
export const grpcCodeNames = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED',
  'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
] as const;

export const schema = z
  .strictObject({
    /** Service asked about; '' (the default) = the server as a whole, per the protocol. Envoy `service_name`. */
    service: z.string().max(1000).default(''),
    /** `:authority`; default the probed `host:port`. Envoy `authority`. */
    authority: z.string().regex(/^[^\s\x00-\x1f\x7f/]+$/, 'expected an authority like "app.internal:50051"').optional(),
    /** HTTP/2 over TLS (ALPN h2); default false = cleartext h2c with prior knowledge. */
    tls: z.boolean().default(false),
    /** With tls: SNI and the name verified; default the endpoint's host when it is a name. */
    servername: z.string().min(1).optional(),
    /** With tls: PEM bundle of trusted CAs; default the system's. */
    ca: z.string().min(1).optional(),
    /** With tls: verify the certificate chain and name. Default true. */
    verify: z.boolean().default(true),
  })
  .superRefine((o, ctx) => {
    if (o.tls) return;
    const set = [o.servername !== undefined && 'servername', o.ca !== undefined && 'ca', !o.verify && 'verify'];
    for (const key of set) if (key !== false) ctx.addIssue({ code: 'custom', path: [key], message: `"${key}" applies only with tls: true` });
  });
export type GrpcCheckOptions = z.output<typeof schema>;

/** One length-prefixed message (gRPC over HTTP/2, "Length-Prefixed-Message": flag 0, 4-byte big-endian length)
 *  holding HealthCheckRequest { string service = 1; } — field 1 omitted when empty, as proto3 does. */
export function encodeCheckRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  const length: number[] = [];
  for (let n = name.length; ; n >>>= 7) {
    if (n < 0x80) {
      length.push(n);
      break;
    }
    length.push((n & 0x7f) | 0x80);
  }
  const message = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, ...length]), name]);
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/**
 * The `status` (field 1, varint) of the one length-prefixed HealthCheckResponse in `body`, 0 (UNKNOWN) when
 * absent as proto3 encodes it; or why `body` is not such a message. Unknown fields are skipped by wire type.
 */
export function decodeCheckResponse(body: Buffer): number | string {
  if (body.length === 0) return 'no response message';
  if (body.length < 5) return 'malformed message: truncated prefix';
  if (body[0] !== 0) return body[0] === 1 ? 'malformed message: compressed' : `malformed message: flag ${body[0]}`;
  const end = 5 + body.readUInt32BE(1);
  if (end > body.length) return 'malformed message: truncated';
  if (end < body.length) return 'malformed message: trailing bytes';
  let status = 0;
  const at = { pos: 5 };
  while (at.pos < end) {
    const key = readVarint(body, at, end);
    if (key === null) return 'malformed message: bad field key';
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 1 && wire !== 0) return `malformed message: status has wire type ${wire}`;
    if (wire === 0) {
      const value = readVarint(body, at, end);
      if (value === null) return 'malformed message: bad varint';
      if (field === 1) status = value;
    } else if (wire === 2) {
      const length = readVarint(body, at, end);
      if (length === null) return 'malformed message: bad length';
      at.pos += length;
    } else if (wire === 1) at.pos += 8;
    else if (wire === 5) at.pos += 4;
    else return `malformed message: wire type ${wire}`;
    if (at.pos > end) return 'malformed message: field overruns message';
  }
  return status;
}

/** A base-128 varint of at most 10 bytes at `at.pos`, advancing it; null when cut short or too long. */
function readVarint(buf: Buffer, at: { pos: number }, end: number): number | null {
  let value = 0;
  for (let i = 0; i < 10 && at.pos < end; i++) {
    const b = buf[at.pos++];
    value += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) return value;
  }
  return null;
}

function grpcStatusDetail(raw: string): string {
  const name = /^[0-9]{1,2}$/.test(raw) ? grpcCodeNames[Number(raw)] : undefined;
  return name === undefined ? `grpc-status ${JSON.stringify(raw)}` : `grpc-status ${Number(raw)} (${name})`;
}

function headerValue(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return v === undefined ? undefined : String(v);
}

export class GrpcCheck implements HealthCheck {
  private readonly authority: string | undefined;
  private readonly tls: ProbeTls | null;
  private readonly port: number | null;
  private readonly host: string | null;
  /** The request message, the same for every probe. */
  private readonly message: Buffer;

  constructor(options: GrpcCheckOptions, deps: HealthCheckDeps, tls: ProbeTls | null) {
    this.authority = options.authority;
    this.tls = tls;
    this.port = deps.port;
    this.host = deps.host;
    this.message = encodeCheckRequest(options.service);
  }

  async probe(e: Endpoint, signal: AbortSignal): Promise<ProbeResult> {
    const port = this.port ?? e.port;
    const host = this.host ?? e.host;
    const hostPort = (host.includes(':') ? `[${host}]` : host) + ':' + port;
    const t = this.tls;
    // loaded on first use, like node:http in http.ts: only pools with grpc checks pay for it
    const http2 = await import('node:http2');
    return new Promise((resolve) => {
      if (signal.aborted) return resolve({ ok: false, detail: 'aborted' });
      let connected = false;
      let settled = false;
      let head: IncomingHttpHeaders | null = null;
      let trailers: IncomingHttpHeaders | null = null;
      const chunks: Buffer[] = [];
      let bytes = 0;
      const session: ClientHttp2Session =
        t === null
          ? http2.connect(`http://${hostPort}`, { settings: { enablePush: false } })
          : http2.connect(`https://${hostPort}`, {
              settings: { enablePush: false },
              ca: t.ca,
              servername: t.servername ?? (/^[0-9.]+$|:/.test(host) ? undefined : host),
              rejectUnauthorized: t.verify,
            });
      const done = (result: ProbeResult): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        session.destroy(); // closes the stream too; one session per probe, never kept
        resolve(result);
      };
      const fail = (detail: string): void => done({ ok: false, detail });
      const onAbort = (): void => fail('aborted');
      signal.addEventListener('abort', onAbort, { once: true });
      session.once('connect', () => (connected = true));
      session.on('error', (err) => fail(errorDetail(connected ? 'read' : 'connect', err)));
      session.once('close', () => fail(connected ? 'connection closed' : 'connect closed'));

      const req: ClientHttp2Stream = session.request({
        ':method': 'POST',
        ':path': checkPath,
        ':authority': this.authority ?? hostPort,
        'content-type': 'application/grpc',
        te: 'trailers',
        'user-agent': 'fulcrum-health-check',
      });
      // a stream cancelled because its session failed carries the session's error (ECONNREFUSED, a TLS error)
      req.on('error', (err: NodeJS.ErrnoException) => {
        const cause = err.code === 'ERR_HTTP2_STREAM_CANCEL' && err.cause !== undefined ? err.cause : err;
        fail(errorDetail(connected ? 'read' : 'connect', cause));
      });
      req.once('response', (headers) => {
        head = headers;
        const status = Number(headers[':status']);
        if (status !== 200) return fail(`status ${status}`);
        // gRPC over HTTP/2: a reply without application/grpc[+proto|…] is not a gRPC reply (Envoy checks the same)
        const type = headerValue(headers, 'content-type');
        if (type === undefined || !/^application\/grpc(?:$|[+;])/.test(type)) return fail(`content-type ${type ?? 'missing'}`);
      });
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > maxResponseBytes) return fail(`response over ${maxResponseBytes} bytes`);
        chunks.push(chunk);
      });
      req.once('trailers', (headers) => (trailers = headers));
      req.once('end', () => {
        if (head === null) return fail('closed before a response');
        // trailers carry grpc-status; a "Trailers-Only" reply puts it in the one HEADERS frame instead
        const raw = headerValue(trailers ?? head, 'grpc-status');
        if (raw === undefined) return fail('no grpc-status');
        if (raw !== '0') return fail(grpcStatusDetail(raw));
        const status = decodeCheckResponse(Buffer.concat(chunks, bytes));
        if (typeof status === 'string') return fail(status);
        done({ ok: status === serving, detail: servingStatusNames[status] ?? `serving status ${status}` });
      });
      req.once('close', () => fail(req.rstCode !== undefined && req.rstCode !== 0 ? `stream reset (code ${req.rstCode})` : 'stream closed early'));
      req.end(this.message);
    });
  }
}

export const grpcCheck = {
  name: 'grpc',
  schema,
  create: (options: GrpcCheckOptions, deps: HealthCheckDeps) =>
    new GrpcCheck(
      options,
      deps,
      options.tls ? { ca: options.ca === undefined ? undefined : readFileSync(options.ca), servername: options.servername, verify: options.verify } : null,
    ),
} as const satisfies Plugin<typeof schema, HealthCheck, HealthCheckDeps>;
