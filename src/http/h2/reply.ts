// HTTP/1.1 message parts as HTTP/2 header lists: upstream response heads (parsed by parse/head.ts), trailers of
// chunked bodies, and the replies Fulcrum makes itself (local-reply.ts, a route's `respond` and `redirect`),
// which are built as HTTP/1.1 bytes and converted here so both protocols answer with the same status, fields
// and body. The header-list rules of RFC 9113 §8.2: lowercase names, no connection-specific fields (§8.2.2),
// Set-Cookie kept as separate fields, other repeats joined with ", " (RFC 9110 §5.3).
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Respond } from '../../routing/actions/respond.ts';
import type { Fields, ResponseHead } from '../parse/head.ts';
import { H } from '../parse/header-ids.ts';
import '../../core/latin1.ts';

/** Response fields never copied to the client: connection-specific (RFC 9113 §8.2.2) and the framing restated. */
const RESPONSE_SKIP = (1 << H.connection) | (1 << H.keepAlive) | (1 << H.proxyConnection) | (1 << H.te) | (1 << H.upgrade) | (1 << H.transferEncoding) | (1 << H.contentLength) | (1 << H.drop);

/** Connection-specific fields (RFC 9113 §8.2.2), which node:http2 also refuses to send. */
const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'http2-settings']);
/** Fields that must not appear in trailers (RFC 9110 §6.5.1): framing, routing, and the trailer list itself. */
const NOT_IN_TRAILERS: ReadonlySet<string> = new Set([...CONNECTION_SPECIFIC, 'content-length', 'host', 'trailer', 'content-encoding', 'content-type', 'content-range']);

/** Adds one field (lowercase `name`) to an HTTP/2 header object: repeats of Set-Cookie stay separate, others are joined. */
export function addField(headers: OutgoingHttpHeaders, name: string, value: string): void {
  const prev = headers[name];
  if (prev === undefined) headers[name] = value;
  else if (name === 'set-cookie') headers[name] = Array.isArray(prev) ? [...prev, value] : [String(prev), value];
  else headers[name] = `${String(prev)}, ${value}`;
}

/** Adds `name: value\r\n` lines (header edits, HSTS, sticky cookies) to an HTTP/2 header object. */
export function addLines(headers: OutgoingHttpHeaders, lines: string): void {
  let at = 0;
  while (at < lines.length) {
    let end = lines.indexOf('\r\n', at);
    if (end < 0) end = lines.length;
    const colon = lines.indexOf(':', at);
    if (colon > at && colon < end) {
      const name = lines.slice(at, colon).toLowerCase();
      if (!CONNECTION_SPECIFIC.has(name)) addField(headers, name, trimOws(lines.slice(colon + 1, end)));
    }
    at = end + 2;
  }
}

/**
 * Reads an upstream response's Connection options: whether the upstream closes after it (RFC 9112 §9.3), and
 * the fields it names, which are hop-by-hop (RFC 9110 §7.6.1) and marked dropped.
 */
export function upstreamCloses(buf: Buffer, head: ResponseHead): boolean {
  const f = head.fields;
  let close = head.version === 10;
  if (((f.seen >>> H.connection) & 1) === 0) return close;
  for (let i = 0; i < f.count; i++) {
    if (f.ids[i] !== H.connection) continue;
    for (const raw of buf.latin1Slice(f.valueStart[i], f.valueEnd[i]).toLowerCase().split(',')) {
      const token = trimOws(raw);
      if (token === 'close') close = true;
      else if (token === 'keep-alive' && head.version === 10) close = false;
      else if (token !== '' && token !== 'keep-alive') dropNamed(buf, f, token);
    }
  }
  return close;
}

/** Copies a parsed response's fields, lowercased, less connection-specific ones, framing and the route's `removed`. */
export function copyResponseFields(buf: Buffer, f: Fields, headers: OutgoingHttpHeaders, removed: ReadonlySet<string> | null): void {
  for (let i = 0; i < f.count; i++) {
    if (((RESPONSE_SKIP >>> f.ids[i]) & 1) !== 0) continue;
    const name = buf.latin1Slice(f.nameStart[i], f.nameEnd[i]).toLowerCase();
    if ((f.ids[i] === H.other && CONNECTION_SPECIFIC.has(name)) || (removed !== null && removed.has(name))) continue;
    addField(headers, name, buf.latin1Slice(f.valueStart[i], f.valueEnd[i]));
  }
}

/** Headers named in Connection are hop-by-hop; framing fields are never dropped that way. */
function dropNamed(buf: Buffer, f: Fields, token: string): void {
  for (let i = 0; i < f.count; i++) {
    const id = f.ids[i];
    if (id === H.contentLength || id === H.transferEncoding) continue;
    if (f.nameEnd[i] - f.nameStart[i] !== token.length) continue;
    if (buf.latin1Slice(f.nameStart[i], f.nameEnd[i]).toLowerCase() === token) f.ids[i] = H.drop;
  }
}

/** Records which endpoint issued the session cookie in the response's Set-Cookie fields. */
export function learnSessions(headers: OutgoingHttpHeaders, name: string, learn: (value: string) => void): void {
  const v = headers['set-cookie'];
  if (v === undefined) return;
  const prefix = name + '=';
  for (const line of Array.isArray(v) ? v : [String(v)]) {
    if (!line.startsWith(prefix)) continue;
    const semi = line.indexOf(';');
    const value = line.slice(prefix.length, semi < 0 ? line.length : semi).trim();
    if (value !== '') learn(value);
  }
}

/** An HTTP/1.1 reply as HTTP/2 parts. */
export interface H2Reply {
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer;
}

/** Converts a whole HTTP/1.1 reply Fulcrum built (status line, header lines, body). */
export function toH2Reply(bytes: Buffer): H2Reply {
  const headEnd = bytes.indexOf('\r\n\r\n');
  const status = (bytes[9] - 0x30) * 100 + (bytes[10] - 0x30) * 10 + (bytes[11] - 0x30);
  const headers: OutgoingHttpHeaders = { ':status': status };
  const firstLine = bytes.indexOf('\r\n');
  if (firstLine < headEnd) addLines(headers, bytes.latin1Slice(firstLine + 2, headEnd + 2));
  return { status, headers, body: bytes.subarray(headEnd + 4) };
}

/** A route's fixed reply, converted once per compiled Respond (one per generation). */
const responds = new WeakMap<Respond, H2Reply>();
export function respondReply(respond: Respond): H2Reply {
  let r = responds.get(respond);
  if (r === undefined) {
    r = toH2Reply(respond.reply({ close: false, head: false, keepAlive10: false }));
    responds.set(respond, r);
  }
  return r;
}

/** Sends a whole reply on the stream; HEAD requests get the head only (node:http2 ends them so). Returns bytes sent. */
export function sendReply(stream: ServerHttp2Stream, reply: H2Reply, head: boolean): number {
  if (stream.destroyed || stream.headersSent) return 0;
  const withBody = !head && reply.body.length > 0;
  stream.respond(reply.headers, { endStream: !withBody });
  if (withBody) stream.end(reply.body);
  return withBody ? reply.body.length : 0;
}

/**
 * Trailer fields of a chunked body, from the framing bytes read after its last data (`tail`: the CRLF that
 * closed the last chunk, the last-chunk line, the trailer lines and the final CRLF, as validated by
 * ChunkedDecoder). Returns null when there are none to send.
 */
export function trailersOf(tail: string): OutgoingHttpHeaders | null {
  const lines = tail.split('\r\n');
  let i = 0;
  while (i < lines.length && lines[i] === '') i++;
  i++; // the last-chunk line, `0[;ext]`
  let out: OutgoingHttpHeaders | null = null;
  for (; i < lines.length && lines[i] !== ''; i++) {
    const line = lines[i];
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).toLowerCase();
    if (NOT_IN_TRAILERS.has(name)) continue;
    out ??= {};
    addField(out, name, trimOws(line.slice(colon + 1)));
  }
  return out;
}

/** Whether a request trailer field may be forwarded upstream. */
export function forwardableTrailer(name: string): boolean {
  return name.charCodeAt(0) !== 0x3a && !NOT_IN_TRAILERS.has(name);
}

/** Trims optional whitespace (SP and HTAB only, RFC 9110 §5.6.3). */
export function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
  return s.slice(a, b);
}

/** An HTTP/2 upstream's response fields for the client: pseudo-headers and connection-specific fields left out,
 *  `removed` (the route's response edits) too. */
export function copyH2Fields(src: IncomingHttpHeaders, out: OutgoingHttpHeaders, removed: ReadonlySet<string> | null): void {
  for (const name in src) {
    if (name.charCodeAt(0) === 0x3a || CONNECTION_SPECIFIC.has(name) || (removed !== null && removed.has(name))) continue;
    const v = src[name];
    if (v !== undefined) out[name] = v;
  }
}

/** An HTTP/2 upstream's trailers for the client (gRPC's `grpc-status`, `grpc-message` among them); null when none remain. */
export function h2Trailers(src: IncomingHttpHeaders): OutgoingHttpHeaders | null {
  let out: OutgoingHttpHeaders | null = null;
  for (const name in src) {
    if (!forwardableTrailer(name)) continue;
    const v = src[name];
    if (v === undefined) continue;
    out ??= {};
    out[name] = v;
  }
  return out;
}
