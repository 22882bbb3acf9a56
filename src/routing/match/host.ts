// Host conditions: exact names, `*.example.com` wildcards, IPv4 literals and bracketed IPv6 literals. The request
// side is RouteRequest.host(): lowercase, port removed. Exact names go in a Set, wildcards become suffixes
// (".example.com") that match any longer name ending in them — `a.example.com` and `a.b.example.com`, never
// `example.com` itself (as Envoy's virtual host domains and NGINX `server_name *.example.com`).
import { isIPv4, isIPv6 } from 'node:net';
import { isHostname } from '../../core/address.ts';
import type { RouteRequest } from '../request.ts';

/** `api.example.com`, `*.example.com`, an IPv4 address or `[::1]`, lowercased; undefined when none of those. */
export function parseHostPattern(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const host = value.toLowerCase();
  const name = host.startsWith('*.') ? host.slice(2) : host;
  if (isHostname(name)) return host;
  if (name !== host) return undefined;
  if (isIPv4(host)) return host;
  if (host.startsWith('[') && host.endsWith(']') && isIPv6(host.slice(1, -1))) return host;
  return undefined;
}

export interface HostPatterns {
  /** Names and IP literals compared whole. */
  readonly exact: readonly string[];
  /** One per wildcard, with the leading dot: "*.example.com" → ".example.com". */
  readonly suffixes: readonly string[];
}

export function splitHostPatterns(hosts: readonly string[]): HostPatterns {
  const exact: string[] = [];
  const suffixes: string[] = [];
  for (const h of hosts) {
    if (h.startsWith('*.')) suffixes.push(h.slice(1));
    else exact.push(h);
  }
  return { exact, suffixes };
}

/** Whether the wildcard suffix ".example.com" covers `host` (a longer name ending in it). */
export function suffixCovers(suffix: string, host: string): boolean {
  return host.length > suffix.length && host.endsWith(suffix);
}

export function compileHost(hosts: readonly string[]): (req: RouteRequest) => boolean {
  const { exact, suffixes } = splitHostPatterns(hosts);
  if (suffixes.length === 0) {
    if (exact.length === 1) {
      const only = exact[0];
      return (req) => req.host() === only;
    }
    const names = new Set(exact);
    return (req) => names.has(req.host());
  }
  const names = new Set(exact);
  return (req) => {
    const host = req.host();
    if (names.has(host)) return true;
    for (let i = 0; i < suffixes.length; i++) if (suffixCovers(suffixes[i], host)) return true;
    return false;
  };
}
