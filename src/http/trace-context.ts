// W3C Trace Context (https://www.w3.org/TR/trace-context/): `traceparent: 00-<trace-id>-<parent-id>-<flags>`.
// A valid incoming trace is continued — same trace id and flags, Fulcrum's own span id as the new parent —
// and a request without one (or with an invalid one, whose `tracestate` is then dropped too, §3.3) starts a
// new trace. The trace id goes into access logs and error bodies beside the request id. Ids come from a fast
// PRNG (not crypto): they must be unique, not secret.
import { Random } from '../core/random.ts';

const rng = new Random();

function hex8(n: number): string {
  const h = n.toString(16);
  return '00000000'.slice(h.length) + h;
}

/** 16 random bytes as 32 lowercase hex digits, never all zero. */
export function newTraceId(): string {
  const id = hex8(rng.nextUint32()) + hex8(rng.nextUint32()) + hex8(rng.nextUint32()) + hex8((rng.nextUint32() | 1) >>> 0);
  return id;
}

/** 8 random bytes as 16 lowercase hex digits, never all zero. */
export function newSpanId(): string {
  return hex8(rng.nextUint32()) + hex8((rng.nextUint32() | 1) >>> 0);
}

const LOWER_HEX = /^[0-9a-f]+$/;

/**
 * The trace id and flags of a valid version-00 traceparent, as `traceId + flags` (34 chars); null when invalid
 * (wrong length or version, upper-case or non-hex digits, an all-zero trace or parent id).
 */
export function parseTraceparent(value: string): string | null {
  if (value.length !== 55 || value.charCodeAt(0) !== 0x30 || value.charCodeAt(1) !== 0x30) return null;
  if (value[2] !== '-' || value[35] !== '-' || value[52] !== '-') return null;
  const traceId = value.slice(3, 35);
  const parentId = value.slice(36, 52);
  const flags = value.slice(53, 55);
  if (!LOWER_HEX.test(traceId) || !LOWER_HEX.test(parentId) || !LOWER_HEX.test(flags)) return null;
  if (traceId === '00000000000000000000000000000000' || parentId === '0000000000000000') return null;
  return traceId + flags;
}
