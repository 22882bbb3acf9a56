// Joins a client socket and an upstream socket once the upstream connection is up: bytes both ways with
// backpressure (a write that returns false pauses the reader until the writer's 'drain'), half-close (one side's
// FIN ends the other side's writing; the other direction keeps flowing until it ends too), and one coarse
// deadline for the pair that stands for both the idle timeout and the maximum lifetime (core/deadlines.ts: no
// timer per connection). Socket handlers are module-level functions reading the pipe off the socket. Both
// sockets read with Node's `onread` into buffers chosen by read-buffers.ts; their owner (tcp-proxy.ts) passes
// each read's bytes to clientData / upstreamData.
//
//   client ──read──▶ upstream.write()   false → client.pause()    upstream 'drain' → client.resume()
//   client ◀─write── upstream read      false → upstream.pause()  client 'drain'   → upstream.resume()
//   client 'end' → upstream.end()       upstream 'end' → client.end()
//   a side closes before both its directions ended (reset, error, timeout) → the other is destroyed
import type net from 'node:net';
import { now, unwatch, watch, type HasDeadline } from '../core/deadlines.ts';
import { sniffProxySignature } from './proxy-protocol.ts';
import type { SocketReads } from './read-buffers.ts';

export interface PipeCounters {
  /** Client → upstream. */
  bytesIn: number;
  /** Upstream → client. */
  bytesOut: number;
  idleTimeouts: number;
  lifetimesExpired: number;
  proxyHeadersRejected: number;
}

export interface PipeHost {
  /** Both sockets are closed. */
  onPipeClosed(pipe: Pipe): void;
}

export interface PipeOptions {
  /** 0 = none. */
  readonly idleTimeoutMs: number;
  /** Coarse-clock time (deadlines.now()) by which the connection ends, busy or not; 0 = none. */
  readonly endsAt: number;
  /** The client is not a trusted PROXY sender on a listener that accepts PROXY headers: if its first bytes are
   *  a PROXY signature, close (the spec's rule: never guess, never let a client choose its address). */
  readonly refuseProxyHeader: boolean;
}

/**
 * Write buffer threshold of piped sockets. Node's default (16 KiB) is below one read (64 KiB), so every chunk
 * made its write return false: the reader paused and waited for 'drain' — a full stop per chunk. 256 KiB lets a
 * few reads queue while the kernel takes them; it is a threshold, not an allocation (idle pairs cost nothing).
 */
export const PIPE_HIGH_WATER_MARK = 262144;

const kPipe = Symbol('fulcrum.pipe');
interface PipedSocket extends net.Socket {
  [kPipe]: Pipe;
}

export class Pipe implements HasDeadline {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  readonly host: PipeHost;
  readonly counters: PipeCounters;
  readonly idleTimeoutMs: number;
  readonly endsAt: number;
  deadline: number;
  /** Client bytes held while they might still become a PROXY signature (at most 12). */
  private sniffed: Buffer | null;
  private sniffing: boolean;
  /** Sockets not closed yet. */
  private open: number;

  /** `clientReads` and `upstreamReads` are the sockets' read buffers: each learns here where its bytes are written. */
  constructor(client: net.Socket, upstream: net.Socket, host: PipeHost, counters: PipeCounters, options: PipeOptions, clientReads: SocketReads, upstreamReads: SocketReads) {
    this.client = client;
    this.upstream = upstream;
    this.host = host;
    this.counters = counters;
    this.idleTimeoutMs = options.idleTimeoutMs;
    this.endsAt = options.endsAt;
    this.deadline = 0;
    this.sniffed = null;
    this.sniffing = options.refuseProxyHeader;
    this.open = 2;
    clientReads.writer = upstream;
    upstreamReads.writer = client;
  }

  /** Attaches the handlers and lets bytes flow. The client must be paused; bytes already written to the
   *  upstream (a PROXY header, replayed bytes) count: if they filled its buffer, the client waits for 'drain'. */
  start(): void {
    const client = this.client as PipedSocket;
    const upstream = this.upstream as PipedSocket;
    client[kPipe] = this;
    upstream[kPipe] = this;
    client.on('end', onClientEnd);
    client.on('drain', onClientDrain);
    client.on('error', onError);
    client.on('close', onClose);
    upstream.on('end', onUpstreamEnd);
    upstream.on('drain', onUpstreamDrain);
    upstream.on('error', onError);
    upstream.on('close', onClose);
    if (this.idleTimeoutMs !== 0 || this.endsAt !== 0) {
      watch(this);
      this.touch();
    }
    if (client.destroyed || upstream.destroyed) {
      // a side went away while the pipe was being set up; a 'close' already emitted is not coming again
      this.open = (client.closed ? 0 : 1) + (upstream.closed ? 0 : 1);
      this.destroy();
      if (this.open === 0) this.finish();
      return;
    }
    // the client's FIN was already read (the client is paused while the upstream connects, so this is defensive:
    // 'end' would not be emitted again, so it is passed on now)
    if (client.readableEnded) this.clientEnded();
    else if (!upstream.writableNeedDrain) client.resume();
  }

  /** Closes both sides at once (timeouts, `closeAll`, an endpoint taken away). */
  destroy(): void {
    this.client.destroy();
    this.upstream.destroy();
  }

  /** Bytes queued in the proxy towards the client and towards the upstream (what backpressure bounds). */
  get bufferedBytes(): number {
    return this.client.writableLength + this.upstream.writableLength;
  }

  /** The next deadline: the idle timeout from now, capped by the end of the lifetime. */
  touch(): void {
    if (this.idleTimeoutMs === 0) {
      this.deadline = this.endsAt;
      return;
    }
    const d = now() + this.idleTimeoutMs;
    this.deadline = this.endsAt !== 0 && this.endsAt < d ? this.endsAt : d;
  }

  onDeadline(): void {
    if (this.endsAt !== 0 && now() >= this.endsAt) this.counters.lifetimesExpired++;
    else this.counters.idleTimeouts++;
    this.destroy();
  }

  // HOT PATH: one chunk from the client (valid until the writer's queue empties: read-buffers.ts readView).
  clientData(chunk: Buffer): void {
    if (this.sniffing) {
      const data = this.sniffed === null ? chunk : Buffer.concat([this.sniffed, chunk]);
      const seen = sniffProxySignature(data, 0, data.length);
      if (seen === 'yes') {
        this.counters.proxyHeadersRejected++;
        this.destroy();
        return;
      }
      if (seen === 'maybe') {
        this.sniffed = data === chunk ? Buffer.from(chunk) : data; // kept across reads: a copy, never a read view
        return;
      }
      this.sniffing = false;
      this.sniffed = null;
      chunk = data;
    }
    this.counters.bytesIn += chunk.length;
    if (this.deadline !== 0 && this.idleTimeoutMs !== 0) this.touch();
    if (!this.upstream.write(chunk)) this.client.pause();
  }

  // HOT PATH: one chunk from the upstream.
  upstreamData(chunk: Buffer): void {
    this.counters.bytesOut += chunk.length;
    if (this.deadline !== 0 && this.idleTimeoutMs !== 0) this.touch();
    if (!this.client.write(chunk)) this.upstream.pause();
  }

  clientEnded(): void {
    if (this.sniffed !== null && !this.upstream.destroyed) {
      // a short first message that only looked like the start of a signature
      this.counters.bytesIn += this.sniffed.length;
      this.upstream.write(this.sniffed);
      this.sniffed = null;
    }
    this.sniffing = false;
    if (!this.upstream.destroyed) this.upstream.end();
  }

  upstreamEnded(): void {
    if (!this.client.destroyed) this.client.end();
  }

  socketClosed(socket: net.Socket): void {
    this.open--;
    // Closed before both of its directions ended: a reset, an error, or our own destroy. The other side goes too.
    if (!(socket.readableEnded && socket.writableFinished)) {
      const other = socket === this.client ? this.upstream : this.client;
      other.destroy();
    }
    if (this.open === 0) this.finish();
  }

  private finish(): void {
    if (this.open < 0) return;
    this.open = -1;
    this.deadline = 0;
    unwatch(this);
    this.host.onPipeClosed(this);
  }
}

function onClientDrain(this: PipedSocket): void {
  const upstream = this[kPipe].upstream;
  if (!upstream.destroyed && !upstream.readableEnded) upstream.resume();
}

function onUpstreamDrain(this: PipedSocket): void {
  const client = this[kPipe].client;
  if (!client.destroyed && !client.readableEnded) client.resume();
}

function onClientEnd(this: PipedSocket): void {
  this[kPipe].clientEnded();
}

function onUpstreamEnd(this: PipedSocket): void {
  this[kPipe].upstreamEnded();
}

function onError(this: PipedSocket): void {
  // 'close' follows and tears the pair down; resets and timeouts are expected.
}

function onClose(this: PipedSocket): void {
  this[kPipe].socketClosed(this);
}
