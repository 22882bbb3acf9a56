// Each HTTP/2 stream is balanced on its own: one client connection carrying 100 concurrent streams is spread
// across all three endpoints of a round-robin pool (the reason an L7 balancer is needed for gRPC — an L4 one
// would send the whole connection to one endpoint), with the streams really in flight at the same time.
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import { after, before, test } from 'node:test';
import { startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { TestCa } from '../helpers/tls-certs.ts';

interface Counting {
  readonly name: string;
  readonly address: string;
  requests: number;
  inFlight: number;
  peak: number;
  close(): Promise<void>;
}

/** An HTTP/1.1 endpoint that answers after `delayMs` and records how many requests it held at once. */
async function startCounting(name: string, delayMs: number): Promise<Counting> {
  const sockets = new Set<net.Socket>();
  const server = http.createServer();
  const c: Counting = {
    name,
    address: '',
    requests: 0,
    inFlight: 0,
    peak: 0,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    c.requests++;
    c.inFlight++;
    c.peak = Math.max(c.peak, c.inFlight);
    req.resume();
    setTimeout(() => {
      c.inFlight--;
      res.writeHead(200, { 'content-length': name.length, 'x-origin': name }).end(name);
    }, delayMs);
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  (c as { address: string }).address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return c;
}

let ca: TestCa;
let endpoints: Counting[];
let lb: RunningFulcrum;

before(async () => {
  ca = new TestCa();
  const site = ca.server('site', ['localhost']);
  endpoints = [await startCounting('a', 150), await startCounting('b', 150), await startCounting('c', 150)];
  lb = await startFulcrum({
    listeners: [
      {
        name: 'grpc-like',
        protocol: 'https',
        address: '127.0.0.1:0',
        tls: { certificates: [{ cert: site.cert, key: site.key }] },
        http2: {},
        routes: [{ forward: { pool: 'app' } }],
      },
    ],
    pools: [{ name: 'app', balancer: { algorithm: 'round-robin' }, endpoints: endpoints.map((e) => ({ address: e.address })) }],
  });
});

after(async () => {
  await lb.stop(500);
  for (const e of endpoints) await e.close();
});

test('100 concurrent streams on one connection are spread across all endpoints', async () => {
  const session = http2.connect(`https://localhost:${lb.port()}`, { ca: ca.pem });
  session.on('error', () => {});
  try {
    const served = await Promise.all(
      Array.from(
        { length: 100 },
        (_, i) =>
          new Promise<string>((resolve, reject) => {
            const req = session.request({ ':path': `/call/${i}` });
            let body = '';
            req.setEncoding('utf8');
            req.on('data', (d: string) => (body += d));
            req.on('end', () => resolve(body));
            req.on('error', reject);
          }),
      ),
    );
    const byEndpoint = new Map<string, number>();
    for (const name of served) byEndpoint.set(name, (byEndpoint.get(name) ?? 0) + 1);
    for (const e of endpoints) {
      assert.ok((byEndpoint.get(e.name) ?? 0) > 20, `endpoint ${e.name} served ${byEndpoint.get(e.name) ?? 0} of 100: ${JSON.stringify([...byEndpoint])}`);
      assert.equal(e.requests, byEndpoint.get(e.name));
      assert.ok(e.peak > 10, `endpoint ${e.name} held ${e.peak} requests at once: the streams were concurrent`);
    }
    assert.equal(served.length, 100);
    const stats = lb.rt.generation.listeners.get('grpc-like')!.stats;
    assert.equal(stats.accepted, 1, 'all of it over one client connection');
    assert.equal(stats.requests, 100);
  } finally {
    session.close();
  }
});
