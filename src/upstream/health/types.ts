// The HealthCheck plugin (ARCHITECTURE.md "Plug-ins"): one probe of one endpoint, nothing more. The scheduler
// (scheduler.ts) decides when to probe, bounds each probe with a timeout and counts rise/fall; a check only
// reports what it saw, as Pingora's health checks do.
import type { Endpoint } from '../endpoint.ts';

export interface ProbeResult {
  readonly ok: boolean;
  /** What was seen, for logs and the admin API: `status 503`, `connect ECONNREFUSED`, `timeout after 2000ms`. */
  readonly detail: string;
}

export interface HealthCheck {
  /** Settles soon after `signal` aborts (the scheduler's timeout or stop), closing whatever it opened. */
  probe(e: Endpoint, signal: AbortSignal): Promise<ProbeResult>;
}

/** What every check is created with besides its own options. */
export interface HealthCheckDeps {
  /** Probe this port instead of the endpoint's (`health.port`); null = the endpoint's own port. */
  readonly port: number | null;
  /** Probe this host instead of the endpoint's (`health.address`, a separate health or admin interface);
   *  null = the endpoint's own host. */
  readonly host: string | null;
}

/** `code ECONNREFUSED` style detail for a socket error. */
export function errorDetail(stage: 'connect' | 'read', err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return `${stage} ${code ?? (err as Error | null)?.message ?? String(err)}`;
}
