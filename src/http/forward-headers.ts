// X-Forwarded-For/-Proto/-Host, RFC 7239 Forwarded and Via for the upstream request. From an untrusted
// peer the incoming values are dropped and replaced (a client must not choose the address a backend
// sees); from a trusted proxy they are kept and extended, and the client address is the right-most
// address in X-Forwarded-For that is not itself a trusted proxy (the usual "trusted hops" rule).
import type { PickContext } from '../upstream/balancing/types.ts';
import type { Fields } from './parse/head.ts';
import { H } from './parse/header-ids.ts';
import '../core/latin1.ts';

/** What the forwarding headers need to know about the client connection. */
export interface Peer {
  readonly peerAddress: string;
  /** "x-forwarded-for: ADDR\r\nx-forwarded-proto: http\r\n", made once per connection. */
  readonly forwardedPrefix: string;
  /** The RFC 7239 node for the peer: `1.2.3.4` or `"[::1]"`. */
  readonly forwardedNode: string;
  /** `http` or `https`: the scheme the client used. */
  readonly proto: string;
  readonly isTrusted: ((ip: string) => boolean) | null;
}

const VIA = 'via: 1.1 fulcrum\r\n';

// HOT PATH (untrusted peer): two string concatenations; nothing is decoded from the request.
export function forwardedSuffix(src: Buffer, f: Fields, peer: Peer, trusted: boolean, host: string, ctx: PickContext): string {
  if (!trusted) {
    ctx.clientAddress = peer.peerAddress;
    if (host === '') return peer.forwardedPrefix + 'forwarded: for=' + peer.forwardedNode + ';proto=' + peer.proto + '\r\n' + VIA;
    return (
      peer.forwardedPrefix +
      'x-forwarded-host: ' + host + '\r\nforwarded: for=' + peer.forwardedNode + ';host="' + host + '";proto=' + peer.proto + '\r\n' + VIA
    );
  }
  let xff = '';
  let forwarded = '';
  for (let i = 0; i < f.count; i++) {
    const id = f.ids[i];
    if (id === H.xForwardedFor) xff += (xff === '' ? '' : ', ') + src.latin1Slice(f.valueStart[i], f.valueEnd[i]);
    else if (id === H.forwarded) forwarded += (forwarded === '' ? '' : ', ') + src.latin1Slice(f.valueStart[i], f.valueEnd[i]);
  }
  ctx.clientAddress = clientFromChain(xff, peer);
  let out = 'x-forwarded-for: ' + (xff === '' ? '' : xff + ', ') + peer.peerAddress + '\r\n';
  if (f.find(H.xForwardedProto) < 0) out += 'x-forwarded-proto: ' + peer.proto + '\r\n';
  if (f.find(H.xForwardedHost) < 0 && host !== '') out += 'x-forwarded-host: ' + host + '\r\n';
  out += 'forwarded: ' + (forwarded === '' ? '' : forwarded + ', ') + 'for=' + peer.forwardedNode + (host === '' ? '' : ';host="' + host + '"') + ';proto=' + peer.proto + '\r\n';
  return out + VIA;
}

/** Walks X-Forwarded-For from the right, skipping trusted proxies; the first other address is the client. */
function clientFromChain(xff: string, peer: Peer): string {
  const trusted = peer.isTrusted!;
  const hops = xff.split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i].trim();
    if (hop === '') continue;
    if (!trusted(hop)) return hop;
  }
  return peer.peerAddress;
}

/** The per-connection parts, computed once when a client connects. */
export function peerParts(address: string, proto: string): { forwardedPrefix: string; forwardedNode: string } {
  const v6 = address.includes(':');
  return {
    forwardedPrefix: 'x-forwarded-for: ' + address + '\r\nx-forwarded-proto: ' + proto + '\r\n',
    forwardedNode: v6 ? '"[' + address + ']"' : address,
  };
}
