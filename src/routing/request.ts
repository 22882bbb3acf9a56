// What routing reads from a request: route matching, weighted splits, redirects, rewrites and header edits
// all see the request through this interface, so the HTTP/1.1 and HTTP/2 data planes each implement it once
// over their own parse results, decoding only what a compiled route asks for.
import type { KeyRequest } from '../upstream/balancing/keys.ts';

export interface RouteRequest extends KeyRequest {
  /** The request's authority (Host, or the absolute-form target's) lowercased without the port; '' when absent. */
  host(): string;
  /** The method token as received, e.g. "GET" (methods are case-sensitive, RFC 9110 §9.1). */
  readonly method: string;
  /** The scheme the client used to reach the listener: "http" or "https". */
  readonly scheme: string;
  /** The request id as forwarded upstream (kept from the client or generated). */
  readonly requestId: string;
  /** The port of the listener the request arrived on. */
  readonly listenerPort: number;
}

/** A cookie's value in one Cookie header value (`a=1; b="2"`, RFC 6265 §4.2.1, read leniently); null when absent. */
export function cookieIn(header: string, name: string): string | null {
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    if (pair.slice(0, eq).trim() === name) {
      const value = pair.slice(eq + 1).trim();
      return value.length >= 2 && value[0] === '"' && value[value.length - 1] === '"' ? value.slice(1, -1) : value;
    }
  }
  return null;
}

/** A query parameter's raw (undecoded) value in a request target; '' for `?name`, null when absent. */
export function queryIn(target: string, name: string): string | null {
  const q = target.indexOf('?');
  if (q < 0) return null;
  for (const part of target.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    if ((eq < 0 ? part : part.slice(0, eq)) === name) return eq < 0 ? '' : part.slice(eq + 1);
  }
  return null;
}

/** `example.com:8080` → `example.com`, `[::1]:80` → `[::1]`. */
export function stripPort(host: string): string {
  if (host.charCodeAt(0) === 0x5b /* [ */) {
    const close = host.indexOf(']');
    return close < 0 ? host : host.slice(0, close + 1);
  }
  const colon = host.indexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}
