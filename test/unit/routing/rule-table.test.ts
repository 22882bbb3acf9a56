// The rule table: first match by priority (higher first), then file order; null when nothing matches. The
// property test (fixed seed) checks the indexed lookup against a linear scan that interprets each match by
// hand, over random rule sets (exact and wildcard hosts, hosts inside not/any, keyed and open paths, headers)
// and random requests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cidrsContain } from '../../../src/core/address.ts';
import { matchSchema, type MatchConfig, type ValueCondition } from '../../../src/routing/match/schema.ts';
import type { RouteRequest } from '../../../src/routing/request.ts';
import { RuleTable, type Rule } from '../../../src/routing/rule-table.ts';
import { routeRequest, type RouteRequestInit } from '../../helpers/route-request.ts';

function rule<T>(value: T, match: unknown, priority = 0): Rule<T> {
  return { priority, match: matchSchema.parse(match), value };
}

describe('RuleTable', () => {
  it('returns the first matching rule in file order', () => {
    const table = new RuleTable([
      rule('api', { path: { prefix: '/api' } }),
      rule('api-v2', { path: { prefix: '/api/v2' } }),
      rule('all', {}),
    ]);
    assert.equal(table.match(routeRequest({ target: '/api/v2/x' })), 'api');
    assert.equal(table.match(routeRequest({ target: '/other' })), 'all');
  });

  it('puts higher priorities first, keeping file order among equals', () => {
    const table = new RuleTable([
      rule('a', { path: { prefix: '/' } }, 0),
      rule('b', { path: { prefix: '/api' } }, 10),
      rule('c', { path: { prefix: '/api' } }, 10),
      rule('d', { host: 'x.com' }, -1),
    ]);
    assert.deepEqual(table.rules, ['b', 'c', 'a', 'd']);
    assert.equal(table.size, 4);
    assert.equal(table.match(routeRequest({ target: '/api/1' })), 'b');
    assert.equal(table.match(routeRequest({ target: '/web' })), 'a');
    assert.equal(table.match(routeRequest({ host: 'x.com', target: '/web' })), 'a');
  });

  it('returns null when nothing matches (the 404 default)', () => {
    const table = new RuleTable([rule('a', { host: 'a.com' }), rule('b', { path: { exact: '/b' } })]);
    assert.equal(table.match(routeRequest({ host: 'c.com', target: '/c' })), null);
    assert.equal(new RuleTable([]).match(routeRequest()), null);
    assert.equal(new RuleTable([]).size, 0);
  });

  it('interleaves host rules with host-less rules in order', () => {
    const table = new RuleTable([
      rule('canary', { headers: { 'x-canary': 'true' } }),
      rule('a', { host: 'a.com' }),
      rule('wild', { host: '*.a.com' }),
      rule('fallback', {}),
    ]);
    assert.equal(table.match(routeRequest({ host: 'a.com', headers: [['x-canary', 'true']] })), 'canary');
    assert.equal(table.match(routeRequest({ host: 'a.com' })), 'a');
    assert.equal(table.match(routeRequest({ host: 'b.a.com' })), 'wild');
    assert.equal(table.match(routeRequest({ host: 'c.b.a.com' })), 'wild');
    assert.equal(table.match(routeRequest({ host: 'b.com' })), 'fallback');
  });

  it('takes the more specific wildcard only when it comes first', () => {
    const table = new RuleTable([rule('deep', { host: '*.b.example.com' }), rule('shallow', { host: '*.example.com' }), rule('exact', { host: 'x.b.example.com' })]);
    assert.equal(table.match(routeRequest({ host: 'x.b.example.com' })), 'deep');
    assert.equal(table.match(routeRequest({ host: 'y.b.example.com' })), 'deep');
    assert.equal(table.match(routeRequest({ host: 'b.example.com' })), 'shallow');
    assert.equal(table.match(routeRequest({ host: 'example.com' })), null);
    const reversed = new RuleTable([rule('shallow', { host: '*.example.com' }), rule('deep', { host: '*.b.example.com' })]);
    assert.equal(reversed.match(routeRequest({ host: 'y.b.example.com' })), 'shallow');
  });

  it('treats a host inside not/any as a condition, not an index key', () => {
    const table = new RuleTable([
      rule('not-a', { not: { host: 'a.com' }, path: { prefix: '/x' } }),
      rule('any', { any: [{ host: 'b.com' }, { host: '*.c.com' }] }),
      rule('a', { host: 'a.com' }),
    ]);
    assert.equal(table.match(routeRequest({ host: 'z.com', target: '/x' })), 'not-a');
    assert.equal(table.match(routeRequest({ host: 'a.com', target: '/x' })), 'a');
    assert.equal(table.match(routeRequest({ host: 'b.com', target: '/x' })), 'not-a');
    assert.equal(table.match(routeRequest({ host: 'b.com', target: '/y' })), 'any');
    assert.equal(table.match(routeRequest({ host: 'q.c.com', target: '/y' })), 'any');
  });

  it('finds rules in big single-host tables indexed by first path segment', () => {
    const rules = Array.from({ length: 200 }, (_, i) => rule(`r${i}`, { host: 'api.example.com', path: { prefix: `/s${i}` } }));
    rules.splice(100, 0, rule('open', { host: 'api.example.com', path: { regex: '/s1[0-9]/special' } }));
    rules.push(rule('root', { path: { exact: '/' } }), rule('glob', { path: { glob: '/s1*/deep/**' } }));
    const table = new RuleTable(rules);
    const at = (target: string, host = 'api.example.com') => table.match(routeRequest({ host, target }));
    assert.equal(at('/s0'), 'r0');
    assert.equal(at('/s199/x'), 'r199');
    assert.equal(at('/s150/special'), 'r150');
    assert.equal(at('/s10/special'), 'r10');
    assert.equal(at('/s1000/special'), null);
    assert.equal(at('/s10x/special'), null);
    assert.equal(at('/s1a/special'), null);
    assert.equal(at('/s1z/deep/a/b'), 'glob');
    assert.equal(at('/s12/special', 'other.com'), null);
    assert.equal(at('/', 'other.com'), 'root');
    assert.equal(at('/'), 'root');
  });

  it('rejects a priority that is not a finite number', () => {
    assert.throws(() => new RuleTable([{ priority: Number.NaN, match: {}, value: 1 }]), /finite number/);
  });
});

// ---- property: the index finds exactly what a linear scan finds --------------------------------------------------

/** A by-hand reading of MatchConfig, independent of compile.ts. */
function holds(m: MatchConfig, req: RouteRequest): boolean {
  if (m.host !== undefined) {
    const host = req.host();
    const ok = m.host.some((p) => (p.startsWith('*.') ? host.endsWith(p.slice(1)) && host.length > p.length - 1 : host === p));
    if (!ok) return false;
  }
  if (m.path !== undefined) {
    const path = req.path();
    const v = m.path.value;
    let ok: boolean;
    if (m.path.kind === 'exact') ok = path === v;
    else if (m.path.kind === 'prefix') ok = v === '/' || (v.endsWith('/') ? path.startsWith(v) : path === v || path.startsWith(`${v}/`));
    else if (m.path.kind === 'regex') ok = new RegExp(`^(?:${v})$`).test(path);
    else {
      const source = v
        .split(/(\*\*|\*|\?)/)
        .map((t) => (t === '**' ? '.*' : t === '*' ? '[^/]*' : t === '?' ? '[^/]' : t.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join('');
      ok = new RegExp(`^${source}$`).test(path);
    }
    if (!ok) return false;
  }
  if (m.method !== undefined && !m.method.includes(req.method)) return false;
  const value = (c: ValueCondition, v: string | null) =>
    c.kind === 'present' ? v !== null : c.kind === 'absent' ? v === null : c.kind === 'exact' ? v === c.value : v !== null && new RegExp(`^(?:${c.value})$`).test(v);
  for (const [n, c] of Object.entries(m.headers ?? {})) if (!value(c, req.header(n))) return false;
  for (const [n, c] of Object.entries(m.query ?? {})) if (!value(c, req.query(n))) return false;
  for (const [n, c] of Object.entries(m.cookies ?? {})) if (!value(c, req.cookie(n))) return false;
  if (m.source !== undefined && !cidrsContain(m.source, req.clientAddress)) return false;
  if (m.not !== undefined && holds(m.not, req)) return false;
  if (m.any !== undefined && !m.any.some((inner) => holds(inner, req))) return false;
  return true;
}

function linearScan<T>(rules: readonly Rule<T>[], req: RouteRequest): T | null {
  const ordered = rules.map((r, i) => ({ r, i })).sort((a, b) => b.r.priority - a.r.priority || a.i - b.i);
  for (const { r } of ordered) if (holds(r.match, req)) return r.value;
  return null;
}

const hosts = ['a.com', 'b.com', 'x.a.com', 'y.x.a.com', 'api.example.com', 'example.com', '10.0.0.1', '[::1]'];
const wildcards = ['*.a.com', '*.x.a.com', '*.example.com', '*.com'];
const requestHosts = [...hosts, '.a.com', 'z.a.com', 'q.y.x.a.com', 'w.example.com', 'other.org', 'com', ''];
const segments = ['api', 'static', 'v1', 's1', 's2', ''];
const requestPaths = ['/', '/api', '/api/', '/api/v1', '/apix', '/static/app.css', '/static/a/b.css', '/v1/users/42', '/s1', '/s1/x', '/s2/y/z', '/s10', '*'];

const hostArb = fc.oneof(fc.constantFrom(...hosts), fc.constantFrom(...wildcards));
const pathArb = fc.oneof(
  fc.record({ prefix: fc.constantFrom('/', ...segments.map((s) => `/${s}`), '/api/', '/api/v1', '/static/') }),
  fc.record({ exact: fc.constantFrom(...requestPaths.filter((p) => p.startsWith('/'))) }),
  fc.record({ glob: fc.constantFrom('/static/*.css', '/static/**.css', '/s?/**', '/v1/*/42', '/*/x') }),
  fc.record({ regex: fc.constantFrom('/api(/.*)?', '/s[0-9]+.*', '/') }),
);
const headerArb = fc.dictionary(
  fc.constantFrom('x-canary', 'x-env'),
  fc.oneof(fc.constantFrom('true', 'dev'), fc.constant({ regex: 'dev|qa' }), fc.constant({ present: true }), fc.constant({ absent: true })),
  { maxKeys: 2 },
);
const leafArb = fc.record(
  {
    host: fc.oneof(hostArb, fc.array(hostArb, { minLength: 1, maxLength: 3 })),
    path: pathArb,
    method: fc.constantFrom('GET', ['GET', 'HEAD'], 'POST'),
    headers: headerArb,
    source: fc.constantFrom('10.0.0.0/8', '2001:db8::/32'),
  },
  { requiredKeys: [] },
);
const matchArb = fc.oneof(
  { weight: 6, arbitrary: leafArb },
  { weight: 1, arbitrary: fc.record({ not: leafArb }) },
  { weight: 1, arbitrary: fc.tuple(leafArb, fc.array(leafArb, { minLength: 1, maxLength: 3 })).map(([m, any]) => ({ ...m, any })) },
);
const rulesArb = fc.array(fc.record({ priority: fc.constantFrom(0, 0, 0, 1, 5), match: matchArb }), { maxLength: 60 });
const requestArb = fc.record({
  host: fc.constantFrom(...requestHosts),
  target: fc.constantFrom(...requestPaths),
  method: fc.constantFrom('GET', 'HEAD', 'POST'),
  headers: fc.subarray([['x-canary', 'true'] as const, ['x-env', 'dev'] as const, ['x-env', 'qa'] as const], { maxLength: 2 }),
  clientAddress: fc.constantFrom('10.1.2.3', '192.0.2.1', '2001:db8::1', '::1'),
});

describe('RuleTable (property)', () => {
  it('finds exactly what a linear scan in priority and file order finds', () => {
    fc.assert(
      fc.property(rulesArb, fc.array(requestArb, { minLength: 1, maxLength: 20 }), (raw, requests) => {
        const rules = raw.map((r, i): Rule<number> => ({ priority: r.priority, match: matchSchema.parse(r.match), value: i }));
        const table = new RuleTable(rules);
        for (const init of requests) {
          const req = routeRequest(init as RouteRequestInit);
          assert.equal(table.match(req), linearScan(rules, req), `request ${JSON.stringify(init)}`);
        }
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('finds exactly what a linear scan finds in tables big enough for the path index', () => {
    // Few hosts, many rules: buckets pass the size at which they are indexed by first path segment.
    const bigRules = fc.array(
      fc.record({
        priority: fc.constantFrom(0, 0, 1),
        match: fc.record({ host: fc.constantFrom('a.com', '*.a.com', 'b.com'), path: pathArb, headers: headerArb }, { requiredKeys: ['path'] }),
      }),
      { minLength: 20, maxLength: 120 },
    );
    fc.assert(
      fc.property(bigRules, fc.array(requestArb, { minLength: 1, maxLength: 30 }), (raw, requests) => {
        const rules = raw.map((r, i): Rule<number> => ({ priority: r.priority, match: matchSchema.parse(r.match), value: i }));
        const table = new RuleTable(rules);
        for (const init of requests) {
          const req = routeRequest(init as RouteRequestInit);
          assert.equal(table.match(req), linearScan(rules, req), `request ${JSON.stringify(init)}`);
        }
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});
