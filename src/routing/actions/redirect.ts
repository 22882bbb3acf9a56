// The `redirect` action: Fulcrum answers with a 3xx and a Location built from the request with the configured
// parts replaced — NGINX `return 301 https://$host$request_uri`, HAProxy `redirect scheme|location|prefix`,
// Envoy `redirect`, ALB redirect actions. `{ scheme: https }` alone is the HTTP→HTTPS upgrade. Compiled once
// per generation; per request the Location is one concatenation of parts that cannot hold control characters.
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { isHostname } from '../../core/address.ts';
import { checked, integerIn } from '../../core/schema-helpers.ts';
import { compileTemplate, templateSchema, unsafeInUrl, type Getter, type Template } from '../../filters/variables.ts';
import type { RouteRequest } from '../request.ts';
import { connectionLines, reasonPhrase, variantIndex, type ReplyOptions } from './respond.ts';

const getters: Readonly<Record<string, Getter<RouteRequest>>> = {
  client_ip: (req) => req.clientAddress,
  request_id: (req) => req.requestId,
  host: (req) => req.host(),
  method: (req) => req.method,
  path: (req) => req.path(),
  scheme: (req) => req.scheme,
};
/** The variables a redirect's `path` and `query` may use. */
export const redirectVariableNames: readonly string[] = Object.keys(getters);

const statuses = [301, 302, 303, 307, 308] as const;
const statusSchema = checked(`expected a redirect status ${statuses.join(', ')}`, (v) =>
  statuses.includes(v as never) ? (v as number) : undefined,
);

/** `www.example.com`, `10.0.0.1` or `[2001:db8::1]`; lowercased. The port is its own option. */
function parseHost(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const host = value.toLowerCase();
  if (isHostname(host) || isIPv4(host)) return host;
  return host.startsWith('[') && host.endsWith(']') && isIPv6(host.slice(1, -1)) && !host.includes('%') ? host : undefined;
}

// Literal text of the URL parts: visible ASCII; a path has no "?" or "#", a query no "#".
const pathText = /^(?:\/|\$\{path\})[\x21-\x22\x24-\x3e\x40-\x7e]*$/;
const queryText = /^[\x21-\x22\x24-\x3e\x40-\x7e][\x21-\x22\x24-\x7e]*$/;

export const redirectSchema = z
  .strictObject({
    /** Default 302, HAProxy's `redirect` default: browsers cache a 301 with no expiry, so a mistaken rule could
     *  not be taken back by fixing the config; ask for 301/308 once the target is right. (Envoy and ALB default
     *  to 301; 307/308 keep the method and body.) */
    status: statusSchema.prefault(302),
    /** Default: the request's scheme. */
    scheme: z.enum(['http', 'https']).optional(),
    /** Default: the request's host. */
    host: checked('expected a host like "www.example.com" (the port is its own option)', parseHost).optional(),
    /** Default: none when the scheme or host changes, else the port the client used; never the scheme's default. */
    port: integerIn(1, 65535).optional(),
    /** Replaces the path; may use variables. Default: the request's path. */
    path: templateSchema(
      'expected a path starting with "/" or "${path}" (no spaces, "?", "#" or control characters)',
      pathText,
      redirectVariableNames,
    ).optional(),
    /** Drop the request's query. Default false: the query is kept. */
    stripQuery: z.boolean().default(false),
    /** Replaces the query (written without the "?"); may use variables. */
    query: templateSchema(
      'expected a query without the leading "?" like "from=old" (no spaces, "#" or control characters)',
      queryText,
      redirectVariableNames,
    ).optional(),
  })
  .superRefine((r, ctx) => {
    if (r.stripQuery && r.query !== undefined) {
      const message = 'expected either "stripQuery" or "query" (query replaces it), found both';
      ctx.addIssue({ code: 'custom', message, input: r.stripQuery, path: ['stripQuery'] });
    }
  });
export type RedirectConfig = z.output<typeof redirectSchema>;

function defaultPort(scheme: string): number {
  return scheme === 'https' ? 443 : 80;
}

/** `:8080` from the request's Host header when it names a port other than the scheme's default; else ''. */
function requestPort(req: RouteRequest, scheme: string): string {
  const host = req.header('host');
  if (host === null) return '';
  const colon = host.lastIndexOf(':');
  if (colon < 0 || colon < host.lastIndexOf(']')) return '';
  const text = host.slice(colon + 1);
  if (!/^[0-9]{1,5}$/.test(text)) return '';
  const port = Number(text);
  return port === 0 || port > 65535 || port === defaultPort(scheme) ? '' : `:${port}`;
}

export class Redirect {
  readonly status: number;
  private readonly scheme: string | null;
  private readonly host: string | null;
  private readonly port: number | null;
  /** The authority is the request's own (no scheme change, host or port configured): keep its port. */
  private readonly keepsAuthority: boolean;
  private readonly path: Template<RouteRequest> | null;
  private readonly query: Template<RouteRequest> | null;
  private readonly stripQuery: boolean;

  constructor(cfg: RedirectConfig) {
    this.status = cfg.status;
    this.scheme = cfg.scheme ?? null;
    this.host = cfg.host ?? null;
    this.port = cfg.port ?? null;
    this.keepsAuthority = cfg.host === undefined && cfg.port === undefined;
    this.path = cfg.path === undefined ? null : compileTemplate(cfg.path, getters, unsafeInUrl);
    this.query = cfg.query === undefined ? null : compileTemplate(cfg.query, getters, unsafeInUrl);
    this.stripQuery = cfg.stripQuery;
  }

  /**
   * The Location for a request: `scheme://host[:port]/path[?query]`. Without a configured host and without a
   * Host in the request (HTTP/1.0), the relative reference `/path[?query]` (RFC 9110 §10.2.2 allows it).
   */
  location(req: RouteRequest): string {
    const scheme = this.scheme ?? req.scheme;
    let host = this.host ?? req.host();
    if (unsafeInUrl.test(host)) host = '';
    let authority = '';
    if (host !== '') {
      let port = '';
      if (this.port !== null) port = this.port === defaultPort(scheme) ? '' : `:${this.port}`;
      else if (this.keepsAuthority && scheme === req.scheme) port = requestPort(req, scheme);
      authority = `${scheme}://${host}${port}`;
    }
    return authority + this.pathAndQuery(req);
  }

  private pathAndQuery(req: RouteRequest): string {
    if (this.path === null && this.query === null && !this.stripQuery) {
      const target = req.pathAndQuery();
      return target.charCodeAt(0) === 47 /* / */ && !unsafeInUrl.test(target) ? target : '/';
    }
    let path = this.path === null ? req.path() : this.path.expand(req);
    if (path.charCodeAt(0) !== 47 || unsafeInUrl.test(path)) path = '/';
    if (this.query !== null) {
      const query = this.query.expand(req);
      return query === '' ? path : `${path}?${query}`;
    }
    if (this.stripQuery) return path;
    const target = req.pathAndQuery();
    const q = target.indexOf('?');
    return q < 0 || unsafeInUrl.test(target) ? path : path + target.slice(q);
  }

  /** The whole reply for a request. */
  reply(req: RouteRequest, opts: ReplyOptions): Buffer {
    return redirectReply(this.status, this.location(req), req.requestId, opts);
  }
}

export function compileRedirect(cfg: RedirectConfig): Redirect {
  return new Redirect(cfg);
}

/**
 * A redirect as one buffer: status line, `location`, a short text body naming the location and the request id
 * (none for HEAD, with the same content-length), and the Connection line `opts` asks for.
 */
export function redirectReply(status: number, location: string, requestId: string, opts: ReplyOptions): Buffer {
  const text = reasonPhrase(status);
  const body = `${status} ${text}\nlocation: ${location}\nrequest-id: ${requestId}\n`;
  const head =
    `HTTP/1.1 ${status} ${text}\r\nlocation: ${location}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body, 'latin1')}\r\n${connectionLines[variantIndex(opts) % 3]}\r\n`;
  return Buffer.from(opts.head ? head : head + body, 'latin1');
}
