// The request of one HTTP/2 stream as routing and balancing see it (routing/request.ts): pseudo-headers and
// the header list as node:http2 delivered them (names lowercase, RFC 9113 §8.2.1), the authority from
// `:authority` or Host, and the cookie fields joined into one (RFC 9113 §8.2.3). Filled once per stream by
// H2Exchange.start; routing and the pool's key read it while start runs. Also the request-side translation
// rules for an HTTP/1.1 upstream: which fields are not copied, framing values, trailer lines.
import { cookieIn, queryIn, stripPort, type RouteRequest } from '../../routing/request.ts';
import { FIELD_VALUE, TOKEN } from '../parse/chars.ts';
import { Fields, parseFields } from '../parse/head.ts';

export class H2Request implements RouteRequest {
  clientAddress: string;
  method: string;
  scheme: string;
  requestId: string;
  listenerPort: number;
  /** `:authority` (or Host) as received. */
  authority: string;
  /** `:path` as received: origin-form path and query, or `*`. */
  target: string;
  /** Regular header fields in arrival order; cookie fields are one entry holding their joined value. */
  readonly names: string[];
  readonly values: string[];
  /** Index of the joined cookie entry; -1 without cookies. */
  cookieIndex: number;
  private hostKey: string | null;

  constructor() {
    this.clientAddress = '';
    this.method = '';
    this.scheme = 'http';
    this.requestId = '';
    this.listenerPort = 0;
    this.authority = '';
    this.target = '';
    this.names = [];
    this.values = [];
    this.cookieIndex = -1;
    this.hostKey = null;
  }

  /**
   * Reads node's flat raw header list `[name, value, …]`. Returns 0, or the status owed for a malformed list
   * (400), too many fields or a list larger than `maxListSize` (431; sized as SETTINGS_MAX_HEADER_LIST_SIZE
   * counts, RFC 9113 §6.5.2: name + value + 32 per field). Pseudo-headers are left to the caller through `pseudo`.
   */
  read(raw: readonly string[], maxHeaders: number, maxListSize: number, pseudo: Pseudo): number {
    this.names.length = 0;
    this.values.length = 0;
    this.cookieIndex = -1;
    this.hostKey = null;
    pseudo.method = '';
    pseudo.path = '';
    pseudo.authority = null;
    pseudo.protocol = false;
    let size = 0;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i];
      const value = raw[i + 1];
      size += name.length + value.length + 32;
      if (name.charCodeAt(0) === 0x3a /* : */) {
        if (name === ':method') pseudo.method = value;
        else if (name === ':path') pseudo.path = value;
        else if (name === ':authority') pseudo.authority = value;
        else if (name === ':protocol') pseudo.protocol = true;
        else if (name !== ':scheme') return 400;
        continue;
      }
      if (!validName(name) || !validValue(value)) return 400;
      if (name === 'cookie') {
        if (this.cookieIndex < 0) {
          this.cookieIndex = this.names.length;
          this.names.push(name);
          this.values.push(value);
        } else this.values[this.cookieIndex] += '; ' + value;
        continue;
      }
      this.names.push(name);
      this.values.push(value);
    }
    return this.names.length > maxHeaders || size > maxListSize ? 431 : 0;
  }

  host(): string {
    if (this.hostKey !== null) return this.hostKey;
    return (this.hostKey = stripPort(this.authority.toLowerCase()));
  }

  pathAndQuery(): string {
    return this.target === '*' ? '' : this.target;
  }

  path(): string {
    const t = this.pathAndQuery();
    const q = t.indexOf('?');
    return q < 0 ? t : t.slice(0, q);
  }

  header(name: string): string | null {
    for (let i = 0; i < this.names.length; i++) if (this.names[i] === name) return this.values[i];
    return name === 'host' ? this.authority : null;
  }

  cookie(name: string): string | null {
    return this.cookieIndex < 0 ? null : cookieIn(this.values[this.cookieIndex], name);
  }

  query(name: string): string | null {
    return queryIn(this.pathAndQuery(), name);
  }

}

/** The pseudo-header fields of a request (RFC 9113 §8.3.1). */
export interface Pseudo {
  method: string;
  path: string;
  authority: string | null;
  /** Extended CONNECT (RFC 8441), which Fulcrum does not offer. */
  protocol: boolean;
}

/** A lowercase token (RFC 9110 §5.6.2; RFC 9113 §8.2.1 forbids uppercase). */
export function validName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return false;
    if (c > 0xff || TOKEN[c] !== 1) return false;
  }
  return true;
}

/** field-value bytes only (RFC 9110 §5.5): what HTTP/1.1 upstream may carry. nghttp2 itself only refuses NUL, CR and LF. */
export function validValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff || FIELD_VALUE[c] !== 1) return false;
  }
  return true;
}


/** Request fields never copied upstream as received: hop-by-hop, restated (Host, framing, cookies joined), or rebuilt. */
export function dropsUpstream(name: string, trusted: boolean): boolean {
  switch (name) {
    case 'connection':
    case 'keep-alive':
    case 'proxy-connection':
    case 'transfer-encoding':
    case 'upgrade':
    case 'te':
    case 'http2-settings':
    case 'host':
    case 'content-length':
    case 'expect':
    case 'x-forwarded-for':
    case 'forwarded':
      return true;
    case 'x-forwarded-proto':
    case 'x-forwarded-host':
      return !trusted;
    default:
      return false;
  }
}

/** A trusted peer's forwarding fields as an HTTP/1.1 field block, so forward-headers.ts reads them as it does for HTTP/1.1. */
export function forwardingFields(names: readonly string[], values: readonly string[]): { buf: Buffer; fields: Fields } {
  let text = '';
  let n = 0;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (name === 'x-forwarded-for' || name === 'forwarded' || name === 'x-forwarded-proto' || name === 'x-forwarded-host') {
      text += name + ': ' + values[i] + '\r\n';
      n++;
    }
  }
  const buf = Buffer.from(text + '\r\n', 'latin1');
  const fields = new Fields(n);
  if (parseFields(buf, 0, buf.length, fields, null) !== 0) fields.count = 0;
  return { buf, fields };
}

/** A non-negative decimal without sign or spaces, below 2^53; -1 otherwise (RFC 9110 §8.6). */
export function parseDecimal(s: string): number {
  if (s.length === 0 || s.length > 16) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n > Number.MAX_SAFE_INTEGER ? -1 : n;
}

/** A trailer field line for an HTTP/1.1 chunked body: a token name and a field value. */
export function validTrailerLine(name: string, value: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 0x7f || TOKEN[c] !== 1) return false;
  }
  return validValue(value);
}

/** RFC 9110 §9.2.2: a request with one of these methods may be replayed on another connection. */
export function isIdempotent(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'PUT' || method === 'DELETE' || method === 'TRACE';
}
