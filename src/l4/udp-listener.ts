// A `udp` listener: one socket receives every client's datagrams. A flow is one client source (ip:port): its
// first datagram picks an endpoint, which the flow keeps while datagrams pass either way; each flow has its own
// connected upstream socket, so the endpoint's replies map back to the client (Envoy udp_proxy, NGINX `stream`
// with `udp`). Flows live in a bounded map (`maxFlows`) and expire after `flowIdle` on the coarse deadlines.
//
//   client ─▶ listener socket ─▶ flows[src] ─(pick once)─▶ flow socket ─▶ endpoint
//   client ◀─ listener socket ◀──────────────────────────── flow socket ◀─ endpoint
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { now, unwatch, watch, type HasDeadline } from '../core/deadlines.ts';
import { hashString } from '../core/hash.ts';
import { beginPick, PickContext } from '../upstream/balancing/types.ts';
import type { Endpoint } from '../upstream/endpoint.ts';
import type { Pool } from '../upstream/pool.ts';
import type { UdpListenerSettings } from './settings.ts';

/** Datagrams a new flow holds while its upstream socket binds and connects; more are dropped. */
const MAX_QUEUED_DATAGRAMS = 64;

/** Plain counters of one udp listener, read at scrape time. */
export class UdpListenerCounters {
  flowsCreated: number;
  flowsActive: number;
  /** Datagrams that would have started a flow beyond `maxFlows` (dropped). */
  flowsRefused: number;
  flowsExpired: number;
  /** Client → endpoint. */
  datagramsIn: number;
  bytesIn: number;
  /** Endpoint → client. */
  datagramsOut: number;
  bytesOut: number;
  /** Client datagrams not forwarded: no flow could be made, or a new flow's queue was full. */
  datagramsDropped: number;
  /** A new flow found no eligible endpoint (`no_eligible_endpoint`). */
  noEndpoint: number;
  /** Upstream socket errors (an ICMP port unreachable shows up as ECONNREFUSED on the next send). */
  upstreamErrors: number;

  constructor() {
    this.flowsCreated = 0;
    this.flowsActive = 0;
    this.flowsRefused = 0;
    this.flowsExpired = 0;
    this.datagramsIn = 0;
    this.bytesIn = 0;
    this.datagramsOut = 0;
    this.bytesOut = 0;
    this.datagramsDropped = 0;
    this.noEndpoint = 0;
    this.upstreamErrors = 0;
  }
}

const kFlow = Symbol('fulcrum.udpFlow');
interface FlowSocket extends dgram.Socket {
  [kFlow]: UdpFlow;
}

export class UdpFlow implements HasDeadline {
  readonly listener: UdpListener;
  /** `address port` of the client. */
  readonly key: string;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly pool: Pool;
  readonly endpoint: Endpoint;
  readonly socket: dgram.Socket;
  readonly flowIdleMs: number;
  deadline: number;
  /** Datagrams waiting for the upstream socket to connect; null once connected. */
  private queue: Buffer[] | null;
  private closed: boolean;

  constructor(listener: UdpListener, key: string, clientAddress: string, clientPort: number, pool: Pool, endpoint: Endpoint, flowIdleMs: number) {
    this.listener = listener;
    this.key = key;
    this.clientAddress = clientAddress;
    this.clientPort = clientPort;
    this.pool = pool;
    this.endpoint = endpoint;
    this.flowIdleMs = flowIdleMs;
    this.deadline = 0;
    this.queue = [];
    this.closed = false;
    const socket = dgram.createSocket(endpoint.host.includes(':') ? 'udp6' : 'udp4') as FlowSocket;
    socket[kFlow] = this;
    socket.on('message', onFlowMessage);
    socket.on('connect', onFlowConnect);
    socket.on('error', onFlowError);
    socket.connect(endpoint.port, endpoint.host);
    this.socket = socket;
    watch(this);
    this.touch();
  }

  touch(): void {
    this.deadline = now() + this.flowIdleMs;
  }

  // HOT PATH: one client datagram.
  send(datagram: Buffer): void {
    this.touch();
    const queue = this.queue;
    if (queue === null) this.socket.send(datagram);
    else if (queue.length < MAX_QUEUED_DATAGRAMS) queue.push(datagram);
    else this.listener.counters.datagramsDropped++;
  }

  connected(): void {
    if (this.closed) return;
    const queue = this.queue;
    this.queue = null;
    if (queue !== null) for (const datagram of queue) this.socket.send(datagram);
  }

  // HOT PATH: one endpoint datagram back to the client.
  reply(datagram: Buffer): void {
    const c = this.listener.counters;
    c.datagramsOut++;
    c.bytesOut += datagram.length;
    this.touch();
    this.listener.reply(datagram, this.clientPort, this.clientAddress);
  }

  onDeadline(): void {
    this.listener.counters.flowsExpired++;
    this.close();
  }

  failed(): void {
    this.listener.counters.upstreamErrors++;
    this.endpoint.failures++;
    this.pool.outlier?.record(this.endpoint, 0);
    this.close(); // the client's next datagram starts a new flow, picked afresh
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.deadline = 0;
    unwatch(this);
    this.socket.close();
    this.endpoint.inFlight--;
    this.listener.flowClosed(this);
  }
}

function onFlowMessage(this: FlowSocket, datagram: Buffer): void {
  this[kFlow].reply(datagram);
}

function onFlowConnect(this: FlowSocket): void {
  this[kFlow].connected();
}

function onFlowError(this: FlowSocket): void {
  this[kFlow].failed();
}

const kUdp = Symbol('fulcrum.udpListener');
interface ListenerSocket extends dgram.Socket {
  [kUdp]: UdpListener;
}

export class UdpListener {
  settings: UdpListenerSettings;
  readonly counters: UdpListenerCounters;
  /** By client `address port`; at most `settings.maxFlows`. */
  readonly flows: Map<string, UdpFlow>;
  socket: dgram.Socket | null;
  private readonly ctx: PickContext;

  constructor(settings: UdpListenerSettings) {
    this.settings = settings;
    this.counters = new UdpListenerCounters();
    this.flows = new Map();
    this.socket = null;
    this.ctx = new PickContext();
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4') as ListenerSocket;
      socket[kUdp] = this;
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.bind(port, host, () => {
        socket.off('error', onError);
        socket.on('error', ignore); // e.g. a reply to a client that is gone
        socket.on('message', onListenerMessage);
        this.socket = socket;
        resolve(socket.address());
      });
    });
  }

  get address(): AddressInfo {
    return this.socket!.address();
  }

  /** A reload: new flows use `next`; open flows keep their endpoint and idle timeout. */
  updateSettings(next: UdpListenerSettings): void {
    this.settings = next;
  }

  // HOT PATH: one client datagram.
  receive(datagram: Buffer, address: string, port: number): void {
    const c = this.counters;
    c.datagramsIn++;
    c.bytesIn += datagram.length;
    const key = address + ' ' + port;
    let flow = this.flows.get(key);
    if (flow === undefined) {
      const created = this.open(key, address, port);
      if (created === null) {
        c.datagramsDropped++;
        return;
      }
      flow = created;
    }
    flow.send(datagram);
  }

  private open(key: string, address: string, port: number): UdpFlow | null {
    const s = this.settings;
    if (this.flows.size >= s.maxFlows) {
      this.counters.flowsRefused++;
      return null;
    }
    const pool = s.pool;
    const ctx = this.ctx;
    beginPick(ctx);
    // an IPv4 client on a dual-stack socket is ::ffff:a.b.c.d: hash the IPv4 form, as the TCP listeners do
    const client = address.startsWith('::ffff:') && address.indexOf('.') > 0 ? address.slice(7) : address;
    ctx.clientAddress = client;
    ctx.hasHash = pool.key !== null;
    ctx.hash = ctx.hasHash ? hashString(client) : 0;
    const endpoint = pool.pick(ctx);
    if (endpoint === undefined) {
      this.counters.noEndpoint++;
      return null;
    }
    endpoint.requests++;
    endpoint.inFlight++;
    const flow = new UdpFlow(this, key, address, port, pool, endpoint, s.flowIdleMs);
    this.flows.set(key, flow);
    this.counters.flowsCreated++;
    this.counters.flowsActive++;
    return flow;
  }

  reply(datagram: Buffer, port: number, address: string): void {
    if (this.socket !== null) this.socket.send(datagram, port, address);
  }

  flowClosed(flow: UdpFlow): void {
    if (this.flows.get(flow.key) === flow) {
      this.flows.delete(flow.key);
      this.counters.flowsActive--;
    }
  }

  /** Stops receiving: the listener socket is closed (flows can no longer reply; `closeAll` ends them). */
  close(): void {
    const socket = this.socket;
    this.socket = null;
    if (socket !== null) socket.close();
  }

  /** Ends every flow now. */
  closeAll(): void {
    for (const flow of [...this.flows.values()]) flow.close();
  }

  /** Ends the flows to `endpoint`; returns how many. */
  closeFlowsTo(endpoint: Endpoint): number {
    let n = 0;
    for (const flow of [...this.flows.values()]) {
      if (flow.endpoint === endpoint) {
        flow.close();
        n++;
      }
    }
    return n;
  }

  /** UDP has nothing to drain: closes the socket and every flow. */
  stop(): Promise<void> {
    this.close();
    this.closeAll();
    return Promise.resolve();
  }
}

function onListenerMessage(this: ListenerSocket, datagram: Buffer, rinfo: dgram.RemoteInfo): void {
  this[kUdp].receive(datagram, rinfo.address, rinfo.port);
}

function ignore(): void {}
