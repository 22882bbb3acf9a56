// An HTTP listener: one net.Server (or tls.Server for `https`), one Downstream per accepted HTTP/1.1 socket.
// With `http2`, connections that negotiate `h2` by ALPN (https) or open with the prior-knowledge preface
// (http with `cleartext`) go to the HTTP/2 side instead (h2/server.ts), one H2Session each. Its settings are
// swapped by a reload (one assignment); connections already open read the new settings from their next
// request or stream on, while an exchange in flight keeps the settings it started with. TLS certificates are
// picked per handshake from the current settings (tls/certificates.ts), and so is the ALPN protocol.
import net from 'node:net';
import tls from 'node:tls';
import { takeOverAccept } from '../core/accept.ts';
import { DEFAULT_CIPHERS, SECURE_OPTIONS } from '../tls/certificates.ts';
import { clientSocket, Downstream, type DownstreamHost } from './downstream.ts';
import type { ListenerSettings } from './listener-settings.ts';
import { createRequire } from 'node:module';
import type { H2Front } from './h2/server.ts';
import type { H2Session, H2SessionHost } from './h2/session.ts';

const requireModule = createRequire(import.meta.url);

export class HttpListener implements DownstreamHost, H2SessionHost {
  settings: ListenerSettings;
  readonly connections: Set<Downstream>;
  /** HTTP/2 client connections. */
  readonly sessions: Set<H2Session>;
  readonly server: net.Server;
  /** The HTTP/2 side, made when the first h2 connection arrives. */
  private h2: H2Front | null;
  private stopping: (() => void) | null;
  /** The default certificate the TLS server holds (for clients without SNI). */
  private defaultPair: { readonly cert: Buffer; readonly key: Buffer } | null;

  constructor(settings: ListenerSettings) {
    this.settings = settings;
    this.connections = new Set();
    this.sessions = new Set();
    this.h2 = null;
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
      // h2 when the listener has `http2` and the client offers it (RFC 9113 §3.2), else http/1.1; a client
      // offering neither gets the no_application_protocol alert (RFC 7301 §3.2)
      ALPNCallback: ({ protocols }) => {
        if (this.settings.http2 !== null && protocols.includes('h2')) return 'h2';
        return protocols.includes('http/1.1') ? 'http/1.1' : undefined;
      },
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
    return { cert: pair.cert, key: pair.key, minVersion: t.minVersion, ciphers: t.ciphers ?? DEFAULT_CIPHERS, secureOptions: SECURE_OPTIONS, ca: t.certificates.clientCa };
  }

  private refreshDefault(server: tls.Server): void {
    const t = this.settings.tls;
    if (t === null || t.certificates.defaultPair === this.defaultPair) return;
    this.defaultPair = t.certificates.defaultPair;
    server.setSecureContext(this.defaultContextOptions());
  }

  /** A cleartext connection (core/accept.ts): its socket reads into the shared client buffer. */
  private acceptHandle(handle: unknown): void {
    this.settings.stats.accepted++;
    new Downstream(clientSocket(handle), this);
  }

  private onSecureConnection(socket: tls.TLSSocket): void {
    this.settings.stats.accepted++;
    const t = this.settings.tls;
    const certLines = t !== null && t.requestCert && socket.authorized ? clientCertLines(socket, t.subjectHeader!, t.fingerprintHeader!) : '';
    if (socket.alpnProtocol === 'h2' && this.settings.http2 !== null) {
      this.h2Front().accept(socket, normalizePeer(socket.remoteAddress ?? ''), true, certLines, null);
      return;
    }
    const ds = new Downstream(socket, this, true);
    ds.clientCertLines = certLines;
  }

  /** A cleartext connection opened with the HTTP/2 preface: h2c when the listener accepts it. */
  takeOverH2c(ds: Downstream): boolean {
    const h2 = this.settings.http2;
    if (h2 === null || !h2.cleartext || this.settings.tls !== null) return false;
    const received = ds.detach();
    this.h2Front().accept(ds.socket, ds.peerAddress, false, '', received);
    return true;
  }

  private h2Front(): H2Front {
    // loaded on first use: node:http2 and the HTTP/2 side cost ~10 MB of resident memory
    if (this.h2 === null) this.h2 = new (requireModule('./h2/server.ts') as typeof import('./h2/server.ts')).H2Front(this);
    return this.h2;
  }

  /** HTTP/2 counters (sessions, streams, reset floods); null before the first h2 connection. */
  get h2Stats(): H2Front['stats'] | null {
    return this.h2 === null ? null : this.h2.stats;
  }

  listen(host: string, port: number): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host, port, backlog: 1024 }, () => {
        this.server.off('error', onError);
        if (this.settings.tls === null) takeOverAccept(this.server, (handle) => this.acceptHandle(handle));
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  get address(): net.AddressInfo {
    return this.server.address() as net.AddressInfo;
  }

  onDownstreamClosed(_ds: Downstream): void {
    if (this.stopping !== null && this.connections.size === 0 && this.sessions.size === 0) this.stopping();
  }

  onSessionClosed(_s: H2Session): void {
    if (this.stopping !== null && this.connections.size === 0 && this.sessions.size === 0) this.stopping();
  }

  /**
   * Stops accepting, closes idle keep-alive connections, lets busy ones finish their exchange (HTTP/2
   * sessions get GOAWAY and finish their streams), and resolves when all are gone or `drainTimeoutMs`
   * passed (the rest are then closed).
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
      for (const s of [...this.sessions]) s.shutdown();
      if (this.connections.size === 0 && this.sessions.size === 0) return done();
      timer = setTimeout(() => {
        for (const ds of [...this.connections]) ds.destroy();
        for (const s of [...this.sessions]) s.destroy();
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

/** "::ffff:10.0.0.1" → "10.0.0.1", as Downstream spells client addresses. */
function normalizePeer(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

