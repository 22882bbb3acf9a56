// Addresses and CIDRs. `host:port` parsing is strict config-time work (IPv6 in brackets, RFC 1123 hostnames,
// no scheme or path). CIDR matching runs per request (trusted proxies, L4 source routing), so a CIDR is
// precomputed as four 32-bit network and mask words in the IPv6 space — IPv4 lives at ::ffff:a.b.c.d (RFC 4291
// §2.5.5.2), which makes `10.0.0.0/8` match both `10.1.2.3` and `::ffff:10.1.2.3` — and an address is parsed by
// hand into a module-level scratch array: no allocation per check.
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { describeFound } from './units.ts';

export interface Address {
  /** IPv4 dotted quad, IPv6 without brackets (compressed, lowercase), or a lowercase hostname. */
  readonly host: string;
  readonly port: number;
  /** Canonical `host:port` (IPv6 in brackets); the identity of an endpoint or listener address. */
  readonly text: string;
}

export interface AddressOptions {
  /** Port 0 asks the OS for an ephemeral port (listeners in tests). */
  readonly allowPortZero?: boolean;
}

export interface Cidr {
  /** Canonical `network/prefix` as the family was written: `10.0.0.0/8`, `2001:db8::/32`. */
  readonly text: string;
  readonly family: 4 | 6;
  /** The prefix length as written (0..32 for IPv4, 0..128 for IPv6). */
  readonly prefix: number;
  /** Network and mask as four big-endian 32-bit words of the IPv6 space (IPv4 mapped to ::ffff:0:0/96). */
  readonly network: Uint32Array;
  readonly mask: Uint32Array;
}

const addressExample = 'expected host:port like "10.0.0.1:8080"';
const hostnameLabel = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** RFC 1123 hostname; a final all-numeric label is refused so `10.0.0.300` is not taken for a name. */
export function isHostname(text: string): boolean {
  if (text.length === 0 || text.length > 253) return false;
  const labels = text.toLowerCase().split('.');
  for (const label of labels) if (!hostnameLabel.test(label)) return false;
  return !/^[0-9]+$/.test(labels[labels.length - 1]);
}

/** Parses `host:port`; a string is the reason it is not one (an error message: expected … found …). */
function readAddress(text: unknown, allowPortZero: boolean): Address | string {
  const found = describeFound(text);
  if (typeof text !== 'string') return `${addressExample}, found ${found}`;
  if (text.includes('://')) return `${addressExample} (no scheme), found ${found}`;
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return `${addressExample} or "[::1]:8080", found ${found}`;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!isIPv6(host) || host.includes('%')) {
      return `expected an IPv6 address inside the brackets like "[::1]:8080", found ${found}`;
    }
    host = formatIpv6(ipWords(host));
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return `${addressExample}, found ${found} (no port)`;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) {
      if (isIPv6(host) || isIPv6(text)) return `expected an IPv6 address in brackets like "[::1]:8080", found ${found}`;
      return `${addressExample}, found ${found}`;
    }
    if (!isIPv4(host)) {
      if (!isHostname(host)) return `${addressExample}, found ${found}`;
      host = host.toLowerCase();
    }
  }
  if (!/^(0|[1-9][0-9]{0,4})$/.test(portText)) return `${addressExample}, found ${found}`;
  const port = Number(portText);
  const minPort = allowPortZero ? 0 : 1;
  if (port < minPort || port > 65535) return `expected a port ${minPort}..65535, found ${found}`;
  return { host, port, text: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}` };
}

/** `"10.0.0.1:8080"`, `"[::1]:80"`, `"db.internal:5432"` → Address; undefined when not a valid address. */
export function parseAddress(text: string, options: AddressOptions = {}): Address | undefined {
  const result = readAddress(text, options.allowPortZero === true);
  return typeof result === 'string' ? undefined : result;
}

function addressSchemaWith(allowPortZero: boolean) {
  return z.unknown().transform((value, ctx): Address => {
    const result = readAddress(value, allowPortZero);
    if (typeof result === 'string') {
      ctx.issues.push({ code: 'custom', message: result, input: value });
      return z.NEVER;
    }
    return result;
  });
}

/** An upstream address: port 1..65535. */
export const addressSchema = addressSchemaWith(false);
/** A listening address: port 0 is allowed and means an ephemeral port. */
export const listenAddressSchema = addressSchemaWith(true);

// ---- IP words ---------------------------------------------------------------------------------------------------

const groups = new Uint16Array(8);

/** Strict dotted quad in s[start, end) → 0..2^32-1, or -1. No leading zeros (as `net.isIPv4`). */
function parseIpv4(s: string, start: number, end: number): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1;
      octet = octet * 10 + (c - 48);
      digits++;
      if (octet > 255) return -1;
    } else if (c === 46 && digits > 0 && dots < 3) {
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      return -1;
    }
  }
  return digits === 0 || dots !== 3 ? -1 : value * 256 + octet;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** IPv6 text in s[0, end) → `out`; false when malformed. Accepts a trailing dotted quad (`::ffff:1.2.3.4`). */
function parseIpv6(s: string, end: number, out: Uint32Array): boolean {
  let n = 0;
  let gap = -1;
  let i = 0;
  if (end >= 2 && s.charCodeAt(0) === 58 && s.charCodeAt(1) === 58) {
    gap = 0;
    i = 2;
  }
  while (i < end) {
    if (n === 8) return false;
    let value = 0;
    let j = i;
    for (let h = hexValue(s.charCodeAt(j)); h >= 0 && j < end; h = hexValue(s.charCodeAt(++j))) {
      value = value * 16 + h;
    }
    if (j < end && s.charCodeAt(j) === 46) {
      if (n > 6) return false;
      const v4 = parseIpv4(s, i, end);
      if (v4 < 0) return false;
      groups[n++] = v4 >>> 16;
      groups[n++] = v4 & 0xffff;
      break;
    }
    const digits = j - i;
    if (digits === 0 || digits > 4) return false;
    groups[n++] = value;
    if (j === end) break;
    if (s.charCodeAt(j) !== 58) return false;
    j++;
    if (j < end && s.charCodeAt(j) === 58) {
      if (gap >= 0) return false;
      gap = n;
      j++;
    } else if (j === end) {
      return false;
    }
    i = j;
  }
  if (gap < 0 ? n !== 8 : n > 7) return false;
  const shift = 8 - n;
  for (let w = 0; w < 4; w++) {
    const hi = groupAt(2 * w, gap, shift);
    const lo = groupAt(2 * w + 1, gap, shift);
    out[w] = ((hi << 16) | lo) >>> 0;
  }
  return true;
}

/** Group `index` of the expanded address: groups after the `::` gap move right by `shift`. */
function groupAt(index: number, gap: number, shift: number): number {
  if (gap < 0 || index < gap) return groups[index];
  if (index < gap + shift) return 0;
  return groups[index - shift];
}

/**
 * Parses an IPv4 or IPv6 address (a `%zone` suffix is ignored) into four words of the IPv6 space, IPv4 as
 * ::ffff:a.b.c.d. HOT PATH: no allocation; `out` is the caller's, reused.
 */
export function parseIpInto(text: string, out: Uint32Array): boolean {
  if (text.indexOf(':') < 0) {
    const v4 = parseIpv4(text, 0, text.length);
    if (v4 < 0) return false;
    out[0] = 0;
    out[1] = 0;
    out[2] = 0xffff;
    out[3] = v4;
    return true;
  }
  const zone = text.indexOf('%');
  return parseIpv6(text, zone < 0 ? text.length : zone, out);
}

function ipWords(text: string): Uint32Array {
  const words = new Uint32Array(4);
  if (!parseIpInto(text, words)) throw new TypeError(`not an IP address: ${JSON.stringify(text)}`);
  return words;
}

function isMapped(w: Uint32Array): boolean {
  return w[0] === 0 && w[1] === 0 && w[2] === 0xffff;
}

function formatIpv4(word: number): string {
  return `${word >>> 24}.${(word >>> 16) & 255}.${(word >>> 8) & 255}.${word & 255}`;
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run of two or more zero groups as `::`. */
function formatIpv6(w: Uint32Array): string {
  if (isMapped(w)) return `::ffff:${formatIpv4(w[3])}`;
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push(w[i] >>> 16, w[i] & 0xffff);
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

/** Canonical text of an IP: IPv4 dotted, IPv4-mapped IPv6 as IPv4, IPv6 per RFC 5952; undefined if not an IP. */
export function normalizeIp(text: string): string | undefined {
  const words = new Uint32Array(4);
  if (!parseIpInto(text, words)) return undefined;
  return isMapped(words) ? formatIpv4(words[3]) : formatIpv6(words);
}

// ---- CIDR -------------------------------------------------------------------------------------------------------

const cidrExample = 'expected a CIDR like "10.0.0.0/8" or "fd00::/8"';

function readCidr(text: unknown): Cidr | string {
  const found = describeFound(text);
  if (typeof text !== 'string') return `${cidrExample}, found ${found}`;
  const slash = text.indexOf('/');
  const ip = slash < 0 ? text : text.slice(0, slash);
  const family = isIPv4(ip) ? 4 : isIPv6(ip) && !ip.includes('%') ? 6 : 0;
  if (family === 0) return `${cidrExample}, found ${found}`;
  const bits = family === 4 ? 32 : 128;
  let prefix = bits;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > bits) {
      return `expected a prefix length 0..${bits} after "/", found ${found}`;
    }
    prefix = Number(prefixText);
  }
  const words = ipWords(ip);
  const mask = new Uint32Array(4);
  const network = new Uint32Array(4);
  let remaining = family === 4 ? prefix + 96 : prefix;
  for (let i = 0; i < 4; i++, remaining -= 32) {
    mask[i] = remaining >= 32 ? 0xffffffff : remaining <= 0 ? 0 : (0xffffffff << (32 - remaining)) >>> 0;
    network[i] = (words[i] & mask[i]) >>> 0;
  }
  const networkText = family === 4 ? formatIpv4(network[3]) : formatIpv6(network);
  const canonical = `${networkText}/${prefix}`;
  if (network.some((word, i) => word !== words[i])) {
    return `expected a network address with no host bits set, found ${found} (did you mean "${canonical}"?)`;
  }
  return { text: canonical, family, prefix, network, mask };
}

/** `"10.0.0.0/8"`, `"::1/128"`; a bare IP is a single-address CIDR (/32 or /128). Undefined when invalid. */
export function parseCidr(text: string): Cidr | undefined {
  const result = readCidr(text);
  return typeof result === 'string' ? undefined : result;
}

const scratch = new Uint32Array(4);

function containsWords(cidr: Cidr, w: Uint32Array): boolean {
  const net = cidr.network;
  const mask = cidr.mask;
  return (
    ((w[0] & mask[0]) >>> 0) === net[0] &&
    ((w[1] & mask[1]) >>> 0) === net[1] &&
    ((w[2] & mask[2]) >>> 0) === net[2] &&
    ((w[3] & mask[3]) >>> 0) === net[3]
  );
}

/** HOT PATH (per request): parses `ip` into a scratch array and compares four masked words; no allocation. */
export function cidrContains(cidr: Cidr, ip: string): boolean {
  return parseIpInto(ip, scratch) && containsWords(cidr, scratch);
}

/** HOT PATH: whether any CIDR of the list contains `ip`; the address is parsed once. */
export function cidrsContain(cidrs: readonly Cidr[], ip: string): boolean {
  if (cidrs.length === 0 || !parseIpInto(ip, scratch)) return false;
  for (let i = 0; i < cidrs.length; i++) if (containsWords(cidrs[i], scratch)) return true;
  return false;
}

export const cidrSchema = z.unknown().transform((value, ctx): Cidr => {
  const result = readCidr(value);
  if (typeof result === 'string') {
    ctx.issues.push({ code: 'custom', message: result, input: value });
    return z.NEVER;
  }
  return result;
});
