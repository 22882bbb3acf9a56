// A RouteRequest built from plain values, for unit tests of matchers, splits, redirects and edits (the data
// plane's own implementation reads the parsed head; integration tests cover it over real sockets).
import type { RouteRequest } from '../../src/routing/request.ts';

export interface RouteRequestInit {
  method?: string;
  /** Host header value; the port is stripped and the name lowercased, as the data plane does. */
  host?: string;
  /** Path and query as sent, default "/". */
  target?: string;
  /** Header lines in order; names are compared without case. */
  headers?: ReadonlyArray<readonly [string, string]>;
  clientAddress?: string;
  scheme?: string;
  requestId?: string;
  listenerPort?: number;
}

export function routeRequest(init: RouteRequestInit = {}): RouteRequest {
  const target = init.target ?? '/';
  const headers = (init.headers ?? []).map(([n, v]) => [n.toLowerCase(), v] as const);
  const rawHost = init.host ?? '';
  const host = (rawHost.startsWith('[') ? rawHost.slice(0, rawHost.indexOf(']') + 1) : rawHost.split(':')[0]).toLowerCase();
  return {
    method: init.method ?? 'GET',
    scheme: init.scheme ?? 'http',
    requestId: init.requestId ?? 'req-1',
    listenerPort: init.listenerPort ?? 8080,
    clientAddress: init.clientAddress ?? '127.0.0.1',
    host: () => host,
    pathAndQuery: () => target,
    path: () => {
      const q = target.indexOf('?');
      return q < 0 ? target : target.slice(0, q);
    },
    header: (name) => headers.find(([n]) => n === name)?.[1] ?? null,
    cookie: (name) => {
      for (const [n, v] of headers) {
        if (n !== 'cookie') continue;
        for (const pair of v.split(';')) {
          const eq = pair.indexOf('=');
          if (eq >= 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
        }
      }
      return null;
    },
    query: (name) => {
      const q = target.indexOf('?');
      if (q < 0) return null;
      for (const part of target.slice(q + 1).split('&')) {
        const eq = part.indexOf('=');
        if ((eq < 0 ? part : part.slice(0, eq)) === name) return eq < 0 ? '' : part.slice(eq + 1);
      }
      return null;
    },
  };
}
