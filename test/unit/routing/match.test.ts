// Compiled match conditions: every condition type holds and fails where the docs say (host wildcards, segment-
// boundary prefixes, globs, regex anchoring, header/query/cookie forms, IPv4 and IPv6 CIDRs, not/any), and each
// request accessor is read at most once per condition.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileMatch, type Matcher } from '../../../src/routing/match/compile.ts';
import { globRegExp } from '../../../src/routing/match/pattern.ts';
import { matchSchema } from '../../../src/routing/match/schema.ts';
import type { RouteRequest } from '../../../src/routing/request.ts';
import { routeRequest, type RouteRequestInit } from '../../helpers/route-request.ts';

function matcher(raw: unknown): Matcher {
  return compileMatch(matchSchema.parse(raw));
}

/** Asserts which of the requests the match takes (true) and which it leaves (false). */
function expectMatches(raw: unknown, cases: ReadonlyArray<readonly [RouteRequestInit, boolean]>): void {
  const m = matcher(raw);
  for (const [init, expected] of cases) {
    assert.equal(m(routeRequest(init)), expected, `${JSON.stringify(raw)} on ${JSON.stringify(init)}: expected ${expected}`);
  }
}

describe('empty match', () => {
  it('takes every request', () => {
    expectMatches({}, [
      [{}, true],
      [{ method: 'DELETE', host: 'x.org', target: '/a/b?c=d', clientAddress: '::1' }, true],
    ]);
  });
});

describe('host', () => {
  it('compares exact names without case and ignores the port', () => {
    expectMatches({ host: 'API.example.com' }, [
      [{ host: 'api.example.com' }, true],
      [{ host: 'Api.Example.COM:8443' }, true],
      [{ host: 'www.example.com' }, false],
      [{ host: 'api.example.com.evil.org' }, false],
      [{}, false],
    ]);
  });

  it('takes a list', () => {
    expectMatches({ host: ['a.com', 'b.com'] }, [
      [{ host: 'a.com' }, true],
      [{ host: 'b.com' }, true],
      [{ host: 'c.com' }, false],
    ]);
  });

  it('matches "*.example.com" at any depth below, not example.com itself', () => {
    expectMatches({ host: '*.example.com' }, [
      [{ host: 'a.example.com' }, true],
      [{ host: 'a.b.example.com' }, true],
      [{ host: 'example.com' }, false],
      [{ host: 'notexample.com' }, false],
      [{ host: 'a.example.org' }, false],
    ]);
  });

  it('mixes exact and wildcard patterns', () => {
    expectMatches({ host: ['example.com', '*.example.com'] }, [
      [{ host: 'example.com' }, true],
      [{ host: 'www.example.com' }, true],
      [{ host: 'example.net' }, false],
    ]);
  });

  it('matches IP literals', () => {
    expectMatches({ host: ['10.0.0.1', '[::1]'] }, [
      [{ host: '10.0.0.1:8080' }, true],
      [{ host: '[::1]:8080' }, true],
      [{ host: '10.0.0.2' }, false],
      [{ host: '[::2]' }, false],
    ]);
  });
});

describe('path', () => {
  it('exact compares the whole path, query excluded', () => {
    expectMatches({ path: { exact: '/health' } }, [
      [{ target: '/health' }, true],
      [{ target: '/health?full=1' }, true],
      [{ target: '/health/' }, false],
      [{ target: '/healthz' }, false],
      [{ target: '/Health' }, false],
    ]);
  });

  it('prefix matches on segment boundaries', () => {
    expectMatches({ path: { prefix: '/api' } }, [
      [{ target: '/api' }, true],
      [{ target: '/api/' }, true],
      [{ target: '/api/x/y' }, true],
      [{ target: '/api?x=1' }, true],
      [{ target: '/apix' }, false],
      [{ target: '/ap' }, false],
      [{ target: '/' }, false],
    ]);
    expectMatches({ path: { prefix: '/api/v1' } }, [
      [{ target: '/api/v1/users' }, true],
      [{ target: '/api/v10' }, false],
    ]);
  });

  it('a prefix ending in "/" matches whatever starts with it', () => {
    expectMatches({ path: { prefix: '/static/' } }, [
      [{ target: '/static/' }, true],
      [{ target: '/static/app.js' }, true],
      [{ target: '/static' }, false],
      [{ target: '/staticx/' }, false],
    ]);
  });

  it('prefix "/" matches every path', () => {
    expectMatches({ path: { prefix: '/' } }, [
      [{ target: '/' }, true],
      [{ target: '/anything/at/all?q' }, true],
    ]);
  });

  it('compares paths as received, without percent-decoding', () => {
    expectMatches({ path: { prefix: '/a%20b' } }, [
      [{ target: '/a%20b/c' }, true],
      [{ target: '/a b/c' }, false],
    ]);
  });

  it('regex matches the whole path', () => {
    expectMatches({ path: { regex: '/users/[0-9]+' } }, [
      [{ target: '/users/42' }, true],
      [{ target: '/users/42?x=1' }, true],
      [{ target: '/users/42/posts' }, false],
      [{ target: '/v1/users/42' }, false],
      [{ target: '/users/abc' }, false],
    ]);
    expectMatches({ path: { regex: '/a|/b' } }, [
      [{ target: '/a' }, true],
      [{ target: '/b' }, true],
      [{ target: '/ab' }, false],
      [{ target: '/x/b' }, false],
    ]);
  });

  it('glob: "*" stays in a segment, "**" crosses them, "?" is one character', () => {
    expectMatches({ path: { glob: '/static/*.css' } }, [
      [{ target: '/static/app.css' }, true],
      [{ target: '/static/.css' }, true],
      [{ target: '/static/css/app.css' }, false],
      [{ target: '/static/app.js' }, false],
    ]);
    expectMatches({ path: { glob: '/static/**.css' } }, [
      [{ target: '/static/app.css' }, true],
      [{ target: '/static/a/b/c.css' }, true],
      [{ target: '/other/a.css' }, false],
    ]);
    expectMatches({ path: { glob: '/v?/users' } }, [
      [{ target: '/v1/users' }, true],
      [{ target: '/v/users' }, false],
      [{ target: '/v12/users' }, false],
      [{ target: '/v//users' }, false],
    ]);
    expectMatches({ path: { glob: '/api/**' } }, [
      [{ target: '/api/' }, true],
      [{ target: '/api/a/b' }, true],
      [{ target: '/api' }, false],
    ]);
  });

  it('glob takes every other character literally', () => {
    expectMatches({ path: { glob: '/a.b+(c)/[x]/$^|{1}' } }, [
      [{ target: '/a.b+(c)/[x]/$^|{1}' }, true],
      [{ target: '/aXb+(c)/[x]/$^|{1}' }, false],
      [{ target: '/a.bb(c)/[x]/$^|{1}' }, false],
    ]);
    const re = globRegExp('/a/**/*.png');
    assert.equal(re.test('/a/b/c/x.png'), true);
    assert.equal(re.test('/a/x.png'), false);
    assert.equal(re.test('/a/b/xpng'), false);
  });
});

describe('method', () => {
  it('compares tokens exactly (methods are case-sensitive)', () => {
    expectMatches({ method: ['GET', 'HEAD'] }, [
      [{ method: 'GET' }, true],
      [{ method: 'HEAD' }, true],
      [{ method: 'POST' }, false],
      [{ method: 'get' }, false],
    ]);
    expectMatches({ method: 'PURGE' }, [
      [{ method: 'PURGE' }, true],
      [{ method: 'GET' }, false],
    ]);
  });
});

describe('headers', () => {
  it('a string is an exact value; names are case-insensitive, values are not', () => {
    expectMatches({ headers: { 'X-Canary': 'true' } }, [
      [{ headers: [['x-canary', 'true']] }, true],
      [{ headers: [['X-CANARY', 'true']] }, true],
      [{ headers: [['x-canary', 'TRUE']] }, false],
      [{ headers: [['x-canary', 'true1']] }, false],
      [{}, false],
    ]);
  });

  it('{ exact } is the same as a string', () => {
    expectMatches({ headers: { 'x-env': { exact: '' } } }, [
      [{ headers: [['x-env', '']] }, true],
      [{ headers: [['x-env', 'a']] }, false],
      [{}, false],
    ]);
  });

  it('regex matches the whole value', () => {
    expectMatches({ headers: { 'x-env': { regex: 'dev|qa' } } }, [
      [{ headers: [['x-env', 'dev']] }, true],
      [{ headers: [['x-env', 'qa']] }, true],
      [{ headers: [['x-env', 'devx']] }, false],
      [{ headers: [['x-env', 'prod']] }, false],
      [{}, false],
    ]);
  });

  it('present and absent', () => {
    expectMatches({ headers: { authorization: { present: true } } }, [
      [{ headers: [['authorization', 'Bearer x']] }, true],
      [{ headers: [['authorization', '']] }, true],
      [{}, false],
    ]);
    expectMatches({ headers: { 'x-debug': { absent: true } } }, [
      [{}, true],
      [{ headers: [['x-debug', '1']] }, false],
    ]);
  });

  it('all header conditions must hold', () => {
    expectMatches({ headers: { a: '1', b: { present: true } } }, [
      [{ headers: [['a', '1'], ['b', 'x']] }, true],
      [{ headers: [['a', '1']] }, false],
      [{ headers: [['a', '2'], ['b', 'x']] }, false],
    ]);
  });
});

describe('query', () => {
  it('compares the raw, undecoded value', () => {
    expectMatches({ query: { version: '2' } }, [
      [{ target: '/?version=2' }, true],
      [{ target: '/x?a=1&version=2' }, true],
      [{ target: '/?version=3' }, false],
      [{ target: '/?Version=2' }, false],
      [{ target: '/' }, false],
    ]);
    expectMatches({ query: { q: 'a%20b' } }, [
      [{ target: '/?q=a%20b' }, true],
      [{ target: '/?q=a b' }, false],
    ]);
  });

  it('regex, present and absent', () => {
    expectMatches({ query: { id: { regex: '[0-9]+' }, debug: { absent: true }, token: { present: true } } }, [
      [{ target: '/?id=12&token=' }, true],
      [{ target: '/?id=12' }, false],
      [{ target: '/?id=12&token=x&debug' }, false],
      [{ target: '/?id=1a&token=x' }, false],
    ]);
  });
});

describe('cookies', () => {
  it('matches a cookie by name (case-sensitive) and condition', () => {
    expectMatches({ cookies: { beta: { exact: '1' } } }, [
      [{ headers: [['cookie', 'a=b; beta=1']] }, true],
      [{ headers: [['cookie', 'beta=0']] }, false],
      [{ headers: [['cookie', 'Beta=1']] }, false],
      [{}, false],
    ]);
    expectMatches({ cookies: { session: { present: true }, ab: { regex: 'group-[ab]' } } }, [
      [{ headers: [['cookie', 'session=s; ab=group-b']] }, true],
      [{ headers: [['cookie', 'session=s; ab=group-c']] }, false],
      [{ headers: [['cookie', 'ab=group-a']] }, false],
    ]);
  });
});

describe('source', () => {
  it('matches IPv4 CIDRs, also for IPv4-mapped IPv6 addresses', () => {
    expectMatches({ source: '10.0.0.0/8' }, [
      [{ clientAddress: '10.1.2.3' }, true],
      [{ clientAddress: '::ffff:10.1.2.3' }, true],
      [{ clientAddress: '11.0.0.1' }, false],
    ]);
  });

  it('matches IPv6 CIDRs and bare addresses', () => {
    expectMatches({ source: ['2001:db8::/32', '192.168.1.7'] }, [
      [{ clientAddress: '2001:db8:1::5' }, true],
      [{ clientAddress: '2001:0db8::1' }, true],
      [{ clientAddress: '192.168.1.7' }, true],
      [{ clientAddress: '2001:db9::1' }, false],
      [{ clientAddress: '192.168.1.8' }, false],
      [{ clientAddress: 'not-an-ip' }, false],
    ]);
  });
});

describe('not and any', () => {
  it('not holds when the inner match does not', () => {
    expectMatches({ not: { path: { prefix: '/admin' } } }, [
      [{ target: '/public' }, true],
      [{ target: '/admin/x' }, false],
    ]);
    expectMatches({ not: {} }, [[{}, false]]);
  });

  it('any holds when at least one inner match holds', () => {
    expectMatches({ any: [{ host: 'a.com' }, { headers: { 'x-canary': 'true' } }] }, [
      [{ host: 'a.com' }, true],
      [{ host: 'b.com', headers: [['x-canary', 'true']] }, true],
      [{ host: 'b.com' }, false],
    ]);
  });

  it('nest, and combine with the other conditions', () => {
    const raw = { method: 'GET', any: [{ path: { prefix: '/a' } }, { not: { source: '10.0.0.0/8' } }] };
    expectMatches(raw, [
      [{ target: '/a/1', clientAddress: '10.0.0.1' }, true],
      [{ target: '/b', clientAddress: '192.0.2.1' }, true],
      [{ target: '/b', clientAddress: '10.0.0.1' }, false],
      [{ method: 'POST', target: '/a' }, false],
    ]);
  });
});

describe('all conditions together', () => {
  it('hold only when every one holds', () => {
    const raw = {
      host: '*.example.com',
      path: { prefix: '/api' },
      method: 'POST',
      headers: { 'x-canary': 'true' },
      query: { v: '2' },
      cookies: { beta: '1' },
      source: '10.0.0.0/8',
    };
    const good: RouteRequestInit = {
      host: 'a.example.com',
      target: '/api/x?v=2',
      method: 'POST',
      headers: [['x-canary', 'true'], ['cookie', 'beta=1']],
      clientAddress: '10.0.0.9',
    };
    const m = matcher(raw);
    assert.equal(m(routeRequest(good)), true);
    const spoilers: RouteRequestInit[] = [
      { host: 'example.com' },
      { target: '/apix?v=2' },
      { method: 'GET' },
      { headers: [['cookie', 'beta=1']] },
      { target: '/api/x?v=3' },
      { headers: [['x-canary', 'true']] },
      { clientAddress: '192.0.2.1' },
    ];
    for (const spoil of spoilers) assert.equal(m(routeRequest({ ...good, ...spoil })), false, JSON.stringify(spoil));
  });
});

describe('request accessors', () => {
  it('are each read at most once per condition, cheap conditions first', () => {
    const calls: string[] = [];
    const base = routeRequest({ host: 'a.com', target: '/api?v=2', headers: [['x-a', '1'], ['cookie', 'c=1']] });
    const counting: RouteRequest = {
      ...base,
      host: () => (calls.push('host'), base.host()),
      path: () => (calls.push('path'), base.path()),
      header: (n) => (calls.push(`header:${n}`), base.header(n)),
      query: (n) => (calls.push(`query:${n}`), base.query(n)),
      cookie: (n) => (calls.push(`cookie:${n}`), base.cookie(n)),
    };
    const m = matcher({
      cookies: { c: '1' },
      query: { v: { regex: '[0-9]' } },
      headers: { 'x-a': '1' },
      path: { prefix: '/api' },
      host: 'a.com',
    });
    assert.equal(m(counting), true);
    assert.deepEqual(calls, ['host', 'path', 'header:x-a', 'cookie:c', 'query:v']);
  });

  it('stop at the first failing condition', () => {
    let reads = 0;
    const base = routeRequest({ method: 'POST' });
    const counting: RouteRequest = { ...base, header: (n) => (reads++, base.header(n)) };
    assert.equal(matcher({ method: 'GET', headers: { a: { present: true } } })(counting), false);
    assert.equal(reads, 0);
  });
});
