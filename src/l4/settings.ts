// What one generation says about one L4 listener, in the form the data plane reads per connection (pools
// resolved, durations in ms, CIDRs compiled), and the builders from the parsed config. A reload builds new
// settings and hands them to the running listener (`updateSettings`); connections already open keep theirs.
import type { Cidr } from '../core/address.ts';
import type { Pool } from '../upstream/pool.ts';
import type { ProxyProtocolVersion } from './proxy-protocol.ts';
import type { TcpListenerConfig, TlsPassthroughListenerConfig, UdpListenerConfig } from './schema.ts';
import { SniRoutes } from './sni-routes.ts';
import { ConnectionLimiter } from '../ratelimit/connection-limiter.ts';

/** Limiters by listener and options: a reload with the same limits keeps the counts of open connections. */
const limiters = new Map<string, ConnectionLimiter>();

function perSourceLimiter(l: TcpListenerConfig | TlsPassthroughListenerConfig): ConnectionLimiter | null {
  const o = l.limits.perSource;
  if (o === undefined) return null;
  const key = l.name + '\u0000' + JSON.stringify(o);
  let limiter = limiters.get(key);
  if (limiter === undefined) {
    limiter = new ConnectionLimiter(o);
    limiters.set(key, limiter);
  }
  return limiter;
}

/** Where a connection goes: a pool, and whether its endpoints get a PROXY header first (the pool's option). */
export interface L4Upstream {
  readonly pool: Pool;
  /** null: none. */
  readonly proxyProtocol: ProxyProtocolVersion | null;
}

/** Shared by `tcp` and `tls-passthrough` listeners. Durations in ms. */
export interface StreamListenerSettings {
  readonly name: string;
  /** Peers whose PROXY header is read (they must send one); null: PROXY headers are accepted from no one. */
  readonly acceptProxyFrom: readonly Cidr[] | null;
  readonly maxConnections: number;
  /** Per-source connection limits; null = none. Kept across reloads by the generation when unchanged. */
  readonly perSource: ConnectionLimiter | null;
  /** Per try; never 0 (config 0 = the OS limit becomes 2^31). */
  readonly connectTimeoutMs: number;
  /** 0 = none. */
  readonly idleTimeoutMs: number;
  /** 0 = none. */
  readonly maxLifetimeMs: number;
  /** 0 = none. */
  readonly proxyHeaderTimeoutMs: number;
}

export interface TcpListenerSettings extends StreamListenerSettings {
  readonly upstream: L4Upstream;
}

export interface TlsPassthroughSettings extends StreamListenerSettings {
  /** Server name → upstream, with the default for no name or no match. */
  readonly routes: SniRoutes<L4Upstream>;
  /** 0 = none. */
  readonly clientHelloTimeoutMs: number;
}

export interface UdpListenerSettings {
  readonly name: string;
  /** Flows pick endpoints of this pool (its PROXY option does not apply to UDP). */
  readonly pool: Pool;
  readonly maxFlows: number;
  /** > 0. */
  readonly flowIdleMs: number;
}

/** Resolves a pool name (already validated to exist) to the upstream of this generation. */
export type UpstreamOf = (poolName: string) => L4Upstream;

const FOREVER_MS = 2 ** 31;

function streamSettings(l: TcpListenerConfig | TlsPassthroughListenerConfig): StreamListenerSettings {
  return {
    name: l.name,
    acceptProxyFrom: l.proxyProtocol === undefined ? null : l.proxyProtocol.accept,
    maxConnections: l.limits.maxConnections,
    perSource: perSourceLimiter(l),
    connectTimeoutMs: l.timeouts.connect === 0 ? FOREVER_MS : l.timeouts.connect,
    idleTimeoutMs: l.timeouts.idle,
    maxLifetimeMs: l.timeouts.maxLifetime,
    proxyHeaderTimeoutMs: l.timeouts.proxyHeader,
  };
}

export function tcpListenerSettings(l: TcpListenerConfig, upstreamOf: UpstreamOf): TcpListenerSettings {
  return { ...streamSettings(l), upstream: upstreamOf(l.pool) };
}

export function tlsPassthroughSettings(l: TlsPassthroughListenerConfig, upstreamOf: UpstreamOf): TlsPassthroughSettings {
  const routes = new SniRoutes(
    l.routes.map((r) => ({ sni: r.sni, target: upstreamOf(r.pool) })),
    l.defaultPool === undefined ? null : upstreamOf(l.defaultPool),
  );
  return { ...streamSettings(l), routes, clientHelloTimeoutMs: l.timeouts.clientHello };
}

export function udpListenerSettings(l: UdpListenerConfig, poolOf: (poolName: string) => Pool): UdpListenerSettings {
  return { name: l.name, pool: poolOf(l.pool), maxFlows: l.limits.maxFlows, flowIdleMs: l.timeouts.flowIdle };
}
