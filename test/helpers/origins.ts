// Real upstream servers for integration tests, on 127.0.0.1 port 0. Every origin counts what it served and
// its close() destroys every socket it accepted, so a test never leaks a connection into the next one.
//   startEchoOrigin      node:http; answers JSON describing the request, with a few controls in the query
//   startSinkOrigin      counts request body bytes (streamed, never buffered) and replies with the count
//   startRawOrigin       net server for hand-written responses, plus reset / garbage / hang / close-mid-body
//   rawRequest           write raw bytes to a port and collect whatever comes back until close or timeout
import http from 'node:http';
import net from 'node:net';

export interface Origin {
  readonly port: number;
  /** `127.0.0.1:PORT`, as an endpoint address in config. */
  readonly address: string;
  /** HTTP origins: requests received. Raw origins: connections accepted. */
  readonly requests: number;
  /** Stops listening and destroys every open socket. */
  close(): Promise<void>;
}

export interface SinkOrigin extends Origin {
  /** Request body bytes received over all requests. */
  readonly bytes: number;
}

export interface EchoReply {
  name: string;
  method: string;
  url: string;
  httpVersion: string;
  headers: http.IncomingHttpHeaders;
  bodyBytes: number;
}

export interface RawResult {
  /** Everything received, decoded as latin1 (one char per byte). */
  response: string;
  /** The server ended or reset the connection before the timeout. */
  closed: boolean;
  /** The connection ended with a reset (ECONNRESET / EPIPE) rather than a FIN. */
  reset: boolean;
}

const host = '127.0.0.1';
/** Body chunk size for `?bytes=N`. */
const chunkBytes = 64 * 1024;
/** rawRequest never waits longer than this, whatever it is asked. */
const maxRawTimeoutMs = 30_000;
const defaultRawTimeoutMs = 2_000;

const filler = Buffer.alloc(chunkBytes, 'x');

class OriginHandle implements SinkOrigin {
  port: number;
  address: string;
  requests: number;
  bytes: number;
  private readonly server: net.Server;
  private readonly sockets: Set<net.Socket>;
  private readonly timers: Set<NodeJS.Timeout>;

  constructor(server: net.Server) {
    this.port = 0;
    this.address = '';
    this.requests = 0;
    this.bytes = 0;
    this.server = server;
    this.sockets = new Set();
    this.timers = new Set();
    server.on('connection', (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      // A peer's reset must not crash the test process.
      socket.on('error', () => {});
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    this.address = `${host}:${this.port}`;
    return this;
  }

  /** setTimeout that close() cancels. */
  later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    return closed;
  }
}

function intParam(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null || !/^\d+$/.test(raw)) return undefined;
  return Number(raw);
}

/** Streams `total` filler bytes, honouring backpressure and stopping if the client goes away. */
function streamBody(res: http.ServerResponse, total: number): void {
  let left = total;
  const pump = (): void => {
    while (left > 0) {
      if (res.destroyed) return;
      const n = Math.min(left, chunkBytes);
      left -= n;
      if (!res.write(n === chunkBytes ? filler : filler.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

/**
 * node:http origin answering 200 JSON `{ name, method, url, httpVersion, headers, bodyBytes }` (an `x-origin:
 * name` header too) once it has read the whole body. Query controls, combinable:
 *   ?status=503   reply with that status     ?delay=200   wait that many ms before replying
 *   ?bytes=N      reply with N filler bytes (64 KiB chunks, Content-Length; `&chunked=1`: chunked encoding)
 *   ?close=1      reply with `Connection: close`
 */
export async function startEchoOrigin(options: { name: string }): Promise<Origin> {
  const { name } = options;
  const server = http.createServer();
  const origin = new OriginHandle(server);
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    origin.requests++;
    const url = req.url ?? '/';
    const query = new URL(url, 'http://origin').searchParams;
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => {
      bodyBytes += chunk.length;
    });
    req.on('error', () => {});
    req.on('end', () => {
      const reply = (): void => {
        if (res.destroyed) return;
        const status = intParam(query, 'status') ?? 200;
        const bytes = intParam(query, 'bytes');
        res.statusCode = status;
        res.setHeader('x-origin', name);
        if (query.get('close') === '1') res.setHeader('connection', 'close');
        if (bytes !== undefined) {
          res.setHeader('content-type', 'application/octet-stream');
          if (query.get('chunked') !== '1') res.setHeader('content-length', bytes);
          streamBody(res, bytes);
          return;
        }
        const body: EchoReply = { name, method: req.method ?? '', url, httpVersion: req.httpVersion, headers: req.headers, bodyBytes };
        const json = JSON.stringify(body);
        res.setHeader('content-type', 'application/json');
        res.setHeader('content-length', Buffer.byteLength(json));
        res.end(json);
      };
      const delay = intParam(query, 'delay');
      if (delay !== undefined && delay > 0) origin.later(delay, reply);
      else reply();
    });
  });
  return origin.listen();
}

/** node:http origin that counts each request's body bytes and replies 200 with the count as text. */
export async function startSinkOrigin(): Promise<SinkOrigin> {
  const server = http.createServer();
  const origin = new OriginHandle(server);
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    origin.requests++;
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      origin.bytes += chunk.length;
    });
    req.on('error', () => {});
    req.on('end', () => {
      const body = String(bytes);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, 'x-body-bytes': body });
      res.end(body);
    });
  });
  return origin.listen();
}

/** `net` origin: `onConnection` writes whatever it likes (garbage, resets, hangs, 1xx, trailers, …). */
export async function startRawOrigin(onConnection: (socket: net.Socket) => void): Promise<Origin> {
  const server = net.createServer();
  const origin = new OriginHandle(server);
  // Registered after OriginHandle's own listener, so the socket is tracked before the test sees it.
  server.on('connection', (socket: net.Socket) => {
    origin.requests++;
    onConnection(socket);
  });
  return origin.listen();
}

/** Resets (RST) every connection as soon as its first bytes arrive. */
export function startResetOrigin(): Promise<Origin> {
  return startRawOrigin((socket) => {
    socket.once('data', () => socket.resetAndDestroy());
  });
}

/** Answers the first bytes of each connection with non-HTTP bytes, then closes. */
export function startGarbageOrigin(options: { bytes?: string | Buffer } = {}): Promise<Origin> {
  const garbage = options.bytes ?? 'SSH-2.0-not-http \x00\x01\x02 garbage\r\n\r\n';
  return startRawOrigin((socket) => {
    socket.once('data', () => socket.end(garbage));
  });
}

/** Reads requests and never answers; the socket stays open until the client or close() ends it. */
export function startHangOrigin(): Promise<Origin> {
  return startRawOrigin((socket) => {
    socket.resume();
  });
}

/** Sends a head promising `Content-Length: 1000`, then 10 bytes of body, then closes. */
export function startCloseMidBodyOrigin(): Promise<Origin> {
  return startRawOrigin((socket) => {
    socket.once('data', () => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n0123456789');
    });
  });
}

/**
 * Opens a socket to 127.0.0.1:port, writes `bytes` and collects everything until the server closes the
 * connection or `timeoutMs` (default 2000, at most 30000) passes, then closes it. Rejects if it cannot connect.
 */
export function rawRequest(port: number, bytes: string | Buffer, options: { timeoutMs?: number } = {}): Promise<RawResult> {
  const timeoutMs = Math.min(Math.max(options.timeoutMs ?? defaultRawTimeoutMs, 0), maxRawTimeoutMs);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let connected = false;
    let done = false;
    let reset = false;
    const socket = net.connect({ port, host });
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ response: Buffer.concat(chunks).toString('latin1'), closed, reset });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('connect', () => {
      connected = true;
      socket.write(bytes);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected) {
        done = true;
        clearTimeout(timer);
        socket.destroy();
        reject(err);
        return;
      }
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') reset = true;
      finish(true);
    });
  });
}

/** A port that was free a moment ago (for tests that need the number before they listen). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
