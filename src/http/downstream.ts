// One client connection: reads request heads (keep-alive and pipelining), runs one Exchange at a time,
// and owns the connection's single deadline — request head (slowloris), keep-alive idle, or the overall
// request timeout. Socket handlers are module-level functions reading the Downstream off the socket.
import net from 'node:net';
import { now, unwatch, watch, type HasDeadline } from '../core/deadlines.ts';
import { Reason } from '../core/errors.ts';
import { cidrsContain } from '../core/address.ts';
import { parseProxyHeader } from '../l4/proxy-protocol.ts';
import { Exchange } from './exchange.ts';
import { COPY_BELOW_BYTES, noteWritePending } from './upstream-connections.ts';
import { peerParts, type Peer } from './forward-headers.ts';
import type { ListenerSettings } from './listener-settings.ts';
import { localReply, reasonForStatus } from './local-reply.ts';
import { CR, LF } from './parse/chars.ts';
import { findHeadEnd, HeadScanner, parseRequestHead, RequestHead, withinLimits } from './parse/head.ts';

/** What a downstream needs from its listener: the current generation's settings and its connection set. */
export interface DownstreamHost {
  readonly settings: ListenerSettings;
  readonly connections: Set<Downstream>;
  /** A client connection ended; lets a stopping listener notice when the last one is gone. */
  onDownstreamClosed(ds: Downstream): void;
  /** Prior-knowledge HTTP/2 (RFC 9113 §3.3): takes a connection that began with the preface (after `ds.detach()`);
   *  false when the listener does not accept it, and the client gets the 505 its "HTTP/2.0" request line earns. */
  takeOverH2c?(ds: Downstream): boolean;
}

/** The HTTP/2 connection preface (RFC 9113 §3.4). Its first 18 bytes parse as a request head with version 2.0. */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const D = { idle: 0, head: 1, active: 2, closed: 3 } as const;
/** Which timeout `deadline` stands for. */
const T = { none: 0, idle: 1, head: 2, request: 3 } as const;

// Request heads are parsed only once complete and consumed synchronously by Exchange.start, so one parse
// result serves every connection: an idle keep-alive connection holds no header tables (10k idle
// connections must stay cheap).
let sharedHead = new RequestHead(100);
function requestHeadFor(maxHeaders: number): RequestHead {
  if (sharedHead.fields.ids.length < maxHeaders) sharedHead = new RequestHead(maxHeaders);
  return sharedHead;
}

/** Finished exchanges wait here for the next request on any connection (bounded). */
const freeExchanges: Exchange[] = [];
const MAX_FREE_EXCHANGES = 1024;

const kDs = Symbol('fulcrum.downstream');
interface TaggedSocket extends net.Socket {
  [kDs]: Downstream;
}

/**
 * Client bytes are read into this one buffer (Node's `onread`): no Buffer allocation and no stream
 * machinery per read. Reads are handled one at a time and synchronously, so one buffer serves every
 * connection — as long as nothing keeps a view of it past the read callback. Whatever is kept (a partial
 * head, pipelined bytes, body bytes queued for an upstream write) is copied first.
 */
export const CLIENT_READ_BUFFER = Buffer.allocUnsafeSlow(65536);

function onRead(this: TaggedSocket, nread: number, buf: Buffer): boolean {
  const ds = this[kDs];
  ds.host.settings.stats.bytesIn += nread;
  ds.bytesIn += nread;
  ds.onData(buf.subarray(0, nread));
  return true; // reading is paused explicitly, for backpressure
}

/** Copies `view` if it points into the shared read buffer; returns it as is otherwise. */
export function own(view: Buffer): Buffer {
  return view.buffer === CLIENT_READ_BUFFER.buffer ? Buffer.from(view) : view;
}

/** Wraps an accepted TCP handle (from the listener) in a socket that reads into the shared buffer. */
export function clientSocket(handle: unknown): net.Socket {
  return new net.Socket({
    handle: handle as net.Socket,
    allowHalfOpen: true,
    readable: true,
    writable: true,
    onread: { buffer: CLIENT_READ_BUFFER, callback: onRead },
  } as unknown as net.SocketConstructorOpts);
}
/** TLS sockets deliver decrypted bytes as 'data' events (fresh buffers, not views of the shared one). */
function onDataEvent(this: TaggedSocket, chunk: Buffer): void {
  const ds = this[kDs];
  ds.host.settings.stats.bytesIn += chunk.length;
  ds.bytesIn += chunk.length;
  ds.onData(chunk);
}

function onEnd(this: TaggedSocket): void {
  this[kDs].onEnd();
}
function onDrain(this: TaggedSocket): void {
  const x = this[kDs].exchange;
  if (x !== null) x.onDownstreamDrain();
}
function onError(this: TaggedSocket): void {
  // 'close' follows; client resets are routine.
}
function onClose(this: TaggedSocket): void {
  this[kDs].onClose();
}

export class Downstream implements HasDeadline, Peer {
  readonly socket: net.Socket;
  readonly host: DownstreamHost;
  /** The client: the TCP peer, or the source of an accepted PROXY header. */
  peerAddress: string;
  forwardedPrefix: string;
  forwardedNode: string;
  /** A trusted peer must send a PROXY header before any request; bytes of it seen so far. */
  private proxyPending: Buffer | null;
  /** `https` on a TLS listener. */
  readonly proto: string;
  /** The socket is a TLSSocket (see write()). */
  private readonly tls: boolean;
  /** mTLS: the verified client certificate as header lines for the upstream request ('' without one). */
  clientCertLines: string;
  /** The exchange in progress; taken from a shared free list per request, so idle connections hold none. */
  exchange: Exchange | null;
  private readonly scanner: HeadScanner;
  private state: number;
  /** Unparsed client bytes: buf[0, bufEnd). */
  private buf: Buffer | null;
  private bufEnd: number;
  private readingPaused: boolean;
  /** Stop after the current exchange (shutdown or the client asked). */
  closing: boolean;
  private clientEnded: boolean;
  private inLoop: boolean;
  private loopAgain: boolean;
  deadline: number;
  private deadlineKind: number;
  requests: number;
  /** Bytes read from and written to this client (access logs take per-exchange differences). */
  bytesIn: number;
  bytesOut: number;

  /** `tlsSocket`: a decrypted TLS socket, read through 'data' events instead of the shared buffer. */
  constructor(socket: net.Socket, host: DownstreamHost, tlsSocket = false) {
    this.socket = socket;
    this.host = host;
    this.peerAddress = normalizePeer(socket.remoteAddress ?? '');
    this.proto = tlsSocket ? 'https' : 'http';
    this.tls = tlsSocket;
    this.clientCertLines = '';
    const parts = peerParts(this.peerAddress, this.proto);
    this.forwardedPrefix = parts.forwardedPrefix;
    this.forwardedNode = parts.forwardedNode;
    this.exchange = null;
    this.scanner = new HeadScanner();
    this.state = D.idle;
    this.buf = null;
    this.bufEnd = 0;
    this.readingPaused = false;
    this.closing = false;
    this.clientEnded = false;
    this.inLoop = false;
    this.loopAgain = false;
    this.deadline = 0;
    this.deadlineKind = T.none;
    this.requests = 0;
    this.bytesIn = 0;
    this.bytesOut = 0;
    const acceptProxy = host.settings.acceptProxyFrom;
    this.proxyPending = acceptProxy !== null && cidrsContain(acceptProxy, this.peerAddress) ? Buffer.alloc(0) : null;
    (socket as TaggedSocket)[kDs] = this;
    socket.setNoDelay(true);
    if (tlsSocket) socket.on('data', onDataEvent);
    socket.on('end', onEnd);
    socket.on('drain', onDrain);
    socket.on('error', onError);
    socket.on('close', onClose);
    host.connections.add(this);
    watch(this); // first: it refreshes a clock that stood still while no connection was watched
    this.setDeadline(T.head, host.settings.requestHeaderTimeoutMs);
  }

  get isTrusted(): ((ip: string) => boolean) | null {
    return this.host.settings.isTrustedProxy;
  }

  get idle(): boolean {
    return this.state === D.idle && this.bufEnd === 0;
  }

  // HOT PATH: a whole request head usually arrives in one chunk and is parsed in place.
  onData(chunk: Buffer): void {
    if (this.proxyPending !== null) return this.onProxyBytes(chunk);
    if (this.state === D.active) {
      this.exchange!.onRequestData(chunk);
      return;
    }
    if (this.state === D.closed) return;
    this.append(chunk, 0, chunk.length);
    this.parseLoop();
    // what stays for later must not point into the shared read buffer
    if (this.bufEnd > 0) this.buf = own(this.buf!.subarray(0, this.bufEnd));
  }

  /** Keeps client bytes that belong to later requests (pipelining) until the current exchange is done. */
  stash(buf: Buffer, start: number, end: number): void {
    this.append(buf, start, end);
    if (this.state === D.active) this.buf = own(this.buf!.subarray(0, this.bufEnd));
    // Bound what a pipelining client can park here; the kernel buffers the rest.
    if (this.state === D.active && this.bufEnd > this.host.settings.limits.maxHeadSize) this.pauseReading();
  }

  private append(buf: Buffer, start: number, end: number): void {
    if (this.bufEnd === 0) {
      this.buf = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
      this.bufEnd = end - start;
      return;
    }
    const merged = Buffer.allocUnsafe(this.bufEnd + end - start);
    this.buf!.copy(merged, 0, 0, this.bufEnd);
    buf.copy(merged, this.bufEnd, start, end);
    this.buf = merged;
    this.bufEnd = merged.length;
  }

  /** Parses and starts as many requests as the buffered bytes allow, one exchange at a time. */
  private parseLoop(): void {
    if (this.inLoop) {
      this.loopAgain = true;
      return;
    }
    this.inLoop = true;
    do {
      this.loopAgain = false;
      this.parseOne();
    } while (this.loopAgain && this.state !== D.active && this.state !== D.closed);
    this.inLoop = false;
  }

  private parseOne(): void {
    const settings = this.host.settings;
    let buf = this.buf;
    if (buf === null || this.bufEnd === 0) return;
    if (this.state === D.idle || (this.state === D.head && this.scanner.scanned === 0)) {
      // RFC 9112 §2.2: ignore at least one empty line before a request line (also when its CR and LF
      // arrive apart)
      let skip = 0;
      while (skip + 1 < this.bufEnd && skip < 4 && buf[skip] === CR && buf[skip + 1] === LF) skip += 2;
      if (skip > 0) {
        buf = this.buf = buf.subarray(skip, this.bufEnd);
        this.bufEnd -= skip;
        if (this.bufEnd === 0) {
          this.buf = null;
          return;
        }
      }
      if (this.state === D.idle) {
        this.state = D.head;
        this.scanner.reset();
        this.setDeadline(T.head, settings.requestHeaderTimeoutMs);
      }
    }
    const head = requestHeadFor(settings.limits.maxHeaders);
    // HOT PATH: the whole head is usually here; one search finds its end.
    let end = findHeadEnd(buf, this.scanner.scanned, this.bufEnd);
    if (
      end < 0 ||
      parseRequestHead(buf, end, head, settings.requestIdName) !== 0 ||
      !withinLimits(end, head.fieldsStart, head.fields.count, settings.limits)
    ) {
      // incomplete or refused: the line-by-line scanner decides, so the answer is the same however the
      // bytes were split
      end = this.scanner.scan(buf, this.bufEnd, settings.limits, true);
      if (end === -1) return;
      if (end === -2) return this.refuse(this.scanner.error);
      const status = parseRequestHead(buf, end, head, settings.requestIdName);
      if (status !== 0) return this.refuse(status);
    }
    const total = this.bufEnd;
    this.buf = null;
    this.bufEnd = 0;
    this.state = D.active;
    this.requests++;
    if (settings.requestTimeoutMs > 0) this.setDeadline(T.request, settings.requestTimeoutMs);
    else this.setDeadline(T.none, 0);
    const x = freeExchanges.pop() ?? new Exchange();
    x.ds = this;
    this.exchange = x;
    x.start(head, buf, total, settings);
  }

  /** Answers a request that could not be parsed, then closes: the stream cannot be trusted past it. */
  private refuse(status: number): void {
    // not HTTP/1.1 at all but the HTTP/2 preface: the listener may take the connection over
    if (status === 505 && this.requests === 0 && this.host.takeOverH2c !== undefined && isH2Preface(this.buf!, this.bufEnd) && this.host.takeOverH2c(this)) return;
    this.state = D.closed;
    this.buf = null;
    this.bufEnd = 0;
    this.write(localReply(status, reasonForStatus(status), '-', true, false, false));
    this.endSocket();
  }

  /** Lets go of the socket for another protocol: no more handlers or deadline. Returns the bytes read so far (a copy). */
  detach(): Buffer {
    const received = this.buf === null ? Buffer.alloc(0) : Buffer.from(this.buf.subarray(0, this.bufEnd));
    this.state = D.closed;
    this.buf = null;
    this.bufEnd = 0;
    this.deadline = 0;
    unwatch(this);
    const s = this.socket;
    s.off('data', onDataEvent);
    s.off('end', onEnd);
    s.off('drain', onDrain);
    s.off('error', onError);
    s.off('close', onClose);
    this.host.connections.delete(this);
    return received;
  }

  /** Called by the exchange when it is over. */
  exchangeDone(close: boolean): void {
    const x = this.exchange;
    if (x !== null) {
      this.exchange = null;
      if (freeExchanges.length < MAX_FREE_EXCHANGES) freeExchanges.push(x);
    }
    if (this.state === D.closed) return;
    if (close || this.closing || this.clientEnded) {
      this.state = D.closed;
      this.endSocket();
      return;
    }
    this.state = D.idle;
    this.setDeadline(T.idle, this.host.settings.keepAliveTimeoutMs);
    this.resumeReading();
    if (this.bufEnd > 0) this.parseLoop();
  }

  write(data: Buffer): boolean {
    this.host.settings.stats.bytesOut += data.length;
    this.bytesOut += data.length;
    const socket = this.socket;
    // `data` may be a view of an upstream read buffer: whatever keeps it past this call retires that buffer
    if (socket.writableLength === 0) {
      const ok = socket.write(data);
      // A TLS socket encrypts (copies) what it is handed at once (TLSWrap::DoWrite); a TCP socket keeps what the
      // kernel did not take yet.
      if (!this.tls && socket.writableLength !== 0) noteWritePending();
      return ok;
    }
    // queued behind a write in progress: small pieces are copied rather than keeping the read buffer
    if (data.length <= COPY_BELOW_BYTES) return socket.write(Buffer.from(data));
    noteWritePending();
    return socket.write(data);
  }

  pauseReading(): void {
    if (!this.readingPaused) {
      this.readingPaused = true;
      this.socket.pause();
    }
  }

  resumeReading(): void {
    if (this.readingPaused) {
      this.readingPaused = false;
      this.socket.resume();
    }
  }

  onEnd(): void {
    // The client half-closed: finish the exchange in progress (its response can still be written), then close.
    this.clientEnded = true;
    if (this.state === D.active && this.exchange !== null) this.exchange.onClientEnd();
    if (this.state !== D.active) {
      this.state = D.closed;
      this.endSocket();
    }
  }

  onClose(): void {
    this.state = D.closed;
    this.deadline = 0;
    unwatch(this);
    if (this.exchange !== null) this.exchange.abort();
    this.buf = null;
    this.host.connections.delete(this);
    this.host.onDownstreamClosed(this);
  }

  onDeadline(): void {
    const kind = this.deadlineKind;
    this.deadlineKind = T.none;
    if (kind === T.head && this.state === D.head) {
      // a request head started but did not finish in time (slowloris)
      this.state = D.closed;
      this.write(localReply(408, Reason.requestHeaderTimeout, '-', true, false, false));
      this.endSocket();
    } else if (kind === T.request && this.state === D.active) {
      this.exchange!.onRequestTimeout();
    } else if (kind === T.idle || kind === T.head) {
      this.destroy(); // nothing in flight: close quietly, as HAProxy and NGINX do
    }
  }

  /** Graceful stop: idle connections close now, busy ones after their exchange. */
  /**
   * The PROXY header (v1 or v2, l4/proxy-protocol.ts) a trusted peer sends first: its source address becomes the
   * client address for routing, forwarding headers, rate limits and logs. Malformed or missing → closed.
   */
  private onProxyBytes(chunk: Buffer): void {
    const buf = (this.proxyPending = Buffer.concat([this.proxyPending!, chunk]));
    const h = parseProxyHeader(buf, 0, buf.length);
    if (h.kind === 'incomplete') return;
    this.proxyPending = null;
    if (h.kind === 'invalid') return this.destroy();
    if (h.source !== undefined && !h.local) {
      this.peerAddress = normalizePeer(h.source.address);
      const parts = peerParts(this.peerAddress, this.proto);
      this.forwardedPrefix = parts.forwardedPrefix;
      this.forwardedNode = parts.forwardedNode;
    }
    if (h.consumed < buf.length) this.onData(buf.subarray(h.consumed));
  }

  /** The exchange became a tunnel (WebSocket): no more HTTP on this connection, no timeout but the peers'. */
  enterTunnel(): void {
    this.setDeadline(T.none, 0);
    this.closing = true;
    this.resumeReading();
  }

  shutdown(): void {
    this.closing = true;
    if (this.state === D.idle && this.bufEnd === 0) this.destroy();
  }

  destroy(): void {
    this.state = D.closed;
    this.socket.destroy();
  }

  private endSocket(): void {
    this.deadline = 0;
    this.socket.end();
    // A client that never reads its reply must not hold the socket forever.
    this.setDeadline(T.idle, 5000);
  }

  private setDeadline(kind: number, ms: number): void {
    this.deadlineKind = kind;
    this.deadline = kind === T.none ? 0 : now() + ms;
  }
}

function isH2Preface(buf: Buffer, end: number): boolean {
  const n = end < H2_PREFACE.length ? end : H2_PREFACE.length;
  return buf.compare(H2_PREFACE, 0, n, 0, n) === 0;
}

/** "::ffff:10.0.0.1" → "10.0.0.1": one spelling per client in headers, logs and hashing. */
function normalizePeer(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
