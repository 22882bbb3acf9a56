// HTTP/1.1 clients to a pool with `protocol: h2` (RFC 9113 §8.3 translation, the direction Envoy and HAProxy
// call "h1 to h2 upstream"). The HTTP/1.1 exchange (exchange.ts) keeps doing everything it does for HTTP/1.1
// endpoints — framing checks, header edits, sticky cookies, retries, HEAD/204/304, dechunking for HTTP/1.0
// clients — and talks to a Bridge as if it were a keep-alive socket: the request bytes it writes are parsed
// into an HTTP/2 request (head → pseudo-headers and fields, chunked framing removed), and the HTTP/2 answer is
// handed back as HTTP/1.1 bytes (status line and fields, the body chunked unless a content-length came, the
// trailers as chunked trailers). A request asking for an upgrade goes as a plain request: no endpoint
// answers 101 over HTTP/2, so the client stays in HTTP mode.
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { STATUS_CODES } from 'node:http';
import { unwatch, watch, type HasDeadline } from '../../core/deadlines.ts';
import type { ReasonCode } from '../../core/errors.ts';
import type { Endpoint } from '../../upstream/endpoint.ts';
import type { PoolSettings } from '../../upstream/pool.ts';
import { ChunkedDecoder } from '../parse/chunked.ts';
import type { ConnectionUser, LinkSocket, UpstreamLink } from '../upstream-connections.ts';
import { h2ConnectionsOf, type H2Connections, type H2SessionUser, type H2UpstreamSession } from '../upstream-h2.ts';
import { addField, forwardableTrailer } from './reply.ts';

/** Request fields never sent on an HTTP/2 stream (RFC 9113 §8.2.2), and those restated as pseudo-headers. */
const NOT_FORWARDED: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'host', 'te']);
const CRLF = '\r\n';
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

const kBridge = Symbol('fulcrum.bridge');
interface BridgedStream extends ClientHttp2Stream {
  [kBridge]: Bridge;
}
function onResponse(this: BridgedStream, headers: IncomingHttpHeaders, flags: number): void {
  this[kBridge].onResponse(headers, flags);
}
function onData(this: BridgedStream, chunk: Buffer): void {
  this[kBridge].onData(chunk);
}
function onTrailers(this: BridgedStream, headers: IncomingHttpHeaders): void {
  this[kBridge].trailers = headers;
}
function onEnd(this: BridgedStream): void {
  this[kBridge].onEnd();
}
function onDrain(this: BridgedStream): void {
  const user = this[kBridge].user;
  if (user !== null) user.onUpstreamDrain();
}
function onClose(this: BridgedStream): void {
  this[kBridge].onClose(this);
}
function onError(): void {
  // 'close' follows
}

/** One try of an HTTP/1.1 exchange on an HTTP/2 stream, shaped as the socket the exchange expects. */
export class Bridge implements UpstreamLink, LinkSocket, H2SessionUser, HasDeadline {
  readonly owner: BridgeConnections;
  readonly socket: LinkSocket;
  user: ConnectionUser | null;
  deadline: number;
  private slot: H2UpstreamSession | null;
  private stream: BridgedStream | null;
  /** Request bytes written before the stream was open (the head, maybe some body). */
  private pendingBytes: Buffer | null;
  private headParsed: boolean;
  private reqChunked: boolean;
  private readonly reqDecoder: ChunkedDecoder;
  private reqRemaining: number;
  private isHead: boolean;
  /** The answer is relayed chunked (no content-length from the endpoint). */
  private respChunked: boolean;
  private respBodiless: boolean;
  private responseEnded: boolean;
  trailers: IncomingHttpHeaders | null;
  /** `onConnection` or `onConnectFailed` was called. */
  handedOut: boolean;

  constructor(owner: BridgeConnections, user: ConnectionUser) {
    this.owner = owner;
    this.socket = this;
    this.user = user;
    this.deadline = 0;
    this.slot = null;
    this.stream = null;
    this.pendingBytes = null;
    this.headParsed = false;
    this.reqChunked = false;
    this.reqDecoder = new ChunkedDecoder(65536);
    this.reqRemaining = 0;
    this.isHead = false;
    this.respChunked = false;
    this.respBodiless = false;
    this.responseEnded = false;
    this.trailers = null;
    this.handedOut = false;
  }

  get reused(): boolean {
    return this.slot !== null && this.slot.uses > 1;
  }

  // ---- H2SessionUser -----------------------------------------------------------------------------------------

  onH2Session(s: H2UpstreamSession): void {
    this.handedOut = true;
    this.slot = s;
    const user = this.user;
    if (user === null) {
      s.owner.release(s);
      this.slot = null;
      return;
    }
    watch(this);
    user.onConnection(this);
  }

  onConnectFailed(reason: ReasonCode): void {
    this.handedOut = true;
    const user = this.user;
    this.user = null;
    if (user !== null) user.onConnectFailed(reason);
  }

  // ---- the socket the exchange writes to -------------------------------------------------------------------

  write(data: Buffer): boolean {
    if (!this.headParsed) {
      const buf = this.pendingBytes === null ? data : Buffer.concat([this.pendingBytes, data]);
      const end = buf.indexOf('\r\n\r\n', 0, 'latin1');
      if (end < 0) {
        this.pendingBytes = buf;
        return true;
      }
      this.pendingBytes = null;
      this.headParsed = true;
      if (!this.open(buf.latin1Slice(0, end + 2))) return false;
      if (buf.length > end + 4) return this.body(buf.subarray(end + 4));
      return true;
    }
    return this.body(data);
  }

  cork(): void {}
  uncork(): void {}

  end(): void {
    const s = this.stream;
    if (s !== null && !s.closed) s.end();
  }

  pause(): void {
    if (this.stream !== null) this.stream.pause();
  }

  resume(): void {
    if (this.stream !== null) this.stream.resume();
  }

  /** The request head as an HTTP/2 header list; opens the stream. False when the session refused it. */
  private open(head: string): boolean {
    const lineEnd = head.indexOf(CRLF);
    const sp1 = head.indexOf(' ');
    const sp2 = head.lastIndexOf(' ', lineEnd);
    const method = head.slice(0, sp1);
    const settings = this.owner.settings;
    const out: OutgoingHttpHeaders = { ':method': method, ':scheme': settings.tls === null ? 'http' : 'https', ':path': head.slice(sp1 + 1, sp2) };
    this.isHead = method === 'HEAD';
    let hasLength = false;
    let at = lineEnd + 2;
    while (at < head.length) {
      const end = head.indexOf(CRLF, at);
      const colon = head.indexOf(':', at);
      const name = head.slice(at, colon).toLowerCase();
      const value = head.slice(colon + 1, end).trim();
      at = end + 2;
      if (name === 'host') out[':authority'] = value;
      else if (name === 'transfer-encoding') this.reqChunked = true;
      else if (name === 'content-length') {
        hasLength = true;
        this.reqRemaining = Number(value);
        out[name] = value;
      } else if (name === 'te') {
        if (value.toLowerCase().includes('trailers')) out.te = 'trailers';
      } else if (!NOT_FORWARDED.has(name)) addField(out, name, value);
    }
    const bodiless = !this.reqChunked && (!hasLength || this.reqRemaining === 0);
    const slot = this.slot!;
    let stream: BridgedStream;
    try {
      stream = slot.session.request(out, { endStream: bodiless }) as BridgedStream;
    } catch {
      this.failLater();
      return false;
    }
    stream[kBridge] = this;
    this.stream = stream;
    stream.on('response', onResponse);
    stream.on('data', onData);
    stream.on('trailers', onTrailers);
    stream.on('end', onEnd);
    stream.on('drain', onDrain);
    stream.on('close', onClose);
    stream.on('error', onError);
    return true;
  }

  /** Request body bytes in the exchange's framing: a content-length body as is, a chunked one decoded. */
  private body(data: Buffer): boolean {
    const s = this.stream;
    if (s === null || s.closed || s.destroyed) return true;
    if (!this.reqChunked) {
      this.reqRemaining -= data.length;
      const ok = s.write(data);
      if (this.reqRemaining <= 0) s.end();
      return ok;
    }
    const d = this.reqDecoder;
    let ok = true;
    let p = 0;
    while (p < data.length && !d.done) {
      p = d.execute(data, p, data.length);
      if (d.failed) {
        s.close(constants.NGHTTP2_CANCEL);
        return true;
      }
      if (d.spanEnd > d.spanStart) ok = s.write(Buffer.from(data.subarray(d.spanStart, d.spanEnd)));
    }
    if (d.done) s.end(); // request trailers are not forwarded
    return ok;
  }

  /** The stream could not be opened (the session went away): reported as a reset, after this write returns. */
  private failLater(): void {
    queueMicrotask(() => {
      const user = this.user;
      this.finish();
      if (user !== null) user.onUpstreamClose();
    });
  }

  // ---- the answer, as HTTP/1.1 bytes ------------------------------------------------------------------------

  onResponse(headers: IncomingHttpHeaders, flags: number): void {
    const user = this.user;
    if (user === null) return;
    const status = Number(headers[':status']);
    let head = 'HTTP/1.1 ' + status + ' ' + (STATUS_CODES[status] ?? 'Unknown') + CRLF;
    let length = false;
    for (const name in headers) {
      if (name.charCodeAt(0) === 0x3a || NOT_FORWARDED.has(name)) continue;
      if (name === 'content-length') length = true;
      const v = headers[name]!;
      if (Array.isArray(v)) for (const item of v) head += name + ': ' + item + CRLF;
      else head += name + ': ' + v + CRLF;
    }
    const endStream = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    this.respBodiless = this.isHead || status === 204 || status === 304;
    if (!this.respBodiless && !length) {
      // an HTTP/2 body ends with the stream; HTTP/1.1 needs it framed
      head += 'transfer-encoding: chunked\r\n';
      this.respChunked = true;
    }
    user.onUpstreamData(Buffer.from(head + CRLF, 'latin1'));
    if (endStream) this.onEnd();
  }

  onData(chunk: Buffer): void {
    const user = this.user;
    if (user === null || this.respBodiless) return;
    if (!this.respChunked) return user.onUpstreamData(chunk);
    if (chunk.length === 0) return;
    const size = Buffer.from(chunk.length.toString(16) + CRLF, 'latin1');
    user.onUpstreamData(Buffer.concat([size, chunk, Buffer.from(CRLF, 'latin1')]));
  }

  onEnd(): void {
    if (this.responseEnded) return;
    this.responseEnded = true;
    const user = this.user;
    if (user === null || !this.respChunked) return;
    const t = this.trailers;
    if (t === null) return user.onUpstreamData(LAST_CHUNK);
    let lines = '0\r\n';
    for (const name in t) {
      if (!forwardableTrailer(name)) continue;
      const v = t[name]!;
      for (const item of Array.isArray(v) ? v : [v]) lines += name + ': ' + item + CRLF;
    }
    user.onUpstreamData(Buffer.from(lines + CRLF, 'latin1'));
  }

  onClose(stream: BridgedStream): void {
    const slot = this.slot;
    if (slot !== null) {
      this.slot = null;
      slot.owner.release(slot);
    }
    if (this.stream !== stream) return;
    const user = this.user;
    this.finish();
    // closed before the whole answer: the exchange sees a reset connection
    if (user !== null && !this.responseEnded) user.onUpstreamClose();
  }

  onDeadline(): void {
    const user = this.user;
    if (user !== null) user.onUpstreamTimeout();
  }

  /** Done with this try: the exchange released it, or the stream closed. */
  finish(): void {
    this.user = null;
    this.deadline = 0;
    unwatch(this);
    const s = this.stream;
    // a stream whose both halves ended closes by itself; any other is cancelled
    if (s !== null && !s.closed && !(this.responseEnded && s.writableEnded)) s.close(constants.NGHTTP2_CANCEL);
    if (s === null && this.slot !== null) {
      this.slot.owner.release(this.slot);
      this.slot = null;
    }
  }
}

/** The HTTP/1.1 face of an endpoint's HTTP/2 sessions: `acquire` hands out a Bridge per try. */
export class BridgeConnections {
  readonly sessions: H2Connections;
  readonly settings: PoolSettings;

  constructor(sessions: H2Connections, settings: PoolSettings) {
    this.sessions = sessions;
    this.settings = settings;
  }

  /** Hands the user a Bridge through `onConnection` (possibly before returning); returns it while it waits. */
  acquire(user: ConnectionUser, _forceNew: boolean): Bridge | null {
    const b = new Bridge(this, user);
    this.sessions.acquire(b);
    return b.handedOut ? null : b;
  }

  /** The user gave up while waiting. */
  cancel(_user: ConnectionUser): void {
    // the exchange cleared `connecting.user`; a slot that arrives later is released (Bridge.onH2Session)
  }

  /** The exchange is done with the try; a stream still open is cancelled (its slot returns when it closes). */
  release(b: UpstreamLink, reusable: boolean): void {
    const bridge = b as Bridge;
    void reusable;
    bridge.finish();
  }
}

const bridges = new WeakMap<H2Connections, BridgeConnections>();

/** The endpoint's sessions as the HTTP/1.1 exchange uses them. */
export function bridgeOf(endpoint: Endpoint, settings: PoolSettings): BridgeConnections {
  const sessions = h2ConnectionsOf(endpoint, settings);
  let b = bridges.get(sessions);
  if (b === undefined || b.settings !== settings) {
    b = new BridgeConnections(sessions, settings);
    bridges.set(sessions, b);
  }
  return b;
}
