// A controllable node:http backend for health tests: `/health` answers `healthStatus`, anything else
// `status` with the backend's name as the body (and in `x-origin`). It can stop and start again on the
// same port, as a restarted server does, and counts what it served.
import http from 'node:http';
import type net from 'node:net';

export class Backend {
  readonly name: string;
  port: number;
  /** Status of every request but `/health`. */
  status: number;
  healthStatus: number;
  healthRequests: number;
  requests: number;
  /** Answer requests (not `/health`) after this long. */
  delayMs: number;
  private server: http.Server | null;
  private readonly sockets: Set<net.Socket>;

  constructor(name: string, status = 200) {
    this.name = name;
    this.port = 0;
    this.status = status;
    this.healthStatus = 200;
    this.healthRequests = 0;
    this.requests = 0;
    this.delayMs = 0;
    this.server = null;
    this.sockets = new Set();
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Listens on `port` (its previous one when it comes back), or an ephemeral port the first time. */
  async start(): Promise<this> {
    const server = http.createServer((req, res) => {
      if (req.url === '/health') {
        this.healthRequests++;
        res.writeHead(this.healthStatus, { 'content-length': 0 }).end();
        return;
      }
      this.requests++;
      const answer = () => res.writeHead(this.status, { 'x-origin': this.name, 'content-length': this.name.length }).end(this.name);
      if (this.delayMs > 0) setTimeout(answer, this.delayMs);
      else answer();
    });
    server.on('connection', (s: net.Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {});
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}
