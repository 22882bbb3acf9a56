// One HTTP/2 stream as an exchange (ARCHITECTURE.md "exchange"), balanced on its own: headers → route → route
// action → pool.pick → an HTTP/1.1 request on a pooled keep-alive upstream connection → the response head and
// body parsed (parse/head.ts, parse/chunked.ts) and written back as HEADERS, DATA and trailers. Request bodies
// stream upstream as they arrive (with the client's content-length, else chunked); both directions follow
// backpressure (a full stream pauses the upstream socket, a full socket pauses the stream). Retries, circuit
// breaker counts, endpoint and route counters follow exchange.ts. The upstream side is a ConnectionUser: an
// HTTP/2 upstream would replace `connect … onResponseHead` and keep the rest.
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { now, unwatch, watch, type HasDeadline } from '../../core/deadlines.ts';
import { Reason, type ReasonCode } from '../../core/errors.ts';
import { statusClass } from '../../core/histogram.ts';
import { hashString } from '../../core/hash.ts';
import { nextRequestId } from '../../core/request-id.ts';
import '../../core/latin1.ts';
import type { HeaderVariables } from '../../filters/header-edits.ts';
import type { Route } from '../../routing/route.ts';
import { beginPick, PickContext } from '../../upstream/balancing/types.ts';
import { CircuitLimit } from '../../upstream/circuit-breaker.ts';
import type { Endpoint } from '../../upstream/endpoint.ts';
import type { Pool } from '../../upstream/pool.ts';
import { StickyCookies } from '../../upstream/sticky/cookie.ts';
import { emptyEntry, type AccessLogEntry } from '../access-log-sink.ts';
import { forwardedSuffix } from '../forward-headers.ts';
import type { ListenerSettings } from '../listener-settings.ts';
import { localReply } from '../local-reply.ts';
import { HOST, TARGET, TOKEN } from '../parse/chars.ts';
import { ChunkedDecoder } from '../parse/chunked.ts';
import { Fields, findHeadEnd, HeadScanner, parseResponseHead, ResponseHead, withinLimits } from '../parse/head.ts';
import { H } from '../parse/header-ids.ts';
import { newSpanId, newTraceId, parseTraceparent } from '../trace-context.ts';
import { connectionsOf, COPY_BELOW_BYTES, noteWritePending, type ConnectionUser, type EndpointConnections, type UpstreamConnection } from '../upstream-connections.ts';
import { h2ConnectionsOf, refusedBeforeProcessing, type H2Connections, type H2SessionUser, type H2UpstreamSession } from '../upstream-h2.ts';
import { grpcReplyHeaders, isGrpc, parseGrpcTimeout } from '../grpc.ts';
import { h2RequestHead } from './upstream-head.ts';
import { addField, addLines, copyH2Fields, copyResponseFields, forwardableTrailer, h2Trailers, learnSessions, respondReply, sendReply, toH2Reply, trailersOf, trimOws, upstreamCloses } from './reply.ts';
import { dropsUpstream, forwardingFields, H2Request, isIdempotent, parseDecimal, validTrailerLine, type Pseudo } from './request.ts';
import type { H2Session } from './session.ts';

/** Body framing, RFC 9112 §6.3. */
const F = { none: 0, length: 1, chunked: 2, untilClose: 3 } as const;

/** Response limits, as for HTTP/1.1 clients (exchange.ts). */
const RESPONSE_LIMITS = { maxStartLine: 8192, maxHeadSize: 65536, maxHeaders: 200 };
/** Response heads are parsed once complete and consumed synchronously: one parse result serves all streams. */
const responseHead = new ResponseHead(RESPONSE_LIMITS.maxHeaders);
/** forward-headers.ts ends with the Via of an HTTP/1.1 hop; an HTTP/2 hop is named `2` (RFC 9110 §7.6.3). */
const H1_VIA = 'via: 1.1 fulcrum\r\n';
const REQUEST_VIA = 'via: 2 fulcrum\r\n';
const UPSTREAM_VIA = '1.1 fulcrum';
const EMPTY = Buffer.alloc(0);
const NO_FIELDS = new Fields(0);
const CRLF = '\r\n';

const kX = Symbol('fulcrum.h2exchange');
interface TaggedStream extends ServerHttp2Stream {
  [kX]: H2Exchange;
}

function onStreamData(this: TaggedStream, chunk: Buffer): void {
  this[kX].onRequestData(chunk);
}
function onStreamEnd(this: TaggedStream): void {
  this[kX].onRequestEnd();
}
function onStreamTrailers(this: TaggedStream, headers: Record<string, string | string[] | undefined>): void {
  this[kX].onRequestTrailers(headers);
}
function onStreamDrain(this: TaggedStream): void {
  this[kX].onDownstreamDrain();
}
function onWantTrailers(this: TaggedStream): void {
  this[kX].sendTrailers();
}
function onStreamClose(this: TaggedStream): void {
  this[kX].onStreamClose();
}
function onStreamError(this: TaggedStream): void {
  // 'close' follows; client resets are routine.
}
function retryNow(x: H2Exchange): void {
  x.retryNow();
}

// An HTTP/2 upstream stream (pools with `protocol: h2`) carries its exchange and its session slot.
const kUp = Symbol('fulcrum.h2upstream');
const kSlot = Symbol('fulcrum.h2slot');
interface UpstreamStream extends ClientHttp2Stream {
  [kUp]: H2Exchange;
  [kSlot]: H2UpstreamSession;
}
function onUpResponse(this: UpstreamStream, headers: IncomingHttpHeaders, flags: number): void {
  this[kUp].onH2Response(this, headers, flags);
}
function onUpData(this: UpstreamStream, chunk: Buffer): void {
  this[kUp].onH2Data(this, chunk);
}
function onUpTrailers(this: UpstreamStream, headers: IncomingHttpHeaders): void {
  this[kUp].onH2Trailers(this, headers);
}
function onUpEnd(this: UpstreamStream): void {
  this[kUp].onH2End(this);
}
function onUpDrain(this: UpstreamStream): void {
  if (this[kUp].up === this) this[kUp].onUpstreamDrain();
}
function onUpClose(this: UpstreamStream): void {
  // the slot is the session's until the stream is closed, whoever closed it
  this[kSlot].owner.release(this[kSlot]);
  this[kUp].onH2Close(this);
}
function onUpError(): void {
  // 'close' follows with the stream's rstCode
}

/** Request body bytes kept so a retry can replay them to another endpoint (Envoy's per-request buffer). */
const REPLAY_LIMIT = 65536;

/** One try's response deadline on an HTTP/2 upstream stream (HTTP/1.1 tries use their socket's). */
class TryDeadline implements HasDeadline {
  deadline: number;
  readonly x: H2Exchange;
  constructor(x: H2Exchange) {
    this.deadline = 0;
    this.x = x;
  }
  onDeadline(): void {
    unwatch(this);
    if (this.x.up !== null) this.x.onUpstreamTimeout();
  }
}

export class H2Exchange implements ConnectionUser, H2SessionUser, HasDeadline {
  readonly session: H2Session;
  readonly stream: ServerHttp2Stream;
  readonly settings: ListenerSettings;
  private readonly req: H2Request;
  private readonly ctx: PickContext;
  route: Route | null;
  pool: Pool | null;
  endpoint: Endpoint | null;
  conn: UpstreamConnection | null;
  private waitingOn: EndpointConnections | null;
  private connecting: UpstreamConnection | null;
  private wasReused: boolean;
  private stickyEndpoint: Endpoint | null;
  requestId: string;
  traceId: string;
  private isHead: boolean;
  private idempotent: boolean;
  // request side
  private outHead: Buffer | null;
  private reqFraming: number;
  requestComplete: boolean;
  /** Request body bytes went upstream: the request can no longer be replayed. */
  private bodyStreamed: boolean;
  /** The stream's body is being read ('data' listener attached). */
  private reading: boolean;
  private expectContinue: boolean;
  private reqTrailerLines: string;
  // tries
  tries: number;
  private staleRetried: boolean;
  private counted: boolean;
  private pendingCounted: boolean;
  private retrying: boolean;
  private retryTimer: NodeJS.Timeout | null;
  private lastEndpoint: Endpoint | null;
  private lastFailure: ReasonCode;
  private tryTimeoutMs: number;
  private retryTimeouts: boolean;
  // HTTP/2 upstream (pools with `protocol: h2`)
  /** The request as an HTTP/2 header list; null for HTTP/1.1 pools. */
  private h2Head: OutgoingHttpHeaders | null;
  up: UpstreamStream | null;
  private h2Waiting: H2Connections | null;
  /** Body chunks sent so far, while they fit in REPLAY_LIMIT (then null: no replay). */
  private replay: Buffer[] | null;
  private replayBytes: number;
  private tryDeadline: TryDeadline | null;
  /** The request is a gRPC call: local answers are gRPC statuses. */
  private grpc: boolean;
  // response side
  private readonly respScanner: HeadScanner;
  private respBuf: Buffer | null;
  private respFraming: number;
  private respRemaining: number;
  private readonly respDecoder: ChunkedDecoder;
  /** Chunked framing bytes read since the last data span: where the trailers are (bounded by the decoder). */
  private respTail: string;
  private respTrailers: OutgoingHttpHeaders | null;
  responseStarted: boolean;
  responseComplete: boolean;
  private upstreamKeepAlive: boolean;
  private upstreamPaused: boolean;
  status: number;
  active: boolean;
  /** This side reset the stream (so its close is not the client's reset). */
  localReset: boolean;
  reason: string;
  private readonly vars: HeaderVariables;
  private readonly t0: number;
  private sentAt: number;
  private connectedAt: number;
  private headAt: number;
  bytesIn: number;
  bytesOut: number;
  private logEntry: AccessLogEntry | null;
  /** The listener's request timeout for this stream (0 = none). */
  deadline: number;

  constructor(session: H2Session, stream: ServerHttp2Stream, settings: ListenerSettings) {
    this.session = session;
    this.stream = stream;
    this.settings = settings;
    this.req = new H2Request();
    this.ctx = new PickContext();
    this.route = null;
    this.pool = null;
    this.endpoint = null;
    this.conn = null;
    this.waitingOn = null;
    this.connecting = null;
    this.wasReused = false;
    this.stickyEndpoint = null;
    this.requestId = '';
    this.traceId = '';
    this.isHead = false;
    this.idempotent = false;
    this.outHead = null;
    this.reqFraming = F.none;
    this.requestComplete = false;
    this.bodyStreamed = false;
    this.reading = false;
    this.expectContinue = false;
    this.reqTrailerLines = '';
    this.tries = 0;
    this.staleRetried = false;
    this.counted = false;
    this.pendingCounted = false;
    this.retrying = false;
    this.retryTimer = null;
    this.lastEndpoint = null;
    this.lastFailure = Reason.upstreamConnectFailed;
    this.tryTimeoutMs = 0;
    this.retryTimeouts = false;
    this.h2Head = null;
    this.up = null;
    this.h2Waiting = null;
    this.replay = null;
    this.replayBytes = 0;
    this.tryDeadline = null;
    this.grpc = false;
    this.respScanner = new HeadScanner();
    this.respBuf = null;
    this.respFraming = F.none;
    this.respRemaining = 0;
    this.respDecoder = new ChunkedDecoder(65536);
    this.respTail = '';
    this.respTrailers = null;
    this.responseStarted = false;
    this.responseComplete = false;
    this.upstreamKeepAlive = true;
    this.upstreamPaused = false;
    this.status = 0;
    this.active = true;
    this.localReset = false;
    this.reason = '';
    this.vars = { clientAddress: '', requestId: '', host: '', method: '', path: '', scheme: session.proto, pool: '', endpoint: '' };
    this.t0 = performance.now();
    this.sentAt = 0;
    this.connectedAt = 0;
    this.headAt = 0;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.logEntry = null;
    this.deadline = 0;
    (stream as TaggedStream)[kX] = this;
    stream.on('error', onStreamError);
    stream.on('close', onStreamClose);
    stream.on('drain', onStreamDrain);
  }

  /** The stream's request head arrived: `raw` is node's flat header list, `endStream` its END_STREAM flag. */
  start(raw: readonly string[], endStream: boolean): void {
    const settings = this.settings;
    settings.stats.requests++;
    if (settings.requestTimeoutMs > 0) {
      this.deadline = now() + settings.requestTimeoutMs;
      watch(this);
    }
    this.requestComplete = endStream;
    const req = this.req;
    const pseudo = pseudoScratch;
    // node:http2 resets a longer list with ENHANCE_YOUR_CALM once the client acknowledged our SETTINGS;
    // before that it lets up to 64 KiB through, and this answers 431
    const maxListSize = settings.http2 === null ? 65536 : settings.http2.maxHeaderListSize;
    const bad = req.read(raw, settings.limits.maxHeaders, maxListSize, pseudo);
    const names = req.names;
    const values = req.values;
    this.isHead = pseudo.method === 'HEAD';
    this.idempotent = isIdempotent(pseudo.method);

    // Request id first, so every reply below can name it.
    const ridName = settings.requestIdHeader;
    const rid = req.header(ridName);
    this.requestId = rid !== null && rid.length > 0 && rid.length <= 200 ? rid : nextRequestId();
    req.requestId = this.requestId;
    this.grpc = isGrpc(req.header('content-type'));
    if (bad !== 0) return this.reply(bad, bad === 431 ? Reason.headersTooLarge : Reason.badRequest);

    // Trace context (W3C), as exchange.ts: continue a valid traceparent with our span id, else start a trace.
    let traceLine = '';
    let tpCount = 0;
    let tpValue = '';
    for (let i = 0; i < names.length; i++) {
      if (names[i] !== 'traceparent') continue;
      tpCount++;
      tpValue = values[i];
    }
    let dropTraceState = false;
    if (settings.traceGenerate) {
      const continued = tpCount === 1 ? parseTraceparent(tpValue) : null;
      if (continued === null) {
        dropTraceState = tpCount > 0;
        this.traceId = newTraceId();
        traceLine = 'traceparent: 00-' + this.traceId + '-' + newSpanId() + '-01\r\n';
      } else {
        this.traceId = continued.slice(0, 32);
        traceLine = 'traceparent: 00-' + this.traceId + '-' + newSpanId() + '-' + continued.slice(32) + '\r\n';
      }
    } else if (tpCount === 1) {
      const valid = parseTraceparent(tpValue);
      this.traceId = valid === null ? '' : valid.slice(0, 32);
    }
    const accessLog = settings.accessLog;
    if (accessLog !== null && accessLog.sample()) this.startLog(pseudo);

    if (pseudo.method === 'CONNECT' || pseudo.protocol) return this.reply(501, Reason.notImplemented);
    // :authority, else Host (RFC 9113 §8.3.1); both must agree; one is needed for an HTTP/1.1 upstream.
    const hostHeader = req.header('host');
    let hostCount = 0;
    for (let i = 0; i < names.length; i++) if (names[i] === 'host') hostCount++;
    if (hostCount > 1) return this.reply(400, Reason.badRequest);
    const authority = pseudo.authority ?? (hostCount === 1 ? hostHeader! : '');
    if (authority === '' || (pseudo.authority !== null && hostCount === 1 && hostHeader!.toLowerCase() !== authority.toLowerCase())) return this.reply(400, Reason.badRequest);
    for (let k = 0; k < authority.length; k++) if (authority.charCodeAt(k) > 0x7f || HOST[authority.charCodeAt(k)] !== 1) return this.reply(400, Reason.badRequest);
    req.authority = authority;
    if (this.logEntry !== null) this.logEntry.host = authority;
    // :path: origin-form, or `*` for OPTIONS; visible ASCII only, as an HTTP/1.1 request-target.
    const path = pseudo.path;
    if (path === '' || (path.charCodeAt(0) !== 0x2f && !(path === '*' && pseudo.method === 'OPTIONS'))) return this.reply(400, Reason.badRequest);
    for (let k = 0; k < path.length; k++) if (path.charCodeAt(k) > 0x7e || TARGET[path.charCodeAt(k)] !== 1) return this.reply(400, Reason.badRequest);
    for (let k = 0; k < pseudo.method.length; k++) if (pseudo.method.charCodeAt(k) > 0x7f || TOKEN[pseudo.method.charCodeAt(k)] !== 1) return this.reply(400, Reason.badRequest);
    req.target = path;
    req.method = pseudo.method;

    // Framing: the client's content-length (nghttp2 checks the DATA frames add up to it), else chunked.
    let framingLine = '';
    const cl = req.header('content-length');
    if (cl !== null) {
      const n = parseDecimal(cl);
      if (n < 0) return this.reply(400, Reason.badRequest);
      if (!endStream || n === 0) {
        this.reqFraming = F.length;
        framingLine = 'content-length: ' + n + '\r\n';
      } else return this.reply(400, Reason.badRequest); // a length but no DATA
    } else if (!endStream) {
      this.reqFraming = F.chunked;
      framingLine = 'transfer-encoding: chunked\r\n';
    } else if (pseudo.method === 'POST' || pseudo.method === 'PUT' || pseudo.method === 'PATCH') {
      framingLine = 'content-length: 0\r\n';
    }
    const expect = req.header('expect');
    if (expect !== null) {
      if (expect.toLowerCase() !== '100-continue') return this.reply(417, Reason.expectationFailed);
      this.expectContinue = !endStream;
    }

    // Forwarding headers first: they resolve the client address (trusted proxies) that routes may match on.
    const session = this.session;
    const trusted = settings.isTrustedProxy !== null && settings.isTrustedProxy(session.peerAddress);
    let forwarded: string;
    if (trusted) {
      const chain = forwardingFields(names, values);
      forwarded = forwardedSuffix(chain.buf, chain.fields, session, true, authority, this.ctx);
    } else forwarded = forwardedSuffix(EMPTY, NO_FIELDS, session, false, authority, this.ctx);
    if (forwarded.endsWith(H1_VIA)) forwarded = forwarded.slice(0, forwarded.length - H1_VIA.length) + REQUEST_VIA;

    // Route (routing/): the table reads the request through H2Request.
    req.clientAddress = this.ctx.clientAddress;
    req.listenerPort = settings.port;
    req.scheme = session.proto;
    const route = settings.routes.match(req);
    if (route === null) return this.reply(404, Reason.noRoute);
    this.route = route;
    if (route.checksSource && !route.admits(this.ctx.clientAddress)) return this.reply(403, Reason.forbidden);
    if (route.pool === null && route.split === null) {
      if (route.respond !== null) return this.replyWith(respondReply(route.respond));
      if (route.redirect !== null) return this.replyWith(toH2Reply(route.redirect.reply(req, { close: false, head: false, keepAlive10: false })));
    }
    const pool = route.poolFor(req);
    if (pool === null) return this.reply(503, Reason.noEligibleEndpoint);
    this.pool = pool;
    const ps = pool.settings;
    this.tryTimeoutMs = route.responseTimeoutMs > 0 ? route.responseTimeoutMs : ps.perTryTimeoutMs > 0 ? ps.perTryTimeoutMs : ps.responseTimeoutMs;
    this.retryTimeouts = ps.perTryTimeoutMs > 0 && ps.retryOnTimeout;
    if (this.grpc) {
      // the call's deadline bounds the wait for the answer (gRPC PROTOCOL-HTTP2 `grpc-timeout`)
      const deadline = req.header('grpc-timeout');
      const ms = deadline === null ? -1 : parseGrpcTimeout(deadline);
      if (ms >= 0 && ms < this.tryTimeoutMs) this.tryTimeoutMs = ms < 1 ? 1 : ms;
    }

    // The route's request edits: rewrites and header edits.
    let upstreamHost = authority;
    let target = path;
    const rewrite = route.rewrite;
    if (rewrite !== null) {
      if (rewrite.host !== null) upstreamHost = rewrite.host;
      if (rewrite.rewritesPath && path !== '*') {
        const original = req.path();
        const rewritten = rewrite.path(original);
        if (rewritten !== original) target = rewritten + path.slice(original.length);
      }
    }
    const edits = route.requestHeaders;
    const responseEdits = route.responseHeaders;
    if ((edits !== null && edits.constant === null) || (responseEdits !== null && responseEdits.constant === null)) this.fillVariables(pool);
    const removed = edits === null ? null : edits.removeNames;
    const certHeaders = settings.tls === null ? null : settings.tls.clientCertHeaders;

    // The upstream head: request line, Host, the client's fields less the hop-by-hop and rewritten ones, framing,
    // forwarding, request id, edits, trace context, client certificate.
    let head = pseudo.method + ' ' + target + ' HTTP/1.1\r\nhost: ' + upstreamHost + '\r\n';
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      if (dropsUpstream(name, trusted) || name === ridName || (removed !== null && removed.has(name)) || (certHeaders !== null && certHeaders.has(name))) continue;
      if ((name === 'traceparent' && settings.traceGenerate) || (name === 'tracestate' && dropTraceState)) continue;
      head += name + ': ' + values[i] + '\r\n';
    }
    head += framingLine + forwarded + ridName + ': ' + this.requestId + '\r\n';
    if (edits !== null) head += edits.constant ?? edits.lines(this.vars);
    head += traceLine;
    if (certHeaders !== null) head += session.clientCertLines;
    if (ps.protocol === 'h2') this.h2Head = h2RequestHead(head, ps.tls === null ? 'http' : 'https', req.header('te'));
    else this.outHead = Buffer.from(head + CRLF, 'latin1');

    // A hash balancer's key and a sticky cookie are read now, while the request is at hand.
    const extract = pool.key;
    if (extract !== null) {
      const key = extract(req);
      this.ctx.hasHash = key !== null;
      this.ctx.hash = key === null ? 0 : hashString(key);
    }
    const sticky = pool.sticky;
    if (sticky !== null) this.stickyEndpoint = sticky.resolve(req.cookie(sticky.name)) ?? null;
    if (!endStream) {
      const s = this.stream as TaggedStream;
      s.on('trailers', onStreamTrailers);
      s.pause(); // read only once a connection is ready: until then a retry may replay everything
    }
    this.connect();
  }

  // ---- request body ---------------------------------------------------------------------------------------

  private startReading(): void {
    if (this.reading) {
      this.stream.resume();
      return;
    }
    this.reading = true;
    if (this.expectContinue) {
      this.expectContinue = false;
      if (!this.stream.headersSent) this.stream.additionalHeaders({ ':status': 100 });
    }
    this.stream.on('data', onStreamData);
    this.stream.on('end', onStreamEnd);
    this.stream.resume();
  }

  onRequestData(chunk: Buffer): void {
    if (!this.active || this.responseComplete) return; // a reply went out; the rest is dropped
    const conn = this.conn;
    if (conn === null) {
      if (this.up !== null) return this.sendBodyH2(this.up, chunk);
      // between tries: kept in the stream for the next connection
      this.stream.pause();
      this.stream.unshift(chunk);
      return;
    }
    this.bytesIn += chunk.length;
    this.settings.stats.bytesIn += chunk.length;
    this.bodyStreamed = true;
    const socket = conn.socket;
    let ok: boolean;
    if (this.reqFraming === F.chunked) {
      socket.cork();
      socket.write(chunk.length.toString(16) + CRLF, 'latin1');
      socket.write(chunk);
      ok = socket.write(CRLF, 'latin1');
      socket.uncork();
    } else ok = socket.write(chunk);
    if (!ok) this.stream.pause();
  }

  onRequestTrailers(headers: Record<string, string | string[] | undefined>): void {
    if (this.reqFraming !== F.chunked) return;
    let lines = '';
    for (const name of Object.keys(headers)) {
      const v = headers[name];
      if (v === undefined || !forwardableTrailer(name)) continue;
      for (const value of Array.isArray(v) ? v : [v]) if (validTrailerLine(name, value)) lines += name + ': ' + value + CRLF;
    }
    this.reqTrailerLines = lines;
  }

  /** A body chunk to an HTTP/2 upstream stream, kept for a replay while the body is small. */
  private sendBodyH2(up: UpstreamStream, chunk: Buffer): void {
    this.bytesIn += chunk.length;
    this.settings.stats.bytesIn += chunk.length;
    if (this.replay !== null && this.replayBytes + chunk.length <= REPLAY_LIMIT) {
      this.replay.push(chunk);
      this.replayBytes += chunk.length;
    } else {
      this.replay = null;
      this.bodyStreamed = true;
    }
    if (!up.write(chunk)) this.stream.pause();
  }

  onRequestEnd(): void {
    this.requestComplete = true;
    if (this.up !== null) {
      this.up.end();
      return;
    }
    const conn = this.conn;
    if (conn !== null && this.reqFraming === F.chunked) conn.socket.write('0\r\n' + this.reqTrailerLines + CRLF, 'latin1');
  }

  onUpstreamDrain(): void {
    if (!this.requestComplete && this.reading && this.active) this.stream.resume();
  }

  // ---- upstream connection ------------------------------------------------------------------------------

  private connect(): void {
    const pool = this.pool!;
    if (this.tries === 0) {
      beginPick(this.ctx);
      const breaker = pool.breaker;
      if (breaker.requests >= breaker.limits.maxRequests) return this.reply(503, Reason.circuitOpen, breaker.trip(CircuitLimit.maxRequests));
      breaker.requests++;
      this.counted = true;
      pool.retryBudget.deposit(now());
    }
    const endpoint = pool.pickTry(this.ctx, this.stickyEndpoint, this.tries === 0, this.lastEndpoint);
    if (endpoint === undefined) {
      if (this.tries === 0) return this.reply(503, Reason.noEligibleEndpoint);
      return this.reply(this.lastFailure === Reason.upstreamTimeout ? 504 : 502, this.lastFailure);
    }
    this.tries++;
    this.useEndpoint(endpoint, false);
  }

  private useEndpoint(endpoint: Endpoint, forceNew: boolean): void {
    const pool = this.pool!;
    if (this.h2Head !== null) return this.useH2Endpoint(endpoint);
    const connections = connectionsOf(endpoint, pool.settings);
    // a try that opens a socket or waits for one: the pool's circuit breakers decide first
    const cap = pool.connectionCap(connections, forceNew);
    if (cap !== null) return this.reply(503, Reason.circuitOpen, cap);
    this.endpoint = endpoint;
    this.sentAt = performance.now();
    endpoint.inFlight++;
    endpoint.requests++;
    this.waitingOn = connections;
    const opening = connections.acquire(this, forceNew);
    if (this.waitingOn !== null) {
      if (opening !== null) this.connecting = opening;
      else {
        this.pendingCounted = true;
        pool.breaker.pending++;
      }
    }
  }

  private useH2Endpoint(endpoint: Endpoint): void {
    const pool = this.pool!;
    const sessions = h2ConnectionsOf(endpoint, pool.settings);
    // a try that may open a connection: the pool's circuit breakers decide first
    const cap = pool.connectionCap(sessions, false);
    if (cap !== null) return this.reply(503, Reason.circuitOpen, cap);
    this.endpoint = endpoint;
    this.sentAt = performance.now();
    endpoint.inFlight++;
    endpoint.requests++;
    this.h2Waiting = sessions;
    sessions.acquire(this);
    if (this.h2Waiting !== null) {
      this.pendingCounted = true;
      pool.breaker.pending++;
    }
  }

  /** A stream slot on an HTTP/2 upstream session: the request goes out as one stream. */
  onH2Session(slot: H2UpstreamSession): void {
    this.h2Waiting = null;
    this.unpend();
    this.connectedAt = performance.now();
    if (!this.active) {
      slot.owner.release(slot);
      return;
    }
    this.wasReused = slot.uses > 1;
    let up: UpstreamStream;
    try {
      up = slot.session.request(this.h2Head!, { endStream: this.reqFraming === F.none }) as UpstreamStream;
    } catch {
      // the session went away between the slot and the request
      slot.owner.release(slot);
      return this.onConnectFailed(Reason.upstreamConnectFailed);
    }
    up[kUp] = this;
    up[kSlot] = slot;
    this.up = up;
    up.on('response', onUpResponse);
    up.on('data', onUpData);
    up.on('trailers', onUpTrailers);
    up.on('end', onUpEnd);
    up.on('drain', onUpDrain);
    up.on('close', onUpClose);
    up.on('error', onUpError);
    if (this.tryTimeoutMs > 0) {
      const d = (this.tryDeadline ??= new TryDeadline(this));
      if (d.deadline === 0) watch(d);
      d.deadline = now() + this.tryTimeoutMs;
    }
    if (this.reqFraming === F.none) return;
    // a retry replays what the last try sent (mayRetry refused it when that did not fit); the rest streams on
    const replay = this.replay;
    if (replay !== null) for (const chunk of replay) up.write(chunk);
    else this.replay = [];
    if (this.requestComplete) up.end();
    else this.startReading();
  }

  // ---- HTTP/2 upstream response --------------------------------------------------------------------------

  onH2Response(up: UpstreamStream, headers: IncomingHttpHeaders, flags: number): void {
    if (this.up !== up || !this.active) return;
    if (this.stream.destroyed) return this.abort();
    this.stopTryDeadline();
    const status = Number(headers[':status']);
    this.status = status;
    const endStream = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    const endpoint = this.endpoint;
    const ps = this.pool!.settings;
    // a trailers-only gRPC answer carries the call's status in its headers
    const grpcStatus = this.grpc && endStream && headers['grpc-status'] !== undefined ? Number(headers['grpc-status']) : -1;
    if (endpoint !== null) {
      this.observe(endpoint, status < 500 && grpcStatus !== 14);
      this.recordOutcome(endpoint, status);
    }
    if (status >= 500 && status < 600 && ps.retryStatus[status - 500] === 1 && this.mayRetry(true)) return this.retryLater(Reason.upstreamErrorStatus);
    if (grpcStatus > 0 && ps.retryGrpcStatus.includes(grpcStatus) && this.mayRetry(true, true)) return this.retryLater(Reason.upstreamErrorStatus);

    const out: OutgoingHttpHeaders = { ':status': status };
    const edits = this.route!.responseHeaders;
    copyH2Fields(headers, out, edits === null ? null : edits.removeNames);
    const sticky = this.pool!.sticky;
    if (sticky !== null && endpoint !== null) {
      if (sticky instanceof StickyCookies) {
        if (endpoint !== this.stickyEndpoint) addLines(out, sticky.setCookieLine(endpoint));
      } else learnSessions(out, sticky.name, (value) => sticky.learn(value, endpoint));
    }
    if (edits !== null) {
      if (edits.constant !== null) addLines(out, edits.constant);
      else {
        this.vars.endpoint = endpoint === null ? '' : endpoint.key;
        addLines(out, edits.lines(this.vars));
      }
    }
    const hsts = this.settings.hstsLine;
    if (hsts !== '') addLines(out, hsts);
    addField(out, 'via', '2 fulcrum');
    const stream = this.stream;
    const bodiless = endStream || this.isHead;
    if (!bodiless) stream.on('wantTrailers', onWantTrailers);
    try {
      stream.respond(out, { endStream: bodiless, waitForTrailers: !bodiless });
    } catch {
      if (stream.destroyed) return this.abort();
      return this.upstreamFailed(Reason.upstreamBadResponse);
    }
    this.responseStarted = true;
    if (bodiless) this.responseDone();
  }

  onH2Data(up: UpstreamStream, chunk: Buffer): void {
    if (this.up !== up || !this.active || this.responseComplete) return;
    if (this.stream.destroyed) return this.abort();
    if (!this.write(chunk) && !this.upstreamPaused) {
      this.upstreamPaused = true;
      up.pause();
    }
  }

  onH2Trailers(up: UpstreamStream, headers: IncomingHttpHeaders): void {
    if (this.up !== up || !this.active) return;
    this.respTrailers = h2Trailers(headers);
  }

  onH2End(up: UpstreamStream): void {
    if (this.up !== up || !this.active || this.responseComplete || !this.responseStarted) return;
    this.stream.end(); // 'wantTrailers' follows: sendTrailers
    this.responseDone();
  }

  /** The upstream stream closed: after its end, or reset by the endpoint, or its session went away. */
  onH2Close(up: UpstreamStream): void {
    if (this.up !== up) return;
    this.up = null;
    this.stopTryDeadline();
    if (!this.active || this.responseComplete) return;
    const endpoint = this.endpoint!;
    if (this.responseStarted) {
      endpoint.failures++;
      this.reason = Reason.upstreamReset;
      return this.finish(true);
    }
    endpoint.failures++;
    this.observe(endpoint, false);
    this.recordOutcome(endpoint, 0);
    // REFUSED_STREAM: the endpoint did not process it (RFC 9113 §8.7), so any request may go elsewhere
    if (refusedBeforeProcessing(up.rstCode) && !this.bodyStreamed && this.mayRetry(false)) return this.retryLater(Reason.upstreamReset);
    if (this.pool!.settings.retryOnReset && this.mayRetry(true)) return this.retryLater(Reason.upstreamReset);
    this.upstreamFailed(Reason.upstreamReset);
  }

  private stopTryDeadline(): void {
    const d = this.tryDeadline;
    if (d !== null && d.deadline !== 0) {
      d.deadline = 0;
      unwatch(d);
    }
  }

  private unpend(): void {
    if (this.pendingCounted) {
      this.pendingCounted = false;
      this.pool!.breaker.pending--;
    }
  }

  /** As exchange.ts: within maxTries, the retry caps and budget; a try that may have arrived only when replayable. */
  private mayRetry(sent: boolean, anyMethod = false): boolean {
    const pool = this.pool!;
    const s = pool.settings;
    if (this.tries >= s.maxTries) return false;
    if (sent && (this.bodyStreamed || !this.requestComplete || (!anyMethod && !s.retryNonIdempotent && !this.idempotent))) return false;
    if (!pool.admitRetry(this.retrying, now())) return false;
    this.retrying = true;
    return true;
  }

  private retryLater(failure: ReasonCode): void {
    const endpoint = this.endpoint;
    this.lastFailure = failure;
    this.dropUpstream();
    if (endpoint !== null) {
      endpoint.inFlight--;
      this.endpoint = null;
      this.lastEndpoint = endpoint;
    }
    this.status = 0;
    this.respBuf = null;
    this.respScanner.reset();
    this.wasReused = false;
    if (this.h2Head !== null && this.reading && !this.requestComplete) this.stream.pause();
    const s = this.pool!.settings;
    const delay = Math.random() * Math.min(s.backoffMaxMs, s.backoffBaseMs * (2 ** (this.tries - 1) * 2 - 1));
    if (delay < 1) return this.connect();
    this.retryTimer = setTimeout(retryNow, delay, this);
  }

  retryNow(): void {
    this.retryTimer = null;
    if (this.active) this.connect();
  }

  onConnection(conn: UpstreamConnection): void {
    this.waitingOn = null;
    this.connecting = null;
    this.unpend();
    this.connectedAt = performance.now();
    if (!this.active) {
      conn.owner.release(conn, true);
      return;
    }
    this.conn = conn;
    this.wasReused = conn.reused;
    conn.socket.write(this.outHead!);
    conn.deadline = this.tryTimeoutMs > 0 ? now() + this.tryTimeoutMs : 0;
    if (this.reqFraming === F.none) return;
    if (!this.requestComplete) this.startReading();
    // an empty body already read (a retry): only its end is left to send
    else if (this.reqFraming === F.chunked) conn.socket.write('0\r\n' + this.reqTrailerLines + CRLF, 'latin1');
  }

  onConnectFailed(reason: ReasonCode): void {
    this.waitingOn = null;
    this.h2Waiting = null;
    this.connecting = null;
    this.unpend();
    const endpoint = this.endpoint;
    if (endpoint === null || !this.active) return;
    endpoint.inFlight--;
    this.endpoint = null;
    if (reason === Reason.queueFull || reason === Reason.queueTimeout) return this.reply(503, reason);
    endpoint.failures++;
    this.observe(endpoint, false);
    this.recordOutcome(endpoint, 0);
    this.lastFailure = reason;
    this.lastEndpoint = null;
    if (this.pool!.settings.retryOnConnectFailure && this.mayRetry(false)) return this.connect();
    this.reply(reason === Reason.upstreamTimeout ? 504 : 502, reason);
  }

  // ---- response ------------------------------------------------------------------------------------------

  onUpstreamData(chunk: Buffer): void {
    if (this.responseComplete || !this.active) {
      this.upstreamKeepAlive = false;
      return;
    }
    if (this.stream.destroyed) return this.abort();
    if (this.status < 200) this.onResponseHeadBytes(chunk);
    else this.onResponseBody(chunk, 0, chunk.length);
  }

  private onResponseHeadBytes(chunk: Buffer): void {
    const buf = this.respBuf === null ? chunk : (this.respBuf = Buffer.concat([this.respBuf, chunk]));
    let start = 0;
    // Interim 1xx responses may precede the final one; they are not forwarded (the client's
    // expectation, if any, was answered when its body was asked for).
    while (true) {
      const view = start === 0 ? buf : buf.subarray(start);
      let end = findHeadEnd(view, this.respScanner.scanned, view.length);
      if (end < 0 || parseResponseHead(view, end, responseHead) !== 0 || !withinLimits(end, responseHead.fieldsStart, responseHead.fields.count, RESPONSE_LIMITS)) {
        end = this.respScanner.scan(view, view.length, RESPONSE_LIMITS, false);
        if (end === -1) {
          this.respBuf = Buffer.from(view);
          return;
        }
        if (end === -2 || parseResponseHead(view, end, responseHead) !== 0) return this.upstreamFailed(Reason.upstreamBadResponse);
      }
      const status = responseHead.status;
      if (status < 200) {
        if (status === 101) return this.upstreamFailed(Reason.upstreamBadResponse);
        this.respScanner.reset();
        start += end;
        if (start === buf.length) {
          this.respBuf = null;
          return;
        }
        continue;
      }
      this.respBuf = null;
      this.status = status;
      if (this.conn !== null) this.conn.deadline = 0;
      if (this.endpoint !== null) {
        this.observe(this.endpoint, status < 500);
        this.recordOutcome(this.endpoint, status);
      }
      if (status >= 500 && status < 600 && this.pool!.settings.retryStatus[status - 500] === 1 && this.mayRetry(true)) {
        return this.retryLater(Reason.upstreamErrorStatus);
      }
      this.onResponseHead(view, end);
      return;
    }
  }

  private onResponseHead(buf: Buffer, headEnd: number): void {
    const head = responseHead;
    const f = head.fields;
    const status = head.status;
    this.upstreamKeepAlive = !upstreamCloses(buf, head);

    // Framing (RFC 9112 §6.3).
    const bodiless = this.isHead || status === 204 || status === 304;
    let length = -1;
    let chunked = false;
    if (f.countOf(H.transferEncoding) > 0) {
      if (f.countOf(H.contentLength) > 0) return this.upstreamFailed(Reason.upstreamBadResponse);
      let te = '';
      for (let i = 0; i < f.count; i++) if (f.ids[i] === H.transferEncoding) te += (te === '' ? '' : ',') + buf.latin1Slice(f.valueStart[i], f.valueEnd[i]);
      if (trimOws(te).toLowerCase() !== 'chunked') return this.upstreamFailed(Reason.upstreamBadResponse);
      chunked = true;
    } else {
      for (let k = 0; k < f.count; k++) {
        if (f.ids[k] !== H.contentLength) continue;
        const n = parseDecimal(buf.latin1Slice(f.valueStart[k], f.valueEnd[k]));
        if (n < 0 || (length >= 0 && n !== length)) return this.upstreamFailed(Reason.upstreamBadResponse);
        length = n;
      }
    }
    const headers: OutgoingHttpHeaders = { ':status': status };
    if (bodiless) {
      this.respFraming = F.none;
      if (length >= 0 && status !== 204) headers['content-length'] = length;
    } else if (chunked) {
      this.respFraming = F.chunked;
      this.respDecoder.reset();
      this.respTail = '';
    } else if (length >= 0) {
      this.respFraming = length === 0 ? F.none : F.length;
      this.respRemaining = length;
      headers['content-length'] = length;
    } else {
      this.respFraming = F.untilClose;
      this.upstreamKeepAlive = false;
    }

    const edits = this.route!.responseHeaders;
    copyResponseFields(buf, f, headers, edits === null ? null : edits.removeNames);
    const sticky = this.pool!.sticky;
    if (sticky !== null && this.endpoint !== null) {
      if (sticky instanceof StickyCookies) {
        if (this.endpoint !== this.stickyEndpoint) addLines(headers, sticky.setCookieLine(this.endpoint));
      } else learnSessions(headers, sticky.name, (value) => sticky.learn(value, this.endpoint!));
    }
    if (edits !== null) {
      if (edits.constant !== null) addLines(headers, edits.constant);
      else {
        this.vars.endpoint = this.endpoint === null ? '' : this.endpoint.key;
        addLines(headers, edits.lines(this.vars));
      }
    }
    const hsts = this.settings.hstsLine;
    if (hsts !== '') addLines(headers, hsts);
    addField(headers, 'via', UPSTREAM_VIA);

    const stream = this.stream;
    const endStream = this.respFraming === F.none;
    if (this.respFraming === F.chunked) stream.on('wantTrailers', onWantTrailers);
    try {
      stream.respond(headers, { endStream, waitForTrailers: this.respFraming === F.chunked });
    } catch {
      // a field node:http2 will not send (a value it refuses), or the stream went away meanwhile
      if (stream.destroyed) return this.abort();
      return this.upstreamFailed(Reason.upstreamBadResponse);
    }
    this.responseStarted = true;
    if (this.respFraming === F.none) return this.responseDone(buf.length > headEnd);
    if (buf.length > headEnd) this.onResponseBody(buf, headEnd, buf.length);
  }

  // HOT PATH: response body bytes are written as views of the received chunk.
  private onResponseBody(buf: Buffer, pos: number, end: number): void {
    const framing = this.respFraming;
    let ok = true;
    if (framing === F.length) {
      const take = end - pos < this.respRemaining ? end - pos : this.respRemaining;
      this.respRemaining -= take;
      ok = this.write(pos === 0 && take === buf.length ? buf : buf.subarray(pos, pos + take));
      if (this.respRemaining === 0) {
        this.stream.end();
        return this.responseDone(pos + take < end);
      }
    } else if (framing === F.chunked) {
      const d = this.respDecoder;
      let p = pos;
      while (p < end && !d.done) {
        const from = p;
        p = d.execute(buf, p, end);
        if (d.failed) return this.upstreamFailed(Reason.upstreamBadResponse);
        if (d.spanEnd > d.spanStart) {
          this.respTail = '';
          ok = this.write(buf.subarray(d.spanStart, d.spanEnd));
        } else this.respTail += buf.latin1Slice(from, p);
      }
      if (d.done) {
        this.respTrailers = trailersOf(this.respTail);
        this.respTail = '';
        this.stream.end(); // 'wantTrailers' follows: sendTrailers
        return this.responseDone(p < end);
      }
    } else {
      ok = this.write(pos === 0 ? buf : buf.subarray(pos, end));
    }
    if (!ok) this.pauseUpstream();
  }

  private write(view: Buffer): boolean {
    this.bytesOut += view.length;
    this.settings.stats.bytesOut += view.length;
    const stream = this.stream;
    // node:http2 keeps what it is handed until the DATA frame is sent, so a view of the upstream read buffer
    // would retire that buffer (64 KiB allocated anew per response). Small pieces are copied instead.
    if (view.length <= COPY_BELOW_BYTES) return stream.write(Buffer.from(view));
    const ok = stream.write(view);
    // still queued: `view` may be a view of the upstream read buffer, which must not be reused yet
    if (stream.writableLength !== 0) noteWritePending();
    return ok;
  }

  /** node:http2 asks for the trailers once the last DATA is queued; none → an empty DATA frame with END_STREAM. */
  sendTrailers(): void {
    const trailers = this.respTrailers;
    this.respTrailers = null;
    try {
      this.stream.sendTrailers(trailers ?? {});
    } catch {
      this.stream.close(constants.NGHTTP2_NO_ERROR);
    }
  }

  private pauseUpstream(): void {
    if (this.conn !== null && !this.upstreamPaused) {
      this.upstreamPaused = true;
      this.conn.socket.pause();
    }
  }

  /** The client's flow-control window opened and node's queue drained: resume reading the response. */
  onDownstreamDrain(): void {
    if (this.upstreamPaused && this.up !== null && this.responseStarted && !this.responseComplete) {
      this.upstreamPaused = false;
      this.up.resume();
      return;
    }
    if (this.upstreamPaused && this.conn !== null && this.responseStarted && !this.responseComplete) {
      this.upstreamPaused = false;
      this.conn.socket.resume();
    }
  }

  onUpstreamEnd(): void {
    this.upstreamKeepAlive = false;
    if (this.respFraming === F.untilClose && this.status >= 200 && this.responseStarted) this.endUntilClose();
  }

  onUpstreamClose(): void {
    this.conn = null;
    if (!this.active || this.responseComplete) return;
    const endpoint = this.endpoint!;
    if (this.respFraming === F.untilClose && this.responseStarted) return this.endUntilClose();
    if (!this.responseStarted) {
      // a reused keep-alive socket the server closed before we noticed: once more on a fresh one
      const replayable = !this.bodyStreamed && this.respBuf === null && this.status === 0 && this.idempotent;
      if (replayable && !this.staleRetried && this.wasReused) {
        this.staleRetried = true;
        endpoint.inFlight--;
        this.wasReused = false;
        if (this.reading) this.stream.pause();
        return this.useEndpoint(endpoint, true);
      }
      endpoint.failures++;
      if (this.pool!.settings.retryOnReset && this.respBuf === null && this.status === 0 && this.mayRetry(true)) {
        this.observe(endpoint, false);
        this.recordOutcome(endpoint, 0);
        return this.retryLater(Reason.upstreamReset);
      }
      return this.upstreamFailed(Reason.upstreamReset);
    }
    endpoint.failures++;
    this.reason = Reason.upstreamReset;
    this.finish(true);
  }

  private endUntilClose(): void {
    this.stream.end();
    this.responseDone();
  }

  onUpstreamTimeout(): void {
    const endpoint = this.endpoint;
    if (endpoint !== null) {
      endpoint.failures++;
      if (this.retryTimeouts && this.respBuf === null && this.status === 0 && this.mayRetry(true)) {
        this.observe(endpoint, false);
        this.recordOutcome(endpoint, 0);
        return this.retryLater(Reason.upstreamTimeout);
      }
    }
    this.upstreamFailed(Reason.upstreamTimeout);
  }

  /** The listener's overall request timeout passed. */
  onDeadline(): void {
    if (!this.active) return;
    if (this.endpoint !== null) this.endpoint.failures++;
    this.dropUpstream();
    this.reason = Reason.requestTimeout;
    if (!this.responseStarted) this.reply(504, Reason.requestTimeout);
    else this.finish(true);
  }

  private upstreamFailed(reason: ReasonCode): void {
    if (this.endpoint !== null && this.status === 0) {
      this.observe(this.endpoint, false);
      this.recordOutcome(this.endpoint, 0);
    }
    this.dropUpstream();
    this.reason = reason;
    if (!this.responseStarted) this.reply(reason === Reason.upstreamTimeout ? 504 : 502, reason);
    else this.finish(true);
  }

  private responseDone(extraBytes = false): void {
    this.responseComplete = true;
    const up = this.up;
    if (up !== null) {
      this.stopTryDeadline();
      // answered before the whole request went up: the rest is not wanted (RFC 9113 §8.1)
      if (!this.requestComplete && !up.closed) up.close(constants.NGHTTP2_NO_ERROR);
    }
    const conn = this.conn;
    if (conn !== null) {
      this.conn = null;
      conn.deadline = 0;
      if (this.upstreamPaused) {
        this.upstreamPaused = false;
        conn.socket.resume();
      }
      conn.owner.release(conn, this.upstreamKeepAlive && this.requestComplete && !extraBytes);
    }
    this.finish(false);
  }

  private observe(endpoint: Endpoint, ok: boolean): void {
    const balancer = this.pool!.balancer;
    if (balancer.observe === undefined) return;
    balancer.observe(endpoint, { ok, latencyMs: performance.now() - this.sentAt });
  }

  private recordOutcome(endpoint: Endpoint, status: number): void {
    endpoint.responses[statusClass(status)]++;
    if (status !== 0) {
      const t = performance.now();
      this.headAt = t;
      endpoint.responseLatency.observe(t - this.sentAt);
    }
    const outlier = this.pool!.outlier;
    if (outlier !== null) outlier.record(endpoint, status);
  }

  // ---- endings -----------------------------------------------------------------------------------------------

  /** Answers locally with the same reply an HTTP/1.1 client gets (local-reply.ts). */
  private reply(status: number, reason: ReasonCode, limit = ''): void {
    this.dropUpstream();
    const replies = this.settings.stats.localReplies;
    replies.set(reason, (replies.get(reason) ?? 0) + 1);
    this.reason = reason;
    if (this.grpc) {
      this.status = 200;
      this.responseStarted = true;
      if (!this.stream.destroyed && !this.stream.headersSent) this.stream.respond(grpcReplyHeaders(status, reason, this.requestId, this.settings.requestIdHeader), { endStream: true });
      return this.finish(false);
    }
    this.replyWith(toH2Reply(localReply(status, reason, this.requestId, false, false, false, limit, this.traceId)));
  }

  /** Sends a whole reply (local, respond or redirect) and ends the exchange. */
  private replyWith(r: { readonly status: number; readonly headers: OutgoingHttpHeaders; readonly body: Buffer }): void {
    this.status = r.status;
    this.responseStarted = true;
    const sent = sendReply(this.stream, r, this.isHead);
    this.bytesOut += sent;
    this.settings.stats.bytesOut += sent;
    this.finish(false);
  }

  private fillVariables(pool: Pool): void {
    const v = this.vars;
    const req = this.req;
    v.clientAddress = req.clientAddress;
    v.requestId = this.requestId;
    v.host = req.host();
    v.method = req.method;
    v.path = req.path();
    v.pool = pool.name;
    v.endpoint = '';
  }

  private dropUpstream(): void {
    const conn = this.conn;
    if (conn !== null) {
      this.conn = null;
      conn.owner.release(conn, false);
    }
    const up = this.up;
    if (up !== null) {
      this.up = null;
      this.stopTryDeadline();
      if (this.upstreamPaused) this.upstreamPaused = false;
      if (!up.closed) up.close(constants.NGHTTP2_CANCEL);
    }
    if (this.h2Waiting !== null) {
      this.h2Waiting.cancel(this);
      this.h2Waiting = null;
      this.unpend();
    }
    if (this.waitingOn !== null) {
      this.waitingOn.cancel(this);
      this.waitingOn = null;
      if (this.connecting !== null) this.connecting.user = null;
      this.connecting = null;
      this.unpend();
    }
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
  }

  private uncount(): void {
    const breaker = this.pool!.breaker;
    if (this.counted) {
      this.counted = false;
      breaker.requests--;
    }
    if (this.retrying) {
      this.retrying = false;
      breaker.retries--;
    }
  }

  /** The exchange is over; `abort` resets the stream (the HTTP/2 form of closing an HTTP/1.1 connection). */
  private finish(abort: boolean): void {
    if (!this.active) return;
    this.active = false;
    this.count(abort ? 0 : this.status);
    if (this.counted || this.retrying) this.uncount();
    if (this.endpoint !== null) {
      this.endpoint.inFlight--;
      this.endpoint = null;
    }
    this.outHead = null;
    this.stopDeadline();
    const stream = this.stream;
    if (abort) {
      this.dropUpstream();
      this.localReset = true;
      if (!stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    } else if (!this.requestComplete && !stream.destroyed) {
      if (this.grpc) {
        // gRPC clients take a reset that follows the status as the call's end without one: the rest of the
        // request is read and dropped instead (the client ends or cancels the call once it has the status)
        stream.resume();
      } else {
        // answered before the whole request came: ask the client to stop sending (RFC 9113 §8.1)
        this.localReset = true;
        stream.close(constants.NGHTTP2_NO_ERROR);
      }
    }
    this.session.streamDone();
  }

  /** The stream closed: done, reset by the client, or its session went away. */
  onStreamClose(): void {
    if (!this.localReset && this.stream.rstCode !== constants.NGHTTP2_NO_ERROR) this.session.noteReset();
    if (this.active) this.abort();
  }

  /** The client went away mid-exchange. */
  abort(): void {
    if (!this.active) return;
    this.active = false;
    this.dropUpstream();
    if (this.reason === '') this.reason = Reason.clientClosed;
    this.count(0);
    if (this.counted || this.retrying) this.uncount();
    if (this.endpoint !== null) {
      this.endpoint.inFlight--;
      this.endpoint = null;
    }
    this.outHead = null;
    this.stopDeadline();
    this.session.streamDone();
  }

  private stopDeadline(): void {
    if (this.settings.requestTimeoutMs > 0) {
      this.deadline = 0;
      unwatch(this);
    }
  }

  private count(status: number): void {
    const route = this.route;
    const end = performance.now();
    if (route !== null) {
      route.stats.responses[statusClass(status)]++;
      route.stats.duration.observe(end - this.t0);
    }
    if (this.logEntry !== null) this.writeLog(status, end);
  }

  private startLog(pseudo: Pseudo): void {
    const e = (this.logEntry = emptyEntry());
    const q = pseudo.path.indexOf('?');
    e.method = pseudo.method;
    e.path = q < 0 ? pseudo.path : pseudo.path.slice(0, q);
    if (this.settings.accessLog!.wantsAgent) {
      e.referer = this.req.header('referer') ?? '';
      e.userAgent = this.req.header('user-agent') ?? '';
    }
  }

  private writeLog(status: number, end: number): void {
    const e = this.logEntry!;
    this.logEntry = null;
    e.time = Date.now();
    e.requestId = this.requestId;
    e.traceId = this.traceId;
    e.clientAddress = this.ctx.clientAddress !== '' ? this.ctx.clientAddress : this.session.peerAddress;
    e.listener = this.settings.name;
    e.route = this.route === null ? '' : this.route.name;
    e.pool = this.pool === null ? '' : this.pool.name;
    e.endpoint = this.endpoint !== null ? this.endpoint.key : this.lastEndpoint !== null ? this.lastEndpoint.key : '';
    e.status = status;
    e.bytesIn = this.bytesIn;
    e.bytesOut = this.bytesOut;
    e.connectMs = this.connectedAt === 0 ? -1 : this.connectedAt - this.sentAt;
    e.ttfbMs = this.headAt === 0 ? -1 : this.headAt - this.t0;
    e.totalMs = end - this.t0;
    e.retries = this.tries > 1 ? this.tries - 1 : 0;
    e.reason = this.reason;
    this.settings.accessLog!.record(e);
  }
}

/** Reused by every H2Exchange.start (consumed synchronously). */
const pseudoScratch: Pseudo = { method: '', path: '', authority: null, protocol: false };

