// The shape every admin resource file exports: routes (a path pattern and a handler per method) that take
// the decoded path parameters and the parsed JSON body and return a reply (JSON, text, or a stream). server.ts
// does the HTTP part: auth, body limits, 404/405, writing the reply.

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface AdminRequest {
  /** Path parameters, percent-decoded, in the order of the pattern's groups. */
  readonly params: readonly string[];
  /** The parsed JSON body; undefined when the request had none. */
  readonly body: unknown;
}

export interface Reply {
  readonly status: number;
  /** Sent as JSON, unless `text` or `stream` is given. */
  readonly body?: unknown;
  /** A non-JSON body (the Prometheus text format, the dashboard's assets) with its content type. */
  readonly text?: string;
  readonly contentType?: string;
  /** Response headers besides content-type, content-length and cache-control (e.g. content-security-policy). */
  readonly headers?: Readonly<Record<string, string>>;
  /** A long-lived body (the dashboard's event stream): called once the head is sent, with the connection. */
  readonly stream?: (sink: StreamSink) => void;
}

/** The write side of a streamed reply. */
export interface StreamSink {
  /** Queues text; returns false when the socket's buffer is full (see `bufferedBytes`). */
  write(text: string): boolean;
  /** Bytes queued and not yet sent. */
  readonly bufferedBytes: number;
  /** Ends the reply. */
  end(): void;
  /** Called once when the connection closes, by either side. */
  onClose(fn: () => void): void;
}

export type Handler = (req: AdminRequest) => Reply | Promise<Reply>;

export interface AdminRoute {
  /** How the route is listed in a 404 reply and the docs, e.g. `/pools/POOL`. */
  readonly path: string;
  /** Anchored; each capture group is one path parameter (percent-encoded as received). */
  readonly pattern: RegExp;
  readonly methods: Partial<Record<Method, Handler>>;
}

export function ok(body: object): Reply {
  return { status: 200, body: { ok: true, ...body } };
}

export function fail(status: number, ...errors: string[]): Reply {
  return { status, body: { ok: false, errors } };
}
