// An endpoint's HTTP/2 upstream sessions (pools with `protocol: h2`): a few multiplexed connections instead of
// one socket per exchange. A stream goes on the open session with the fewest active streams below its limit
// (the lower of the pool's `http2.maxConcurrentStreams` and the endpoint's SETTINGS_MAX_CONCURRENT_STREAMS,
// RFC 9113 §6.5.2); a new session is opened only when every session is full, up to the pool's
// `maxConnections`; beyond that exchanges wait in a bounded FIFO (`maxQueue`, `queueTimeout`), as HTTP/1.1
// exchanges wait for a socket. Envoy's HTTP/2 connection pool works the same way. h2 over TLS (ALPN `h2`)
// when the pool has `tls`, else cleartext with prior knowledge (RFC 9113 §3.3). A session that received
// GOAWAY takes no new streams; idle sessions close after `idleTimeout`.
import http2, { constants, type ClientHttp2Session } from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { now, unwatch, watch, type HasDeadline } from '../core/deadlines.ts';
import { Reason, type ReasonCode } from '../core/errors.ts';
import { RingQueue } from '../core/ring-queue.ts';
import { connectionsOfKind, type Endpoint, type EndpointConnectionsLike } from '../upstream/endpoint.ts';
import type { PoolSettings } from '../upstream/pool.ts';

/** What an exchange implements to get a stream slot on an upstream session. */
export interface H2SessionUser {
  /** A slot is reserved on `s`: open the stream now (`s.session.request`) and `release` it when it closes. */
  onH2Session(s: H2UpstreamSession): void;
  /** No slot: the connect failed or timed out, or the wait queue was full or timed out. */
  onConnectFailed(reason: ReasonCode): void;
}

/** Streams a session takes before its peer's SETTINGS arrive (RFC 9113 §6.5.2 recommends allowing ≥ 100). */
const INITIAL_STREAMS = 100;

interface Waiter {
  readonly user: H2SessionUser;
  readonly at: number;
}

export class H2UpstreamSession implements HasDeadline {
  readonly session: ClientHttp2Session;
  readonly owner: H2Connections;
  /** Streams reserved or open on this session. */
  active: number;
  /** The stream limit: the pool's, lowered by the peer's SETTINGS_MAX_CONCURRENT_STREAMS. */
  limit: number;
  /** Connected (and, over TLS, handshaken with ALPN h2). */
  ready: boolean;
  /** GOAWAY received or sent, or closing: no new streams. */
  draining: boolean;
  /** Streams this session has carried (0 = fresh): a reset on a reused session may be a stale one. */
  uses: number;
  /** Connect timeout while connecting, idle timeout while it has no streams; 0 = none. */
  deadline: number;
  readonly startedAt: number;
  /** Users waiting for this session to connect (slots already reserved for them). */
  pending: H2SessionUser[];

  constructor(owner: H2Connections, session: ClientHttp2Session) {
    this.session = session;
    this.owner = owner;
    this.active = 0;
    this.limit = owner.settings.http2MaxStreams < INITIAL_STREAMS ? owner.settings.http2MaxStreams : INITIAL_STREAMS;
    this.ready = false;
    this.draining = false;
    this.uses = 0;
    this.deadline = 0;
    this.startedAt = performance.now();
    this.pending = [];
  }

  get usable(): boolean {
    return !this.draining && !this.session.destroyed && !this.session.closed;
  }

  onDeadline(): void {
    this.deadline = 0;
    if (!this.ready) this.owner.failed(this, Reason.upstreamTimeout);
    else if (this.active === 0) this.owner.retire(this);
  }
}

export class H2Connections implements EndpointConnectionsLike, HasDeadline {
  readonly endpoint: Endpoint;
  settings: PoolSettings;
  private readonly sessions: H2UpstreamSession[];
  private readonly queue: RingQueue<Waiter>;
  private shut: boolean;
  deadline: number;
  /** The newest TLS session ticket from this endpoint: new connections resume it. */
  tlsSession: Buffer | undefined;

  constructor(endpoint: Endpoint, settings: PoolSettings) {
    this.endpoint = endpoint;
    this.settings = settings;
    this.sessions = [];
    this.queue = new RingQueue();
    this.shut = false;
    this.deadline = 0;
    this.tlsSession = undefined;
  }

  /** Sessions open with no streams. */
  get idleCount(): number {
    let n = 0;
    for (const s of this.sessions) if (s.ready && s.active === 0) n++;
    return n;
  }

  /** Sessions carrying streams. */
  get activeCount(): number {
    let n = 0;
    for (const s of this.sessions) if (s.active > 0) n++;
    return n;
  }

  /** Sessions open or opening (each is one TCP connection). */
  get openCount(): number {
    return this.sessions.length;
  }

  get queueLength(): number {
    return this.queue.length;
  }

  /** Streams open or reserved across the sessions. */
  get streamCount(): number {
    let n = 0;
    for (const s of this.sessions) n += s.active;
    return n;
  }

  // HOT PATH: the least loaded session with room; else open one or wait.
  acquire(user: H2SessionUser): void {
    if (this.shut) return user.onConnectFailed(Reason.upstreamConnectFailed);
    let best: H2UpstreamSession | null = null;
    for (let i = 0; i < this.sessions.length; i++) {
      const s = this.sessions[i];
      if (s.active < s.limit && s.usable && (best === null || s.active < best.active)) best = s;
    }
    if (best !== null) return this.lend(best, user);
    if (this.sessions.length < this.settings.maxConnections) return this.lend(this.connect(), user);
    if (this.queue.length >= this.settings.maxQueue) return user.onConnectFailed(Reason.queueFull);
    this.queue.push({ user, at: now() });
    if (this.queue.length === 1) {
      this.deadline = now() + this.settings.queueTimeoutMs;
      watch(this);
    }
  }

  private lend(s: H2UpstreamSession, user: H2SessionUser): void {
    s.active++;
    if (s.ready) s.deadline = 0; // no longer idle
    if (s.ready) {
      s.uses++;
      user.onH2Session(s);
    } else s.pending.push(user);
  }

  /** A waiting or connecting user gave up (its client went away). */
  cancel(user: H2SessionUser): void {
    for (const s of this.sessions) {
      const i = s.pending.indexOf(user);
      if (i >= 0) {
        s.pending.splice(i, 1);
        s.active--;
        return;
      }
    }
    if (!this.queue.removeWhere((w) => w.user === user)) return;
    if (this.queue.length === 0) this.stopQueueTimer();
    else this.deadline = this.queue.peek()!.at + this.settings.queueTimeoutMs;
  }

  /** A stream on `s` closed: its slot goes to the oldest waiter, or the session may idle out. */
  release(s: H2UpstreamSession): void {
    s.active--;
    this.settle(s);
  }

  private settle(s: H2UpstreamSession): void {
    if (s.usable && s.ready) {
      const w = this.queue.shift();
      if (w !== undefined) {
        if (this.queue.length === 0) this.stopQueueTimer();
        else this.deadline = this.queue.peek()!.at + this.settings.queueTimeoutMs;
        return this.lend(s, w.user);
      }
    }
    if (s.active > 0) return;
    if (!s.usable || this.shut) return this.retire(s);
    const idle = this.settings.idleTimeoutMs;
    if (idle === 0) return this.retire(s);
    s.deadline = now() + idle;
  }

  private connect(): H2UpstreamSession {
    const endpoint = this.endpoint;
    const settings = this.settings;
    const host = endpoint.host;
    const t = settings.tls;
    const authority = (t === null ? 'http://' : 'https://') + (net.isIPv6(host) ? '[' + host + ']' : host) + ':' + endpoint.port;
    const session = http2.connect(authority, {
      settings: { enablePush: false, maxConcurrentStreams: 0 },
      createConnection: () => {
        if (t === null) return net.connect({ host, port: endpoint.port, noDelay: true });
        const servername = t.servername ?? (net.isIP(host) === 0 ? host : undefined);
        const socket = tls.connect({
          host,
          port: endpoint.port,
          secureContext: t.context,
          servername,
          rejectUnauthorized: t.rejectUnauthorized,
          session: this.tlsSession,
          ALPNProtocols: ['h2'],
        });
        socket.setNoDelay(true);
        socket.on('session', (ticket: Buffer) => {
          this.tlsSession = ticket;
        });
        return socket;
      },
    });
    const s = new H2UpstreamSession(this, session);
    this.sessions.push(s);
    s.deadline = now() + settings.connectTimeoutMs;
    watch(s);
    session.on('connect', () => this.connected(s));
    session.on('remoteSettings', (remote) => {
      const peer = remote.maxConcurrentStreams;
      const mine = this.settings.http2MaxStreams;
      s.limit = peer === undefined || peer > mine ? mine : peer;
    });
    session.on('goaway', () => {
      s.draining = true;
    });
    session.on('error', () => {
      // 'close' follows; streams see their own close
    });
    session.on('close', () => this.closed(s));
    return s;
  }

  private connected(s: H2UpstreamSession): void {
    const socket = s.session.socket;
    if (this.settings.tls !== null && (socket as tls.TLSSocket | undefined)?.alpnProtocol !== 'h2') {
      // the endpoint does not speak HTTP/2 over TLS: no stream may go out on it
      return this.failed(s, Reason.upstreamConnectFailed);
    }
    this.endpoint.connectLatency.observe(performance.now() - s.startedAt);
    s.deadline = 0;
    s.ready = true;
    const pending = s.pending.splice(0);
    for (const user of pending) {
      s.uses++;
      user.onH2Session(s);
    }
    // every user gave up while it connected: idle (or hand it to a waiter)
    if (s.active === 0) this.settle(s);
  }

  /** The session could not be used: its waiting users fail (the exchanges retry elsewhere or answer 502/504). */
  failed(s: H2UpstreamSession, reason: ReasonCode): void {
    const pending = s.pending.splice(0);
    s.active -= pending.length;
    s.draining = true;
    this.remove(s);
    s.session.destroy();
    for (const user of pending) user.onConnectFailed(reason);
  }

  /** Closes a session gracefully (open streams finish; node sends GOAWAY). */
  retire(s: H2UpstreamSession): void {
    s.draining = true;
    this.remove(s);
    if (!s.session.closed && !s.session.destroyed) s.session.close();
  }

  private closed(s: H2UpstreamSession): void {
    if (s.pending.length > 0) return this.failed(s, s.ready ? Reason.upstreamReset : Reason.upstreamConnectFailed);
    s.draining = true;
    this.remove(s);
    // a slot opened up for the next waiter: another session may be opened for it
    const w = this.queue.peek();
    if (w !== undefined && !this.shut && this.sessions.length < this.settings.maxConnections) {
      this.queue.shift();
      if (this.queue.length === 0) this.stopQueueTimer();
      this.acquire(w.user);
    }
  }

  private remove(s: H2UpstreamSession): void {
    const i = this.sessions.indexOf(s);
    if (i >= 0) this.sessions.splice(i, 1);
    s.deadline = 0;
    unwatch(s);
  }

  closeIdle(): void {
    for (const s of [...this.sessions]) if (s.ready && s.active === 0) this.retire(s);
  }

  /** The deregistration delay passed: every session closes now; their streams are reset. */
  destroyAll(): void {
    for (const s of [...this.sessions]) s.session.destroy();
  }

  /** Closes idle sessions now and the rest once their streams finish; used when the endpoint leaves its pool. */
  close(): void {
    this.shut = true;
    for (const s of [...this.sessions]) {
      if (!s.ready) this.failed(s, Reason.upstreamConnectFailed);
      else this.retire(s);
    }
    let w: Waiter | undefined;
    while ((w = this.queue.shift()) !== undefined) w.user.onConnectFailed(Reason.upstreamConnectFailed);
    this.stopQueueTimer();
  }

  onDeadline(): void {
    const t = now();
    const limit = this.settings.queueTimeoutMs;
    while (this.queue.length > 0 && this.queue.peek()!.at + limit <= t) this.queue.shift()!.user.onConnectFailed(Reason.queueTimeout);
    if (this.queue.length > 0) this.deadline = this.queue.peek()!.at + limit;
    else this.stopQueueTimer();
  }

  private stopQueueTimer(): void {
    if (this.deadline !== 0) {
      this.deadline = 0;
      unwatch(this);
    }
  }
}

/** The endpoint's HTTP/2 sessions; replaces an HTTP/1.1 socket set left from a generation with `protocol: http/1.1`. */
export function h2ConnectionsOf(endpoint: Endpoint, settings: PoolSettings): H2Connections {
  return connectionsOfKind(endpoint, H2Connections, settings);
}

/** True when a stream closed with this code before any response may be retried anywhere (RFC 9113 §8.7). */
export function refusedBeforeProcessing(rstCode: number): boolean {
  return rstCode === constants.NGHTTP2_REFUSED_STREAM;
}
