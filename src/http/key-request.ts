// The request as a balancing key source (upstream/balancing/keys.ts): reads the client address, path,
// query, headers and cookies straight from the parsed head, decoding only what the pool's key asks for.
// Valid only while Exchange.start runs: the key is hashed once there and the hash kept for retries.
import type { KeyRequest } from '../upstream/balancing/keys.ts';
import type { RequestHead } from './parse/head.ts';
import '../core/latin1.ts';

export class HeadKeyRequest implements KeyRequest {
  clientAddress: string;
  private head: RequestHead | null;
  /** The origin-form target when it differs from the received one (absolute-form requests). */
  private target: string;

  constructor() {
    this.clientAddress = '';
    this.head = null;
    this.target = '';
  }

  reset(head: RequestHead, clientAddress: string, target: string): void {
    this.head = head;
    this.clientAddress = clientAddress;
    this.target = target;
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

/** buf[start, start+name.length) equals the lowercase `name`, ASCII letters compared without case. */
function nameIs(buf: Buffer, start: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    let c = buf[start + i];
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== name.charCodeAt(i)) return false;
  }
  return true;
}
