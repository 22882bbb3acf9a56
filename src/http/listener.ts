// An HTTP/1.1 listener: one net.Server, one Downstream per accepted socket. Its settings are swapped by a
// reload (one assignment); connections already open read the new settings from their next request on,
// while an exchange in flight keeps the settings it started with.
import net from 'node:net';
import { clientSocket, Downstream, type DownstreamHost } from './downstream.ts';
import type { ListenerSettings } from './listener-settings.ts';

export class HttpListener implements DownstreamHost {
  settings: ListenerSettings;
  readonly connections: Set<Downstream>;
  readonly server: net.Server;
  private stopping: (() => void) | null;

  constructor(settings: ListenerSettings) {
    this.settings = settings;
    this.connections = new Set();
    this.stopping = null;
    // allowHalfOpen: a client that half-closes after its request still gets the response.
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true });
  }

  listen(host: string, port: number): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host, port, backlog: 1024 }, () => {
        this.server.off('error', onError);
        takeOverAccept(this.server, this);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  get address(): net.AddressInfo {
    return this.server.address() as net.AddressInfo;
  }

  onDownstreamClosed(_ds: Downstream): void {
    if (this.stopping !== null && this.connections.size === 0) this.stopping();
  }

  /**
   * Stops accepting, closes idle keep-alive connections, lets busy ones finish their exchange, and resolves
   * when all are gone or `drainTimeoutMs` passed (the rest are then closed).
   */
  stop(drainTimeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      this.server.close();
      let timer: NodeJS.Timeout | null = null;
      const done = () => {
        if (timer !== null) clearTimeout(timer);
        this.stopping = null;
        resolve();
      };
      this.stopping = done;
      for (const ds of [...this.connections]) ds.shutdown();
      if (this.connections.size === 0) return done();
      timer = setTimeout(() => {
        for (const ds of [...this.connections]) ds.destroy();
        done();
      }, drainTimeoutMs);
    });
  }
}

interface ServerHandle {
  onconnection: (err: number, clientHandle: unknown) => void;
}

/**
 * Accepted connections are wrapped by Fulcrum instead of net.Server, because only a socket created with
 * the `onread` option reads into a caller's buffer, and net.Server offers no way to pass it. Everything
 * else net.Server does on accept (the 'connection' event, connection counting) Fulcrum does not use.
 */
function takeOverAccept(server: net.Server, listener: HttpListener): void {
  const handle = (server as unknown as { _handle: ServerHandle | null })._handle;
  if (handle === null || typeof handle.onconnection !== 'function') throw new Error('listener: no accept handle to take over');
  handle.onconnection = (err: number, clientHandle: unknown) => {
    if (err || clientHandle === undefined) return; // e.g. EMFILE: the kernel keeps the connection queued
    listener.settings.stats.accepted++;
    new Downstream(clientSocket(clientHandle), listener);
  };
}
