// The PROXY protocol (HAProxy, https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt): the header a proxy
// puts before a relayed connection's bytes to say who the client was. Version 1 is one text line (§2.1, at most
// 107 bytes with CRLF), version 2 a binary block (§2.2: 12-byte signature, version/command, family/transport,
// length, addresses, TLVs). The parser is strict — anything that does not match the spec exactly is invalid
// (§2.1 "must be discarded and cause the receiver to abort") — bounded, and never throws: the fuzz tests in
// test/unit/l4/proxy-protocol.test.ts feed it random bytes and every prefix of valid headers.
import { isIPv4, isIPv6 } from 'node:net';

export interface ProxyAddress {
  /** IPv4 dotted quad or IPv6 text (lowercase, compressed). */
  readonly address: string;
  readonly port: number;
}

export type ProxyHeader =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly reason: string }
  | {
      readonly kind: 'ok';
      readonly version: 1 | 2;
      /** Bytes the header takes; the client's own bytes start right after. */
      readonly consumed: number;
      /** v2 LOCAL: the proxy opened the connection itself (a health check); use the real endpoints. */
      readonly local: boolean;
      /** Absent for LOCAL, v1 UNKNOWN, and v2 families without IP addresses: use the real endpoints. */
      readonly source?: ProxyAddress;
      readonly destination?: ProxyAddress;
    };

export type ProxyProtocolVersion = 'v1' | 'v2';

/** §2.1: "PROXY UNKNOWN ffff:…:ffff ffff:…:ffff 65535 65535\r\n", the longest line, is 107 bytes. */
export const MAX_V1_LENGTH = 107;
/** Largest v2 address-and-TLV block Fulcrum accepts. The spec allows up to 65535; addresses take at most 216
 *  bytes (AF_UNIX) and the registered TLVs (ALPN, authority, unique id ≤ 128, SSL, netns) fit well within 4 KiB. */
export const MAX_V2_BLOCK_LENGTH = 4096;
/** The most bytes a valid header can take: what a receiver buffers before giving up. */
export const MAX_PROXY_HEADER_LENGTH = 16 + MAX_V2_BLOCK_LENGTH;

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_SIGNATURE = Buffer.from('PROXY ', 'latin1');

const INCOMPLETE = { kind: 'incomplete' } as const;

function invalid(reason: string): ProxyHeader {
  return { kind: 'invalid', reason };
}

/** How many bytes of buf[start, end) match `sig` from its start; `sig.length` means a full match. */
function matchedPrefix(buf: Uint8Array, start: number, end: number, sig: Uint8Array): number {
  const n = Math.min(end - start, sig.length);
  for (let i = 0; i < n; i++) if (buf[start + i] !== sig[i]) return -1;
  return n;
}

/**
 * Whether buf[start, end) begins with a PROXY header signature (v1 "PROXY " or the v2 block): 'yes', 'no', or
 * 'maybe' while the bytes seen so far are a prefix of one. Used to refuse headers from untrusted peers.
 */
export function sniffProxySignature(buf: Uint8Array, start: number, end: number): 'yes' | 'no' | 'maybe' {
  const v1 = matchedPrefix(buf, start, end, V1_SIGNATURE);
  const v2 = matchedPrefix(buf, start, end, V2_SIGNATURE);
  if (v1 === V1_SIGNATURE.length || v2 === V2_SIGNATURE.length) return 'yes';
  if (v1 < 0 && v2 < 0) return 'no';
  return 'maybe';
}

/**
 * Parses a PROXY header (v1 or v2) at buf[start, end). `incomplete` while more bytes could still make it valid;
 * `invalid` as soon as they cannot (a receiver then aborts the connection).
 */
export function parseProxyHeader(buf: Uint8Array, start: number, end: number): ProxyHeader {
  if (start < 0 || end > buf.length || start > end) return invalid('bad range');
  if (end - start === 0) return INCOMPLETE;
  const v2 = matchedPrefix(buf, start, end, V2_SIGNATURE);
  if (v2 === V2_SIGNATURE.length) return parseV2(buf, start, end);
  if (v2 > 0) return INCOMPLETE;
  const v1 = matchedPrefix(buf, start, end, V1_SIGNATURE);
  if (v1 === V1_SIGNATURE.length) return parseV1(buf, start, end);
  if (v1 > 0) return INCOMPLETE;
  return invalid('no PROXY protocol signature');
}

// ---- version 1 -------------------------------------------------------------------------------------------------

function parseV1(buf: Uint8Array, start: number, end: number): ProxyHeader {
  // The CRLF must end within the first 107 bytes (the CR at index 105 at most); a lone CR or LF is invalid (§2.1).
  const limit = Math.min(end, start + MAX_V1_LENGTH - 1);
  let cr = -1;
  for (let i = start; i < limit; i++) {
    const c = buf[i];
    if (c === 0x0a) return invalid('v1: LF without CR');
    if (c === 0x0d) {
      if (i + 1 >= end) return INCOMPLETE;
      if (buf[i + 1] !== 0x0a) return invalid('v1: CR without LF');
      cr = i;
      break;
    }
    if (c < 0x20 || c > 0x7e) return invalid('v1: not printable US-ASCII');
  }
  if (cr < 0) return end - start >= MAX_V1_LENGTH - 1 ? invalid('v1: no CRLF within 107 bytes') : INCOMPLETE;
  const consumed = cr + 2 - start;
  const line = Buffer.from(buf.buffer, buf.byteOffset + start, cr - start).toString('latin1');
  const parts = line.split(' ');
  const proto = parts[1];
  // "For UNKNOWN, the rest of the line before the CRLF may be omitted by the sender, and the receiver must
  // ignore anything presented before the CRLF is found."
  if (proto === 'UNKNOWN') return { kind: 'ok', version: 1, consumed, local: false };
  if (proto !== 'TCP4' && proto !== 'TCP6') return invalid(`v1: unknown protocol ${JSON.stringify(proto ?? '')}`);
  if (parts.length !== 6) return invalid('v1: expected 4 fields after the protocol, separated by single spaces');
  const four = proto === 'TCP4';
  const src = v1Address(parts[2], four);
  const dst = v1Address(parts[3], four);
  if (src === undefined || dst === undefined) return invalid(`v1: expected ${four ? 'IPv4' : 'IPv6'} addresses`);
  const sport = v1Port(parts[4]);
  const dport = v1Port(parts[5]);
  if (sport < 0 || dport < 0) return invalid('v1: expected ports 0..65535 without leading zeros');
  return { kind: 'ok', version: 1, consumed, local: false, source: { address: src, port: sport }, destination: { address: dst, port: dport } };
}

/** §2.1: IPv4 as 4 decimal numbers without heading zeroes; IPv6 as hex groups and colons (one `::`). */
function v1Address(text: string, four: boolean): string | undefined {
  if (four) return isIPv4(text) ? text : undefined; // net.isIPv4 refuses leading zeros
  if (!/^[0-9a-fA-F:]+$/.test(text) || !isIPv6(text)) return undefined;
  return formatIpv6Bytes(ipv6Bytes(text));
}

function v1Port(text: string): number {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return -1;
  const port = Number(text);
  return port <= 65535 ? port : -1;
}

// ---- version 2 -------------------------------------------------------------------------------------------------

const FAMILY = { unspec: 0, inet: 1, inet6: 2, unix: 3 } as const;
const TRANSPORT = { unspec: 0, stream: 1, dgram: 2 } as const;
/** Address block sizes by family (§2.2): IPv4 2×4 + 2×2, IPv6 2×16 + 2×2, UNIX 2×108. */
const ADDRESS_LENGTH = [0, 12, 36, 216] as const;

function parseV2(buf: Uint8Array, start: number, end: number): ProxyHeader {
  if (end - start < 13) return INCOMPLETE;
  const verCmd = buf[start + 12];
  if (verCmd >> 4 !== 2) return invalid('v2: version is not 2');
  const command = verCmd & 0x0f;
  if (command > 1) return invalid('v2: unknown command');
  if (end - start < 16) return INCOMPLETE;
  const fam = buf[start + 13];
  const length = (buf[start + 14] << 8) | buf[start + 15];
  if (length > MAX_V2_BLOCK_LENGTH) return invalid(`v2: address block of ${length} bytes exceeds ${MAX_V2_BLOCK_LENGTH}`);
  const consumed = 16 + length;
  if (end - start < consumed) return INCOMPLETE;
  // LOCAL: "the receiver must accept this connection as valid and must use the real connection endpoints and
  // discard the protocol block including the family which is ignored."
  if (command === 0) return { kind: 'ok', version: 2, consumed, local: true };
  const family = fam >> 4;
  const transport = fam & 0x0f;
  if (family > FAMILY.unix) return invalid('v2: unknown address family');
  if (transport > TRANSPORT.dgram) return invalid('v2: unknown transport protocol');
  if (family === FAMILY.unspec) return { kind: 'ok', version: 2, consumed, local: false };
  const addressLength = ADDRESS_LENGTH[family];
  if (length < addressLength) return invalid('v2: address block shorter than its family needs');
  const block = start + 16;
  const tlvs = checkTlvs(buf, block + addressLength, block + length);
  if (tlvs !== null) return invalid(tlvs);
  // UNIX sockets, or an unspecified transport: accepted, with the real endpoints used (§2.2).
  if (family === FAMILY.unix || transport === TRANSPORT.unspec) return { kind: 'ok', version: 2, consumed, local: false };
  let source: ProxyAddress;
  let destination: ProxyAddress;
  if (family === FAMILY.inet) {
    source = { address: ipv4Text(buf, block), port: (buf[block + 8] << 8) | buf[block + 9] };
    destination = { address: ipv4Text(buf, block + 4), port: (buf[block + 10] << 8) | buf[block + 11] };
  } else {
    source = { address: formatIpv6Bytes(buf.subarray(block, block + 16)), port: (buf[block + 32] << 8) | buf[block + 33] };
    destination = { address: formatIpv6Bytes(buf.subarray(block + 16, block + 32)), port: (buf[block + 34] << 8) | buf[block + 35] };
  }
  return { kind: 'ok', version: 2, consumed, local: false, source, destination };
}

/** TLVs (type, 16-bit length, value) must tile buf[pos, end) exactly; they are skipped, not interpreted. */
function checkTlvs(buf: Uint8Array, pos: number, end: number): string | null {
  while (pos < end) {
    if (end - pos < 3) return 'v2: truncated TLV header';
    const length = (buf[pos + 1] << 8) | buf[pos + 2];
    pos += 3 + length;
    if (pos > end) return 'v2: TLV longer than the address block';
  }
  return null;
}

function ipv4Text(buf: Uint8Array, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

// ---- building --------------------------------------------------------------------------------------------------

/** An IP as text → its family and 16 bytes (IPv4 as ::ffff:a.b.c.d); IPv4-mapped IPv6 counts as IPv4. */
function ipBytes(text: string): { four: boolean; bytes: Uint8Array } | null {
  const zone = text.indexOf('%');
  const ip = zone < 0 ? text : text.slice(0, zone);
  if (isIPv4(ip)) {
    const bytes = new Uint8Array(16);
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    const q = ip.split('.');
    for (let i = 0; i < 4; i++) bytes[12 + i] = Number(q[i]);
    return { four: true, bytes };
  }
  if (!isIPv6(ip)) return null;
  const bytes = ipv6Bytes(ip);
  let mapped = bytes[10] === 0xff && bytes[11] === 0xff;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) mapped = false;
  return { four: mapped, bytes };
}

/** IPv6 text (may end in a dotted quad) → 16 bytes. The caller has checked it with net.isIPv6. */
function ipv6Bytes(text: string): Uint8Array {
  const out = new Uint8Array(16);
  let head = text;
  let tailV4: number[] | null = null;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) >= 0) {
    tailV4 = text.slice(lastColon + 1).split('.').map(Number);
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const gap = head.indexOf('::');
  const left = gap < 0 ? head.split(':') : head.slice(0, gap).split(':').filter((g) => g !== '');
  const right = gap < 0 ? [] : head.slice(gap + 2).split(':').filter((g) => g !== '');
  const groups = [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  for (let i = 0; i < 8; i++) {
    const g = parseInt(groups[i], 16);
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  }
  if (tailV4 !== null) for (let i = 0; i < 4; i++) out[12 + i] = tailV4[i];
  return out;
}

/** RFC 5952 text of 16 bytes, hex groups only (a v1 TCP6 field allows no dotted quad). */
function formatIpv6Bytes(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[2 * i] << 8) | b[2 * i + 1]);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 65535;
}

/** Both endpoints as one family: IPv4 when both are, IPv6 (with IPv4 mapped) otherwise; null if unusable. */
function pairOf(src: ProxyAddress | null, dst: ProxyAddress | null): { four: boolean; s: Uint8Array; d: Uint8Array } | null {
  if (src === null || dst === null || !validPort(src.port) || !validPort(dst.port)) return null;
  const s = ipBytes(src.address);
  const d = ipBytes(dst.address);
  if (s === null || d === null) return null;
  return { four: s.four && d.four, s: s.bytes, d: d.bytes };
}

/**
 * `PROXY TCP4 src dst sport dport\r\n` (TCP6 when either address is IPv6, IPv4 then written mapped);
 * `PROXY UNKNOWN\r\n` when an address is unknown or not an IP (§2.1).
 */
export function buildProxyHeaderV1(src: ProxyAddress | null, dst: ProxyAddress | null): Buffer {
  const pair = pairOf(src, dst);
  if (pair === null) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  const text = (b: Uint8Array) => (pair.four ? `${b[12]}.${b[13]}.${b[14]}.${b[15]}` : formatIpv6Bytes(b));
  return Buffer.from(`PROXY ${pair.four ? 'TCP4' : 'TCP6'} ${text(pair.s)} ${text(pair.d)} ${src!.port} ${dst!.port}\r\n`, 'latin1');
}

/**
 * The v2 block for a relayed TCP connection: PROXY command, TCP over IPv4 (0x11) or IPv6 (0x21), no TLVs; with an
 * unknown address, AF_UNSPEC (0x00) and an empty block (§2.2).
 */
export function buildProxyHeaderV2(src: ProxyAddress | null, dst: ProxyAddress | null): Buffer {
  const pair = pairOf(src, dst);
  const length = pair === null ? 0 : pair.four ? 12 : 36;
  const out = Buffer.alloc(16 + length);
  V2_SIGNATURE.copy(out, 0);
  out[12] = 0x21; // version 2, PROXY
  if (pair === null) return out;
  out[13] = pair.four ? 0x11 : 0x21;
  out.writeUInt16BE(length, 14);
  if (pair.four) {
    out.set(pair.s.subarray(12), 16);
    out.set(pair.d.subarray(12), 20);
    out.writeUInt16BE(src!.port, 24);
    out.writeUInt16BE(dst!.port, 26);
  } else {
    out.set(pair.s, 16);
    out.set(pair.d, 32);
    out.writeUInt16BE(src!.port, 48);
    out.writeUInt16BE(dst!.port, 50);
  }
  return out;
}

export function buildProxyHeader(version: ProxyProtocolVersion, src: ProxyAddress | null, dst: ProxyAddress | null): Buffer {
  return version === 'v1' ? buildProxyHeaderV1(src, dst) : buildProxyHeaderV2(src, dst);
}
