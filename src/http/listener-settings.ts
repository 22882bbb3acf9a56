// What one generation says about one HTTP listener, in the form the data plane reads on each request.
import type { Route } from '../routing/route.ts';
import type { RuleTable } from '../routing/rule-table.ts';
import type { HeadLimits } from './parse/head.ts';
import type { AccessLogSink } from './access-log-sink.ts';
import type { CertificateStore } from '../tls/certificates.ts';
import type { Cidr } from '../core/address.ts';

/** HTTP/2 for clients (http/h2/): present when the listener's config has `http2`. */
export interface ListenerHttp2 {
  /** Prior-knowledge h2c on a cleartext listener. */
  readonly cleartext: boolean;
  readonly maxConcurrentStreams: number;
  readonly maxHeaderListSize: number;
  readonly initialWindowSize: number;
  readonly maxResetsPer10s: number;
}

/** TLS termination on an `https` listener. */
export interface ListenerTls {
  readonly certificates: CertificateStore;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  readonly ciphers: string | undefined;
  /** mTLS: ask for a client certificate; `rejectUnauthorized` when it is required. */
  readonly requestCert: boolean;
  readonly rejectUnauthorized: boolean;
  /** Lowercase names of the headers carrying the verified client certificate; null without mTLS. */
  readonly subjectHeader: string | null;
  readonly fingerprintHeader: string | null;
  /** Both names, for stripping forged values from requests. */
  readonly clientCertHeaders: ReadonlySet<string> | null;
}

/** A listener's traffic counters, read by the metrics at scrape time; kept across reloads by listener name. */
export class ListenerStats {
  /** Client connections accepted. */
  accepted: number;
  /** Request heads parsed (every exchange, routed or not). */
  requests: number;
  bytesIn: number;
  bytesOut: number;
  /** Fulcrum's own error replies by reason code (no_route, circuit_open, …). */
  readonly localReplies: Map<string, number>;
  /** WebSocket tunnels opened (101 relayed), open now, and closed by Fulcrum with 1001 (idle, deregistered). */
  tunnels: number;
  tunnelsOpen: number;
  tunnelsClosed: number;

  constructor() {
    this.tunnels = 0;
    this.tunnelsOpen = 0;
    this.tunnelsClosed = 0;
    this.accepted = 0;
    this.requests = 0;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.localReplies = new Map();
  }
}

export interface ListenerSettings {
  readonly name: string;
  /** The configured port (0 when ephemeral). */
  readonly port: number;
  readonly routes: RuleTable<Route>;
  readonly limits: HeadLimits;
  readonly requestHeaderTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** A WebSocket tunnel with no bytes either way for this long is closed (1001); 0 = never. */
  readonly tunnelIdleTimeoutMs: number;
  /** 0 = off */
  readonly requestTimeoutMs: number;
  /** Whether a peer address may set X-Forwarded-* and Forwarded; null when no proxy is trusted. */
  readonly isTrustedProxy: ((ip: string) => boolean) | null;
  /** Lowercase request-id header name, and its bytes for the parser. */
  readonly requestIdHeader: string;
  readonly requestIdName: Buffer;
  readonly stats: ListenerStats;
  /** Peers that must send a PROXY header first (its source is then the client address); null = none. */
  readonly acceptProxyFrom: readonly Cidr[] | null;
  /** Continue or start W3C trace context (`tracing: generate`); false = pass it through untouched. */
  readonly traceGenerate: boolean;
  readonly accessLog: AccessLogSink | null;
  readonly tls: ListenerTls | null;
  readonly http2: ListenerHttp2 | null;
  /** `strict-transport-security: …\r\n` for every response, or ''. */
  readonly hstsLine: string;
}
