// The `match` schema: what each condition parses to, and every error as an operator reads it — a message that
// says what was expected and what was found, at the path of the offending field. Parsed with the config
// loader's error map, as the config loader does.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configErrorMap } from '../../../src/control/config/diagnostics.ts';
import { matchSchema, type MatchConfig } from '../../../src/routing/match/schema.ts';

function parse(raw: unknown): MatchConfig {
  const result = matchSchema.safeParse(raw, { error: configErrorMap });
  if (!result.success) assert.fail(`expected a valid match, got:\n${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n')}`);
  return result.data;
}

function issues(raw: unknown): { path: string; message: string }[] {
  const result = matchSchema.safeParse(raw, { error: configErrorMap });
  assert.equal(result.success, false, `expected ${JSON.stringify(raw)} to be rejected`);
  return result.success ? [] : result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

/** The single issue of a match. */
function issue(raw: unknown): { path: string; message: string } {
  const all = issues(raw);
  assert.equal(all.length, 1, `expected one issue, got ${JSON.stringify(all, null, 1)}`);
  return all[0];
}

describe('match schema: parsed form', () => {
  it('{} is an empty match', () => {
    assert.deepEqual(parse({}), {});
  });

  it('lowercases hosts, always gives lists and drops duplicates', () => {
    assert.deepEqual(parse({ host: 'API.Example.com' }).host, ['api.example.com']);
    assert.deepEqual(parse({ host: ['*.Example.com', 'example.com', '10.0.0.1', '[::1]', 'EXAMPLE.com'] }).host, [
      '*.example.com',
      'example.com',
      '10.0.0.1',
      '[::1]',
    ]);
  });

  it('gives the path condition its kind', () => {
    for (const kind of ['exact', 'prefix', 'regex', 'glob'] as const) {
      assert.deepEqual(parse({ path: { [kind]: '/a' } }).path, { kind, value: '/a' });
    }
  });

  it('keeps methods as written, as a list', () => {
    assert.deepEqual(parse({ method: 'GET' }).method, ['GET']);
    assert.deepEqual(parse({ method: ['GET', 'HEAD', 'GET'] }).method, ['GET', 'HEAD']);
  });

  it('reads every condition form; header names are lowercased, query and cookie names are not', () => {
    const m = parse({
      headers: { 'X-Canary': 'true', 'x-env': { regex: '^(dev|qa)$' }, authorization: { present: true }, 'x-debug': { absent: true } },
      query: { Version: '2' },
      cookies: { Beta: { exact: '1' } },
    });
    assert.deepEqual(m.headers, {
      'x-canary': { kind: 'exact', value: 'true' },
      'x-env': { kind: 'regex', value: '^(dev|qa)$' },
      authorization: { kind: 'present' },
      'x-debug': { kind: 'absent' },
    });
    assert.deepEqual(m.query, { Version: { kind: 'exact', value: '2' } });
    assert.deepEqual(m.cookies, { Beta: { kind: 'exact', value: '1' } });
  });

  it('parses sources to CIDRs; a bare IP is /32 or /128', () => {
    assert.deepEqual(parse({ source: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.1', '::1'] }).source?.map((c) => c.text), [
      '10.0.0.0/8',
      '2001:db8::/32',
      '192.0.2.1/32',
      '::1/128',
    ]);
    assert.deepEqual(parse({ source: '10.0.0.0/8' }).source?.map((c) => c.text), ['10.0.0.0/8']);
  });

  it('nests not and any', () => {
    assert.deepEqual(parse({ not: { method: 'GET' }, any: [{ host: 'a.com' }, {}] }), {
      not: { method: ['GET'] },
      any: [{ host: ['a.com'] }, {}],
    });
  });
});

describe('match schema: errors', () => {
  it('rejects a match that is not an object', () => {
    assert.deepEqual(issue('api.example.com'), {
      path: '',
      message: 'expected a match object like { host: "api.example.com", path: { prefix: "/api" } }, found "api.example.com"',
    });
  });

  it('rejects unknown keys, at every level', () => {
    assert.deepEqual(issue({ hots: 'a.com' }), { path: '', message: 'unknown key "hots"' });
    assert.deepEqual(issue({ path: { prefx: '/a' } }), { path: 'path', message: 'unknown key "prefx"' });
    assert.deepEqual(issue({ headers: { a: { exakt: '1' } } }), { path: 'headers.a', message: 'unknown key "exakt"' });
    assert.deepEqual(issue({ not: { any: [{ methods: 'GET' }] } }), { path: 'not.any.0', message: 'unknown key "methods"' });
  });

  it('points at the bad host of a list', () => {
    for (const host of ['*', 'a.*.com', '*example.com', 'api.example.com:80', 'exa mple.com', '', '[::1', '::1']) {
      assert.deepEqual(issue({ host: ['ok.com', host] }), {
        path: 'host.1',
        message: `expected a host like "api.example.com" or "*.example.com", found ${JSON.stringify(host)}`,
      });
    }
    assert.deepEqual(issue({ host: 'a b' }), { path: 'host', message: 'expected a host like "api.example.com" or "*.example.com", found "a b"' });
    assert.deepEqual(issue({ host: [] }), {
      path: 'host',
      message: 'expected a host like "api.example.com" or "*.example.com" or a non-empty list of them, found an empty list',
    });
  });

  it('takes exactly one path condition', () => {
    assert.deepEqual(issue({ path: { prefix: '/a', exact: '/b' } }), {
      path: 'path',
      message: 'expected exactly one of "exact", "prefix", "regex" or "glob", found "exact" and "prefix"',
    });
    assert.deepEqual(issue({ path: {} }), {
      path: 'path',
      message: 'expected exactly one of "exact", "prefix", "regex" or "glob", found none',
    });
    assert.deepEqual(issue({ path: '/api' }), {
      path: 'path',
      message: 'expected a path condition like { prefix: "/api" } or { exact: "/health" }, found "/api"',
    });
  });

  it('wants paths that start with "/"', () => {
    for (const [kind, bad] of [['prefix', 'api/'], ['exact', '/a b'], ['prefix', '/a?b=1'], ['exact', '/a#x'], ['prefix', '']] as const) {
      assert.deepEqual(issue({ path: { [kind]: bad } }), {
        path: `path.${kind}`,
        message: `expected a path starting with "/" (no spaces, "?" or "#"), found ${JSON.stringify(bad)}`,
      });
    }
    assert.deepEqual(issue({ path: { glob: 'static/*' } }), {
      path: 'path.glob',
      message: 'expected a glob starting with "/" like "/static/**.css" (no spaces or "#", at most 1000 characters), found "static/*"',
    });
    assert.deepEqual(parse({ path: { glob: '/v?/*' } }).path, { kind: 'glob', value: '/v?/*' });
  });

  it('reports an invalid regex with the engine message, at its path', () => {
    const at = issue({ headers: { 'x-env': { regex: '^(dev|qa$' } } });
    assert.equal(at.path, 'headers.x-env.regex');
    assert.match(at.message, /^invalid regular expression: \/\^\(dev\|qa\$\/: /);
    assert.match(issue({ path: { regex: '[a-' } }).message, /^invalid regular expression: /);
    assert.equal(issue({ query: { v: { regex: '*' } } }).path, 'query.v.regex');
    assert.equal(issue({ cookies: { c: { regex: 'a{2,1}' } } }).path, 'cookies.c.regex');
  });

  it('does not let a pattern escape its anchors', () => {
    assert.match(issue({ path: { regex: '/a)|(/b' } }).message, /^invalid regular expression: /);
  });

  it('rejects empty and over-long regexes', () => {
    assert.deepEqual(issue({ path: { regex: '' } }), { path: 'path.regex', message: 'expected a regular expression like "^v[0-9]+$", found ""' });
    assert.deepEqual(issue({ path: { regex: 'a'.repeat(1001) } }), {
      path: 'path.regex',
      message: 'expected a regular expression of at most 1000 characters, found 1001 characters',
    });
    assert.equal(parse({ path: { regex: 'a'.repeat(1000) } }).path?.kind, 'regex');
  });

  it('takes exactly one of exact, regex, present or absent', () => {
    assert.deepEqual(issue({ headers: { a: { exact: '1', present: true } } }), {
      path: 'headers.a',
      message: 'expected exactly one of "exact", "regex", "present" or "absent", found "exact" and "present"',
    });
    assert.deepEqual(issue({ cookies: { a: {} } }), {
      path: 'cookies.a',
      message: 'expected exactly one of "exact", "regex", "present" or "absent", found none',
    });
    assert.deepEqual(issue({ headers: { a: { present: false } } }), {
      path: 'headers.a.present',
      message: 'expected true (for "must be missing" write absent: true), found false',
    });
    assert.deepEqual(issue({ query: { a: { absent: 'yes' } } }), {
      path: 'query.a.absent',
      message: 'expected true (for "must be there" write present: true), found "yes"',
    });
    assert.deepEqual(issue({ headers: { a: { exact: 1 } } }), { path: 'headers.a.exact', message: 'expected a string, found 1' });
  });

  it('says to quote YAML booleans and numbers used as values', () => {
    assert.deepEqual(issue({ headers: { 'x-canary': true } }), {
      path: 'headers.x-canary',
      message: 'expected a string or a condition like { regex: "^v[0-9]+$" } or { present: true }, found true (quote it: "true")',
    });
    assert.deepEqual(issue({ query: { version: 2 } }), {
      path: 'query.version',
      message: 'expected a string or a condition like { regex: "^v[0-9]+$" } or { present: true }, found 2 (quote it: "2")',
    });
  });

  it('checks header, cookie and query names, at the name', () => {
    assert.deepEqual(issue({ headers: { 'x env': '1' } }), { path: 'headers.x env', message: 'expected an HTTP header name like "x-request-id", found "x env"' });
    assert.deepEqual(issue({ cookies: { 'a;b': '1' } }), { path: 'cookies.a;b', message: 'expected a cookie name like "session", found "a;b"' });
    assert.deepEqual(issue({ query: { 'a=b': '1' } }), {
      path: 'query.a=b',
      message: 'expected a query parameter name like "version" (no "&", "=", "#" or spaces), found "a=b"',
    });
    assert.deepEqual(issue({ headers: ['x-a'] }), {
      path: 'headers',
      message: 'expected a map of header names to condition like { x-canary: "true" }, found a list',
    });
  });

  it('reports header names that differ only in case', () => {
    assert.deepEqual(issue({ headers: { 'X-Env': 'a', 'x-env': 'b' } }), {
      path: 'headers.x-env',
      message: 'duplicate header name "x-env" (names are compared without case)',
    });
  });

  it('wants method tokens', () => {
    assert.deepEqual(issue({ method: ['GET', 'G ET'] }), { path: 'method.1', message: 'expected a method like "GET", found "G ET"' });
    assert.deepEqual(issue({ method: [] }), { path: 'method', message: 'expected a method like "GET" or a non-empty list of them, found an empty list' });
    assert.deepEqual(issue({ method: { get: true } }), { path: 'method', message: 'expected a method like "GET" or a non-empty list of them, found an object' });
  });

  it('wants CIDRs in source', () => {
    assert.deepEqual(issue({ source: ['10.0.0.0/8', '10.0.0.1/8'] }), {
      path: 'source.1',
      message: 'expected a network address with no host bits set, found "10.0.0.1/8" (did you mean "10.0.0.0/8"?)',
    });
    assert.deepEqual(issue({ source: 'fd00::/129' }), { path: 'source', message: 'expected a prefix length 0..128 after "/", found "fd00::/129"' });
    assert.deepEqual(issue({ source: 'ten' }), { path: 'source', message: 'expected a CIDR like "10.0.0.0/8" or "fd00::/8", found "ten"' });
  });

  it('wants a non-empty list for any, and reports nested errors at their full path', () => {
    assert.deepEqual(issue({ any: [] }), { path: 'any', message: 'expected a non-empty list of match objects, found an empty list' });
    assert.deepEqual(issue({ any: { host: 'a.com' } }), { path: 'any', message: 'expected a non-empty list of match objects, found an object' });
    assert.deepEqual(issue({ not: { any: [{}, { headers: { 'x-env': { regex: '(' } } }] } }).path, 'not.any.1.headers.x-env.regex');
  });

  it('reports every error at once', () => {
    assert.deepEqual(
      issues({ host: 'a b', method: [], headers: { 'x-env': { regex: '(' }, 'bad name': '1' } }).map((i) => i.path),
      ['host', 'method', 'headers.x-env.regex', 'headers.bad name'],
    );
  });
});
