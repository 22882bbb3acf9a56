// The request as routing and balancing see it (routing/request.ts, upstream/balancing/keys.ts): reads the
// host, client address, path, query, headers and cookies straight from the parsed head, decoding only what a
// route or the pool's key asks for. Valid only while Exchange.start runs: routing happens there and a key is
// hashed once there, its hash kept for retries.
import { cookieIn, queryIn, stripPort, type RouteRequest } from '../routing/request.ts';
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
      const value = cookieIn(buf.latin1Slice(f.valueStart[i], f.valueEnd[i]), name);
      if (value !== null) return value;
    }
    return null;
  }

  query(name: string): string | null {
    return queryIn(this.pathAndQuery(), name);
  }

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
