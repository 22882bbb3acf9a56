// GET /events: the dashboard's Server-Sent Events stream (WHATWG HTML §9.2). Each client gets a `retry:` hint
// and a `snapshot` (every kept sample, recent state changes) on connect, a `tick` after every sample, a
// `transition` as each state change is published, and a comment line as heartbeat so idle proxies keep the
// connection. At most `maxClients` at once; a client that goes away, or reads too slowly, is dropped.
//
//   retry: 2000            event: snapshot         event: tick            event: transition
//                          data: {…}               data: {…}              data: {…}
import type { StreamSink } from '../route.ts';

export interface EventHubOptions {
  /** Clients at once (default 32); one more is refused with 503. */
  readonly maxClients?: number;
  /** Between heartbeat comments (default 15 s). */
  readonly heartbeatMs?: number;
  /** The reconnection delay suggested to EventSource (default 2 s). */
  readonly retryMs?: number;
  /** A client with more than this many bytes unsent is dropped (default 1 MiB). */
  readonly maxBufferedBytes?: number;
}

export const defaultMaxClients = 32;

/** One SSE message; `data` is JSON, on one line (JSON.stringify escapes newlines). */
export function formatEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class EventHub {
  readonly maxClients: number;
  readonly heartbeatMs: number;
  readonly retryMs: number;
  readonly maxBufferedBytes: number;
  private readonly clients: Set<StreamSink>;
  private heartbeat: NodeJS.Timeout | null;

  constructor(options: EventHubOptions = {}) {
    this.maxClients = options.maxClients ?? defaultMaxClients;
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    this.retryMs = options.retryMs ?? 2000;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
    this.clients = new Set();
    this.heartbeat = null;
  }

  get size(): number {
    return this.clients.size;
  }

  get full(): boolean {
    return this.clients.size >= this.maxClients;
  }

  /** Adds a client and sends it the retry hint and `snapshot()`; false (nothing sent) when full. */
  open(sink: StreamSink, snapshot: () => unknown): boolean {
    if (this.full) return false;
    this.clients.add(sink);
    sink.onClose(() => this.drop(sink));
    this.send(sink, `retry: ${this.retryMs}\n\n` + formatEvent('snapshot', snapshot()));
    if (this.heartbeat === null) {
      this.heartbeat = setInterval(() => this.broadcastRaw(': heartbeat\n\n'), this.heartbeatMs);
      this.heartbeat.unref();
    }
    return true;
  }

  /** Sends one event to every client; `data` is built (and serialized) once, only when there are clients. */
  broadcast(event: string, data: () => unknown): void {
    if (this.clients.size === 0) return;
    this.broadcastRaw(formatEvent(event, data()));
  }

  private broadcastRaw(text: string): void {
    for (const c of this.clients) this.send(c, text);
  }

  private send(sink: StreamSink, text: string): void {
    if (!this.clients.has(sink)) return;
    sink.write(text);
    if (sink.bufferedBytes > this.maxBufferedBytes) this.drop(sink);
  }

  private drop(sink: StreamSink): void {
    if (!this.clients.delete(sink)) return;
    sink.end();
    if (this.clients.size === 0 && this.heartbeat !== null) {
      clearInterval(this.heartbeat);
      this.heartbeat = null;
    }
  }

  /** Ends every stream (the admin listener is closing). */
  close(): void {
    for (const c of [...this.clients]) this.drop(c);
  }
}
