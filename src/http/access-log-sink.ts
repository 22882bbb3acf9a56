// What the data plane hands to an access log: one reused entry per exchange, filled when the exchange ends
// and given to the listener's sink synchronously (the sink serializes or drops it before returning, so the
// entry can be reused). The sink itself lives in observability/access-log.ts and is off the hot path: it
// buffers and writes asynchronously; the data plane only fills fields.

export interface AccessLogEntry {
  /** Date.now() at the end of the exchange. */
  time: number;
  requestId: string;
  traceId: string;
  clientAddress: string;
  listener: string;
  route: string;
  pool: string;
  endpoint: string;
  method: string;
  host: string;
  /** Without the query (it may carry secrets). */
  path: string;
  /** 0 when the client connection was closed before a status was sent. */
  status: number;
  /** Client bytes read and written during the exchange (heads included). */
  bytesIn: number;
  bytesOut: number;
  /** Last try: from its start to a connection ready (queue wait included); -1 when no try was made. */
  connectMs: number;
  /** From the request head to the response head; -1 when none came. */
  ttfbMs: number;
  totalMs: number;
  /** Tries beyond the first. */
  retries: number;
  /** A reason code when Fulcrum answered or closed the exchange itself; '' for a forwarded response. */
  reason: string;
  /** Only filled for the combined format. */
  referer: string;
  userAgent: string;
}

export interface AccessLogSink {
  /** Whether entries need `referer` and `userAgent` (combined format). */
  readonly wantsAgent: boolean;
  /** Whether this exchange is logged (sampling); decided when it starts, so unlogged ones cost nothing more. */
  sample(): boolean;
  record(entry: AccessLogEntry): void;
}

export function emptyEntry(): AccessLogEntry {
  return {
    time: 0, requestId: '', traceId: '', clientAddress: '', listener: '', route: '', pool: '', endpoint: '', method: '',
    host: '', path: '', status: 0, bytesIn: 0, bytesOut: 0, connectMs: -1, ttfbMs: -1, totalMs: 0, retries: 0,
    reason: '', referer: '', userAgent: '',
  };
}
