// Real peers for the L4 tests, all on 127.0.0.1 and port 0: TCP echo and named servers, a server that reads a
// PROXY header and says what it saw, TLS servers (node:tls with the self-signed test certificate in
// test/fixtures/l4/, valid for example.com, *.example.com, api.example.com, other.test and localhost), UDP echo
// servers, pools and listeners built programmatically, a port whose connects hang, and a TLS client whose first
// flight is cut into small records and 1-byte writes.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { pluginByName } from '../../src/core/registry.ts';
import { parseProxyHeader, type ProxyProtocolVersion } from '../../src/l4/proxy-protocol.ts';
import type { TcpListenerSettings, TlsPassthroughSettings, UdpListenerSettings } from '../../src/l4/settings.ts';
import { UdpListener } from '../../src/l4/udp-listener.ts';
import { SniRoutes, type SniRoute } from '../../src/l4/sni-routes.ts';
import { TcpListener } from '../../src/l4/tcp-listener.ts';
import { TlsPassthroughListener } from '../../src/l4/tls-passthrough.ts';
import { compileKey, type KeySpec } from '../../src/upstream/balancing/keys.ts';
import { balancerPlugins } from '../../src/upstream/balancing/registry.ts';
import type { Balancer } from '../../src/upstream/balancing/types.ts';
import { Endpoint } from '../../src/upstream/endpoint.ts';
import { Pool, retrySettings, type PoolSettings } from '../../src/upstream/pool.ts';

const fixtures = new URL('../fixtures/l4/', import.meta.url);
export const testCert = readFileSync(new URL('cert.pem', fixtures));
export const testKey = readFileSync(new URL('key.pem', fixtures));
/** A ClientHello a Node TLS client sent with SNI api.example.com (ALPN h2, http/1.1): one record. */
export const realClientHello = Buffer.from(readFileSync(new URL('client-hello.hex', fixtures), 'latin1').replace(/\s+/g, ''), 'hex');

// ---- servers ---------------------------------------------------------------------------------------------------

export interface TestServer {
  readonly name: string;
  readonly port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Sockets open now. */
  readonly sockets: Set<net.Socket>;
  close(): Promise<void>;
}

/** Any TCP (or TLS) server: `onSocket` runs for each connection (its errors are ignored). */
export function serve(name: string, server: net.Server, onSocket: (s: net.Socket, t: TestServer) => void): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  /** Every TCP connection, TLS handshake done or not, so `close` never waits on one. */
  const raw = new Set<net.Socket>();
  const t = { name, port: 0, connections: 0, sockets } as { -readonly [K in keyof TestServer]: TestServer[K] };
  t.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      for (const s of raw) s.destroy();
      server.close(() => resolve());
    });
  server.on('error', () => {});
  server.on('connection', (s: net.Socket) => {
    raw.add(s);
    s.on('close', () => raw.delete(s));
    s.on('error', () => {});
  });
  server.on('tlsClientError', () => {});
  return new Promise((resolve, reject) => {
    server.on(server instanceof tls.Server ? 'secureConnection' : 'connection', (s: net.Socket) => {
      t.connections++;
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      onSocket(s, t);
    });
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      t.port = (server.address() as net.AddressInfo).port;
      resolve(t);
    });
  });
}

/** Echoes every byte; the client's FIN ends the echo. */
export function startEchoServer(name = 'echo'): Promise<TestServer> {
  return serve(name, net.createServer({ allowHalfOpen: true }), (s) => s.pipe(s));
}

/** Says `name\n` first, then echoes. */
export function startNamedServer(name: string): Promise<TestServer> {
  return serve(name, net.createServer({ allowHalfOpen: true }), (s) => {
    s.write(`${name}\n`);
    s.pipe(s);
  });
}

/** Reads a PROXY header, answers one JSON line with what it saw (`{ version, source, local }` or `{ invalid }`),
 *  then echoes what follows the header. */
export function startProxyProtocolServer(name = 'pp'): Promise<TestServer> {
  return serve(name, net.createServer({ allowHalfOpen: true }), (s) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const h = parseProxyHeader(buf, 0, buf.length);
      if (h.kind === 'incomplete') return;
      s.off('data', onData);
      if (h.kind === 'invalid') {
        s.end(JSON.stringify({ invalid: h.reason }) + '\n');
        return;
      }
      s.write(JSON.stringify({ version: h.version, local: h.local, source: h.source ?? null, destination: h.destination ?? null }) + '\n');
      if (h.consumed < buf.length) s.write(buf.subarray(h.consumed));
      s.pipe(s);
    };
    s.on('data', onData);
  });
}

/** A TLS server with the test certificate: says `name servername\n` once the handshake is done, then echoes. */
export function startTlsServer(name: string): Promise<TestServer> {
  const server = tls.createServer({ cert: testCert, key: testKey, allowHalfOpen: true });
  return serve(name, server, (s) => {
    const t = s as tls.TLSSocket;
    t.write(`${name} ${String(t.servername || '-')}\n`);
    t.pipe(t);
  });
}

/** A port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// ---- clients ---------------------------------------------------------------------------------------------------

export function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything the socket sends until its FIN or close. */
export function readAll(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => {});
    let done = false;
    const finish = () => {
      if (!done) resolve(Buffer.concat(chunks));
      done = true;
    };
    s.once('end', finish);
    s.once('close', finish);
    s.resume();
  });
}

/** The first line the socket sends (without "\n"); rejects if it closes first. Bytes after the line stay unread
 *  (the socket is left paused; the next reader resumes it). */
export function readLine(s: net.Socket, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => fail(new Error(`no line within ${timeoutMs} ms (got ${JSON.stringify(buf)})`)), timeoutMs);
    const onData = (c: Buffer) => {
      buf += c.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      cleanup();
      const rest = buf.slice(nl + 1);
      // paused, so the rest waits in the stream for the next reader instead of being emitted to no one
      s.pause();
      if (rest !== '') s.unshift(Buffer.from(rest, 'latin1'));
      resolve(buf.slice(0, nl));
    };
    const onClose = () => fail(new Error(`closed before a line (got ${JSON.stringify(buf)})`));
    const fail = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('close', onClose);
      s.off('end', onClose);
    };
    s.on('data', onData);
    s.once('close', onClose);
    s.once('end', onClose);
    s.resume();
  });
}

/** Resolves when the peer closes the socket (its FIN or a reset), with the ms it took; rejects after `timeoutMs`. */
export function closedWithin(s: net.Socket, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    if (s.destroyed || s.readableEnded) return resolve(0);
    const timer = setTimeout(() => reject(new Error(`still open after ${timeoutMs} ms`)), timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve(performance.now() - t0);
    };
    s.on('error', () => {});
    s.resume();
    s.once('end', done);
    s.once('close', done);
  });
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

// ---- pools -----------------------------------------------------------------------------------------------------

export const testPoolSettings: PoolSettings = {
  maxConnections: 1024,
  maxQueue: 0,
  queueTimeoutMs: 1000,
  idleTimeoutMs: 1000,
  connectTimeoutMs: 1000,
  responseTimeoutMs: 1000,
  slowStartMs: 0,
  ...retrySettings(3),
};

/** A pool of 127.0.0.1 endpoints with a balancer from the registry (hash balancers hash the client address). */
export function makePool(name: string, ports: readonly number[], algorithm = 'round-robin', maxTries = 3): Pool {
  const endpoints = ports.map((p) => new Endpoint(`127.0.0.1:${p}`, '127.0.0.1', p, 1));
  const plugin = pluginByName(balancerPlugins, algorithm) as unknown as {
    schema: { parse(v: unknown): unknown };
    create(o: unknown, d: unknown): Balancer;
  };
  const options = plugin.schema.parse({ algorithm }) as { key?: KeySpec };
  const key = options.key === undefined ? null : compileKey(options.key);
  return new Pool(name, endpoints, plugin.create(options, undefined), { ...testPoolSettings, ...retrySettings(maxTries) }, key);
}

// ---- a fragmenting TLS client -----------------------------------------------------------------------------------

/**
 * Connects with TLS through `port`, re-framing the client's first flight (the ClientHello record) into records of
 * at most `recordSize` payload bytes and writing it `pieceSize` bytes at a time, one event-loop turn apart. Later
 * bytes pass unchanged. Resolves with the TLS socket once the handshake completes.
 */
export function connectTlsFragmented(port: number, servername: string, recordSize: number, pieceSize: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const raw = net.connect({ host: '127.0.0.1', port, noDelay: true });
    raw.on('error', reject);
    let first = true;
    let pending = Buffer.alloc(0);
    const carrier = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        if (!first) {
          raw.write(chunk, callback);
          return;
        }
        pending = Buffer.concat([pending, chunk]);
        if (pending.length < 5 || pending.length < 5 + pending.readUInt16BE(3)) return callback();
        first = false;
        const recordLength = pending.readUInt16BE(3);
        const payload = pending.subarray(5, 5 + recordLength);
        const rest = pending.subarray(5 + recordLength);
        const records: Buffer[] = [];
        for (let i = 0; i < payload.length; i += recordSize) {
          const part = payload.subarray(i, i + recordSize);
          const header = Buffer.from([0x16, pending[1], pending[2], part.length >> 8, part.length & 0xff]);
          records.push(header, part);
        }
        const bytes = Buffer.concat([...records, rest]);
        (async () => {
          for (let i = 0; i < bytes.length; i += pieceSize) {
            raw.write(bytes.subarray(i, i + pieceSize));
            await new Promise((r) => setImmediate(r));
          }
        })().then(() => callback(), callback);
      },
      final(callback) {
        raw.end();
        callback();
      },
    });
    raw.on('data', (c: Buffer) => carrier.push(c));
    raw.on('end', () => carrier.push(null));
    const socket = tls.connect({ socket: carrier, servername, ca: testCert });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

// ---- UDP -------------------------------------------------------------------------------------------------------

export interface UdpTestServer {
  readonly name: string;
  readonly port: number;
  /** Datagrams received, by sender `address:port`. */
  readonly senders: Map<string, number>;
  close(): Promise<void>;
}

/** Answers each datagram with `name:` + the datagram. */
export function startUdpEchoServer(name: string): Promise<UdpTestServer> {
  const socket = dgram.createSocket('udp4');
  const senders = new Map<string, number>();
  socket.on('message', (msg, rinfo) => {
    const from = `${rinfo.address}:${rinfo.port}`;
    senders.set(from, (senders.get(from) ?? 0) + 1);
    socket.send(Buffer.concat([Buffer.from(`${name}:`), msg]), rinfo.port, rinfo.address);
  });
  return new Promise((resolve) => {
    socket.bind(0, '127.0.0.1', () => {
      resolve({ name, port: socket.address().port, senders, close: () => new Promise<void>((r) => socket.close(() => r())) });
    });
  });
}

/** A UDP client on 127.0.0.1 that sends and awaits one reply at a time. */
export class UdpClient {
  readonly socket: dgram.Socket;
  /** Datagrams that arrived while no request waited. */
  readonly replies: Buffer[];
  private waiter: ((b: Buffer) => void) | null;

  constructor() {
    this.socket = dgram.createSocket('udp4');
    this.replies = [];
    this.waiter = null;
    this.socket.on('message', (msg) => {
      if (this.waiter !== null) {
        const w = this.waiter;
        this.waiter = null;
        w(msg);
      } else this.replies.push(msg);
    });
  }

  bind(): Promise<this> {
    return new Promise((resolve) => this.socket.bind(0, '127.0.0.1', () => resolve(this)));
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Sends `text` to `port` and resolves with the reply as text; rejects after `timeoutMs`. */
  request(port: number, text: string, timeoutMs = 2000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`no reply to ${JSON.stringify(text)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (b) => {
        clearTimeout(timer);
        resolve(b.toString());
      };
      this.socket.send(text, port, '127.0.0.1');
    });
  }

  close(): Promise<void> {
    return new Promise((r) => this.socket.close(() => r()));
  }
}

// ---- listeners -------------------------------------------------------------------------------------------------

type StreamOverrides = Partial<Omit<TcpListenerSettings, 'upstream'>>;

/** A tcp listener on 127.0.0.1:0 in front of `pool`; timeouts off unless given. */
export async function startTcpListener(pool: Pool, overrides: StreamOverrides = {}, proxyProtocol: ProxyProtocolVersion | null = null): Promise<TcpListener> {
  const listener = new TcpListener({
    name: 'tcp-test',
    acceptProxyFrom: null,
    maxConnections: 1000,
    perSource: null,
    connectTimeoutMs: 2000,
    idleTimeoutMs: 0,
    maxLifetimeMs: 0,
    proxyHeaderTimeoutMs: 2000,
    upstream: { pool, proxyProtocol },
    ...overrides,
  });
  await listener.listen('127.0.0.1', 0);
  return listener;
}

/** A tls-passthrough listener on 127.0.0.1:0 routing by SNI to pools (no PROXY headers sent). */
export async function startTlsListener(routes: readonly SniRoute<Pool>[], defaultPool: Pool | null, overrides: Partial<Omit<TlsPassthroughSettings, 'routes'>> = {}): Promise<TlsPassthroughListener> {
  const up = (pool: Pool) => ({ pool, proxyProtocol: null });
  const listener = new TlsPassthroughListener({
    name: 'tls-test',
    acceptProxyFrom: null,
    maxConnections: 1000,
    perSource: null,
    connectTimeoutMs: 2000,
    idleTimeoutMs: 0,
    maxLifetimeMs: 0,
    proxyHeaderTimeoutMs: 2000,
    clientHelloTimeoutMs: 2000,
    routes: new SniRoutes(routes.map((r) => ({ sni: r.sni, target: up(r.target) })), defaultPool === null ? null : up(defaultPool)),
    ...overrides,
  });
  await listener.listen('127.0.0.1', 0);
  return listener;
}

/** A udp listener on 127.0.0.1:0 in front of `pool`. */
export async function startUdpListener(pool: Pool, overrides: Partial<Omit<UdpListenerSettings, 'pool'>> = {}): Promise<UdpListener> {
  const listener = new UdpListener({ name: 'udp-test', pool, maxFlows: 100, flowIdleMs: 5000, ...overrides });
  await listener.listen('127.0.0.1', 0);
  return listener;
}
