// tcp: the endpoint accepts a TCP connection (HAProxy `check` without `option httpchk`, Envoy `tcp_health_check`
// with no payload). The socket is closed as soon as the handshake completes.
import net from 'node:net';
import { z } from 'zod';
import type { Plugin } from '../../../core/registry.ts';
import type { Endpoint } from '../../endpoint.ts';
import { errorDetail, type HealthCheck, type HealthCheckDeps, type ProbeResult } from '../types.ts';

export const schema = z.strictObject({});
export type TcpCheckOptions = z.infer<typeof schema>;

export class TcpCheck implements HealthCheck {
  private readonly port: number | null;
  private readonly host: string | null;

  constructor(deps: HealthCheckDeps) {
    this.port = deps.port;
    this.host = deps.host;
  }

  probe(e: Endpoint, signal: AbortSignal): Promise<ProbeResult> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve({ ok: false, detail: 'aborted' });
      const socket = net.connect({ host: this.host ?? e.host, port: this.port ?? e.port });
      const done = (result: ProbeResult): void => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve(result);
      };
      const onAbort = (): void => done({ ok: false, detail: 'aborted' });
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => done({ ok: true, detail: 'connected' }));
      socket.once('error', (err) => done({ ok: false, detail: errorDetail('connect', err) }));
    });
  }
}

export const tcp = {
  name: 'tcp',
  schema,
  create: (_options: TcpCheckOptions, deps: HealthCheckDeps) => new TcpCheck(deps),
} as const satisfies Plugin<typeof schema, HealthCheck, HealthCheckDeps>;
