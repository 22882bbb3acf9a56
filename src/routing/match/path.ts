// Path conditions, compared with the path as received (no percent-decoding), query excluded. A prefix matches
// on segment boundaries — `/api` takes `/api`, `/api/` and `/api/x`, never `/apix` (Envoy `path_separated_prefix`,
// not NGINX's plain `location /api`); a prefix ending in "/" takes whatever starts with it.
//
// `pathSegmentKey` feeds the rule table's index: the first segment every matching path must have, or null.
import type { RouteRequest } from '../request.ts';
import { anchoredRegExp, globRegExp, isLiteralGlob } from './pattern.ts';
import type { PathCondition } from './schema.ts';

const matchAll = (_req: RouteRequest): boolean => true;

/** Whether `path` is `prefix` or continues it at a segment boundary. */
export function prefixMatches(prefix: string, path: string): boolean {
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || prefix.charCodeAt(prefix.length - 1) === 47 || path.charCodeAt(prefix.length) === 47;
}

export function compilePath(condition: PathCondition): (req: RouteRequest) => boolean {
  const value = condition.value;
  switch (condition.kind) {
    case 'exact':
      return (req) => req.path() === value;
    case 'prefix':
      if (value === '/') return matchAll;
      return (req) => prefixMatches(value, req.path());
    case 'regex': {
      const re = anchoredRegExp(value);
      return (req) => re.test(req.path());
    }
    case 'glob': {
      if (isLiteralGlob(value)) return (req) => req.path() === value;
      const re = globRegExp(value);
      return (req) => re.test(req.path());
    }
  }
}

/** The first segment of a path (`/api/v1` → "api", `/` → ""), or null when it does not start with "/". */
export function firstSegment(path: string): string | null {
  if (path.charCodeAt(0) !== 47) return null;
  const end = path.indexOf('/', 1);
  return end < 0 ? path.slice(1) : path.slice(1, end);
}

/**
 * The first segment of every path the condition can match, or null when that is not fixed (regex, a glob
 * with a wildcard in its first segment, prefix "/").
 */
export function pathSegmentKey(condition: PathCondition): string | null {
  const value = condition.value;
  switch (condition.kind) {
    case 'exact':
      return firstSegment(value);
    case 'prefix': {
      // "/api" matches "/api" and "/api/…" (segment boundary), "/api/" and "/api/v1" fix "api" too; "/" is open.
      if (value === '/') return null;
      return firstSegment(value);
    }
    case 'glob': {
      const end = value.indexOf('/', 1);
      const segment = end < 0 ? value.slice(1) : value.slice(1, end);
      return isLiteralGlob(segment) ? segment : null;
    }
    case 'regex':
      return null;
  }
}
