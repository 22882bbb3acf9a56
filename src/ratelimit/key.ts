// The key a policy counts by, compiled once per generation: the client address (after trusted proxies), the
// route (one bucket for everyone), a header or a cookie, or several of these joined (a combined key). A request
// without a part — header or cookie absent or empty — yields null and is not limited by that policy, as Envoy
// drops a rate-limit descriptor it cannot fill.
import type { RouteRequest } from '../routing/request.ts';
import type { KeyPart } from './schema.ts';

export type KeyExtractor = (req: RouteRequest) => string | null;

/** Joins the parts of a combined key; no part can contain it (field values and addresses have no LF). */
const separator = '\n';

function part(spec: KeyPart, routeName: string): KeyExtractor {
  if (spec === 'client-ip') return (req) => req.clientAddress;
  if (spec === 'route') return () => routeName;
  if ('header' in spec) {
    const name = spec.header;
    return (req) => req.header(name) || null;
  }
  const name = spec.cookie;
  return (req) => req.cookie(name) || null;
}

export function compileKey(parts: readonly KeyPart[], routeName: string): KeyExtractor {
  if (parts.length === 1) return part(parts[0], routeName);
  const extractors = parts.map((p) => part(p, routeName));
  return (req) => {
    let key = '';
    for (let i = 0; i < extractors.length; i++) {
      const value = extractors[i](req);
      if (value === null) return null;
      key = i === 0 ? value : key + separator + value;
    }
    return key;
  };
}
