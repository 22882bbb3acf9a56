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
