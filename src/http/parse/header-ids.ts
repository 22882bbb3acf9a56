// The few header names the proxy acts on, recognised by length and a case-insensitive byte compare so that
// no string is made for the ones it only copies. Ids fit in a 32-bit skip mask (see serialize.ts).

export const H = {
  other: 0,
  host: 1,
  contentLength: 2,
  transferEncoding: 3,
  connection: 4,
  keepAlive: 5,
  proxyConnection: 6,
  te: 7,
  upgrade: 8,
  expect: 9,
  xForwardedFor: 10,
  xForwardedProto: 11,
  xForwardedHost: 12,
  forwarded: 13,
  via: 14,
  trailer: 15,
  requestId: 16,
  traceparent: 17,
  tracestate: 18,
  /** Marked by the exchange: named in Connection, so hop-by-hop (RFC 9110 §7.6.1). */
  drop: 31,
} as const;

const names: [string, number][] = [
  ['host', H.host],
  ['content-length', H.contentLength],
  ['transfer-encoding', H.transferEncoding],
  ['connection', H.connection],
  ['keep-alive', H.keepAlive],
  ['proxy-connection', H.proxyConnection],
  ['te', H.te],
  ['upgrade', H.upgrade],
  ['expect', H.expect],
  ['x-forwarded-for', H.xForwardedFor],
  ['x-forwarded-proto', H.xForwardedProto],
  ['x-forwarded-host', H.xForwardedHost],
  ['forwarded', H.forwarded],
  ['via', H.via],
  ['trailer', H.trailer],
  ['traceparent', H.traceparent],
  ['tracestate', H.tracestate],
];

interface Known {
  readonly name: Uint8Array;
  readonly id: number;
}
// byLength[len]: the known names of that length. Dense (no holes), so the lookup stays a fast element load.
const maxLength = Math.max(...names.map(([n]) => n.length));
const byLength: Known[][] = Array.from({ length: maxLength + 1 }, () => []);
for (const [name, id] of names) byLength[name.length].push({ name: Buffer.from(name, 'latin1'), id });

/** Compares buf[start, start+name.length) to a lowercase name, ignoring ASCII case. */
export function equalsLower(buf: Uint8Array, start: number, name: Uint8Array): boolean {
  for (let i = 0; i < name.length; i++) {
    if ((buf[start + i] | 0x20) !== name[i]) return false;
  }
  return true;
}

/** The id of buf[start, end) as a header name. `requestIdName` is the listener's request-id header. */
export function headerId(buf: Uint8Array, start: number, end: number, requestIdName: Uint8Array | null): number {
  const len = end - start;
  if (len <= maxLength) {
    const candidates = byLength[len];
    const first = buf[start] | 0x20;
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i];
      if (c.name[0] === first && equalsLower(buf, start, c.name)) return c.id;
    }
  }
  if (requestIdName !== null && requestIdName.length === len && equalsLower(buf, start, requestIdName)) return H.requestId;
  return H.other;
}
