// gRPC over HTTP/2 as a proxy sees it (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md): calls
// are recognised by their content-type, `grpc-timeout` bounds the upstream wait, and answers made here are
// trailers-only gRPC errors (HTTP 200 with `grpc-status`), because gRPC clients read the status from there,
// not from the HTTP status.
import type { OutgoingHttpHeaders } from 'node:http2';
import { Reason, type ReasonCode } from '../core/errors.ts';

/** `application/grpc`, `application/grpc+proto`, `application/grpc-web…` excluded (that is HTTP/1.1 framing). */
export function isGrpc(contentType: string | null): boolean {
  if (contentType === null || contentType.length < 16) return false;
  const head = contentType.slice(0, 16).toLowerCase();
  if (head !== 'application/grpc') return false;
  const next = contentType.length === 16 ? '' : contentType[16];
  return next === '' || next === '+' || next === ';';
}

const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** `grpc-timeout` (TimeoutValue: 1–8 digits, then H M S m u n) in milliseconds, rounded up; -1 when malformed. */
export function parseGrpcTimeout(value: string): number {
  const n = value.length;
  if (n < 2 || n > 9) return -1;
  const unit = UNIT_MS[value[n - 1]];
  if (unit === undefined) return -1;
  let digits = 0;
  for (let i = 0; i < n - 1; i++) {
    const c = value.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    digits = digits * 10 + c;
  }
  return Math.ceil(digits * unit);
}

/** gRPC status codes used here. */
export const GrpcStatus = { ok: 0, unknown: 2, deadlineExceeded: 4, permissionDenied: 7, resourceExhausted: 8, unimplemented: 12, internal: 13, unavailable: 14, unauthenticated: 16 } as const;

/** The gRPC status for a local answer: the spec's HTTP-to-gRPC mapping (doc/http-grpc-status-mapping.md),
 *  except that timeouts are DEADLINE_EXCEEDED (the call's deadline, as Envoy reports it) and rate limits
 *  RESOURCE_EXHAUSTED. */
export function grpcStatusFor(httpStatus: number, reason: ReasonCode): number {
  if (reason === Reason.upstreamTimeout || reason === Reason.requestTimeout) return GrpcStatus.deadlineExceeded;
  if (httpStatus === 429) return GrpcStatus.resourceExhausted;
  switch (httpStatus) {
    case 400:
      return GrpcStatus.internal;
    case 401:
      return GrpcStatus.unauthenticated;
    case 403:
      return GrpcStatus.permissionDenied;
    case 404:
      return GrpcStatus.unimplemented;
    case 502:
    case 503:
    case 504:
      return GrpcStatus.unavailable;
    default:
      return GrpcStatus.unknown;
  }
}

/** A trailers-only gRPC answer: one HEADERS frame with END_STREAM. `grpc-message` is percent-encoded (spec). */
export function grpcReplyHeaders(httpStatus: number, reason: ReasonCode, requestId: string, requestIdHeader: string): OutgoingHttpHeaders {
  return {
    ':status': 200,
    'content-type': 'application/grpc',
    'grpc-status': String(grpcStatusFor(httpStatus, reason)),
    'grpc-message': encodeURIComponent(`fulcrum: ${reason} (HTTP ${httpStatus})`),
    [requestIdHeader]: requestId,
  };
}
