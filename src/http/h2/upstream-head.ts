// A request head for an HTTP/2 upstream (pools with `protocol: h2`), from the HTTP/1.1 head text the exchange
// built anyway (request line, Host, the forwarded fields, framing, forwarding, edits): the request line and Host
// become `:method`, `:path` and `:authority` (RFC 9113 §8.3.1), connection-specific fields and
// transfer-encoding are left out (§8.2.2), and `te: trailers` — the only TE value HTTP/2 allows, which gRPC
// servers require — is kept when the client sent it.
import type { OutgoingHttpHeaders } from 'node:http2';
import { addLines } from './reply.ts';

export function h2RequestHead(head: string, scheme: 'http' | 'https', te: string | null): OutgoingHttpHeaders {
  const lineEnd = head.indexOf('\r\n');
  const sp1 = head.indexOf(' ');
  const sp2 = head.lastIndexOf(' ', lineEnd);
  const out: OutgoingHttpHeaders = { ':method': head.slice(0, sp1), ':scheme': scheme, ':path': head.slice(sp1 + 1, sp2) };
  // the Host line follows the request line
  const hostEnd = head.indexOf('\r\n', lineEnd + 2);
  out[':authority'] = head.slice(lineEnd + 2 + 'host: '.length, hostEnd);
  addLines(out, head.slice(hostEnd + 2));
  if (te !== null && hasTrailers(te)) out.te = 'trailers';
  return out;
}

function hasTrailers(te: string): boolean {
  for (const part of te.split(',')) {
    const semi = part.indexOf(';');
    if ((semi < 0 ? part : part.slice(0, semi)).trim().toLowerCase() === 'trailers') return true;
  }
  return false;
}
