// The running listeners of every protocol behind one shape, so the runtime binds, reloads, describes and stops
// them alike: `http`/`https` (http/listener.ts) and the L4 `tcp`, `tls-passthrough` and `udp` listeners
// (l4/). A reload hands each kept listener its settings from the new generation.
import type { AddressInfo } from 'node:net';
import { HttpListener } from '../http/listener.ts';
import { createRequire } from 'node:module';
import type { TcpListener } from '../l4/tcp-listener.ts';
import type { TlsPassthroughListener } from '../l4/tls-passthrough.ts';
import type { UdpListener } from '../l4/udp-listener.ts';
import type { AnyListenerConfig } from './config/schema.ts';
import type { Generation } from './generation.ts';
import type { Endpoint } from '../upstream/endpoint.ts';

/** An L4 listener's counters (plain numbers, read by the metrics at scrape time). */
export type L4Counters = Readonly<Record<string, number>>;

export interface BoundListener {
  readonly address: AddressInfo;
  /** The L4 listeners' counters; null for HTTP. */
  readonly l4Counters: L4Counters | null;
  /** Open client connections (UDP: active flows). */
  readonly connectionCount: number;
  /** Takes this generation's settings for the listener of that name. */
  apply(generation: Generation, name: string): void;
  /** Stops accepting and lets open connections finish up to the drain timeout. */
  stop(drainTimeoutMs: number): Promise<void>;
  /** Closes the listening socket at once (a reload that failed to bind every listener). */
  closeNow(): void;
  /** L4: closes the connections (UDP: flows) going to `endpoint`, when its deregistration delay ends. HTTP
   *  connections to it are closed through its upstream connection pool instead. */
  closeConnectionsTo(endpoint: Endpoint): number;
}

// The L4 data plane (and node:dgram) loads only when a config has an L4 listener.
const requireModule = createRequire(import.meta.url);
const l4 = () => requireModule('../l4/index.ts') as typeof import('../l4/index.ts');

class HttpBound implements BoundListener {
  readonly listener: HttpListener;
  constructor(listener: HttpListener) {
    this.listener = listener;
  }
  get address(): AddressInfo {
    return this.listener.address;
  }
  get connectionCount(): number {
    return this.listener.connections.size;
  }
  get l4Counters(): null {
    return null;
  }
  apply(g: Generation, name: string): void {
    this.listener.settings = g.listeners.get(name)!;
  }
  stop(drainTimeoutMs: number): Promise<void> {
    return this.listener.stop(drainTimeoutMs);
  }
  closeNow(): void {
    this.listener.server.close();
  }
  closeConnectionsTo(): number {
    return 0;
  }
}

class StreamBound implements BoundListener {
  readonly listener: TcpListener | TlsPassthroughListener;
  constructor(listener: TcpListener | TlsPassthroughListener) {
    this.listener = listener;
  }
  get address(): AddressInfo {
    return this.listener.address;
  }
  get connectionCount(): number {
    return this.listener.counters.active;
  }
  get l4Counters(): L4Counters {
    return this.listener.counters as unknown as L4Counters;
  }
  apply(g: Generation, name: string): void {
    const s = g.l4.get(name);
    if (s?.protocol === 'tcp' && this.listener instanceof l4().TcpListener) this.listener.updateSettings(s.settings);
    else if (s?.protocol === 'tls-passthrough' && this.listener instanceof l4().TlsPassthroughListener) this.listener.updateSettings(s.settings);
  }
  stop(drainTimeoutMs: number): Promise<void> {
    return this.listener.stop(drainTimeoutMs);
  }
  closeNow(): void {
    this.listener.close();
  }
  closeConnectionsTo(endpoint: Endpoint): number {
    return this.listener.closeConnectionsTo(endpoint);
  }
}

class UdpBound implements BoundListener {
  readonly listener: UdpListener;
  constructor(listener: UdpListener) {
    this.listener = listener;
  }
  get address(): AddressInfo {
    return this.listener.address;
  }
  get connectionCount(): number {
    return this.listener.counters.flowsActive;
  }
  get l4Counters(): L4Counters {
    return this.listener.counters as unknown as L4Counters;
  }
  apply(g: Generation, name: string): void {
    const s = g.l4.get(name);
    if (s?.protocol === 'udp') this.listener.updateSettings(s.settings);
  }
  stop(): Promise<void> {
    return this.listener.stop();
  }
  closeNow(): void {
    this.listener.close();
  }
  closeConnectionsTo(endpoint: Endpoint): number {
    return this.listener.closeFlowsTo(endpoint);
  }
}

/** Creates and binds the listener `l` describes, with its settings from `generation`. */
export async function bindListener(l: AnyListenerConfig, generation: Generation): Promise<BoundListener> {
  let bound: BoundListener;
  let listen: () => Promise<AddressInfo>;
  if (l.protocol === 'http' || l.protocol === 'https') {
    const listener = new HttpListener(generation.listeners.get(l.name)!);
    bound = new HttpBound(listener);
    listen = () => listener.listen(l.address.host, l.address.port);
  } else {
    const s = generation.l4.get(l.name)!;
    if (s.protocol === 'udp') {
      const listener = new (l4().UdpListener)(s.settings);
      bound = new UdpBound(listener);
      listen = () => listener.listen(l.address.host, l.address.port);
    } else {
      const listener = s.protocol === 'tcp' ? new (l4().TcpListener)(s.settings) : new (l4().TlsPassthroughListener)(s.settings);
      bound = new StreamBound(listener);
      listen = () => listener.listen(l.address.host, l.address.port);
    }
  }
  await listen();
  return bound;
}
