// An endpoint's keep-alive upstream sockets (ARCHITECTURE.md "connections"): idle sockets on a LIFO stack
// (the most recently used is the least likely to have been closed by the server), at most `maxConnections`
// open, and a bounded FIFO of exchanges waiting for one (HAProxy's maxconn + queue; 503 when full or when
// `queueTimeout` passes). Socket handlers are module-level functions reading the connection off the socket.
import net from 'node:net';
import tls from 'node:tls';
import { now, watch, unwatch, type HasDeadline } from '../core/deadlines.ts';
import { Reason, type ReasonCode } from '../core/errors.ts';
import { RingQueue } from '../core/ring-queue.ts';
import { connectionsOfKind, type Endpoint, type EndpointConnectionsLike } from '../upstream/endpoint.ts';
import type { PoolSettings } from '../upstream/pool.ts';

/** The socket side of an upstream link, as exchanges use it. */
export interface LinkSocket {
  write(data: Buffer): boolean;
  cork(): void;
  uncork(): void;
  end(): void;
  pause(): void;
  resume(): void;
}

/** What an exchange holds while it uses an upstream: a keep-alive socket, or a bridge to an HTTP/2 stream
 *  (h2/h1-bridge.ts) for pools with `protocol: h2`. */
export interface UpstreamLink {
  readonly socket: LinkSocket;
  deadline: number;
  user: ConnectionUser | null;
  readonly owner: { release(conn: UpstreamLink, reusable: boolean): void };
  readonly reused: boolean;
}

/** Where an exchange gets its upstream link: `acquire` returns the link being opened while the user waits. */
export interface LinkSource {
  acquire(user: ConnectionUser, forceNew: boolean): UpstreamLink | null;
  cancel(user: ConnectionUser): void;
}

/** What an exchange implements to use an upstream connection. */
export interface ConnectionUser {
  /** A socket is ready (fresh or reused); write the request. */
  onConnection(conn: UpstreamLink): void;
  /** No socket: connect failed or timed out, or the wait queue was full or timed out. */
  onConnectFailed(reason: ReasonCode): void;
  onUpstreamData(chunk: Buffer): void;
  /** The upstream sent FIN. */
  onUpstreamEnd(): void;
  /** The socket closed (after `end`, an error, or a reset) while this user held it. */
  onUpstreamClose(): void;
  /** The response deadline the user set on the connection passed. */
  onUpstreamTimeout(): void;
  onUpstreamDrain(): void;
  /** The endpoint's deregistration delay ended: a user that can end politely (a WebSocket tunnel sending
   *  1001) does so and returns true; otherwise its socket is destroyed. */
  closeGracefully?(): boolean;
}

const C = { connecting: 0, busy: 1, idle: 2, closed: 3 } as const;

interface Waiter {
  readonly user: ConnectionUser;
  /** When it started waiting (coarse clock). */
  readonly at: number;
}

const kConn = Symbol('fulcrum.upstreamConnection');
interface TaggedSocket extends net.Socket {
  [kConn]: UpstreamConnection;
}

/** Bytes per upstream read (as Node's default read size). */
const READ_BUFFER_BYTES = 65536;

/**
 * Set by a write that could not complete at once: the bytes it wrote may be a view of an upstream read
 * buffer, which must then not be reused for the next read. See `UpstreamConnection.nextReadBuffer`.
 */
let writeLeftPending = false;

/** A piece of a response up to this size that a writer would hold is copied instead: a small copy is cheaper
 *  than retiring the 64 KiB read buffer it is a view of (a fresh one per response, and the GC work behind it). */
export const COPY_BELOW_BYTES = 16384;

export function noteWritePending(): void {
  writeLeftPending = true;
}

export class UpstreamConnection implements HasDeadline {
  socket: net.Socket;
  readonly owner: EndpointConnections;
  user: ConnectionUser | null;
  state: number;
  /** Exchanges this socket has carried before the current one (0 = fresh). */
  uses: number;
  deadline: number;
  /** Set by a connect timeout so the close handler reports it as such. */
  connectTimedOut: boolean;
  /** performance.now() when the connect started. */
  connectStartedAt: number;
  /**
   * Responses are read into this connection's own buffer (Node's `onread`), not a new Buffer per read:
   * no allocation and no stream machinery per chunk. The exchange forwards views of it; if such a view is
   * still queued for writing when the read callback returns, the buffer is replaced before the next read.
   */
  private readBuffer: Buffer | null;
  private readBufferTaken: boolean;

  constructor(owner: EndpointConnections, user: ConnectionUser) {
    this.socket = null as unknown as net.Socket; // set right after, by connect()
    this.owner = owner;
    this.user = user;
    this.state = C.connecting;
    this.uses = 0;
    this.deadline = 0;
    this.connectTimedOut = false;
    this.connectStartedAt = performance.now();
    this.readBuffer = null;
    this.readBufferTaken = false;
  }

  /** Node asks for the buffer of the next read after every read. */
  nextReadBuffer(): Buffer {
    if (this.readBuffer === null || this.readBufferTaken) {
      this.readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
      this.readBufferTaken = false;
    }
    return this.readBuffer;
  }

  // HOT PATH: one upstream read, as a view of the connection's read buffer.
  onRead(nread: number, buf: Buffer): void {
    if (this.state !== C.busy || this.user === null) {
      this.socket.destroy(); // bytes on an idle socket: the server is not speaking HTTP/1.1 keep-alive correctly
      return;
    }
    writeLeftPending = false;
    this.user.onUpstreamData(buf.subarray(0, nread));
    if (writeLeftPending) {
      this.readBufferTaken = true;
      writeLeftPending = false;
    }
  }

  get reused(): boolean {
    return this.uses > 0;
  }

  onDeadline(): void {
    if (this.state === C.connecting) {
      this.connectTimedOut = true;
      this.socket.destroy();
    } else if (this.state === C.busy) {
      if (this.user !== null) this.user.onUpstreamTimeout();
    } else this.socket.destroy();
  }
}

function onConnect(this: TaggedSocket): void {
  const conn = this[kConn];
  conn.owner.endpoint.connectLatency.observe(performance.now() - conn.connectStartedAt);
  conn.deadline = 0;
  conn.state = C.busy;
  const user = conn.user;
  if (user !== null) user.onConnection(conn);
  else conn.owner.release(conn, true);
}

/** TLS sockets deliver decrypted bytes as 'data' events (fresh buffers; nothing to protect from reuse). */
function onData(this: TaggedSocket, chunk: Buffer): void {
  const conn = this[kConn];
  if (conn.state !== C.busy || conn.user === null) {
    this.destroy();
    return;
  }
  conn.user.onUpstreamData(chunk);
}

/** Keeps the newest TLS session of an endpoint for resumption by its next connection. */
function onSession(this: TaggedSocket, session: Buffer): void {
  this[kConn].owner.tlsSession = session;
}

function onRead(this: TaggedSocket, nread: number, buf: Buffer): boolean {
  this[kConn].onRead(nread, buf);
  return true; // reading is paused explicitly, for backpressure
}

function onEnd(this: TaggedSocket): void {
  const conn = this[kConn];
  if (conn.state === C.busy && conn.user !== null) conn.user.onUpstreamEnd();
  else this.destroy();
}

function onDrain(this: TaggedSocket): void {
  const conn = this[kConn];
  if (conn.user !== null) conn.user.onUpstreamDrain();
}

function onError(this: TaggedSocket): void {
  // 'close' follows and does the bookkeeping; the error itself is expected (refused, reset, timeout).
}

function onClose(this: TaggedSocket): void {
  const conn = this[kConn];
  conn.owner.closed(conn);
}

export class EndpointConnections implements EndpointConnectionsLike, HasDeadline {
  readonly endpoint: Endpoint;
  settings: PoolSettings;
  private readonly idle: UpstreamConnection[];
  /** Every socket open or opening (for `destroyAll`). */
  private readonly all: Set<UpstreamConnection>;
  /** Waiting users with the time they started waiting, oldest first. */
  private readonly queue: RingQueue<Waiter>;
  private open: number;
  private shut: boolean;
  deadline: number;
  /** The last TLS session ticket from this endpoint (pools with `tls`): new connections resume it. */
  tlsSession: Buffer | undefined;

  constructor(endpoint: Endpoint, settings: PoolSettings) {
    this.endpoint = endpoint;
    this.settings = settings;
    this.idle = [];
    this.all = new Set();
    this.queue = new RingQueue();
    this.open = 0;
    this.shut = false;
    this.deadline = 0;
    this.tlsSession = undefined;
  }

  get idleCount(): number {
    return this.idle.length;
  }

  get activeCount(): number {
    return this.open - this.idle.length;
  }

  /** Sockets open or opening. */
  get openCount(): number {
    return this.open;
  }

  get queueLength(): number {
    return this.queue.length;
  }

  /**
   * Hands the user a socket through its callbacks (possibly before returning). Returns the connection
   * being opened for the user, so it can be disowned (`user = null`) if the user gives up first.
   */
  // HOT PATH: pop an idle socket; otherwise connect or wait.
  acquire(user: ConnectionUser, forceNew: boolean): UpstreamConnection | null {
    if (this.shut) {
      user.onConnectFailed(Reason.upstreamConnectFailed);
      return null;
    }
    if (!forceNew) {
      const conn = this.idle.pop();
      if (conn !== undefined) {
        this.lend(conn, user);
        return null;
      }
    }
    if (this.open < this.settings.maxConnections) return this.connect(user);
    if (this.queue.length >= this.settings.maxQueue) {
      user.onConnectFailed(Reason.queueFull);
      return null;
    }
    this.queue.push({ user, at: now() });
    if (this.queue.length === 1) {
      this.deadline = now() + this.settings.queueTimeoutMs;
      watch(this);
    }
    return null;
  }

  /** A waiting user gave up (its client went away). */
  cancel(user: ConnectionUser): void {
    if (!this.queue.removeWhere((w) => w.user === user)) return;
    if (this.queue.length === 0) this.stopQueueTimer();
    else this.deadline = this.queue.peek()!.at + this.settings.queueTimeoutMs;
  }

  /** The user is done with the socket; `reusable` when the exchange left it at a message boundary. */
  release(conn: UpstreamConnection, reusable: boolean): void {
    conn.user = null;
    conn.uses++;
    if (conn.state !== C.busy) return;
    if (!reusable || this.shut || conn.socket.destroyed || this.settings.idleTimeoutMs === 0) {
      conn.state = C.closed;
      conn.socket.destroy();
      return;
    }
    const next = this.nextWaiter();
    if (next !== undefined) {
      this.lend(conn, next);
      return;
    }
    conn.state = C.idle;
    conn.deadline = now() + this.settings.idleTimeoutMs;
    this.idle.push(conn);
  }

  closeIdle(): void {
    for (const conn of this.idle.splice(0)) conn.socket.destroy();
  }

  /** The deregistration delay passed: every socket closes now; their exchanges fail (502, or a cut response). */
  destroyAll(): void {
    for (const conn of [...this.all]) {
      const user = conn.user;
      if (user !== null && user.closeGracefully !== undefined && user.closeGracefully()) continue;
      conn.socket.destroy();
    }
  }

  /** Closes idle sockets now and busy ones as they are released; used when the endpoint leaves its pool. */
  close(): void {
    this.shut = true;
    for (const conn of this.idle.splice(0)) conn.socket.destroy();
    let user: ConnectionUser | undefined;
    while ((user = this.nextWaiter()) !== undefined) user.onConnectFailed(Reason.upstreamConnectFailed);
  }

  onDeadline(): void {
    // The oldest waiter(s) timed out; the queue is FIFO so they sit at the head.
    const t = now();
    const limit = this.settings.queueTimeoutMs;
    while (this.queue.length > 0 && this.queue.peek()!.at + limit <= t) {
      this.queue.shift()!.user.onConnectFailed(Reason.queueTimeout);
    }
    if (this.queue.length > 0) this.deadline = this.queue.peek()!.at + limit;
    else this.stopQueueTimer();
  }

  /** Called from the socket's 'close' handler. */
  closed(conn: UpstreamConnection): void {
    const state = conn.state;
    conn.state = C.closed;
    unwatch(conn);
    this.all.delete(conn);
    this.open--;
    if (state === C.idle) {
      const i = this.idle.indexOf(conn);
      if (i >= 0) this.idle.splice(i, 1);
    } else if (state === C.connecting) {
      const user = conn.user;
      conn.user = null;
      if (user !== null) user.onConnectFailed(conn.connectTimedOut ? Reason.upstreamTimeout : Reason.upstreamConnectFailed);
    } else if (state === C.busy) {
      const user = conn.user;
      conn.user = null;
      if (user !== null) user.onUpstreamClose();
    }
    // A slot opened: start a connection for the next waiter, if any.
    if (!this.shut && this.queue.length > 0 && this.open < this.settings.maxConnections) {
      const next = this.nextWaiter();
      if (next !== undefined) this.connect(next);
    }
  }

  private lend(conn: UpstreamConnection, user: ConnectionUser): void {
    conn.state = C.busy;
    conn.user = user;
    conn.deadline = 0;
    user.onConnection(conn);
  }

  private connect(user: ConnectionUser): UpstreamConnection {
    const conn = new UpstreamConnection(this, user);
    const t = this.settings.tls;
    let socket: TaggedSocket;
    if (t === null) {
      socket = net.connect({
        host: this.endpoint.host,
        port: this.endpoint.port,
        noDelay: true,
        onread: { buffer: () => conn.nextReadBuffer(), callback: onRead },
      }) as TaggedSocket;
      socket.on('connect', onConnect);
    } else {
      const host = this.endpoint.host;
      const servername = t.servername ?? (net.isIP(host) === 0 ? host : undefined);
      socket = tls.connect({
        host,
        port: this.endpoint.port,
        secureContext: t.context,
        servername,
        rejectUnauthorized: t.rejectUnauthorized,
        session: this.tlsSession,
        ALPNProtocols: ['http/1.1'],
      }) as unknown as TaggedSocket;
      socket.setNoDelay(true);
      socket.on('secureConnect', onConnect);
      socket.on('data', onData);
      socket.on('session', onSession);
    }
    conn.socket = socket;
    socket[kConn] = conn;
    this.all.add(conn);
    this.open++;
    watch(conn);
    conn.deadline = now() + this.settings.connectTimeoutMs;
    socket.on('end', onEnd);
    socket.on('drain', onDrain);
    socket.on('error', onError);
    socket.on('close', onClose);
    return conn;
  }

  private nextWaiter(): ConnectionUser | undefined {
    const waiter = this.queue.shift();
    if (waiter === undefined) return undefined;
    if (this.queue.length === 0) this.stopQueueTimer();
    else this.deadline = this.queue.peek()!.at + this.settings.queueTimeoutMs;
    return waiter.user;
  }

  private stopQueueTimer(): void {
    this.deadline = 0;
    unwatch(this);
  }
}

/** The endpoint's connections, created on first use. */
export function connectionsOf(endpoint: Endpoint, settings: PoolSettings): EndpointConnections {
  return connectionsOfKind(endpoint, EndpointConnections, settings);
}
