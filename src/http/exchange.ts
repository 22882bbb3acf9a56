// One request and its response (ARCHITECTURE.md "exchange"), reused for every request on a client
// connection. Flow: request head → route → pool.pick → endpoint connection → head + streamed body upstream;
// response head → downstream; body streamed back with backpressure both ways. Before any request byte
// went upstream a failed connect moves to the next endpoint (bounded by the pool's maxTries); after, the
// client gets 502/504 or, once response bytes were sent, a closed connection.
import { now } from '../core/deadlines.ts';
import { Reason, type ReasonCode } from '../core/errors.ts';
import { nextRequestId } from '../core/request-id.ts';
import { statusClass } from '../core/histogram.ts';
import { emptyEntry, type AccessLogEntry } from './access-log-sink.ts';
import { newSpanId, newTraceId, parseTraceparent } from './trace-context.ts';
import '../core/latin1.ts';
import { beginPick, PickContext } from '../upstream/balancing/types.ts';
import { CircuitLimit } from '../upstream/circuit-breaker.ts';
import type { Endpoint } from '../upstream/endpoint.ts';
import type { Pool } from '../upstream/pool.ts';
import type { Route } from '../routing/route.ts';
import type { ReplyOptions } from '../routing/actions/respond.ts';
import type { HeaderVariables } from '../filters/header-edits.ts';
import { allowedHeaderLines, rejectReply, type Decision } from '../filters/rate-limit.ts';
import type { Downstream } from './downstream.ts';
import { forwardedSuffix } from './forward-headers.ts';
import type { ListenerSettings } from './listener-settings.ts';
import { localReply, reasonForStatus } from './local-reply.ts';
import { hashString } from '../core/hash.ts';
import { HeadKeyRequest } from './key-request.ts';
import { StickyCookies } from '../upstream/sticky/cookie.ts';
import type { AppCookieSticky } from '../upstream/sticky/app-cookie.ts';
import { ChunkedDecoder } from './parse/chunked.ts';
import { HOST } from './parse/chars.ts';
import { H } from './parse/header-ids.ts';
import { findHeadEnd, HeadScanner, Method, parseResponseHead, ResponseHead, withinLimits, type RequestHead } from './parse/head.ts';
import { buildHead, mask } from './serialize.ts';
import { connectionsOf, type ConnectionUser, type LinkSource, type UpstreamLink } from './upstream-connections.ts';
import { clientCloseFrame, FrameBoundary, GOING_AWAY, serverCloseFrame } from './websocket-frames.ts';
import { randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';

/** Body framing, RFC 9112 §6.3. */
const F = { none: 0, length: 1, chunked: 2, untilClose: 3 } as const;

/** Request header lines the proxy never copies upstream: hop-by-hop (RFC 9110 §7.6.1) and the framing it rewrites. */
const REQUEST_SKIP = mask(H.connection, H.keepAlive, H.proxyConnection, H.te, H.upgrade, H.transferEncoding, H.contentLength, H.drop);
/** …and when the peer is not a trusted proxy, the forwarding headers it may have forged. */
const UNTRUSTED_SKIP = REQUEST_SKIP | mask(H.xForwardedFor, H.xForwardedProto, H.xForwardedHost, H.forwarded);
const TRUSTED_SKIP = REQUEST_SKIP | mask(H.xForwardedFor, H.forwarded);
const RESPONSE_SKIP = mask(H.connection, H.keepAlive, H.proxyConnection, H.te, H.upgrade, H.transferEncoding, H.contentLength, H.drop);
const RESPONSE_SKIP_DECHUNK = RESPONSE_SKIP | mask(H.trailer);

/** Response limits: upstream heads are trusted more than client heads, but still bounded. */
const RESPONSE_LIMITS = { maxStartLine: 8192, maxHeadSize: 65536, maxHeaders: 200 };
/** Response heads are parsed once complete and consumed synchronously: one parse result serves all exchanges. */
const responseHead = new ResponseHead(RESPONSE_LIMITS.maxHeaders);
/** Merge a small body prefix into the head buffer: one write instead of two. */
const MERGE_LIMIT = 16384;

/** node:http2 and the bridge load with the first pool that says `protocol: h2` (≈ 10 MB resident otherwise). */
const requireModule = createRequire(import.meta.url);
let bridgeModule: typeof import('./h2/h1-bridge.ts') | null = null;
function h2Bridge(): typeof import('./h2/h1-bridge.ts') {
  return (bridgeModule ??= requireModule('./h2/h1-bridge.ts') as typeof import('./h2/h1-bridge.ts'));
}
/** After Fulcrum's close frames, how long a tunnel's sides have to close before they are closed. */
const TUNNEL_CLOSE_GRACE_MS = 2000;

export class Exchange implements ConnectionUser {
  /** The client connection this exchange currently serves (exchanges are recycled across connections). */
  ds: Downstream;
  settings: ListenerSettings | null;
  route: Route | null;
  pool: Pool | null;
  endpoint: Endpoint | null;
  conn: UpstreamLink | null;
  /** While a socket is being opened or waited for: whom to tell if this exchange gives up first. */
  waitingOn: LinkSource | null;
  connecting: UpstreamLink | null;
  /** The socket in use had carried earlier exchanges (so it may have been closed by the server meanwhile). */
  wasReused: boolean;
  readonly ctx: PickContext;
  /** The endpoint a valid sticky cookie pins this request to, if any. */
  stickyEndpoint: Endpoint | null;
  /** Reused per exchange to extract a hash balancer's key. */
  private readonly keyRequest: HeadKeyRequest;
  /** When the upstream attempt started (performance.now), for the balancer's latency feedback. */
  sentAt: number;
  /** Reused for Balancer.observe: no allocation per exchange. */
  private readonly outcome: { ok: boolean; latencyMs: number };
  requestId: string;
  methodCode: number;
  version: number;
  /** The client may keep the connection after this exchange. */
  keepAlive: boolean;
  /** Close the client connection once this exchange is done. */
  closeAfter: boolean;
  // request side
  reqFraming: number;
  reqRemaining: number;
  readonly reqDecoder: ChunkedDecoder;
  requestComplete: boolean;
  outHead: Buffer | null;
  /** Body bytes read before a connection was ready; kept until the response starts so a retry can replay them. */
  held: Buffer | null;
  /** Body bytes went upstream beyond `held`: the request can no longer be replayed. */
  bodyStreamed: boolean;
  tries: number;
  staleRetried: boolean;
  /** Counted in the pool's circuit breaker: in flight / waiting for a socket / on a retry. */
  counted: boolean;
  pendingCounted: boolean;
  retrying: boolean;
  /** A retry waiting out its backoff. */
  retryTimer: NodeJS.Timeout | null;
  /** The endpoint that received the request on the failed try: a retry may go back to it when no other is left. */
  lastEndpoint: Endpoint | null;
  /** This exchange's limit on each try's response head (pool's per-try or response timeout, or the route's). */
  tryTimeoutMs: number;
  /** Whether that limit passing may be retried (a per-try timeout, with `timeout` in the retry policy). */
  retryTimeouts: boolean;
  /** Values of `${…}` in the route's header edits, filled at routing when an edit uses them. */
  private readonly vars: HeaderVariables;
  /** The request asks for a WebSocket upgrade; `tunnel` once the endpoint accepted it (101). */
  upgrade: boolean;
  tunnel: boolean;
  /** Frame boundaries of the tunnel's two directions (made on the first tunnel, kept with the exchange). */
  private wsToClient: FrameBoundary | null;
  private wsToEndpoint: FrameBoundary | null;
  /** Fulcrum sent its close frames (idle, deregistered): bytes are no longer relayed. */
  private tunnelClosing: boolean;
  /** Bumped per request: an answer that arrives late (a Redis check) finds out whether it is still for us. */
  private seq: number;
  /** RateLimit headers for the response when a policy asks for them ('' otherwise). */
  rateLimitLines: string;
  /** Reused for the route's own replies (respond, redirect). */
  private readonly replyOpts: { -readonly [K in keyof ReplyOptions]: ReplyOptions[K] };
  lastFailure: ReasonCode;
  // response side
  readonly respScanner: HeadScanner;
  respBuf: Buffer | null;
  respFraming: number;
  respRemaining: number;
  readonly respDecoder: ChunkedDecoder;
  dechunk: boolean;
  responseStarted: boolean;
  responseComplete: boolean;
  upstreamKeepAlive: boolean;
  /** Reading the response is paused for backpressure. */
  upstreamPaused: boolean;
  status: number;
  active: boolean;
  startedAt: number;
  /** performance.now() when the request head was parsed: the exchange's duration starts here. */
  t0: number;
  /** W3C trace id of this exchange ('' with `tracing: passthrough` and no valid incoming trace). */
  traceId: string;
  /** This exchange goes to the access log (the listener has one and its sampling said yes). */
  logging: boolean;
  /** Reused access log entry, made on first use. */
  private logEntry: AccessLogEntry | null;
  /** Request body bytes read (chunked framing included). */
  reqBodyBytes: number;
  /** performance.now() of the last try's connection ready and of the response head; 0 = none. */
  connectedAt: number;
  headAt: number;
  /** Why Fulcrum answered or closed the exchange itself; '' when a response was forwarded whole. */
  reason: string;

  constructor() {
    this.ds = null as unknown as Downstream; // set by the downstream before start()
    this.settings = null;
    this.route = null;
    this.pool = null;
    this.endpoint = null;
    this.conn = null;
    this.waitingOn = null;
    this.connecting = null;
    this.wasReused = false;
    this.ctx = new PickContext();
    this.keyRequest = new HeadKeyRequest();
    this.stickyEndpoint = null;
    this.sentAt = 0;
    this.outcome = { ok: true, latencyMs: 0 };
    this.requestId = '';
    this.methodCode = 0;
    this.version = 11;
    this.keepAlive = true;
    this.closeAfter = false;
    this.reqFraming = F.none;
    this.reqRemaining = 0;
    this.reqDecoder = new ChunkedDecoder(32768);
    this.requestComplete = false;
    this.outHead = null;
    this.held = null;
    this.bodyStreamed = false;
    this.tries = 0;
    this.staleRetried = false;
    this.counted = false;
    this.pendingCounted = false;
    this.retrying = false;
    this.retryTimer = null;
    this.lastEndpoint = null;
    this.tryTimeoutMs = 0;
    this.retryTimeouts = false;
    this.vars = { clientAddress: '', requestId: '', host: '', method: '', path: '', scheme: 'http', pool: '', endpoint: '' };
    this.replyOpts = { close: false, head: false, keepAlive10: false };
    this.rateLimitLines = '';
    this.seq = 0;
    this.upgrade = false;
    this.tunnel = false;
    this.wsToClient = null;
    this.wsToEndpoint = null;
    this.tunnelClosing = false;
    this.lastFailure = Reason.upstreamConnectFailed;
    this.respScanner = new HeadScanner();
    this.respBuf = null;
    this.respFraming = F.none;
    this.respRemaining = 0;
    this.respDecoder = new ChunkedDecoder(65536);
    this.dechunk = false;
    this.responseStarted = false;
    this.responseComplete = false;
    this.upstreamKeepAlive = true;
    this.upstreamPaused = false;
    this.status = 0;
    this.active = false;
    this.startedAt = 0;
    this.t0 = 0;
    this.traceId = '';
    this.logging = false;
    this.logEntry = null;
    this.connectedAt = 0;
    this.headAt = 0;
    this.reason = '';
    this.reqBodyBytes = 0;
  }

  /**
   * A request head was parsed from `buf` (which holds the head and possibly body or pipelined bytes up to
   * `end`). Returns nothing; the exchange drives the downstream from here until `ds.exchangeDone`.
   */
  start(head: RequestHead, buf: Buffer, end: number, settings: ListenerSettings): void {
    this.reset(settings);
    this.t0 = performance.now();
    settings.stats.requests++;
    const f = head.fields;
    this.methodCode = head.methodCode;
    this.version = head.version;
    const src = head.buf;

    // Request id first, so every reply below can name it.
    const ridIdx = f.find(H.requestId);
    if (ridIdx >= 0 && f.valueEnd[ridIdx] - f.valueStart[ridIdx] > 0 && f.valueEnd[ridIdx] - f.valueStart[ridIdx] <= 200) {
      this.requestId = src.latin1Slice(f.valueStart[ridIdx], f.valueEnd[ridIdx]);
    } else {
      if (ridIdx >= 0) f.ids[ridIdx] = H.drop; // empty or oversized: replace it
      this.requestId = nextRequestId();
    }

    // Trace context (W3C): a valid traceparent is continued with Fulcrum's span id, else a trace starts.
    let traceLine = '';
    const tpCount = f.countOf(H.traceparent);
    if (settings.traceGenerate) {
      const continued = tpCount === 1 ? parseTraceparent(valueOf(src, f, f.find(H.traceparent))) : null;
      if (tpCount > 0) dropId(f, H.traceparent);
      if (continued === null) {
        if (tpCount > 0) dropId(f, H.tracestate); // an invalid parent invalidates its state (§3.3)
        this.traceId = newTraceId();
        traceLine = 'traceparent: 00-' + this.traceId + '-' + newSpanId() + '-01\r\n';
      } else {
        this.traceId = continued.slice(0, 32);
        traceLine = 'traceparent: 00-' + this.traceId + '-' + newSpanId() + '-' + continued.slice(32) + '\r\n';
      }
    } else if (tpCount === 1) {
      const valid = parseTraceparent(valueOf(src, f, f.find(H.traceparent)));
      this.traceId = valid === null ? '' : valid.slice(0, 32);
    }
    const accessLog = settings.accessLog;
    if (accessLog !== null && accessLog.sample()) this.startLog(head, this.ds);

    // Connection options (RFC 9112 §9.3, RFC 9110 §7.6.1).
    let close = false;
    let keepAliveToken = false;
    let upgradeToken = false;
    if (((f.seen >>> H.connection) & 1) !== 0) {
      for (let i = 0; i < f.count; i++) {
        if (f.ids[i] !== H.connection) continue;
        const value = src.latin1Slice(f.valueStart[i], f.valueEnd[i]).toLowerCase();
        for (const raw of value.split(',')) {
          const token = trimOws(raw);
          if (token === 'close') close = true;
          else if (token === 'keep-alive') keepAliveToken = true;
          else if (token === 'upgrade') upgradeToken = true;
          else if (token !== '') dropNamed(src, f, token);
        }
      }
    }
    this.keepAlive = head.version === 11 ? !close : keepAliveToken && !close;
    if (!this.keepAlive || this.ds.closing || settings.keepAliveTimeoutMs === 0) this.closeAfter = true;

    if (head.methodCode === Method.CONNECT) return this.reply(501, Reason.notImplemented);

    // Host (RFC 9112 §3.2): exactly one in HTTP/1.1; absolute-form targets carry their own.
    let hostStart = -1;
    let hostEnd = -1;
    const hostCount = f.countOf(H.host);
    if (hostCount > 1) return this.reply(400, Reason.badRequest);
    if (hostCount === 1) {
      const i = f.find(H.host);
      hostStart = f.valueStart[i];
      hostEnd = f.valueEnd[i];
      if (hostEnd === hostStart && head.version === 11) return this.reply(400, Reason.badRequest);
      for (let p = hostStart; p < hostEnd; p++) if (HOST[src[p]] !== 1) return this.reply(400, Reason.badRequest);
    }

    let target = '';
    let hostText: string | null = null;
    let absoluteForm = false;
    const t0 = src[head.targetStart];
    if (t0 === 0x2f /* / */) {
      // origin-form: decoded only when something needs it
    } else if (t0 === 0x2a /* * */ && head.targetEnd - head.targetStart === 1 && head.methodCode === Method.OPTIONS) {
      target = '*';
    } else {
      // absolute-form (RFC 9112 §3.2.2): the authority replaces Host
      const abs = src.latin1Slice(head.targetStart, head.targetEnd);
      const m = /^https?:\/\/([^/?#@]+)([/?][^#]*)?$/i.exec(abs);
      if (m === null) return this.reply(400, Reason.badRequest);
      hostText = m[1].toLowerCase();
      for (let k = 0; k < hostText.length; k++) if (HOST[hostText.charCodeAt(k)] !== 1) return this.reply(400, Reason.badRequest);
      target = m[2] === undefined ? '/' : m[2][0] === '?' ? '/' + m[2] : m[2];
      absoluteForm = true;
    }
    if (hostCount === 0 && head.version === 11 && !absoluteForm) return this.reply(400, Reason.badRequest);
    if (this.logging) this.logEntry!.host = hostText ?? (hostStart >= 0 ? src.latin1Slice(hostStart, hostEnd) : '');

    // Framing (RFC 9112 §6.1–6.3): both CL and TE, repeated CL, or TE other than a final "chunked" are
    // rejected outright — they are what request smuggling is made of.
    const clCount = f.countOf(H.contentLength);
    const teCount = f.countOf(H.transferEncoding);
    if (teCount > 0) {
      if (clCount > 0 || head.version === 10) return this.reply(400, Reason.badRequest);
      let te = '';
      for (let i = 0; i < f.count; i++) {
        if (f.ids[i] === H.transferEncoding) te += (te === '' ? '' : ',') + src.latin1Slice(f.valueStart[i], f.valueEnd[i]);
      }
      const codings = te.toLowerCase().split(',').map(trimOws);
      if (codings.length !== 1 || codings[0] !== 'chunked') {
        const last = codings[codings.length - 1];
        const known = codings.slice(0, -1).every((c) => c === 'gzip' || c === 'deflate' || c === 'compress' || c === 'x-gzip');
        if (last === 'chunked' && known) return this.reply(501, Reason.notImplemented);
        return this.reply(400, Reason.badRequest);
      }
      this.reqFraming = F.chunked;
      this.reqDecoder.reset();
    } else if (clCount > 0) {
      if (clCount > 1) return this.reply(400, Reason.badRequest);
      const i = f.find(H.contentLength);
      const n = parseDecimal(src, f.valueStart[i], f.valueEnd[i]);
      if (n < 0) return this.reply(400, Reason.badRequest);
      if (n > 0) {
        this.reqFraming = F.length;
        this.reqRemaining = n;
      }
    }
    if (this.reqFraming === F.none) this.requestComplete = true;

    const expectIdx = f.find(H.expect);
    if (expectIdx >= 0) {
      if (f.countOf(H.expect) > 1 || src.latin1Slice(f.valueStart[expectIdx], f.valueEnd[expectIdx]).toLowerCase() !== '100-continue') {
        return this.reply(417, Reason.expectationFailed);
      }
      if (head.version === 10) f.ids[expectIdx] = H.drop; // HTTP/1.0 clients do not wait for 100 (RFC 9110 §10.1.1)
    }

    // WebSocket (RFC 6455 §4.1): a GET without a body asking `Connection: upgrade` + `Upgrade: websocket` is
    // forwarded with both headers; a 101 answer turns the exchange into a tunnel. Other upgrades (h2c) are not.
    this.upgrade = false;
    if (upgradeToken && head.methodCode === Method.GET && this.reqFraming === F.none && f.countOf(H.upgrade) === 1) {
      const i = f.find(H.upgrade);
      this.upgrade = src.latin1Slice(f.valueStart[i], f.valueEnd[i]).trim().toLowerCase() === 'websocket';
    }

    // Forwarding headers first: they resolve the client address (trusted proxies) that routes may match on.
    const ds = this.ds;
    const trusted = settings.isTrustedProxy !== null && settings.isTrustedProxy(ds.peerAddress);
    const hostForHeaders = hostText ?? (hostStart >= 0 ? src.latin1Slice(hostStart, hostEnd) : '');
    const forwarded = forwardedSuffix(src, f, ds, trusted, hostForHeaders, this.ctx);

    // Route (routing/): the table reads the request through HeadKeyRequest, decoding only what it asks for.
    const req = this.keyRequest;
    req.reset(head, this.ctx.clientAddress, target === '*' ? '' : target);
    req.setHost(hostText, hostStart, hostEnd);
    req.requestId = this.requestId;
    req.listenerPort = settings.port;
    req.scheme = ds.proto;
    const route = settings.routes.match(req);
    if (route === null || (route.checksSource && !route.admits(this.ctx.clientAddress)) || route.pool === null) {
      // keep a pipelined next request: this one has no body, so the bytes after its head are the next one's
      if (this.requestComplete && head.headEnd < end) this.ds.stash(buf, head.headEnd, end);
      if (route === null) return this.reply(404, Reason.noRoute);
      this.route = route;
      if (route.checksSource && !route.admits(this.ctx.clientAddress)) return this.reply(403, Reason.forbidden);
      if (route.respond !== null) return this.replyBytes(route.respond.status, route.respond.reply(this.replyOptions()));
      if (route.redirect !== null) return this.replyBytes(route.redirect.status, route.redirect.reply(req, this.replyOptions()));
    }
    const pool = route.poolFor(req)!;
    this.route = route;
    this.pool = pool;
    const poolSettings = pool.settings;
    this.tryTimeoutMs =
      route.responseTimeoutMs > 0 ? route.responseTimeoutMs : poolSettings.perTryTimeoutMs > 0 ? poolSettings.perTryTimeoutMs : poolSettings.responseTimeoutMs;
    this.retryTimeouts = poolSettings.perTryTimeoutMs > 0 && poolSettings.retryOnTimeout;

    // The route's request edits: rewrites and header edits, before the head is built.
    let upstreamHost = absoluteForm ? hostText : null;
    let upstreamTarget = '';
    const rewrite = route.rewrite;
    if (rewrite !== null) {
      if (rewrite.host !== null) upstreamHost = rewrite.host;
      if (rewrite.rewritesPath && target !== '*') {
        const original = req.path();
        const path = rewrite.path(original);
        if (path !== original) {
          const full = req.pathAndQuery();
          upstreamTarget = path + full.slice(original.length);
        }
      }
    }
    const edits = route.requestHeaders;
    const responseEdits = route.responseHeaders;
    if ((edits !== null && edits.constant === null) || (responseEdits !== null && responseEdits.constant === null)) this.fillVariables(req, pool);
    if (edits !== null) dropFields(src, f, edits.removeNames);
    // mTLS: the client certificate headers come from the verified handshake only, never from the client
    const certHeaders = settings.tls === null ? null : settings.tls.clientCertHeaders;
    if (certHeaders !== null) dropFields(src, f, certHeaders);

    // The upstream head: request line (as received when it is already HTTP/1.1 origin-form), kept header
    // lines, then framing and forwarding headers.
    let suffix = '';
    if (this.reqFraming === F.length) suffix = 'content-length: ' + this.reqRemaining + '\r\n';
    else if (this.reqFraming === F.chunked) suffix = 'transfer-encoding: chunked\r\n';
    if (upstreamHost !== null) {
      suffix += 'host: ' + upstreamHost + '\r\n';
      if (hostCount === 1) f.ids[f.find(H.host)] = H.drop;
    } else if (hostCount === 0) {
      suffix += 'host: \r\n'; // an HTTP/1.0 request without authority: RFC 9112 §3.2 says send it empty
    }
    suffix += forwarded;
    if (ridIdx < 0 || f.ids[ridIdx] === H.drop) suffix += settings.requestIdHeader + ': ' + this.requestId + '\r\n';
    if (edits !== null) suffix += edits.constant ?? edits.lines(this.vars);
    suffix += traceLine;
    if (certHeaders !== null) suffix += ds.clientCertLines;
    if (this.upgrade) suffix += 'connection: upgrade\r\nupgrade: websocket\r\n';
    // A hash balancer's key is read here, while the head is at hand, and its hash kept for retries.
    const extract = pool.key;
    const sticky = pool.sticky;
    if (extract !== null) {
      const key = extract(req);
      this.ctx.hasHash = key !== null;
      this.ctx.hash = key === null ? 0 : hashString(key);
    }
    if (sticky !== null) this.stickyEndpoint = sticky.resolve(req.cookie(sticky.name)) ?? null;
    suffix += '\r\n';
    const skip = trusted ? TRUSTED_SKIP : UNTRUSTED_SKIP;

    // Body bytes that arrived with the head.
    let bodyEnd = head.headEnd;
    if (!this.requestComplete) {
      bodyEnd = this.consumeBody(buf, head.headEnd, end);
      if (bodyEnd < 0) return this.reply(400, Reason.badRequest);
    }
    const inline = bodyEnd - head.headEnd <= MERGE_LIMIT;
    if (head.version === 11 && !absoluteForm && target !== '*' && upstreamTarget === '') {
      this.outHead = buildHead(src, 0, head.fieldsStart, '', f, skip, suffix, inline ? buf : null, head.headEnd, bodyEnd);
    } else {
      const sent = upstreamTarget !== '' ? upstreamTarget : target !== '' ? target : src.latin1Slice(head.targetStart, head.targetEnd);
      const line = head.method + ' ' + sent + ' HTTP/1.1\r\n';
      this.outHead = buildHead(src, 0, 0, line, f, skip, suffix, inline ? buf : null, head.headEnd, bodyEnd);
    }
    if (!inline) this.held = Buffer.from(buf.subarray(head.headEnd, bodyEnd));
    if (bodyEnd < end) ds.stash(buf, bodyEnd, end);
    if (!this.requestComplete) ds.pauseReading();
    // Rate limits (ratelimit/): read the request now, while its head is at hand; a Redis-backed check
    // answers later, and the exchange waits for it with the upstream head already built.
    const limits = route.rateLimits;
    if (limits === null) return this.connect();
    const decision = limits.check(req, Date.now());
    if (!(decision instanceof Promise)) return this.admit(decision);
    const seq = this.seq;
    decision.then(
      (d) => {
        if (this.active && this.seq === seq) this.admit(d);
      },
      () => {
        if (this.active && this.seq === seq) this.connect(); // a store error is the store's to report
      },
    );
  }

  /** Applies a rate limit decision: 429, a shaping delay (leaky bucket), or on at once. */
  private admit(d: Decision): void {
    if (!d.allowed) {
      const replies = this.settings!.stats.localReplies;
      replies.set(Reason.rateLimited, (replies.get(Reason.rateLimited) ?? 0) + 1);
      this.reason = Reason.rateLimited;
      return this.replyBytes(429, rejectReply(d, this.requestId, this.replyOptions()));
    }
    this.rateLimitLines = allowedHeaderLines(d);
    if (d.delayMs >= 1) this.retryTimer = setTimeout(retryNow, d.delayMs, this);
    else this.connect();
  }

  // ---- request body ---------------------------------------------------------------------------------------

  /** Consumes request body bytes of buf[pos, end); returns the end of this request's body, or -1 if malformed. */
  private consumeBody(buf: Buffer, pos: number, end: number): number {
    if (this.reqFraming === F.length) {
      const take = end - pos < this.reqRemaining ? end - pos : this.reqRemaining;
      this.reqRemaining -= take;
      this.reqBodyBytes += take;
      if (this.reqRemaining === 0) this.requestComplete = true;
      return pos + take;
    }
    const d = this.reqDecoder;
    let p = pos;
    while (p < end && !d.done) {
      p = d.execute(buf, p, end);
      if (d.failed) return -1;
    }
    this.reqBodyBytes += p - pos;
    if (d.done) this.requestComplete = true;
    return p;
  }

  /** Client bytes while this exchange is active. */
  onRequestData(chunk: Buffer): void {
    if (this.tunnel) {
      const conn = this.conn;
      if (conn === null || this.tunnelClosing) return;
      this.wsToEndpoint!.feed(chunk, 0, chunk.length);
      const idle = this.settings!.tunnelIdleTimeoutMs;
      if (idle > 0) conn.deadline = now() + idle;
      // a copy: the chunk is a view of the shared client read buffer and the write may stay queued
      if (!conn.socket.write(Buffer.from(chunk))) this.ds.pauseReading();
      return;
    }
    if (this.requestComplete) {
      this.ds.stash(chunk, 0, chunk.length);
      return;
    }
    const bodyEnd = this.consumeBody(chunk, 0, chunk.length);
    if (bodyEnd < 0) return this.failRequestBody();
    if (bodyEnd > 0) {
      const conn = this.conn;
      if (conn !== null) {
        this.bodyStreamed = true;
        // a copy: the chunk is a view of the shared client read buffer and the write may stay queued
        if (!conn.socket.write(Buffer.from(chunk.subarray(0, bodyEnd)))) this.ds.pauseReading();
      } else {
        // reading was paused, but bytes already on their way are kept for the connection
        const piece = chunk.subarray(0, bodyEnd);
        this.held = this.held === null ? Buffer.from(piece) : Buffer.concat([this.held, piece]);
      }
    }
    if (bodyEnd < chunk.length) this.ds.stash(chunk, bodyEnd, chunk.length);
  }

  private failRequestBody(): void {
    // A malformed chunked body: the upstream got a partial request it must not complete.
    this.closeAfter = true;
    this.dropUpstream();
    if (!this.responseStarted) this.reply(400, Reason.badRequest);
    else this.ds.destroy();
  }

  // ---- upstream connection ------------------------------------------------------------------------------

  private connect(): void {
    const pool = this.pool!;
    if (this.tries === 0) {
      beginPick(this.ctx);
      this.startedAt = now();
      const breaker = pool.breaker;
      if (breaker.requests >= breaker.limits.maxRequests) return this.reply(503, Reason.circuitOpen, breaker.trip(CircuitLimit.maxRequests));
      breaker.requests++;
      this.counted = true;
      pool.retryBudget.deposit(this.startedAt);
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
    const ps = pool.settings;
    // HTTP/2 pools: the exchange speaks HTTP/1.1 to a bridge onto a stream of the endpoint's sessions
    const bridge = ps.protocol === 'h2' ? h2Bridge().bridgeOf(endpoint, ps) : null;
    const connections = bridge === null ? connectionsOf(endpoint, ps) : bridge;
    // a try that opens a socket or waits for one: the pool's circuit breakers decide first
    const cap = pool.connectionCap(bridge === null ? (connections as ReturnType<typeof connectionsOf>) : bridge.sessions, forceNew);
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

  /** Left a connection queue. */
  private unpend(): void {
    if (this.pendingCounted) {
      this.pendingCounted = false;
      this.pool!.breaker.pending--;
    }
  }

  /**
   * Whether another try may start: within `maxTries`, the retry caps and the retry budget, and — when the
   * failed try may have reached the endpoint (`sent`) — only for a request still replayable whose method is
   * idempotent or explicitly allowed. Counts the retry when it may.
   */
  private mayRetry(sent: boolean): boolean {
    const pool = this.pool!;
    const s = pool.settings;
    if (this.tries >= s.maxTries) return false;
    if (sent && (this.bodyStreamed || !this.requestComplete || (!s.retryNonIdempotent && !isIdempotent(this.methodCode)))) return false;
    if (!pool.admitRetry(this.retrying, now())) return false;
    this.retrying = true;
    return true;
  }

  /**
   * Gives up a try the endpoint received (its socket is not reused) and starts the next after a fully
   * jittered exponential backoff (Envoy: random in [0, base × (2^n − 1)], capped at max).
   */
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
    const s = this.pool!.settings;
    const delay = Math.random() * Math.min(s.backoffMaxMs, s.backoffBaseMs * (2 ** (this.tries - 1) * 2 - 1));
    if (delay < 1) return this.connect();
    this.retryTimer = setTimeout(retryNow, delay, this);
  }

  /** The backoff passed. */
  retryNow(): void {
    this.retryTimer = null;
    if (this.active) this.connect();
  }

  onConnection(conn: UpstreamLink): void {
    this.waitingOn = null;
    this.connecting = null;
    this.unpend();
    if (this.logging) this.connectedAt = performance.now();
    if (!this.active) {
      conn.owner.release(conn, true);
      return;
    }
    this.conn = conn;
    this.wasReused = conn.reused;
    const head = this.outHead!;
    const held = this.held;
    if (held === null) conn.socket.write(head);
    else if (held.length <= MERGE_LIMIT) conn.socket.write(Buffer.concat([head, held], head.length + held.length));
    else {
      conn.socket.cork();
      conn.socket.write(head);
      if (held !== null) conn.socket.write(held);
      conn.socket.uncork();
    }
    conn.deadline = now() + this.tryTimeoutMs;
    if (!this.requestComplete) this.ds.resumeReading();
  }

  onConnectFailed(reason: ReasonCode): void {
    this.waitingOn = null;
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
    // nothing reached the endpoint: the next one is tried at once
    this.lastEndpoint = null;
    if (this.pool!.settings.retryOnConnectFailure && this.mayRetry(false)) return this.connect();
    this.reply(reason === Reason.upstreamTimeout ? 504 : 502, reason);
  }

  onUpstreamDrain(): void {
    if (!this.requestComplete || this.tunnel) this.ds.resumeReading();
  }

  // ---- response ------------------------------------------------------------------------------------------

  onUpstreamData(chunk: Buffer): void {
    if (this.tunnel) {
      if (this.tunnelClosing) return;
      this.wsToClient!.feed(chunk, 0, chunk.length);
      const idle = this.settings!.tunnelIdleTimeoutMs;
      if (idle > 0 && this.conn !== null) this.conn.deadline = now() + idle;
      if (!this.ds.write(chunk)) this.pauseUpstream();
      return;
    }
    if (this.responseComplete) {
      // bytes past the response's end: the connection is not reusable
      this.upstreamKeepAlive = false;
      return;
    }
    if (!this.headDone()) {
      this.onResponseHeadBytes(chunk);
      return;
    }
    this.onResponseBody(chunk, 0, chunk.length);
  }

  private headDone(): boolean {
    return this.status >= 200;
  }

  private onResponseHeadBytes(chunk: Buffer): void {
    let buf: Buffer;
    if (this.respBuf === null) buf = chunk;
    else buf = this.respBuf = Buffer.concat([this.respBuf, chunk]);
    let start = 0;
    // Interim 1xx responses may precede the final one; each is a complete head.
    while (true) {
      const view = start === 0 ? buf : buf.subarray(start);
      // HOT PATH: one search for the end of a head that arrived whole; the scanner otherwise
      let end = findHeadEnd(view, this.respScanner.scanned, view.length);
      if (end < 0 || parseResponseHead(view, end, responseHead) !== 0 || !withinLimits(end, responseHead.fieldsStart, responseHead.fields.count, RESPONSE_LIMITS)) {
        end = this.respScanner.scan(view, view.length, RESPONSE_LIMITS, false);
        if (end === -1) {
          this.respBuf = start === 0 && buf === this.respBuf ? buf : Buffer.from(view);
          return;
        }
        if (end === -2 || parseResponseHead(view, end, responseHead) !== 0) return this.upstreamFailed(Reason.upstreamBadResponse);
      }
      const status = responseHead.status;
      if (status < 200) {
        if (status === 101) {
          if (!this.upgrade) return this.upstreamFailed(Reason.upstreamBadResponse); // no upgrade was offered
          return this.openTunnel(view, end);
        }
        if (this.version === 11) this.ds.write(buildHead(view, 0, 0, 'HTTP/1.1 ' + view.latin1Slice(9, responseHead.fieldsStart), responseHead.fields, RESPONSE_SKIP, '\r\n', null, 0, 0));
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
    // Upstream connection options.
    let upstreamClose = head.version === 10;
    if (((f.seen >>> H.connection) & 1) !== 0) {
      for (let i = 0; i < f.count; i++) {
        if (f.ids[i] !== H.connection) continue;
        for (const raw of buf.latin1Slice(f.valueStart[i], f.valueEnd[i]).toLowerCase().split(',')) {
          const token = trimOws(raw);
          if (token === 'close') upstreamClose = true;
          else if (token === 'keep-alive' && head.version === 10) upstreamClose = false;
          else if (token !== '' && token !== 'keep-alive') dropNamed(buf, f, token);
        }
      }
    }
    this.upstreamKeepAlive = !upstreamClose;

    // Framing (RFC 9112 §6.3).
    const bodiless = this.methodCode === Method.HEAD || status === 204 || status === 304;
    const clCount = f.countOf(H.contentLength);
    const teCount = f.countOf(H.transferEncoding);
    let length = -1;
    let chunked = false;
    if (teCount > 0) {
      if (clCount > 0) return this.upstreamFailed(Reason.upstreamBadResponse);
      let te = '';
      for (let i = 0; i < f.count; i++) if (f.ids[i] === H.transferEncoding) te += (te === '' ? '' : ',') + buf.latin1Slice(f.valueStart[i], f.valueEnd[i]);
      if (trimOws(te).toLowerCase() !== 'chunked') return this.upstreamFailed(Reason.upstreamBadResponse);
      chunked = true;
    } else if (clCount > 0) {
      let i = -1;
      for (let k = 0; k < f.count; k++) {
        if (f.ids[k] !== H.contentLength) continue;
        const n = parseDecimal(buf, f.valueStart[k], f.valueEnd[k]);
        if (n < 0 || (length >= 0 && n !== length)) return this.upstreamFailed(Reason.upstreamBadResponse);
        length = n;
        i = k;
      }
      void i;
    }

    let framingLine = '';
    if (bodiless) {
      this.respFraming = F.none;
      if (length >= 0) framingLine = 'content-length: ' + length + '\r\n';
      else if (chunked && this.methodCode === Method.HEAD) framingLine = 'transfer-encoding: chunked\r\n';
    } else if (chunked) {
      this.respFraming = F.chunked;
      this.respDecoder.reset();
      if (this.version === 11) framingLine = 'transfer-encoding: chunked\r\n';
      else {
        this.dechunk = true; // HTTP/1.0 clients get the data and the end of the connection
        this.closeAfter = true;
      }
    } else if (length >= 0) {
      this.respFraming = length === 0 ? F.none : F.length;
      this.respRemaining = length;
      framingLine = 'content-length: ' + length + '\r\n';
    } else {
      this.respFraming = F.untilClose;
      this.upstreamKeepAlive = false;
      this.closeAfter = true;
    }
    if (!this.requestComplete) this.closeAfter = true; // the client is still sending a body we will not read

    let suffix = framingLine;
    const sticky = this.pool!.sticky;
    if (sticky !== null && this.endpoint !== null) {
      if (sticky instanceof StickyCookies) {
        if (this.endpoint !== this.stickyEndpoint) suffix += sticky.setCookieLine(this.endpoint);
      } else learnSessions(buf, f, sticky, this.endpoint);
    }
    const edits = this.route!.responseHeaders;
    if (edits !== null) {
      dropFields(buf, f, edits.removeNames);
      if (edits.constant !== null) suffix += edits.constant;
      else {
        this.vars.endpoint = this.endpoint === null ? '' : this.endpoint.key;
        suffix += edits.lines(this.vars);
      }
    }
    const hsts = this.settings!.hstsLine;
    if (hsts !== '') suffix += hsts;
    if (this.rateLimitLines !== '') suffix += this.rateLimitLines;
    if (this.closeAfter) suffix += 'connection: close\r\n';
    else if (this.version === 10) suffix += 'connection: keep-alive\r\n';
    suffix += 'via: 1.1 fulcrum\r\n\r\n';

    // Forward the head, with as much of the body as came with it when that is small.
    const bodyStart = headEnd;
    const bodyBytes = buf.length - bodyStart;
    this.responseStarted = true;
    this.held = null;
    const skip = this.dechunk ? RESPONSE_SKIP_DECHUNK : RESPONSE_SKIP;
    // the status line as received when the upstream speaks HTTP/1.1, else rewritten to our version
    const lineEnd = head.version === 11 ? head.fieldsStart : 0;
    const statusLine = head.version === 11 ? '' : 'HTTP/1.1 ' + buf.latin1Slice(head.statusStart, head.fieldsStart);
    if (this.respFraming === F.length && bodyBytes <= this.respRemaining && bodyBytes <= MERGE_LIMIT) {
      // common case: the whole (small) body, or a first piece of it, arrived with the head
      this.respRemaining -= bodyBytes;
      const ok = this.ds.write(buildHead(buf, 0, lineEnd, statusLine, f, skip, suffix, buf, bodyStart, buf.length));
      if (this.respRemaining === 0) return this.responseDone();
      if (!ok) this.pauseUpstream();
      return;
    }
    this.ds.write(buildHead(buf, 0, lineEnd, statusLine, f, skip, suffix, null, 0, 0));
    if (this.respFraming === F.none) return this.responseDone(bodyBytes > 0);
    if (bodyBytes > 0) this.onResponseBody(buf, bodyStart, buf.length);
  }

  // HOT PATH: response body bytes are written as views of the received chunk.
  private onResponseBody(buf: Buffer, pos: number, end: number): void {
    const framing = this.respFraming;
    let ok = true;
    if (framing === F.length) {
      const take = end - pos < this.respRemaining ? end - pos : this.respRemaining;
      this.respRemaining -= take;
      ok = this.ds.write(pos === 0 && take === buf.length ? buf : buf.subarray(pos, pos + take));
      if (this.respRemaining === 0) return this.responseDone(pos + take < end);
    } else if (framing === F.chunked) {
      const d = this.respDecoder;
      let p = pos;
      if (this.dechunk) {
        while (p < end && !d.done) {
          p = d.execute(buf, p, end);
          if (d.failed) return this.upstreamFailed(Reason.upstreamBadResponse);
          if (d.spanEnd > d.spanStart) ok = this.ds.write(buf.subarray(d.spanStart, d.spanEnd));
        }
      } else {
        while (p < end && !d.done) {
          p = d.execute(buf, p, end);
          if (d.failed) return this.upstreamFailed(Reason.upstreamBadResponse);
        }
        ok = this.ds.write(pos === 0 && p === buf.length ? buf : buf.subarray(pos, p));
      }
      if (d.done) return this.responseDone(p < end);
    } else {
      ok = this.ds.write(pos === 0 ? buf : buf.subarray(pos, end));
    }
    if (!ok) this.pauseUpstream();
  }

  /** Latency feedback for adaptive balancers: time from the upstream attempt to its outcome. */
  private observe(endpoint: Endpoint, ok: boolean): void {
    const balancer = this.pool!.balancer;
    if (balancer.observe === undefined) return;
    this.outcome.ok = ok;
    this.outcome.latencyMs = performance.now() - this.sentAt;
    balancer.observe(endpoint, this.outcome);
  }

  /** Passive health: the pool's outlier detector sees every outcome (0 = gateway failure). */
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

  /** The client is not keeping up: stop reading the response until it drains. */
  private pauseUpstream(): void {
    if (this.conn !== null && !this.upstreamPaused) {
      this.upstreamPaused = true;
      this.conn.socket.pause();
    }
  }

  /**
   * The endpoint accepted the WebSocket upgrade: the 101 goes to the client, then bytes flow both ways
   * untouched until either side closes (RFC 6455; HAProxy and NGINX tunnel the same way). The upstream
   * connection is never reused; the downstream stops parsing HTTP.
   */
  private openTunnel(buf: Buffer, headEnd: number): void {
    const head = responseHead;
    this.status = 101;
    this.tunnel = true;
    this.responseStarted = true;
    this.upstreamKeepAlive = false;
    this.held = null;
    const idle = this.settings!.tunnelIdleTimeoutMs;
    if (this.conn !== null) this.conn.deadline = idle > 0 ? now() + idle : 0;
    if (this.endpoint !== null) {
      this.observe(this.endpoint, true);
      this.recordOutcome(this.endpoint, 101);
    }
    const stats = this.settings!.stats;
    stats.tunnels++;
    stats.tunnelsOpen++;
    (this.wsToClient ??= new FrameBoundary()).reset();
    (this.wsToEndpoint ??= new FrameBoundary()).reset();
    this.tunnelClosing = false;
    // bytes the endpoint sent right after its 101 are frames already
    this.wsToClient.feed(buf, headEnd, buf.length);
    const line = head.version === 11 ? '' : 'HTTP/1.1 ' + buf.latin1Slice(head.statusStart, head.fieldsStart);
    const suffix = 'connection: upgrade\r\nupgrade: websocket\r\n\r\n';
    this.ds.write(buildHead(buf, 0, head.version === 11 ? head.fieldsStart : 0, line, head.fields, RESPONSE_SKIP, suffix, buf, headEnd, buf.length));
    this.ds.enterTunnel();
  }

  /** The client half-closed: in a tunnel its FIN goes on to the endpoint. */
  onClientEnd(): void {
    if (this.tunnel && this.conn !== null) this.conn.socket.end();
  }

  /** The client drained: resume reading the response. */
  onDownstreamDrain(): void {
    if (this.upstreamPaused && this.conn !== null && this.responseStarted && !this.responseComplete) {
      this.upstreamPaused = false;
      this.conn.socket.resume();
    }
  }

  onUpstreamEnd(): void {
    this.upstreamKeepAlive = false;
    if (this.tunnel) {
      this.ds.socket.end(); // the endpoint is done sending: pass its FIN on; the client's close ends the tunnel
      return;
    }
    if (this.respFraming === F.untilClose && this.headDone()) this.responseDone();
    // otherwise 'close' follows and decides
  }

  onUpstreamClose(): void {
    this.conn = null;
    if (!this.active || this.responseComplete) return;
    if (this.tunnel) {
      // the endpoint closed the WebSocket: a normal end; the client connection closes after what is queued
      this.closeAfter = true;
      return this.finish(false);
    }
    const endpoint = this.endpoint!;
    if (this.respFraming === F.untilClose && this.headDone()) return this.responseDone();
    if (!this.responseStarted) {
      // A reused keep-alive socket the server closed before we noticed is retried once on a fresh
      // connection when the whole request is still in hand and the method is idempotent (RFC 9110 §9.2.2).
      const replayable = !this.bodyStreamed && this.respBuf === null && this.status === 0 && isIdempotent(this.methodCode);
      if (replayable && !this.staleRetried && this.wasReused) {
        this.staleRetried = true;
        endpoint.inFlight--;
        this.wasReused = false;
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
    // mid-body: the client cannot be told except by closing
    endpoint.failures++;
    this.reason = Reason.upstreamReset;
    this.finish(true);
  }

  /** The listener's overall request timeout passed. */
  onRequestTimeout(): void {
    if (!this.active) return;
    this.closeAfter = true;
    if (this.endpoint !== null) this.endpoint.failures++;
    this.dropUpstream();
    this.reason = Reason.requestTimeout;
    if (!this.responseStarted) this.reply(504, Reason.requestTimeout);
    else this.finish(true);
  }

  /**
   * Ends a tunnel politely (RFC 6455 §7.4.1, 1001 Going Away): a close frame to each side — when its direction
   * is between frames — then FIN both ways; what is still open after a 2 s grace is closed. True when this
   * exchange is a tunnel (the caller then leaves its socket alone).
   */
  closeGracefully(): boolean {
    if (!this.tunnel || !this.active) return false;
    if (this.tunnelClosing) return true;
    this.tunnelClosing = true;
    this.settings!.stats.tunnelsClosed++;
    if (this.wsToClient!.atBoundary) this.ds.write(serverCloseFrame(GOING_AWAY));
    this.ds.socket.end();
    const conn = this.conn;
    if (conn !== null) {
      if (this.wsToEndpoint!.atBoundary) conn.socket.write(clientCloseFrame(GOING_AWAY, randomFillSync(new Uint8Array(4))));
      conn.socket.end();
      conn.deadline = now() + TUNNEL_CLOSE_GRACE_MS;
    }
    return true;
  }

  onUpstreamTimeout(): void {
    if (this.tunnel) {
      if (!this.tunnelClosing) {
        this.closeGracefully(); // idle
        return;
      }
      // the grace after the close frames passed: close now
      this.closeAfter = true;
      this.dropUpstream();
      this.finish(false);
      return;
    }
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

  // ---- endings -----------------------------------------------------------------------------------------------

  /** Answers the client locally (no upstream response was forwarded). */
  private reply(status: number, reason: ReasonCode, limit = ''): void {
    this.dropUpstream();
    // A body we did not read leaves the connection out of sync, and a malformed or refused request may
    // hide another.
    if (!this.requestComplete || status === 400 || status === 417 || status === 501) this.closeAfter = true;
    this.status = status;
    this.responseStarted = true;
    const replies = this.settings!.stats.localReplies;
    replies.set(reason, (replies.get(reason) ?? 0) + 1);
    this.reason = reason;
    this.ds.write(localReply(status, reason, this.requestId, this.closeAfter, this.methodCode === Method.HEAD, this.version === 10 && !this.closeAfter, limit, this.traceId));
    this.finish(false);
  }

  /** How the route's own reply (respond, redirect) ends: a body we did not read closes the connection. */
  private replyOptions(): ReplyOptions {
    if (!this.requestComplete) this.closeAfter = true;
    const o = this.replyOpts;
    o.close = this.closeAfter;
    o.head = this.methodCode === Method.HEAD;
    o.keepAlive10 = this.version === 10 && !this.closeAfter;
    return o;
  }

  /** Answers the client with the route's reply. */
  private replyBytes(status: number, bytes: Buffer): void {
    this.status = status;
    this.responseStarted = true;
    this.ds.write(bytes);
    this.finish(false);
  }

  /** The request's values for `${…}` in header edits; read now, while the head is at hand. */
  private fillVariables(req: HeadKeyRequest, pool: Pool): void {
    const v = this.vars;
    v.clientAddress = req.clientAddress;
    v.requestId = this.requestId;
    v.host = req.host();
    v.method = req.method;
    v.path = req.path();
    v.pool = pool.name;
    v.endpoint = '';
    v.scheme = this.ds.proto;
  }

  /** Lets go of the upstream side without reusing its socket. */
  private dropUpstream(): void {
    const conn = this.conn;
    if (conn !== null) {
      this.conn = null;
      conn.owner.release(conn, false);
    }
    if (this.waitingOn !== null) {
      // a queued or connecting acquire: cancel it, and let a connecting socket go to the idle stack
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

  /** The route's counters see the exchange's end (status 0: the client connection was closed instead). */
  private count(status: number): void {
    const route = this.route;
    const end = performance.now();
    if (route !== null) {
      route.stats.responses[statusClass(status)]++;
      route.stats.duration.observe(end - this.t0);
    }
    if (this.logging) this.writeLog(status, end);
  }

  /** Captures what the access log needs from the head while it is at hand. */
  private startLog(head: RequestHead, ds: Downstream): void {
    this.logging = true;
    const e = (this.logEntry ??= emptyEntry());
    const target = head.buf.latin1Slice(head.targetStart, head.targetEnd);
    const q = target.indexOf('?');
    e.method = head.method;
    e.path = q < 0 ? target : target.slice(0, q);
    e.host = '';
    e.bytesIn = head.headEnd; // the head; body bytes are added as they are read
    e.bytesOut = ds.bytesOut;
    if (this.settings!.accessLog!.wantsAgent) {
      const key = this.keyRequest;
      key.reset(head, '', '');
      e.referer = key.header('referer') ?? '';
      e.userAgent = key.header('user-agent') ?? '';
    }
  }

  private writeLog(status: number, end: number): void {
    const e = this.logEntry!;
    const ds = this.ds;
    e.time = Date.now();
    e.requestId = this.requestId;
    e.traceId = this.traceId;
    e.clientAddress = this.ctx.clientAddress !== '' ? this.ctx.clientAddress : ds.peerAddress;
    e.listener = this.settings!.name;
    e.route = this.route === null ? '' : this.route.name;
    e.pool = this.pool === null ? '' : this.pool.name;
    e.endpoint = this.endpoint !== null ? this.endpoint.key : this.lastEndpoint !== null ? this.lastEndpoint.key : '';
    e.status = status;
    e.bytesIn += this.reqBodyBytes;
    e.bytesOut = ds.bytesOut - e.bytesOut;
    e.connectMs = this.connectedAt === 0 ? -1 : this.connectedAt - this.sentAt;
    e.ttfbMs = this.headAt === 0 ? -1 : this.headAt - this.t0;
    e.totalMs = end - this.t0;
    e.retries = this.tries > 1 ? this.tries - 1 : 0;
    e.reason = this.reason;
    this.settings!.accessLog!.record(e);
    this.logging = false;
  }

  /** The pool's circuit-breaker counts let go of this exchange. */
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

  /** The exchange is over; `abort` closes the client connection at once. */
  private finish(abort: boolean): void {
    if (!this.active) return;
    this.active = false;
    if (this.tunnel) this.settings!.stats.tunnelsOpen--;
    this.count(abort ? 0 : this.status);
    if (this.counted) this.uncount();
    if (this.endpoint !== null) {
      this.endpoint.inFlight--;
      this.endpoint = null;
    }
    this.held = null;
    this.outHead = null;
    if (abort) {
      this.dropUpstream();
      this.ds.destroy();
      return;
    }
    this.ds.exchangeDone(this.closeAfter);
  }

  /** The client went away mid-exchange. */
  abort(): void {
    if (!this.active) return;
    this.closeAfter = true;
    this.dropUpstream();
    this.active = false;
    if (this.tunnel) this.settings!.stats.tunnelsOpen--;
    if (this.tunnel) this.count(101); // the client closed its WebSocket: a normal end
    else {
      if (this.reason === '') this.reason = Reason.clientClosed;
      this.count(0);
    }
    if (this.counted) this.uncount();
    if (this.endpoint !== null) {
      this.endpoint.inFlight--;
      this.endpoint = null;
    }
    this.held = null;
  }

  private reset(settings: ListenerSettings): void {
    this.settings = settings;
    this.route = null;
    this.pool = null;
    this.endpoint = null;
    this.conn = null;
    this.waitingOn = null;
    this.connecting = null;
    this.stickyEndpoint = null;
    this.closeAfter = false;
    this.reqFraming = F.none;
    this.reqRemaining = 0;
    this.requestComplete = false;
    this.outHead = null;
    this.held = null;
    this.bodyStreamed = false;
    this.tries = 0;
    this.staleRetried = false;
    this.lastEndpoint = null;
    this.lastFailure = Reason.upstreamConnectFailed;
    this.traceId = '';
    this.logging = false;
    this.connectedAt = 0;
    this.headAt = 0;
    this.reason = '';
    this.reqBodyBytes = 0;
    this.rateLimitLines = '';
    this.seq++;
    this.upgrade = false;
    this.tunnel = false;
    this.tunnelClosing = false;
    this.respScanner.reset();
    this.respBuf = null;
    this.respFraming = F.none;
    this.respRemaining = 0;
    this.dechunk = false;
    this.responseStarted = false;
    this.responseComplete = false;
    this.upstreamKeepAlive = true;
    this.upstreamPaused = false;
    this.status = 0;
    this.active = true;
    this.wasReused = false;
  }
}

/** A non-negative decimal without sign or spaces, below 2^53; -1 otherwise (RFC 9110 §8.6). */
function parseDecimal(buf: Buffer, start: number, end: number): number {
  if (end === start || end - start > 16) return -1;
  let n = 0;
  for (let p = start; p < end; p++) {
    const d = buf[p] - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n > Number.MAX_SAFE_INTEGER ? -1 : n;
}

/** Trims optional whitespace (SP and HTAB only, RFC 9110 §5.6.3); String#trim would also eat U+00A0 and more. */
function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
  return s.slice(a, b);
}

function valueOf(buf: Buffer, f: RequestHead['fields'], i: number): string {
  return buf.latin1Slice(f.valueStart[i], f.valueEnd[i]);
}

/** Drops every line with header id `id`. */
function dropId(f: RequestHead['fields'], id: number): void {
  for (let i = 0; i < f.count; i++) if (f.ids[i] === id) f.ids[i] = H.drop;
}

/** Drops the lines whose (lowercased) names are in `names`: a route's header edits. */
function dropFields(buf: Buffer, f: RequestHead['fields'], names: ReadonlySet<string>): void {
  for (let i = 0; i < f.count; i++) {
    if (f.ids[i] === H.drop) continue;
    if (names.has(buf.latin1Slice(f.nameStart[i], f.nameEnd[i]).toLowerCase())) f.ids[i] = H.drop;
  }
}

/** Headers named in Connection are hop-by-hop; framing and Host are never dropped that way. */
function dropNamed(buf: Buffer, f: RequestHead['fields'], token: string): void {
  for (let i = 0; i < f.count; i++) {
    const id = f.ids[i];
    if (id === H.host || id === H.contentLength || id === H.transferEncoding || id === H.requestId) continue;
    if (f.nameEnd[i] - f.nameStart[i] !== token.length) continue;
    if (buf.latin1Slice(f.nameStart[i], f.nameEnd[i]).toLowerCase() === token) f.ids[i] = H.drop;
  }
}


function retryNow(x: Exchange): void {
  x.retryNow();
}

function isIdempotent(method: number): boolean {
  return method === Method.GET || method === Method.HEAD || method === Method.OPTIONS || method === Method.PUT || method === Method.DELETE || method === Method.TRACE;
}

/** Records which endpoint issued the session cookie in a response's Set-Cookie lines. */
function learnSessions(buf: Buffer, f: RequestHead['fields'], sticky: AppCookieSticky, endpoint: Endpoint): void {
  const prefix = sticky.name + '=';
  for (let i = 0; i < f.count; i++) {
    if (f.nameEnd[i] - f.nameStart[i] !== 10 || buf.latin1Slice(f.nameStart[i], f.nameEnd[i]).toLowerCase() !== 'set-cookie') continue;
    const line = buf.latin1Slice(f.valueStart[i], f.valueEnd[i]);
    if (!line.startsWith(prefix)) continue;
    const semi = line.indexOf(';');
    const value = line.slice(prefix.length, semi < 0 ? line.length : semi).trim();
    if (value !== '') sticky.learn(value, endpoint);
  }
}
