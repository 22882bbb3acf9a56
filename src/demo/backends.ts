// Demo backends for `fulcrum demo`: small HTTP servers that say who they are, so round robin is visible
// from curl. Plain node:http: they stand in for the user's services.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DemoBackend {
  readonly name: string;
  readonly port: number;
  close(): Promise<void>;
}

export function startDemoBackend(name: string, port: number, host = '127.0.0.1'): Promise<DemoBackend> {
  let served = 0;
  const server = http.createServer((req, res) => {
    served++;
    req.resume();
    req.on('end', () => {
      if (req.url === '/health') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok\n');
        return;
      }
      const body = JSON.stringify({
        backend: name,
        served,
        method: req.method,
        url: req.url,
        forwardedFor: req.headers['x-forwarded-for'] ?? null,
        requestId: req.headers['x-request-id'] ?? null,
      }) + '\n';
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve({
        name,
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
