// What a client sees of rate limiting: the 429 Fulcrum answers with, and the header lines an allowed response
// may carry. Fields as draft-ietf-httpapi-ratelimit-headers-10 (§3, §4): `RateLimit-Policy: "name";q=N;w=S`
// (quota N per window of S seconds) and `RateLimit: "name";r=R;t=T` (R units remaining, T seconds until the
// key's state is fresh again), both Structured Field lists (RFC 9651), one item per policy; `Retry-After`
// (RFC 9110 §10.2.3) in whole seconds, rounded up. The body follows http/local-reply.ts: status, reason code,
// policy and request id.
import type { Decision, PolicyInfo, Rate } from './types.ts';

/** The reason code of a rejected request (reply body, x-fulcrum-reason, access log, metric label). */
export const rateLimitedReason = 'rate_limited';

export interface ReplyOptions {
  /** Adds `connection: close`. */
  readonly close: boolean;
  /** A HEAD request: the head only. */
  readonly head: boolean;
  /** An HTTP/1.0 client that asked for keep-alive: adds `connection: keep-alive`. */
  readonly keepAlive10: boolean;
}

/** `ratelimit-policy: "name";q=100;w=60\r\n`, built once per policy. */
export function policyLine(name: string, rate: Rate): string {
  return `ratelimit-policy: "${name}";q=${rate.requests};w=${rate.perMs / 1000}\r\n`;
}

function seconds(ms: number): number {
  return Math.ceil(ms / 1000);
}

/** `ratelimit-policy` and `ratelimit` lines for a decision ('' for `notLimited`). */
export function rateLimitHeaderLines(decision: Decision): string {
  const p = decision.policy;
  if (p === null) return '';
  return `${p.policyLine}ratelimit: "${p.name}";r=${decision.remaining};t=${seconds(decision.resetMs)}\r\n`;
}

/** `name: value\r\n` lines to append to a forwarded response; '' when the policy's `headers` is off. */
export function allowedHeaderLines(decision: Decision): string {
  const p = decision.policy;
  return p === null || !p.headers ? '' : rateLimitHeaderLines(decision);
}

/** The whole 429 as one buffer. Rare by definition, so built when needed. */
export function rejectReply(decision: Decision, requestId: string, opts: ReplyOptions): Buffer {
  const name = decision.policy === null ? '' : decision.policy.name;
  const body = `429 Too Many Requests\nreason: ${rateLimitedReason}\n${name === '' ? '' : `policy: ${name}\n`}request-id: ${requestId}\n`;
  const connection = opts.close ? 'connection: close\r\n' : opts.keepAlive10 ? 'connection: keep-alive\r\n' : '';
  const head =
    `HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\n` +
    `x-fulcrum-reason: ${rateLimitedReason}\r\nretry-after: ${Math.max(1, seconds(decision.retryAfterMs))}\r\n` +
    `${rateLimitHeaderLines(decision)}${connection}\r\n`;
  return Buffer.from(opts.head ? head : head + body, 'latin1');
}
