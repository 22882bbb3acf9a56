// The request as routing and balancing see it (routing/request.ts, upstream/balancing/keys.ts): reads the
// host, client address, path, query, headers and cookies straight from the parsed head, decoding only what a
// route or the pool's key asks for. Valid only while Exchange.start runs: routing happens there and a key is
// hashed once there, its hash kept for retries.
import type { RouteRequest } from '../routing/request.ts';
import type { RequestHead } from './parse/head.ts';
import '../core/latin1.ts';

export class HeadKeyRequest implements RouteRequest {
  clientAddress: string;
  method: string;
  scheme: string;
  requestId: string;
  listenerPort: number;
  private head: RequestHead | null;
  /** The origin-form target when it differs from the received one (absolute-form requests). */
  private target: string;
  /** The authority as received (Host or absolute-form), and its decoded form once asked for. */
  private rawHost: string | null;
  private hostStart: number;
  private hostEnd: number;
  private hostKey: string | null;

  constructor() {
    this.clientAddress = '';
    this.method = '';
    this.scheme = 'http';
    this.requestId = '';
    this.listenerPort = 0;
    this.head = null;
    this.target = '';
    this.rawHost = null;
    this.hostStart = -1;
    this.hostEnd = -1;
    this.hostKey = null;
  }

  reset(head: RequestHead, clientAddress: string, target: string): void {
    this.head = head;
    this.clientAddress = clientAddress;
    this.target = target;
    this.method = head.method;
    this.rawHost = null;
    this.hostStart = -1;
    this.hostEnd = -1;
    this.hostKey = null;
  }

  /** The authority: `text` from an absolute-form target, else the Host value at [start, end) of the head. */
  setHost(text: string | null, start: number, end: number): void {
    this.rawHost = text;
    this.hostStart = start;
    this.hostEnd = end;
    this.hostKey = null;
  }

  host(): string {
    if (this.hostKey !== null) return this.hostKey;
    const raw = this.rawHost ?? (this.hostStart >= 0 ? this.head!.buf.latin1Slice(this.hostStart, this.hostEnd) : '');
    return (this.hostKey = stripPort(raw.toLowerCase()));
  }

  pathAndQuery(): string {
    if (this.target !== '') return this.target;
    const h = this.head!;
    return h.buf.latin1Slice(h.targetStart, h.targetEnd);
  }

  path(): string {
    const t = this.pathAndQuery();
    const q = t.indexOf('?');
    return q < 0 ? t : t.slice(0, q);
  }

  header(name: string): string | null {
    const h = this.head!;
    const f = h.fields;
    const buf = h.buf;
    for (let i = 0; i < f.count; i++) {
      if (f.nameEnd[i] - f.nameStart[i] === name.length && nameIs(buf, f.nameStart[i], name)) {
        return buf.latin1Slice(f.valueStart[i], f.valueEnd[i]);
      }
    }
    return null;
  }

  cookie(name: string): string | null {
    const h = this.head!;
    const f = h.fields;
    const buf = h.buf;
    for (let i = 0; i < f.count; i++) {
      if (f.nameEnd[i] - f.nameStart[i] !== 6 || !nameIs(buf, f.nameStart[i], 'cookie')) continue;
      // cookie-string = cookie-pair *( ";" SP cookie-pair ) (RFC 6265 §4.2.1), read leniently
      for (const pair of buf.latin1Slice(f.valueStart[i], f.valueEnd[i]).split(';')) {
        const eq = pair.indexOf('=');
        if (eq < 0) continue;
        if (pair.slice(0, eq).trim() === name) {
          const value = pair.slice(eq + 1).trim();
          return value.length >= 2 && value[0] === '"' && value[value.length - 1] === '"' ? value.slice(1, -1) : value;
        }
      }
    }
    return null;
  }

  query(name: string): string | null {
    const t = this.pathAndQuery();
    const q = t.indexOf('?');
    if (q < 0) return null;
    for (const part of t.slice(q + 1).split('&')) {
      const eq = part.indexOf('=');
      if ((eq < 0 ? part : part.slice(0, eq)) === name) return eq < 0 ? '' : part.slice(eq + 1);
    }
    return null;
  }
}

function stripPort(host: string): string {
  if (host.charCodeAt(0) === 0x5b /* [ */) {
    const close = host.indexOf(']');
    return close < 0 ? host : host.slice(0, close + 1);
  }
  const colon = host.indexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}

/** buf[start, start+name.length) equals the lowercase `name`, ASCII letters compared without case. */
function nameIs(buf: Buffer, start: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    let c = buf[start + i];
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== name.charCodeAt(i)) return false;
  }
  return true;
}
