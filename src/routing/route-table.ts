// A listener's routes compiled once per generation: ordered rules, first match wins. Host patterns are
// exact names or "*.example.com" wildcards (case-insensitive, port ignored); paths match exactly or by
// prefix. Richer conditions (method, header, query, source CIDR) plug in as further predicates.
import type { Pool } from '../upstream/pool.ts';

export interface RouteSpec {
  name: string;
  hosts: readonly string[] | null;
  pathExact: string | null;
  pathPrefix: string | null;
  pool: Pool;
}

export class Route {
  readonly name: string;
  readonly pool: Pool;
  private readonly exactHosts: ReadonlySet<string> | null;
  private readonly wildcardSuffixes: readonly string[] | null;
  private readonly pathExact: string | null;
  private readonly pathPrefix: string | null;

  constructor(spec: RouteSpec) {
    this.name = spec.name;
    this.pool = spec.pool;
    if (spec.hosts === null) {
      this.exactHosts = null;
      this.wildcardSuffixes = null;
    } else {
      const exact = new Set<string>();
      const wild: string[] = [];
      for (const h of spec.hosts) {
        if (h.startsWith('*.')) wild.push(h.slice(1).toLowerCase());
        else exact.add(h.toLowerCase());
      }
      this.exactHosts = exact;
      this.wildcardSuffixes = wild;
    }
    this.pathExact = spec.pathExact;
    this.pathPrefix = spec.pathPrefix;
  }

  get usesHost(): boolean {
    return this.exactHosts !== null;
  }

  get usesPath(): boolean {
    return this.pathExact !== null || this.pathPrefix !== null;
  }

  /** `host` is lowercase without port; `path` excludes the query. */
  matches(host: string, path: string): boolean {
    if (this.exactHosts !== null) {
      if (!this.exactHosts.has(host)) {
        let ok = false;
        for (const suffix of this.wildcardSuffixes!) {
          // "*.example.com" matches "a.example.com" and "a.b.example.com", not "example.com"
          if (host.length > suffix.length && host.endsWith(suffix)) {
            ok = true;
            break;
          }
        }
        if (!ok) return false;
      }
    }
    if (this.pathExact !== null && path !== this.pathExact) return false;
    if (this.pathPrefix !== null && !path.startsWith(this.pathPrefix)) return false;
    return true;
  }
}

export class RouteTable {
  readonly routes: readonly Route[];
  /** Whether any route looks at the host / the path: the exchange decodes them only if so. */
  readonly needsHost: boolean;
  readonly needsPath: boolean;

  constructor(routes: readonly Route[]) {
    this.routes = routes;
    this.needsHost = routes.some((r) => r.usesHost);
    this.needsPath = routes.some((r) => r.usesPath);
  }

  // HOT PATH: a linear scan of compiled predicates; most tables are short.
  match(host: string, path: string): Route | null {
    const routes = this.routes;
    for (let i = 0; i < routes.length; i++) if (routes[i].matches(host, path)) return routes[i];
    return null;
  }
}
