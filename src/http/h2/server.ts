// A listener's HTTP/2 side: one node:http2 server that never listens itself — the listener hands it the
// connections that negotiated `h2` by ALPN (RFC 9113 §3.2) or began with the prior-knowledge preface (§3.3),
// and each becomes an H2Session. Its options come from the listener's `http2` settings and the server is
// rebuilt for new connections when a reload changes them (open sessions keep theirs).
//
// Limits node:http2 enforces for us (defaults in docs/http2.md): SETTINGS_MAX_CONCURRENT_STREAMS (a stream
// beyond it is refused), SETTINGS_MAX_HEADER_LIST_SIZE and a cap on header pairs (a larger list resets the
// stream), at most MAX_REJECTED_STREAMS refused streams and MAX_INVALID_FRAMES invalid frames per session
// (then GOAWAY ENHANCE_YOUR_CALM), and SETTINGS_ENABLE_PUSH 0.
import http2 from 'node:http2';
import type net from 'node:net';
import type { ListenerHttp2 } from '../listener-settings.ts';
import { H2Session, H2Stats, type H2SessionHost } from './session.ts';

/** Streams a session may have refused (over maxConcurrentStreams, or after GOAWAY) before it is closed. */
const MAX_REJECTED_STREAMS = 100;
/** Malformed frames a session may send before it is closed (node's default is 1000). */
const MAX_INVALID_FRAMES = 100;

/** The connection the next 'session' event belongs to (emit('connection') runs synchronously). */
interface Incoming {
  readonly peerAddress: string;
  readonly tls: boolean;
  readonly clientCertLines: string;
}

export class H2Front {
  private readonly host: H2SessionHost;
  readonly stats: H2Stats;
  private server: http2.Http2Server | null;
  /** The settings the current server was made with. */
  private madeFor: ListenerHttp2 | null;
  private madeForHeaders: number;
  private incoming: Incoming | null;

  constructor(host: H2SessionHost) {
    this.host = host;
    this.stats = new H2Stats();
    this.server = null;
    this.madeFor = null;
    this.madeForHeaders = 0;
    this.incoming = null;
  }

  /**
   * Starts an HTTP/2 session on `socket` (a TLS socket that negotiated h2, or a cleartext one whose first bytes
   * were the preface). `received`: bytes already read from it, handed to the session before anything else.
   */
  accept(socket: net.Socket, peerAddress: string, tls: boolean, clientCertLines: string, received: Buffer | null): void {
    const server = this.serverFor(this.host.settings.http2!, this.host.settings.limits.maxHeaders);
    if (received !== null && received.length > 0) socket.unshift(received);
    this.incoming = { peerAddress, tls, clientCertLines };
    server.emit('connection', socket);
    this.incoming = null;
  }

  private serverFor(h2: ListenerHttp2, maxHeaders: number): http2.Http2Server {
    const current = this.server;
    if (current !== null && (h2 === this.madeFor || sameOptions(h2, this.madeFor!)) && maxHeaders === this.madeForHeaders) return current;
    const server = http2.createServer({
      settings: {
        maxConcurrentStreams: h2.maxConcurrentStreams,
        maxHeaderListSize: h2.maxHeaderListSize,
        initialWindowSize: h2.initialWindowSize,
        enablePush: false,
      },
      // our own count (listener limits.maxHeaders → 431) sees joined cookies; this bounds the raw pairs
      maxHeaderListPairs: 2 * maxHeaders + 8,
      maxSessionRejectedStreams: MAX_REJECTED_STREAMS,
      maxSessionInvalidFrames: MAX_INVALID_FRAMES,
    });
    server.on('session', (session: http2.ServerHttp2Session) => this.onSession(session));
    this.server = server;
    this.madeFor = h2;
    this.madeForHeaders = maxHeaders;
    return server;
  }

  private onSession(session: http2.ServerHttp2Session): void {
    const inc = this.incoming;
    if (inc === null) {
      session.destroy();
      return;
    }
    new H2Session(session, this.host, this.stats, inc.peerAddress, inc.tls, inc.clientCertLines);
  }
}

function sameOptions(a: ListenerHttp2, b: ListenerHttp2): boolean {
  return (
    a.maxConcurrentStreams === b.maxConcurrentStreams &&
    a.maxHeaderListSize === b.maxHeaderListSize &&
    a.initialWindowSize === b.initialWindowSize
  );
}
