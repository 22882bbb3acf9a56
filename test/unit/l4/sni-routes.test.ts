// SNI routing: exact names, `*.` wildcards at any depth (never the bare domain), case-insensitive, first route in
// file order wins across exact and wildcard names, and the default for no name or no match.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SniRoutes } from '../../../src/l4/sni-routes.ts';

describe('SniRoutes', () => {
  const routes = new SniRoutes(
    [
      { sni: ['api.example.com', 'API2.example.com'], target: 'api' },
      { sni: ['*.example.com'], target: 'web' },
      { sni: ['www.example.com', '*.b.example.com', 'example.com'], target: 'late' },
      { sni: ['*.example.org.'], target: 'org' },
    ],
    'default',
  );

  it('exact names, case-insensitive, trailing dot ignored', () => {
    assert.equal(routes.match('api.example.com'), 'api');
    assert.equal(routes.match('API.EXAMPLE.COM'), 'api');
    assert.equal(routes.match('api2.example.com.'), 'api');
    assert.equal(routes.match('example.com'), 'late');
  });

  it('a wildcard matches one or more labels before its suffix, not the bare domain', () => {
    assert.equal(routes.match('foo.example.com'), 'web');
    assert.equal(routes.match('a.b.example.com'), 'web');
    assert.equal(routes.match('x.example.org'), 'org');
    assert.equal(routes.match('example.org'), 'default');
    assert.equal(routes.match('badexample.com'), 'default');
  });

  it('the first route in file order wins, exact or wildcard', () => {
    // www.example.com is listed exactly in route 2, but route 1's wildcard comes first
    assert.equal(routes.match('www.example.com'), 'web');
    const exactFirst = new SniRoutes([{ sni: ['www.example.com'], target: 'exact' }, { sni: ['*.example.com'], target: 'wild' }], null);
    assert.equal(exactFirst.match('www.example.com'), 'exact');
    assert.equal(exactFirst.match('m.example.com'), 'wild');
  });

  it('no name or no match: the default, or null without one', () => {
    assert.equal(routes.match(null), 'default');
    assert.equal(routes.match(''), 'default');
    assert.equal(routes.match('other.test'), 'default');
    const none = new SniRoutes([{ sni: ['a.test'], target: 'a' }], null);
    assert.equal(none.match('b.test'), null);
    assert.equal(none.match(null), null);
  });
});
