// Who may call the admin API. Reads (GET, HEAD) from a loopback peer need nothing; every action, and every
// read from another host, needs `Authorization: Bearer <admin.token>` (RFC 6750 §2.1). The token is the
// running generation's, so a reload rotates it. Comparison is constant-time over SHA-256 digests, so
// neither the token's bytes nor its length leak through timing.
import { createHash, timingSafeEqual } from 'node:crypto';
import { cidrsContain, parseCidr, type Cidr } from '../../core/address.ts';

/** 127.0.0.0/8 and ::1; an IPv4-mapped IPv6 peer (::ffff:127.0.0.1) falls in the first. */
const loopback: readonly Cidr[] = [parseCidr('127.0.0.0/8')!, parseCidr('::1/128')!];

/** Whether a peer address (as `socket.remoteAddress` gives it) is this host's loopback. */
export function isLoopback(address: string | undefined): boolean {
  return address !== undefined && cidrsContain(loopback, address);
}

export function isRead(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

export type AuthDecision =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'no_token_configured' | 'missing_token' | 'wrong_token'; readonly error: string };

const cliSources = 'the fulcrum command takes it from --token, FULCRUM_ADMIN_TOKEN, or the admin.token of the file given with --config';
const howToSend = `send it as \`Authorization: Bearer TOKEN\` (${cliSources})`;

/**
 * The auth rule as a pure function of the request's method, its peer address and `Authorization` header,
 * and the configured token (undefined = none configured).
 */
export function authorize(method: string, peer: string | undefined, authorization: string | undefined, token: string | undefined): AuthDecision {
  const read = isRead(method);
  if (read && isLoopback(peer)) return { ok: true };
  const what = read ? 'reads from another host' : 'actions';
  if (token === undefined) {
    return {
      ok: false,
      reason: 'no_token_configured',
      error:
        `${what} need the admin token, and the running config has no admin.token: set admin.token (16 characters or more) ` +
        `in the config, reload it by SIGHUP (\`fulcrum reload --pid PID\`), then ${howToSend}`,
    };
  }
  const presented = bearerToken(authorization);
  if (presented === null) return { ok: false, reason: 'missing_token', error: `${what} need the admin token: ${howToSend}` };
  if (!sameSecret(presented, token)) {
    return { ok: false, reason: 'wrong_token', error: `wrong admin token: send the admin.token of the running config (${cliSources})` };
  }
  return { ok: true };
}

/** The credentials of `Bearer <token>` (scheme case-insensitive), or null. */
export function bearerToken(authorization: string | undefined): string | null {
  if (authorization === undefined) return null;
  const m = /^bearer +(\S+) *$/i.exec(authorization);
  return m === null ? null : m[1];
}

/** Constant time in the content of both strings: equal-length digests through timingSafeEqual. */
function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}
