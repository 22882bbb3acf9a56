// One proxied TCP connection, from accept to the pipe (ARCHITECTURE.md "One TCP connection"):
//
//   accepted (paused) ─▶ [PROXY header in, trusted peers] ─▶ [ClientHello, tls-passthrough] ─▶ route
//     ─▶ pick + connect (timeout; on failure the next endpoint, nothing sent yet) ─▶ [PROXY header out]
//     + the bytes read so far ─▶ pipe.ts (both ways, half-close, idle/lifetime) ─▶ closed: counters
//
// One coarse deadline at a time: the header or hello timeout, then the connect timeout, then the pipe's. Per
// endpoint: `requests` and `inFlight` per try, `failures` and an outlier gateway failure (status 0) per failed
// connect, an outlier success (status 200) per established connection; `inFlight` holds until the pipe closes.
import net from 'node:net';
import { cidrsContain } from '../core/address.ts';
import { now, refreshClock, unwatch, watch, type HasDeadline } from '../core/deadlines.ts';
import { hashString } from '../core/hash.ts';
import { beginPick, PickContext } from '../upstream/balancing/types.ts';
import type { Endpoint } from '../upstream/endpoint.ts';
import { parseClientHello } from './client-hello.ts';
import { Pipe, PIPE_HIGH_WATER_MARK, type PipeCounters, type PipeHost } from './pipe.ts';
import { buildProxyHeader, parseProxyHeader, sniffProxySignature, type ProxyAddress } from './proxy-protocol.ts';
import { readView, SocketReads } from './read-buffers.ts';
import type { L4Upstream, StreamListenerSettings } from './settings.ts';

/** Plain counters of one tcp or tls-passthrough listener, read at scrape time. */
export class StreamListenerCounters implements PipeCounters {
  /** Connections admitted (refused ones are not counted here). */
  accepted: number;
  /** Connections open now, from accept to the close of both sides. */
  active: number;
  /** Closed at accept: `limits.maxConnections` were open. */
  refused: number;
  /** Client → upstream bytes (PROXY headers excluded). */
  bytesIn: number;
  /** Upstream → client bytes. */
  bytesOut: number;
  /** Upstream connect attempts that failed or timed out (each try counts). */
  connectFailures: number;
  /** Closed before reaching an endpoint: none eligible, or every try failed (`no_eligible_endpoint`,
   *  `upstream_connect_failed`). */
  upstreamUnavailable: number;
  /** tls-passthrough: no route for the server name and no default pool (`no_route`). */
  noRoute: number;
  idleTimeouts: number;
  lifetimesExpired: number;
  /** A trusted peer sent no valid PROXY header, or an untrusted peer sent one. */
  proxyHeadersRejected: number;
  /** A trusted peer sent no complete PROXY header in time. */
  proxyHeaderTimeouts: number;
  /** tls-passthrough: the first bytes were not a valid TLS ClientHello (or it exceeded 16 KiB). */
  clientHellosMalformed: number;
  /** tls-passthrough: no complete ClientHello in time. */
  clientHelloTimeouts: number;

  constructor() {
    this.accepted = 0;
    this.active = 0;
    this.refused = 0;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.connectFailures = 0;
    this.upstreamUnavailable = 0;
    this.noRoute = 0;
    this.idleTimeouts = 0;
    this.lifetimesExpired = 0;
    this.proxyHeadersRejected = 0;
    this.proxyHeaderTimeouts = 0;
    this.clientHellosMalformed = 0;
    this.clientHelloTimeouts = 0;
  }
}

/** What a session needs from its listener. */
export interface StreamListenerHost {
  readonly counters: StreamListenerCounters;
  /** The upstream for a connection accepted under `settings`, by server name (tls-passthrough); null: none. */
  route(settings: StreamListenerSettings, sni: string | null): L4Upstream | null;
  onSessionClosed(session: TcpSession): void;
}

const S = { proxyHeader: 0, clientHello: 1, connecting: 2, piping: 3, closed: 4 } as const;
type Phase = (typeof S)[keyof typeof S];

const kSession = Symbol('fulcrum.tcpSession');
interface SessionSocket extends net.Socket {
  [kSession]: TcpSession;
}

/** Reused for Balancer.observe: connect latency and outcome. */
const outcome = { ok: true, latencyMs: 0 };

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack listener) → `1.2.3.4`, so keys and CIDRs see one form. */
function unmapped(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.indexOf('.') > 0 ? address.slice(7) : address;
}

export class TcpSession implements HasDeadline, PipeHost {
  readonly listener: StreamListenerHost;
  /** The settings current when the connection was accepted; a reload does not change them. */
  readonly settings: StreamListenerSettings;
  readonly client: net.Socket;
  /** The client socket's read buffers (it reads with clientReadOptions). */
  readonly clientReads: SocketReads;
  /** The current upstream socket's read buffers. */
  upstreamReads: SocketReads | null;
  /** -1: no ClientHello is read (tcp); otherwise its timeout in ms (0 = none). */
  readonly helloTimeoutMs: number;
  phase: Phase;
  deadline: number;
  readonly acceptedAt: number;
  /** The client as the upstream should know it: the peer, or the address a trusted PROXY header carried. */
  source: ProxyAddress;
  destination: ProxyAddress;
  /** The peer is in `acceptProxyFrom`. */
  trustedPeer: boolean;
  sni: string | null;
  upstream: L4Upstream | null;
  /** The endpoint being connected to or piped with (counted in its `inFlight`); null otherwise. */
  endpoint: Endpoint | null;
  socket: net.Socket | null;
  pipe: Pipe | null;
  readonly ctx: PickContext;
  tries: number;
  private connectStartedAt: number;
  /** Bytes read before the upstream connection (PROXY header, ClientHello and whatever came with them). */
  private head: Buffer | null;
  private headLength: number;
  /** Where the client's own bytes start in `head` (after a PROXY header). */
  private replayFrom: number;

  /** `client` was created paused with clientReadOptions(`clientReads`). */
  constructor(listener: StreamListenerHost, settings: StreamListenerSettings, client: net.Socket, clientReads: SocketReads, helloTimeoutMs: number) {
    this.listener = listener;
    this.settings = settings;
    this.client = client;
    this.clientReads = clientReads;
    this.upstreamReads = null;
    this.helloTimeoutMs = helloTimeoutMs;
    this.phase = S.proxyHeader;
    this.deadline = 0;
    this.acceptedAt = refreshClock(); // the coarse clock stands still while nothing is watched
    this.source = { address: unmapped(client.remoteAddress), port: client.remotePort ?? 0 };
    this.destination = { address: unmapped(client.localAddress), port: client.localPort ?? 0 };
    this.trustedPeer = settings.acceptProxyFrom !== null && cidrsContain(settings.acceptProxyFrom, this.source.address);
    this.sni = null;
    this.upstream = null;
    this.endpoint = null;
    this.socket = null;
    this.pipe = null;
    this.ctx = new PickContext();
    this.tries = 0;
    this.connectStartedAt = 0;
    this.head = null;
    this.headLength = 0;
    this.replayFrom = 0;
  }

  start(): void {
    const client = this.client as SessionSocket;
    client[kSession] = this;
    client.on('end', onClientEnd);
    client.on('error', onError);
    client.on('close', onClientClose);
    if (this.source.address === '') return this.abort(); // gone before it could be looked at
    if (this.trustedPeer) {
      this.phase = S.proxyHeader;
      this.arm(this.settings.proxyHeaderTimeoutMs);
      client.resume();
      return;
    }
    this.afterProxyHeader();
  }

  private afterProxyHeader(): void {
    if (this.helloTimeoutMs < 0) {
      this.client.pause();
      return this.route(null);
    }
    this.phase = S.clientHello;
    this.arm(this.helloTimeoutMs);
    if (this.headLength > this.replayFrom) this.readHello();
    if (this.phase === S.clientHello) this.client.resume();
  }

  /** Sets the one deadline to `ms` from now (0 = none). */
  private arm(ms: number): void {
    watch(this);
    this.deadline = ms === 0 ? 0 : now() + ms;
  }

  onDeadline(): void {
    const c = this.listener.counters;
    if (this.phase === S.proxyHeader) {
      c.proxyHeaderTimeouts++;
      this.abort();
    } else if (this.phase === S.clientHello) {
      c.clientHelloTimeouts++;
      this.abort();
    } else if (this.phase === S.connecting && this.socket !== null) {
      this.socket.destroy(); // its 'close' counts the failure and tries the next endpoint
    }
  }

  // ---- bytes before the upstream connection -------------------------------------------------------------------

  /** Client bytes while a PROXY header or a ClientHello is awaited. Both parsers bound what they wait for. */
  clientData(chunk: Buffer): void {
    if (this.phase > S.clientHello) return;
    this.keep(chunk);
    if (this.phase === S.proxyHeader) this.readProxyHeader();
    else this.readHello();
  }

  private keep(chunk: Buffer): void {
    const needed = this.headLength + chunk.length;
    if (this.head === null || this.head.length < needed) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.head === null ? 1024 : this.head.length * 2));
      if (this.head !== null) this.head.copy(grown, 0, 0, this.headLength);
      this.head = grown;
    }
    chunk.copy(this.head, this.headLength);
    this.headLength = needed;
  }

  private readProxyHeader(): void {
    const header = parseProxyHeader(this.head!, 0, this.headLength);
    if (header.kind === 'incomplete') return;
    if (header.kind === 'invalid') {
      this.listener.counters.proxyHeadersRejected++;
      return this.abort();
    }
    this.replayFrom = header.consumed;
    if (header.source !== undefined && header.destination !== undefined) {
      this.source = { address: unmapped(header.source.address), port: header.source.port };
      this.destination = header.destination;
    }
    this.afterProxyHeader();
  }

  private readHello(): void {
    const head = this.head!;
    if (this.settings.acceptProxyFrom !== null && !this.trustedPeer && sniffProxySignature(head, this.replayFrom, this.headLength) === 'yes') {
      this.listener.counters.proxyHeadersRejected++;
      return this.abort();
    }
    const hello = parseClientHello(head, this.replayFrom, this.headLength);
    if (hello.kind === 'incomplete') return;
    if (hello.kind === 'malformed') {
      this.listener.counters.clientHellosMalformed++;
      return this.abort();
    }
    this.sni = hello.sni;
    this.client.pause();
    this.route(hello.sni);
  }

  clientEnded(): void {
    // FIN before the header or hello was complete: there is nothing to forward.
    if (this.phase <= S.clientHello) this.abort();
  }

  // ---- upstream connection -------------------------------------------------------------------------------------

  private route(sni: string | null): void {
    const upstream = this.listener.route(this.settings, sni);
    if (upstream === null) {
      this.listener.counters.noRoute++;
      return this.abort();
    }
    this.upstream = upstream;
    const ctx = this.ctx;
    beginPick(ctx);
    ctx.clientAddress = this.source.address;
    // Hash balancers hash the client address (the key `client-ip`, HAProxy `balance source`).
    ctx.hasHash = upstream.pool.key !== null;
    ctx.hash = ctx.hasHash ? hashString(this.source.address) : 0;
    this.connect();
  }

  private connect(): void {
    const pool = this.upstream!.pool;
    const endpoint = pool.pick(this.ctx);
    if (endpoint === undefined) {
      this.listener.counters.upstreamUnavailable++;
      return this.abort();
    }
    this.tries++;
    endpoint.requests++;
    endpoint.inFlight++;
    this.endpoint = endpoint;
    this.phase = S.connecting;
    const reads = new SocketReads();
    // highWaterMark is a stream option net.connect passes on (not in its types)
    const socket = net.connect({
      host: endpoint.host,
      port: endpoint.port,
      noDelay: true,
      allowHalfOpen: true,
      highWaterMark: PIPE_HIGH_WATER_MARK,
      onread: { buffer: () => reads.next(), callback: onUpstreamRead },
    } as net.NetConnectOpts) as SessionSocket;
    this.upstreamReads = reads;
    socket[kSession] = this;
    socket.on('connect', onUpstreamConnect);
    socket.on('error', onError);
    socket.on('close', onUpstreamConnectClose);
    this.socket = socket;
    this.connectStartedAt = performance.now();
    this.arm(this.settings.connectTimeoutMs);
  }

  connected(socket: net.Socket): void {
    if (socket !== this.socket || this.phase !== S.connecting) {
      socket.destroy();
      return;
    }
    const endpoint = this.endpoint!;
    const upstream = this.upstream!;
    this.observe(endpoint, true);
    upstream.pool.outlier?.record(endpoint, 200);
    this.deadline = 0;
    unwatch(this);
    socket.removeListener('connect', onUpstreamConnect);
    socket.removeListener('error', onError);
    socket.removeListener('close', onUpstreamConnectClose);
    const client = this.client;
    client.removeListener('end', onClientEnd);
    client.removeListener('error', onError);
    client.removeListener('close', onClientClose);
    // The PROXY header and the bytes read so far go out as one write (one segment for a header-first server).
    const replay = this.head === null ? null : this.head.subarray(this.replayFrom, this.headLength);
    const header = upstream.proxyProtocol === null ? null : buildProxyHeader(upstream.proxyProtocol, this.source, this.destination);
    if (replay !== null && replay.length > 0) this.listener.counters.bytesIn += replay.length;
    if (header !== null && replay !== null) socket.write(Buffer.concat([header, replay]));
    else if (header !== null) socket.write(header);
    else if (replay !== null && replay.length > 0) socket.write(replay);
    this.head = null;
    this.phase = S.piping;
    const s = this.settings;
    const pipe = new Pipe(client, socket, this, this.listener.counters, {
      idleTimeoutMs: s.idleTimeoutMs,
      endsAt: s.maxLifetimeMs === 0 ? 0 : this.acceptedAt + s.maxLifetimeMs,
      refuseProxyHeader: s.acceptProxyFrom !== null && !this.trustedPeer && this.helloTimeoutMs < 0,
    }, this.clientReads, this.upstreamReads!);
    this.pipe = pipe;
    pipe.start();
  }

  /** The upstream socket closed before it connected: refused, reset, unreachable, or the connect timeout. */
  connectFailed(socket: net.Socket): void {
    if (socket !== this.socket) return;
    this.socket = null;
    const endpoint = this.endpoint;
    if (endpoint !== null) {
      this.endpoint = null;
      endpoint.inFlight--;
      endpoint.failures++;
      this.observe(endpoint, false);
      this.upstream!.pool.outlier?.record(endpoint, 0);
      this.listener.counters.connectFailures++;
    }
    if (this.phase !== S.connecting) return;
    // Nothing was sent yet: the next endpoint (tried ones are skipped), up to the pool's maxTries.
    if (this.tries < this.upstream!.pool.settings.maxTries) return this.connect();
    this.listener.counters.upstreamUnavailable++;
    this.abort();
  }

  private observe(endpoint: Endpoint, ok: boolean): void {
    const balancer = this.upstream!.pool.balancer;
    if (balancer.observe === undefined) return;
    outcome.ok = ok;
    outcome.latencyMs = performance.now() - this.connectStartedAt;
    balancer.observe(endpoint, outcome);
  }

  // ---- the end ------------------------------------------------------------------------------------------------

  /** Closes everything now: `closeAll`, a timeout, or an endpoint taken out of service. */
  destroy(): void {
    if (this.pipe !== null) this.pipe.destroy();
    else this.abort();
  }

  /** Ends the connection before the pipe: the client is destroyed, a connect in progress abandoned. */
  abort(): void {
    if (this.phase === S.closed) return;
    this.phase = S.closed;
    const socket = this.socket;
    this.socket = null;
    if (socket !== null) socket.destroy();
    this.client.destroy();
    this.head = null;
    this.finish();
  }

  onPipeClosed(_pipe: Pipe): void {
    this.phase = S.closed;
    this.finish();
  }

  private finish(): void {
    if (this.endpoint !== null) {
      this.endpoint.inFlight--;
      this.endpoint = null;
    }
    this.deadline = 0;
    unwatch(this);
    this.listener.onSessionClosed(this);
  }
}

/** `onread` options of an accepted client socket (the listener creates it with them, paused). */
export function clientReadOptions(reads: SocketReads): { buffer: () => Buffer; callback: (nread: number, buf: Buffer) => boolean } {
  return { buffer: () => reads.next(), callback: onClientRead };
}

// HOT PATH: one read of the client socket — the pipe's once it is up, before that the session's (which copies).
function onClientRead(this: SessionSocket, nread: number, buf: Buffer): boolean {
  const session = this[kSession];
  session.clientReads.lastRead = nread;
  const pipe = session.pipe;
  if (pipe !== null) pipe.clientData(readView(buf, nread));
  else session.clientData(buf.subarray(0, nread));
  return true; // reading is paused explicitly, for backpressure
}

// HOT PATH: one read of the upstream socket; it reads only once connected, when the pipe is up.
function onUpstreamRead(this: SessionSocket, nread: number, buf: Buffer): boolean {
  const session = this[kSession];
  const pipe = session.pipe;
  if (pipe === null || pipe.upstream !== this) {
    this.destroy();
    return false;
  }
  session.upstreamReads!.lastRead = nread;
  pipe.upstreamData(readView(buf, nread));
  return true;
}

function onClientEnd(this: SessionSocket): void {
  this[kSession].clientEnded();
}

function onClientClose(this: SessionSocket): void {
  this[kSession].abort();
}

function onUpstreamConnect(this: SessionSocket): void {
  this[kSession].connected(this);
}

function onUpstreamConnectClose(this: SessionSocket): void {
  this[kSession].connectFailed(this);
}

function onError(this: SessionSocket): void {
  // 'close' follows and does the bookkeeping; refused, reset and unreachable are expected.
}
