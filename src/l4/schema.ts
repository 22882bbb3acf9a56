// Config schemas of the L4 data plane: the `tcp`, `tls-passthrough` and `udp` listeners and the pool's
// `proxyProtocol` option. Each listener schema is a strict object with `protocol` as a literal, ready for a
// discriminated union with the HTTP listener; every default is declared here beside the anchor it follows.
// Pool names are checked against the config's pools by the config validation, not here.
import { z } from 'zod';
import { cidrSchema, isHostname, listenAddressSchema } from '../core/address.ts';
import { checked, integerIn } from '../core/schema-helpers.ts';
import { describeFound, durationSchema } from '../core/units.ts';
import type { ProxyProtocolVersion } from './proxy-protocol.ts';
import { connectionLimitSchema } from '../ratelimit/connection-limiter.ts';

const namePattern = /^[a-z0-9][a-z0-9_-]*$/;
/** Listener and pool names, as in the rest of the config: they are metric labels. */
const nameSchema = checked('expected a name of lowercase letters, digits, "-" and "_" like "web"', (v) =>
  typeof v === 'string' && namePattern.test(v) ? v : undefined,
);

// ---- PROXY protocol ---------------------------------------------------------------------------------------------

/** Pool option: send a PROXY header (v1 text or v2 binary) first on every upstream connection the L4 listeners
 *  open to the pool's endpoints. Absent: none. HAProxy `send-proxy` / `send-proxy-v2`. */
export const proxyProtocolPoolSchema = checked<ProxyProtocolVersion>('expected "v1" or "v2"', (v) =>
  v === 'v1' || v === 'v2' ? v : undefined,
).optional();
export type ProxyProtocolPoolConfig = z.output<typeof proxyProtocolPoolSchema>;

/** Listener option: read a PROXY header (v1 or v2) from peers in `accept`; they must send one, and a peer outside
 *  them that sends one is closed. HAProxy `accept-proxy` with `tcp-request connection expect-proxy layer4 if src`. */
export const proxyProtocolListenerSchema = z.strictObject({
  accept: z.array(cidrSchema).min(1, 'expected at least one CIDR like "10.0.0.0/8"'),
});

// ---- tcp and tls-passthrough ------------------------------------------------------------------------------------

const streamTimeouts = {
  /** Upstream TCP connect, per try; 0 = the OS limit. Default 5s: HAProxy `timeout connect` as commonly set. */
  connect: durationSchema.prefault('5s'),
  /** No byte either way for this long closes both sides; 0 = never. Default 1h: Envoy tcp_proxy `idle_timeout`
   *  (HAProxy `timeout client`/`timeout server`; AWS NLB uses 350s). */
  idle: durationSchema.prefault('1h'),
  /** A connection is closed this long after it was accepted, busy or not; 0 = never (default). Envoy
   *  `max_downstream_connection_duration`. */
  maxLifetime: durationSchema.prefault('0'),
  /** From accept to a complete PROXY header, when `proxyProtocol` is set; 0 = no limit. Default 5s: the spec asks
   *  for "at least 3 seconds to cover a TCP retransmit". */
  proxyHeader: durationSchema.prefault('5s'),
};

export const tcpTimeoutsSchema = z.strictObject(streamTimeouts);

export const tlsPassthroughTimeoutsSchema = z.strictObject({
  ...streamTimeouts,
  /** From accept (or the PROXY header) to a complete ClientHello; 0 = no limit. Default 5s (Envoy's TLS
   *  inspector waits 15s; a real client sends its hello at once). */
  clientHello: durationSchema.prefault('5s'),
});

export const streamLimitsSchema = z.strictObject({
  /** Connections open at once on this listener; beyond, new ones are closed at accept and counted as refused.
   *  Default 10000. HAProxy `maxconn` on a frontend. */
  maxConnections: integerIn(1, 10_000_000).prefault(10_000),
  /** Per client address: open connections and new connections per second (ratelimit/connection-limiter.ts);
   *  absent = none. HAProxy `src_conn_cur` / `src_conn_rate` over a stick table. */
  perSource: connectionLimitSchema.optional(),
});

export const tcpListenerSchema = z.strictObject({
  name: nameSchema,
  protocol: z.literal('tcp'),
  /** Port 0 = ephemeral (tests). */
  address: listenAddressSchema,
  /** Every connection goes to this pool. */
  pool: nameSchema,
  /** Absent: PROXY headers are not accepted from anyone (the bytes are forwarded as sent). */
  proxyProtocol: proxyProtocolListenerSchema.optional(),
  limits: streamLimitsSchema.prefault({}),
  timeouts: tcpTimeoutsSchema.prefault({}),
});
export type TcpListenerConfig = z.output<typeof tcpListenerSchema>;

const sniExample = 'expected a server name like "api.example.com" or "*.example.com"';

/** `api.example.com` or `*.example.com`, lowercased; a trailing dot is dropped. Undefined when not a name. */
function sniPattern(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const name = (v.endsWith('.') ? v.slice(0, -1) : v).toLowerCase();
  const host = name.startsWith('*.') ? name.slice(2) : name;
  return isHostname(host) ? name : undefined;
}

/** One server name or a non-empty list of them; each bad name is reported at its own path. */
const sniListSchema = z.unknown().transform((value, ctx): string[] => {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) {
    ctx.issues.push({ code: 'custom', message: `${sniExample} or a list of them, found an empty list`, input: value });
    return z.NEVER;
  }
  const names: string[] = [];
  list.forEach((item, i) => {
    const name = sniPattern(item);
    if (name !== undefined) names.push(name);
    else ctx.issues.push({ code: 'custom', message: `${sniExample}, found ${describeFound(item)}`, input: item, path: Array.isArray(value) ? [i] : [] });
  });
  return names.length === list.length ? names : z.NEVER;
});

export const sniRouteSchema = z.strictObject({
  /** One name or a list. */
  sni: sniListSchema,
  pool: nameSchema,
});

export const tlsPassthroughListenerSchema = z
  .strictObject({
    name: nameSchema,
    protocol: z.literal('tls-passthrough'),
    address: listenAddressSchema,
    /** By the ClientHello's server name; the first route that matches wins. Default none. */
    routes: z.array(sniRouteSchema).default(() => []),
    /** No server name, or no route matched; absent: such connections are closed (`no_route`). */
    defaultPool: nameSchema.optional(),
    proxyProtocol: proxyProtocolListenerSchema.optional(),
    limits: streamLimitsSchema.prefault({}),
    timeouts: tlsPassthroughTimeoutsSchema.prefault({}),
  })
  .superRefine((listener, ctx) => {
    if (listener.routes.length === 0 && listener.defaultPool === undefined) {
      ctx.addIssue({ code: 'custom', path: ['routes'], message: 'expected at least one route or a "defaultPool", found neither' });
    }
  });
export type TlsPassthroughListenerConfig = z.output<typeof tlsPassthroughListenerSchema>;

// ---- udp --------------------------------------------------------------------------------------------------------

export const udpListenerSchema = z.strictObject({
  name: nameSchema,
  protocol: z.literal('udp'),
  address: listenAddressSchema,
  pool: nameSchema,
  limits: z
    .strictObject({
      /** Client flows (source ip:port) tracked at once; datagrams that would start another are dropped and
       *  counted. Default 10000. Each flow holds one upstream socket. */
      maxFlows: integerIn(1, 1_000_000).prefault(10_000),
    })
    .prefault({}),
  timeouts: z
    .strictObject({
      /** A flow keeps its endpoint and upstream socket until no datagram passed either way for this long.
       *  Default 30s (Envoy udp_proxy `idle_timeout` is 60s, AWS NLB's UDP idle timeout 120s; short lets
       *  ephemeral client ports be reused sooner). */
      flowIdle: durationSchema.refine((ms) => ms > 0, { error: 'expected a duration above 0, found 0' }).prefault('30s'),
    })
    .prefault({}),
});
export type UdpListenerConfig = z.output<typeof udpListenerSchema>;

export type L4ListenerConfig = TcpListenerConfig | TlsPassthroughListenerConfig | UdpListenerConfig;
