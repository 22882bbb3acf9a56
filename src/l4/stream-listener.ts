// What `tcp` and `tls-passthrough` listeners share: one net.Server whose accepted connections are wrapped here
// (core/accept.ts) in paused sockets that read into read-buffers.ts's buffers (no byte is read before the
// connection is admitted), the `maxConnections` limit, the live sessions, counters, and
// the operator verbs — `updateSettings` (a reload: new connections take the new settings, open ones keep theirs
// and their endpoint), `close` (stop accepting), `closeAll` (destroy what is left), `stop` (both, gracefully).
import net from 'node:net';
import type { Endpoint } from '../upstream/endpoint.ts';
import type { L4Upstream, StreamListenerSettings } from './settings.ts';
import { takeOverAccept } from '../core/accept.ts';
import { clientReadOptions, StreamListenerCounters, TcpSession, type StreamListenerHost } from './tcp-proxy.ts';
import { PIPE_HIGH_WATER_MARK } from './pipe.ts';
import { SocketReads } from './read-buffers.ts';

export abstract class StreamListener<S extends StreamListenerSettings> implements StreamListenerHost {
  settings: S;
  readonly counters: StreamListenerCounters;
  readonly sessions: Set<TcpSession>;
  readonly server: net.Server;
  private stopping: (() => void) | null;

  constructor(settings: S) {
    this.settings = settings;
    this.counters = new StreamListenerCounters();
    this.sessions = new Set();
    this.stopping = null;
    this.server = net.createServer();
  }

  /** The upstream for a connection accepted under `settings`; null: no route (the connection is closed). */
  abstract route(settings: StreamListenerSettings, sni: string | null): L4Upstream | null;

  /** -1: no ClientHello is read; otherwise its timeout (0 = none). */
  protected helloTimeoutMs(_settings: S): number {
    return -1;
  }

  listen(host: string, port: number): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host, port, backlog: 1024 }, () => {
        this.server.off('error', onError);
        this.server.on('error', () => {}); // accept errors (EMFILE): the kernel keeps the connection queued
        takeOverAccept(this.server, (handle) => this.acceptHandle(handle));
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  get address(): net.AddressInfo {
    return this.server.address() as net.AddressInfo;
  }

  /** A reload: connections accepted from now on use `next`. */
  updateSettings(next: S): void {
    this.settings = next;
  }

  /** An accepted connection: wrapped in a paused socket that reads into its own SocketReads' buffers. */
  private acceptHandle(handle: unknown): void {
    const reads = new SocketReads();
    const socket = new net.Socket({
      handle,
      // a client's FIN is forwarded while the other direction keeps flowing
      allowHalfOpen: true,
      readable: true,
      writable: true,
      pauseOnCreate: true,
      highWaterMark: PIPE_HIGH_WATER_MARK,
      onread: clientReadOptions(reads),
    } as unknown as net.SocketConstructorOpts);
    socket.setNoDelay(true);
    this.accept(socket, reads);
  }

  private accept(socket: net.Socket, reads: SocketReads): void {
    const settings = this.settings;
    const limiter = settings.perSource;
    const source = socket.remoteAddress ?? '';
    if (this.sessions.size >= settings.maxConnections || (limiter !== null && !limiter.tryOpen(source, Date.now()))) {
      this.counters.refused++;
      socket.on('error', ignore);
      socket.destroy();
      return;
    }
    if (limiter !== null) socket.once('close', () => limiter.close(source));
    this.counters.accepted++;
    this.counters.active++;
    const session = new TcpSession(this, settings, socket, reads, this.helloTimeoutMs(settings));
    this.sessions.add(session);
    session.start();
  }

  onSessionClosed(session: TcpSession): void {
    if (!this.sessions.delete(session)) return;
    this.counters.active--;
    if (this.stopping !== null && this.sessions.size === 0) this.stopping();
  }

  /** Stops accepting; open connections carry on. */
  close(): void {
    if (this.server.listening) this.server.close();
  }

  /** Destroys every open connection now. */
  closeAll(): void {
    for (const session of [...this.sessions]) session.destroy();
  }

  /** Destroys the connections to `endpoint` (it left its pool, or its deregistration delay ended); returns how many. */
  closeConnectionsTo(endpoint: Endpoint): number {
    let n = 0;
    for (const session of [...this.sessions]) {
      if (session.endpoint === endpoint) {
        session.destroy();
        n++;
      }
    }
    return n;
  }

  /** Stops accepting and resolves when the open connections have ended, or after `drainTimeoutMs` (the rest are
   *  then destroyed). */
  stop(drainTimeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      this.close();
      let timer: NodeJS.Timeout | null = null;
      const done = () => {
        if (timer !== null) clearTimeout(timer);
        this.stopping = null;
        resolve();
      };
      if (this.sessions.size === 0) return done();
      this.stopping = done;
      timer = setTimeout(() => this.closeAll(), drainTimeoutMs);
    });
  }
}

function ignore(): void {}
