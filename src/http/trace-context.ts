// W3C Trace Context (https://www.w3.org/TR/trace-context/): `traceparent: 00-<trace-id>-<parent-id>-<flags>`.
// A valid incoming trace is continued — same trace id and flags, Fulcrum's own span id as the new parent —
// and a request without one (or with an invalid one, whose `tracestate` is then dropped too, §3.3) starts a
// new trace. The trace id goes into access logs and error bodies beside the request id. Ids come from a fast
// PRNG (not crypto): they must be unique, not secret.
import { Random } from '../core/random.ts';

const rng = new Random();

/** Two lowercase hex digits per byte value: four lookups make a 32-bit word's eight digits. */
const HEX = Array.from({ length: 256 }, (_, b) => (b < 16 ? '0' : '') + b.toString(16));

// HOT PATH: ids are made for most requests; a table lookup per byte instead of toString(16) and padding.
function hex8(n: number): string {
  return HEX[n >>> 24] + HEX[(n >>> 16) & 255] + HEX[(n >>> 8) & 255] + HEX[n & 255];
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
