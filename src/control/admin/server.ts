// The admin listener (loopback by default): read the running state, trigger a reload. JSON over HTTP on
// node:http — the control plane is not the hot path. The full admin API grows here, one file per resource.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { endpointStateNames } from '../../upstream/endpoint.ts';
import type { Runtime } from '../runtime.ts';

export interface AdminServer {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

/** A read-only view of the running generation. */
export function status(rt: Runtime): unknown {
  const g = rt.generation;
  return {
    generation: g.id,
    listeners: rt.describeListeners(),
    pools: [...g.pools.values()].map((p) => ({
      name: p.name,
      algorithm: g.config.pools.find((c) => c.name === p.name)?.balancer.algorithm,
      panic: p.panic,
      endpoints: p.endpoints.map((e) => ({
        address: e.key,
        weight: e.weight,
        state: endpointStateNames[e.state],
        inFlight: e.inFlight,
        requests: e.requests,
        failures: e.failures,
        idleConnections: e.connections?.idleCount ?? 0,
        activeConnections: e.connections?.activeCount ?? 0,
        health: { probes: e.probes, successes: e.probeSuccesses, failures: e.probeFailures, lastProbe: e.lastProbe, transitions: e.healthTransitions },
        outlier: { consecutive5xx: e.consecutive5xx, consecutiveGatewayFailures: e.consecutiveGatewayFailures, ejections: e.ejections },
      })),
    })),
  };
}

function send(res: http.ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function startAdmin(rt: Runtime, host: string, port: number): Promise<AdminServer> {
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (req.method === 'GET' && url === '/status') return send(res, 200, status(rt));
    if (req.method === 'POST' && url === '/reload') {
      req.resume();
      rt.reload().then(
        (r) => send(res, r.ok ? 200 : 400, r),
        (err: Error) => send(res, 500, { ok: false, errors: [err.message] }),
      );
      return;
    }
    const verb = /^\/pools\/([^/]+)\/endpoints\/([^/]+)\/(drain|enable|disable)$/.exec(url);
    if (req.method === 'POST' && verb !== null) {
      req.resume();
      const error = rt.setEndpointState(decodeURIComponent(verb[1]), decodeURIComponent(verb[2]), verb[3] as 'drain' | 'enable' | 'disable');
      return error === null ? send(res, 200, { ok: true }) : send(res, 404, { ok: false, errors: [error] });
    }
    send(res, 404, { error: 'not found', routes: ['GET /status', 'POST /reload', 'POST /pools/POOL/endpoints/ADDRESS/drain|enable|disable'] });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      resolve({
        address: { host: a.address, port: a.port },
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
