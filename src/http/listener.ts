// An HTTP/1.1 listener: one net.Server (or tls.Server for `https`), one Downstream per accepted socket. Its
// settings are swapped by a reload (one assignment); connections already open read the new settings from
// their next request on, while an exchange in flight keeps the settings it started with. TLS certificates
// are picked per handshake from the current settings (tls/certificates.ts).
import net from 'node:net';
import tls from 'node:tls';
import { clientSocket, Downstream, type DownstreamHost } from './downstream.ts';
import type { ListenerSettings } from './listener-settings.ts';

export class HttpListener implements DownstreamHost {
  settings: ListenerSettings;
  readonly connections: Set<Downstream>;
  readonly server: net.Server;
  private stopping: (() => void) | null;
  /** The default certificate the TLS server holds (for clients without SNI). */
  private defaultPair: { readonly cert: Buffer; readonly key: Buffer } | null;

  constructor(settings: ListenerSettings) {
    this.settings = settings;
    this.connections = new Set();
    this.stopping = null;
    this.defaultPair = null;
    // allowHalfOpen: a client that half-closes after its request still gets the response.
    const t = settings.tls;
    if (t === null) {
      this.server = net.createServer({ allowHalfOpen: true, noDelay: true });
      return;
    }
    this.defaultPair = t.certificates.defaultPair;
    const server = tls.createServer({
      allowHalfOpen: true,
      noDelay: true,
      ...this.defaultContextOptions(),
      requestCert: t.requestCert,
      rejectUnauthorized: t.rejectUnauthorized,
      ALPNProtocols: ['http/1.1'],
      SNICallback: (name, cb) => {
        const current = this.settings.tls;
        cb(null, current === null ? undefined : current.certificates.contextFor(name));
      },
    });
    // a reloaded default certificate replaces the server's own before the next handshake
    server.on('connection', () => this.refreshDefault(server));
    server.on('secureConnection', (socket: tls.TLSSocket) => this.onSecureConnection(socket));
    server.on('tlsClientError', () => {
      // failed handshakes (no shared version, no client certificate, …) just close
    });
    this.server = server;
  }

  private defaultContextOptions(): tls.SecureContextOptions {
    const t = this.settings.tls!;
    const pair = t.certificates.defaultPair;
    return { cert: pair.cert, key: pair.key, minVersion: t.minVersion, ciphers: t.ciphers, ca: t.certificates.clientCa };
  }

  private refreshDefault(server: tls.Server): void {
    const t = this.settings.tls;
    if (t === null || t.certificates.defaultPair === this.defaultPair) return;
    this.defaultPair = t.certificates.defaultPair;
    server.setSecureContext(this.defaultContextOptions());
  }

  private onSecureConnection(socket: tls.TLSSocket): void {
    this.settings.stats.accepted++;
    const ds = new Downstream(socket, this, true);
    const t = this.settings.tls;
    if (t !== null && t.requestCert && socket.authorized) ds.clientCertLines = clientCertLines(socket, t.subjectHeader!, t.fingerprintHeader!);
  }

  listen(host: string, port: number): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host, port, backlog: 1024 }, () => {
        this.server.off('error', onError);
        if (this.settings.tls === null) takeOverAccept(this.server, this);
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

/** The verified client certificate as header lines: subject in RFC 4514 order-of-appearance, SHA-256 hex. */
function clientCertLines(socket: tls.TLSSocket, subjectHeader: string, fingerprintHeader: string): string {
  const cert = socket.getPeerCertificate();
  if (cert === null || Object.keys(cert).length === 0) return '';
  const subject = Object.entries(cert.subject ?? {})
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
    .join(',')
    .replace(/[\r\n\x00]/g, '');
  const fingerprint = (cert.fingerprint256 ?? '').replace(/:/g, '').toLowerCase();
  return `${subjectHeader}: ${subject}\r\n${fingerprintHeader}: ${fingerprint}\r\n`;
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
