// SNI routing for tls-passthrough listeners: exact names and `*.example.com` wildcards, case-insensitive, the
// first route in file order that matches wins; no server name, or no match, takes the default (if any).
// Compiled per generation into two maps (exact name → route index, wildcard suffix → route index), so a
// lookup is one map read plus one per label of the name. A wildcard matches one or more labels before its
// suffix (`*.example.com` takes `a.example.com` and `a.b.example.com`, not `example.com`), as Envoy's
// `server_names` and HAProxy's `req.ssl_sni -m end .example.com` do.

export interface SniRoute<T> {
  /** Names as configured: `api.example.com` or `*.example.com` (any case; a trailing dot is ignored). */
  readonly sni: readonly string[];
  readonly target: T;
}

export class SniRoutes<T> {
  private readonly exact: Map<string, number>;
  /** `*.example.com` is kept as `.example.com`. */
  private readonly wildcard: Map<string, number>;
  private readonly targets: readonly T[];
  /** No server name, or none matched; null: the connection is closed (`no_route`). */
  readonly defaultTarget: T | null;

  constructor(routes: readonly SniRoute<T>[], defaultTarget: T | null) {
    this.exact = new Map();
    this.wildcard = new Map();
    this.targets = routes.map((r) => r.target);
    this.defaultTarget = defaultTarget;
    routes.forEach((route, index) => {
      for (const raw of route.sni) {
        const name = normalize(raw);
        const map = name.startsWith('*.') ? this.wildcard : this.exact;
        const key = name.startsWith('*.') ? name.slice(1) : name;
        if (!map.has(key)) map.set(key, index); // an earlier route keeps the name
      }
    });
  }

  /** The target for a server name (already lowercase from the ClientHello parser, but not required). */
  match(sni: string | null): T | null {
    if (sni === null || sni === '') return this.defaultTarget;
    const name = normalize(sni);
    let best = this.exact.get(name) ?? Infinity;
    if (this.wildcard.size > 0) {
      for (let dot = name.indexOf('.', 1); dot > 0; dot = name.indexOf('.', dot + 1)) {
        const index = this.wildcard.get(name.slice(dot));
        if (index !== undefined && index < best) best = index;
      }
    }
    return best === Infinity ? this.defaultTarget : this.targets[best];
  }
}

function normalize(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}
