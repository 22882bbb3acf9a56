// Route matching: ns per RuleTable.match over a 1,000-rule table — 300 hosts × 3 rules (one with a header
// condition), 50 wildcard hosts, 49 host-less rules and a catch-all — for a hit early in the table, a hit deep
// in it, an unknown host that falls to the catch-all, and a miss; then 1,000 path prefixes on one host (the
// first-segment index) and, for scale, the same deep hit found by a linear scan of compiled matchers.
// The requests return precomputed values, so this measures the table, not request decoding.
import { compileMatch } from '../../src/routing/match/compile.ts';
import { matchSchema } from '../../src/routing/match/schema.ts';
import type { RouteRequest } from '../../src/routing/request.ts';
import { RuleTable, type Rule } from '../../src/routing/rule-table.ts';
import { measure } from './harness.ts';

function request(host: string, path: string, headers: Record<string, string> = {}): RouteRequest {
  return {
    method: 'GET',
    scheme: 'http',
    requestId: 'bench',
    listenerPort: 8080,
    clientAddress: '10.0.0.1',
    host: () => host,
    path: () => path,
    pathAndQuery: () => path,
    header: (name) => headers[name] ?? null,
    cookie: () => null,
    query: () => null,
  };
}

function rule(value: string, match: unknown): Rule<string> {
  return { priority: 0, match: matchSchema.parse(match), value };
}

const rules: Rule<string>[] = [];
for (let h = 0; h < 300; h++) {
  const host = `svc${h}.example.com`;
  rules.push(
    rule(`svc${h}-canary`, { host, path: { prefix: '/api' }, headers: { 'x-canary': 'true' } }),
    rule(`svc${h}-api`, { host, path: { prefix: '/api' } }),
    rule(`svc${h}-static`, { host, path: { prefix: '/static/' } }),
  );
}
for (let t = 0; t < 50; t++) rules.push(rule(`tenant${t}`, { host: `*.tenant${t}.example.net`, path: { prefix: '/' } }));
for (let i = 0; i < 49; i++) rules.push(rule(`internal${i}`, { path: { prefix: `/internal${i}` }, headers: { 'x-debug': { present: true } } }));
const catchAll = rule('catch-all', {});

const table = new RuleTable([...rules, catchAll]);
const noCatchAll = new RuleTable(rules);
process.stdout.write(`${table.size} rules (${noCatchAll.size} without the catch-all)\n`);

const cases: [string, RuleTable<string>, RouteRequest, string | null][] = [
  ['hit early (rule 2)', table, request('svc0.example.com', '/api/users'), 'svc0-api'],
  ['hit deep (rule 900)', table, request('svc299.example.com', '/static/app.js'), 'svc299-static'],
  ['hit on a wildcard host', table, request('a.tenant42.example.net', '/x'), 'tenant42'],
  ['unknown host → catch-all', table, request('other.org', '/x'), 'catch-all'],
  ['miss (known host; table without catch-all)', noCatchAll, request('svc150.example.com', '/nothing'), null],
];
for (const [name, t, req, expected] of cases) {
  if (t.match(req) !== expected) throw new Error(`${name}: expected ${expected}, got ${t.match(req)}`);
  measure(name, () => t.match(req), 0.4, 2000);
}

const oneHost = new RuleTable(Array.from({ length: 1000 }, (_, i) => rule(`p${i}`, { host: 'api.example.com', path: { prefix: `/p${i}` } })));
const deepPath = request('api.example.com', '/p999/items');
if (oneHost.match(deepPath) !== 'p999') throw new Error('one host: wrong rule');
measure('1000 prefixes on one host, hit deep', () => oneHost.match(deepPath), 0.4, 2000);

const linear = [...rules, catchAll].map((r) => ({ test: compileMatch(r.match), value: r.value }));
const deep = cases[1][2];
const scan = (req: RouteRequest) => {
  for (let i = 0; i < linear.length; i++) if (linear[i].test(req)) return linear[i].value;
  return null;
};
if (scan(deep) !== 'svc299-static') throw new Error('linear scan: wrong rule');
measure('linear scan (no index), hit deep', () => scan(deep), 0.4, 200);
