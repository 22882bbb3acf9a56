// Balancing keys: what a hash-based balancer hashes — the client address, the path (with or without the
// query), a header, a cookie or a query parameter. The data plane implements `KeyRequest` over the parsed
// request; the key is hashed once per exchange (PickContext.hash) and reused by retries.
import { z } from 'zod';

/** What a key extractor may ask of a request. Decoding happens only for what is asked. */
export interface KeyRequest {
  /** After trusted-proxy resolution. */
  readonly clientAddress: string;
  /** The path without the query. */
  path(): string;
  /** The request target as sent (origin-form): path and query. */
  pathAndQuery(): string;
  /** The first value of a header, by lowercase name; null when absent. */
  header(name: string): string | null;
  /** A cookie's value from the Cookie header(s); null when absent. */
  cookie(name: string): string | null;
  /** A query parameter's raw (undecoded) value; null when absent. */
  query(name: string): string | null;
}

const headerName = z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'expected an HTTP header name').transform((s) => s.toLowerCase());

/**
 * `client-ip` (default, HAProxy `balance source`), `path` (`balance uri`), `path-query` (`balance uri whole`),
 * `{ header: NAME }` (`balance hdr(NAME)`), `{ cookie: NAME }`, `{ query: NAME }` (`balance url_param`).
 */
export const keySchema = z
  .union([
    z.literal('client-ip'),
    z.literal('path'),
    z.literal('path-query'),
    z.strictObject({ header: headerName }),
    z.strictObject({ cookie: z.string().min(1) }),
    z.strictObject({ query: z.string().min(1) }),
  ])
  .default('client-ip');
export type KeySpec = z.output<typeof keySchema>;

export type KeyExtractor = (req: KeyRequest) => string | null;

/** Compiles a key spec once per generation into a function called once per exchange. */
export function compileKey(spec: KeySpec): KeyExtractor {
  if (spec === 'client-ip') return (req) => req.clientAddress;
  if (spec === 'path') return (req) => req.path();
  if (spec === 'path-query') return (req) => req.pathAndQuery();
  if ('header' in spec) {
    const name = spec.header;
    return (req) => req.header(name);
  }
  if ('cookie' in spec) {
    const name = spec.cookie;
    return (req) => req.cookie(name);
  }
  const name = spec.query;
  return (req) => req.query(name);
}
