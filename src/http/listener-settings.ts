// What one generation says about one HTTP listener, in the form the data plane reads on each request.
import type { Route } from '../routing/route.ts';
import type { RuleTable } from '../routing/rule-table.ts';
import type { HeadLimits } from './parse/head.ts';

export interface ListenerSettings {
  readonly name: string;
  /** The configured port (0 when ephemeral). */
  readonly port: number;
  readonly routes: RuleTable<Route>;
  readonly limits: HeadLimits;
  readonly requestHeaderTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** 0 = off */
  readonly requestTimeoutMs: number;
  /** Whether a peer address may set X-Forwarded-* and Forwarded; null when no proxy is trusted. */
  readonly isTrustedProxy: ((ip: string) => boolean) | null;
  /** Lowercase request-id header name, and its bytes for the parser. */
  readonly requestIdHeader: string;
  readonly requestIdName: Buffer;
}
