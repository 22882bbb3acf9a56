// Reason codes: one set of words shared by reply bodies, access logs, metric labels and FulcrumError.code.
// Expected outcomes (404, 503, …) travel as these codes with prebuilt replies, never as thrown Errors.

export const Reason = {
  badRequest: 'bad_request',
  uriTooLong: 'uri_too_long',
  headersTooLarge: 'headers_too_large',
  notImplemented: 'not_implemented',
  versionNotSupported: 'version_not_supported',
  expectationFailed: 'expectation_failed',
  requestHeaderTimeout: 'request_header_timeout',
  requestTimeout: 'request_timeout',
  noRoute: 'no_route',
  noEligibleEndpoint: 'no_eligible_endpoint',
  upstreamConnectFailed: 'upstream_connect_failed',
  upstreamTimeout: 'upstream_timeout',
  upstreamReset: 'upstream_reset',
  upstreamBadResponse: 'upstream_bad_response',
  /** Every try was answered with a status the retry policy retries, and no try was left. */
  upstreamErrorStatus: 'upstream_error_status',
  queueFull: 'queue_full',
  queueTimeout: 'queue_timeout',
  circuitOpen: 'circuit_open',
  rateLimited: 'rate_limited',
  forbidden: 'forbidden',
  shuttingDown: 'shutting_down',
  /** The client closed its connection before the exchange ended. */
  clientClosed: 'client_closed',
} as const;
export type ReasonCode = (typeof Reason)[keyof typeof Reason];

export class FulcrumError extends Error {
  readonly code: ReasonCode;
  constructor(code: ReasonCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'FulcrumError';
  }
}
