// One HTTP/2 client connection (RFC 9113): a node:http2 server session whose streams each become an H2Exchange,
// balanced on their own. It owns the connection's one deadline (before the first stream: the request-header
// timeout; between streams: the keep-alive timeout) and its abuse limit: resets the client causes — the
// RST_STREAMs it sends and the streams it cancels — are counted per 10 s window, and past `maxResetsPer10s`
// the session ends with GOAWAY(ENHANCE_YOUR_CALM) (rapid reset, CVE-2023-44487). Refused streams and invalid
// frames are bounded by node:http2 with the options server.ts sets.
import { constants, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { now, unwatch, watch, type HasDeadline } from '../../core/deadlines.ts';
import { peerParts, type Peer } from '../forward-headers.ts';
import type { ListenerSettings } from '../listener-settings.ts';
import { H2Exchange } from './stream-exchange.ts';

/** What a session needs from its listener. */
export interface H2SessionHost {
  readonly settings: ListenerSettings;
  readonly sessions: Set<H2Session>;
  /** A session ended; lets a stopping listener notice when the last connection is gone. */
  onSessionClosed(session: H2Session): void;
}

/** Counters of a listener's HTTP/2 side, read at scrape time. */
export class H2Stats {
  sessions: number;
  streams: number;
  /** Sessions closed for resetting too many streams (GOAWAY ENHANCE_YOUR_CALM). */
  resetFloods: number;

  constructor() {
    this.sessions = 0;
    this.streams = 0;
    this.resetFloods = 0;
  }
}

/** The reset window (ms) `maxResetsPer10s` counts over. */
const RESET_WINDOW_MS = 10_000;
/** Used when a reload removed `http2` while the session was open. */
const DEFAULT_MAX_RESETS = 400;

const kSession = Symbol('fulcrum.h2session');
interface TaggedSession extends ServerHttp2Session {
  [kSession]: H2Session;
}

function onSessionStream(this: TaggedSession, stream: ServerHttp2Stream, _headers: unknown, _flags: number, raw: string[]): void {
  this[kSession].onStream(stream, raw);
}
function onSessionClose(this: TaggedSession): void {
  this[kSession].onClose();
}
function onSessionError(this: TaggedSession): void {
  // protocol errors and resets end the session; 'close' follows
}

export class H2Session implements Peer, HasDeadline {
  readonly session: ServerHttp2Session;
  readonly host: H2SessionHost;
  readonly stats: H2Stats;
  readonly peerAddress: string;
  readonly forwardedPrefix: string;
  readonly forwardedNode: string;
  /** `https` over TLS (ALPN h2), `http` for prior-knowledge h2c. */
  readonly proto: string;
  /** mTLS: the verified client certificate as header lines for upstream requests ('' without one). */
  readonly clientCertLines: string;
  /** Streams being exchanged now. */
  streams: number;
  private resets: number;
  private resetWindowStart: number;
  private closed: boolean;
  deadline: number;

  constructor(session: ServerHttp2Session, host: H2SessionHost, stats: H2Stats, peerAddress: string, tls: boolean, clientCertLines: string) {
    this.session = session;
    this.host = host;
    this.stats = stats;
    this.peerAddress = peerAddress;
    this.proto = tls ? 'https' : 'http';
    const parts = peerParts(peerAddress, this.proto);
    this.forwardedPrefix = parts.forwardedPrefix;
    this.forwardedNode = parts.forwardedNode;
    this.clientCertLines = clientCertLines;
    this.streams = 0;
    this.resets = 0;
    this.resetWindowStart = 0;
    this.closed = false;
    this.deadline = 0;
    (session as TaggedSession)[kSession] = this;
    session.on('stream', onSessionStream);
    session.on('close', onSessionClose);
    session.on('error', onSessionError);
    stats.sessions++;
    host.sessions.add(this);
    watch(this);
    this.deadline = now() + host.settings.requestHeaderTimeoutMs;
  }

  get isTrusted(): ((ip: string) => boolean) | null {
    return this.host.settings.isTrustedProxy;
  }

  onStream(stream: ServerHttp2Stream, raw: readonly string[]): void {
    if (stream.destroyed || stream.closed) {
      // opened and reset before it could be looked at (HEADERS and RST_STREAM in one read)
      if (stream.rstCode !== constants.NGHTTP2_NO_ERROR) this.noteReset();
      return;
    }
    this.streams++;
    this.stats.streams++;
    this.deadline = 0;
    new H2Exchange(this, stream, this.host.settings).start(raw, stream.endAfterHeaders);
  }

  /** An exchange on this session ended. */
  streamDone(): void {
    this.streams--;
    if (this.streams > 0 || this.closed) return;
    const keepAliveMs = this.host.settings.keepAliveTimeoutMs;
    if (keepAliveMs === 0) this.shutdown();
    else this.deadline = now() + keepAliveMs;
  }

  /** The client reset a stream (RST_STREAM, or a stream it cancelled): a flood of them ends the session. */
  noteReset(): void {
    if (this.closed) return;
    const t = now();
    if (t - this.resetWindowStart >= RESET_WINDOW_MS) {
      this.resetWindowStart = t;
      this.resets = 0;
    }
    const h2 = this.host.settings.http2;
    if (++this.resets > (h2 === null ? DEFAULT_MAX_RESETS : h2.maxResetsPer10s)) {
      this.closed = true;
      this.stats.resetFloods++;
      // GOAWAY(ENHANCE_YOUR_CALM), flushed before the socket ends; every open stream is reset
      this.session.destroy(new Error('stream reset flood'), constants.NGHTTP2_ENHANCE_YOUR_CALM);
    }
  }

  /** No stream came in time, or the connection sat idle: GOAWAY and close. */
  onDeadline(): void {
    if (this.streams === 0) this.shutdown();
  }

  /** Graceful: GOAWAY(NO_ERROR); streams in progress finish, then the session closes. */
  shutdown(): void {
    if (!this.session.closed && !this.session.destroyed) this.session.close();
  }

  destroy(): void {
    if (!this.session.destroyed) this.session.destroy();
  }

  onClose(): void {
    this.closed = true;
    this.deadline = 0;
    unwatch(this);
    this.host.sessions.delete(this);
    this.host.onSessionClosed(this);
  }
}
