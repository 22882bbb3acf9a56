// The `respond` action: a fixed reply from Fulcrum itself, no upstream — HAProxy `http-request return`, Envoy
// `direct_response`, NGINX `return CODE TEXT`. Compiled once per generation into every variant of the reply
// (with/without body for HEAD × the three Connection header choices), so a request costs one array read.
import { z } from 'zod';
import { checked, integerIn } from '../../core/schema-helpers.ts';
import { describeFound } from '../../core/units.ts';
import { headerMapSchema, protectedHeaders, type HeaderLine } from '../../filters/header-edits.ts';

const reasons: Readonly<Record<number, string>> = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 203: 'Non-Authoritative Information', 204: 'No Content',
  205: 'Reset Content', 206: 'Partial Content',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
  305: 'Use Proxy', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout',
  409: 'Conflict', 410: 'Gone', 411: 'Length Required', 412: 'Precondition Failed', 413: 'Content Too Large',
  414: 'URI Too Long', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable', 417: 'Expectation Failed',
  421: 'Misdirected Request', 422: 'Unprocessable Content', 426: 'Upgrade Required', 428: 'Precondition Required',
  429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Gateway Timeout', 505: 'HTTP Version Not Supported', 511: 'Network Authentication Required',
};

/** The RFC 9110 §15 reason phrase of a status; '' for codes it does not name (the phrase is optional). */
export function reasonPhrase(status: number): string {
  return reasons[status] ?? '';
}

/** How the reply ends the exchange, as the data plane decides it per request. */
export interface ReplyOptions {
  /** Add `connection: close` (and the data plane closes after writing). */
  readonly close: boolean;
  /** A HEAD request: the same head, no body bytes. */
  readonly head: boolean;
  /** An HTTP/1.0 client that asked for keep-alive: add `connection: keep-alive`. */
  readonly keepAlive10: boolean;
}

/** Index of a variant: HEAD × (none | close | keep-alive); `close` wins over `keepAlive10`. */
export function variantIndex(opts: ReplyOptions): number {
  return (opts.head ? 3 : 0) + (opts.close ? 1 : opts.keepAlive10 ? 2 : 0);
}

/** The Connection line of each variant, in `variantIndex` order (modulo 3). */
export const connectionLines = ['', 'connection: close\r\n', 'connection: keep-alive\r\n'] as const;

const fieldValue = /^[\t\x20-\x7e\x80-\xff]*$/;
const headerValueSchema = checked(
  'expected a header value without CR, LF, NUL or other control characters (latin1 text)',
  (v) => (typeof v === 'string' && fieldValue.test(v) ? v : undefined),
);
const respondRefused: ReadonlyMap<string, string> = new Map([
  ...protectedHeaders,
  ['content-type', 'use contentType'],
]);

/** Statuses whose responses carry no content (RFC 9110 §15.3.5, §15.3.6, §15.4.5). */
const noContent = new Set([204, 205, 304]);

export interface RespondConfig {
  readonly status: number;
  readonly headers: readonly HeaderLine[];
  readonly body: string;
  readonly contentType: string | null;
}

export const respondSchema = z
  .strictObject({
    /** Default 200, like HAProxy `http-request return`. */
    status: integerIn(200, 599).prefault(200),
    /** Extra response headers, in order. Default none. */
    headers: headerMapSchema(headerValueSchema, respondRefused).optional(),
    /** UTF-8 text. Default '' (content-length: 0). */
    body: z.string().default(''),
    /** Default `text/plain; charset=utf-8` when there is a body, none otherwise. */
    contentType: checked(
      'expected a media type like "application/json"',
      (v) => (typeof v === 'string' && v !== '' && fieldValue.test(v) ? v : undefined),
    ).optional(),
  })
  .transform((r, ctx): RespondConfig => {
    if (noContent.has(r.status)) {
      for (const key of ['body', 'contentType'] as const) {
        const value = r[key];
        if (value !== undefined && value !== '') {
          const message = `expected no ${key} with status ${r.status} (it carries no content), found ${describeFound(value)}`;
          ctx.issues.push({ code: 'custom', message, input: value, path: [key] });
        }
      }
    }
    const contentType = r.contentType ?? (r.body === '' ? null : 'text/plain; charset=utf-8');
    return { status: r.status, headers: r.headers ?? [], body: r.body, contentType };
  });

/** A compiled fixed reply. */
export class Respond {
  readonly status: number;
  /** In `variantIndex` order. */
  private readonly variants: readonly Buffer[];

  constructor(cfg: RespondConfig) {
    this.status = cfg.status;
    let head = `HTTP/1.1 ${cfg.status} ${reasonPhrase(cfg.status)}\r\n`;
    if (cfg.contentType !== null) head += `content-type: ${cfg.contentType}\r\n`;
    const body = Buffer.from(cfg.body, 'utf8');
    // RFC 9110 §8.6: no Content-Length in a 204; in a 304 it would describe the cached representation.
    if (cfg.status !== 204 && cfg.status !== 304) head += `content-length: ${body.length}\r\n`;
    for (const [name, value] of cfg.headers) head += `${name}: ${value}\r\n`;
    const variants: Buffer[] = [];
    for (const withBody of [true, false]) {
      for (const connection of connectionLines) {
        const headBytes = Buffer.from(`${head}${connection}\r\n`, 'latin1');
        variants.push(withBody && body.length > 0 ? Buffer.concat([headBytes, body]) : headBytes);
      }
    }
    this.variants = variants;
  }

  /** The whole reply as one buffer (shared: do not modify it). */
  reply(opts: ReplyOptions): Buffer {
    return this.variants[variantIndex(opts)];
  }
}

export function compileRespond(cfg: RespondConfig): Respond {
  return new Respond(cfg);
}
