// A route's MatchConfig compiled once per generation into a Matcher: one closure per condition, ordered
// cheapest first (method, host, path, header… before regexes and nested not/any) and joined so a request
// stops at the first condition that fails. Per request: no allocation, each accessor read at most once per
// condition, regexes precompiled.
import { cidrsContain } from '../../core/address.ts';
import type { RouteRequest } from '../request.ts';
import { compileHost } from './host.ts';
import { compilePath } from './path.ts';
import { anchoredRegExp } from './pattern.ts';
import type { MatchConfig, ValueCondition } from './schema.ts';

/** Whether a request satisfies a route's match. */
export type Matcher = (req: RouteRequest) => boolean;

export const matchAll: Matcher = () => true;

/** Relative per-request cost: cheaper conditions run first. */
const cost = {
  method: 1,
  host: 2,
  path: 3,
  header: 4,
  query: 5,
  cookie: 5,
  source: 6,
  regex: 10,
  nested: 20,
} as const;

interface Part {
  readonly cost: number;
  readonly test: Matcher;
}

type Accessor = (req: RouteRequest, name: string) => string | null;
const readHeader: Accessor = (req, name) => req.header(name);
const readQuery: Accessor = (req, name) => req.query(name);
const readCookie: Accessor = (req, name) => req.cookie(name);

function compileValue(read: Accessor, name: string, condition: ValueCondition, base: number): Part {
  switch (condition.kind) {
    case 'exact': {
      const value = condition.value;
      return { cost: base, test: (req) => read(req, name) === value };
    }
    case 'present':
      return { cost: base, test: (req) => read(req, name) !== null };
    case 'absent':
      return { cost: base, test: (req) => read(req, name) === null };
    case 'regex': {
      const re = anchoredRegExp(condition.value);
      return {
        cost: base + cost.regex,
        test: (req) => {
          const value = read(req, name);
          return value !== null && re.test(value);
        },
      };
    }
  }
}

function compileMethod(methods: readonly string[]): Matcher {
  if (methods.length === 1) {
    const only = methods[0];
    return (req) => req.method === only;
  }
  const set = new Set(methods);
  return (req) => set.has(req.method);
}

/** All of `tests` hold; unrolled for the common short cases. */
function allOf(tests: readonly Matcher[]): Matcher {
  switch (tests.length) {
    case 0:
      return matchAll;
    case 1:
      return tests[0];
    case 2: {
      const [a, b] = tests;
      return (req) => a(req) && b(req);
    }
    case 3: {
      const [a, b, c] = tests;
      return (req) => a(req) && b(req) && c(req);
    }
    default:
      return (req) => {
        for (let i = 0; i < tests.length; i++) if (!tests[i](req)) return false;
        return true;
      };
  }
}

function anyOf(tests: readonly Matcher[]): Matcher {
  if (tests.length === 1) return tests[0];
  return (req) => {
    for (let i = 0; i < tests.length; i++) if (tests[i](req)) return true;
    return false;
  };
}

function compileParts(config: MatchConfig): Part[] {
  const parts: Part[] = [];
  if (config.method !== undefined) parts.push({ cost: cost.method, test: compileMethod(config.method) });
  if (config.host !== undefined) parts.push({ cost: cost.host, test: compileHost(config.host) });
  if (config.path !== undefined) {
    const kind = config.path.kind;
    parts.push({ cost: kind === 'regex' || kind === 'glob' ? cost.path + cost.regex : cost.path, test: compilePath(config.path) });
  }
  const maps = [
    [config.headers, readHeader, cost.header],
    [config.query, readQuery, cost.query],
    [config.cookies, readCookie, cost.cookie],
  ] as const;
  for (const [map, read, base] of maps) {
    if (map === undefined) continue;
    for (const [name, condition] of Object.entries(map)) parts.push(compileValue(read, name, condition, base));
  }
  if (config.source !== undefined) {
    const cidrs = config.source;
    parts.push({ cost: cost.source, test: (req) => cidrsContain(cidrs, req.clientAddress) });
  }
  if (config.not !== undefined) {
    const inner = compileMatch(config.not);
    parts.push({ cost: cost.nested, test: (req) => !inner(req) });
  }
  if (config.any !== undefined) parts.push({ cost: cost.nested, test: anyOf(config.any.map(compileMatch)) });
  // Array.prototype.sort is stable: equal costs keep config order.
  return parts.sort((a, b) => a.cost - b.cost);
}

/** HOT PATH (the returned function): called for every candidate route of every request. */
export function compileMatch(config: MatchConfig): Matcher {
  return allOf(compileParts(config).map((p) => p.test));
}
