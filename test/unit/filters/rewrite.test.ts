// Path and Host rewrite: segment-aware prefixes, regex substitution (every match, $1), results that would not
// be a clean path leaving it unchanged, and config errors at their path.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configErrorMap, formatPath, issuesFromZod } from '../../../src/control/config/diagnostics.ts';
import { compileRewrite, rewriteSchema, type Rewrite } from '../../../src/filters/rewrite.ts';

function rewrite(raw: unknown): Rewrite {
  const r = rewriteSchema.safeParse(raw, { error: configErrorMap, reportInput: true });
  if (!r.success) assert.fail(r.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('\n'));
  const compiled = compileRewrite(r.data);
  assert.ok(compiled !== null);
  return compiled;
}

function issues(raw: unknown): string[] {
  const r = rewriteSchema.safeParse(raw, { error: configErrorMap, reportInput: true });
  assert.equal(r.success, false, 'expected the rewrite to be rejected');
  return r.success ? [] : issuesFromZod(r.error.issues, rewriteSchema, raw).map((i) => `${formatPath(i.path)}: ${i.message}`);
}

describe('rewrite.path', () => {
  it('stripPrefix respects segment boundaries', () => {
    const r = rewrite({ path: { stripPrefix: '/api' } });
    assert.equal(r.path('/api/users/7'), '/users/7');
    assert.equal(r.path('/api'), '/');
    assert.equal(r.path('/api/'), '/');
    assert.equal(r.path('/apix/users'), '/apix/users');
    assert.equal(r.path('/other'), '/other');
    assert.equal(rewrite({ path: { stripPrefix: '/api/' } }).path('/api/users'), '/users');
  });

  it('replacePrefix matches "/v1" and "/v1/…", not "/v1x"', () => {
    const r = rewrite({ path: { replacePrefix: { from: '/v1', to: '/v2' } } });
    assert.equal(r.path('/v1'), '/v2');
    assert.equal(r.path('/v1/items'), '/v2/items');
    assert.equal(r.path('/v1x/items'), '/v1x/items');
    const mount = rewrite({ path: { replacePrefix: { from: '/', to: '/app' } } });
    assert.equal(mount.path('/x/y'), '/app/x/y');
    const unmount = rewrite({ path: { replacePrefix: { from: '/legacy/shop', to: '/' } } });
    assert.equal(unmount.path('/legacy/shop/cart'), '/cart');
  });

  it('returns the original string itself when nothing changes', () => {
    const original = '/static/app.js';
    assert.equal(rewrite({ path: { stripPrefix: '/api' } }).path(original), original);
    assert.equal(rewrite({ host: 'a.internal' }).path(original), original);
    assert.equal(rewrite({ host: 'a.internal' }).rewritesPath, false);
  });

  it('regex replaces every match, with group references', () => {
    const r = rewrite({ path: { regex: { pattern: '^/users/([0-9]+)/profile$', replacement: '/profiles/$1' } } });
    assert.equal(r.path('/users/42/profile'), '/profiles/42');
    assert.equal(r.path('/users/x/profile'), '/users/x/profile');
    const all = rewrite({ path: { regex: { pattern: '//+', replacement: '/' } } });
    assert.equal(all.path('/a//b///c'), '/a/b/c');
    const named = rewrite({ path: { regex: { pattern: '^/(?<lang>[a-z]{2})/(.*)$', replacement: '/$2-$<lang>' } } });
    assert.equal(named.path('/en/docs/intro'), '/docs/intro-en');
  });

  it('a regex result without a leading "/" gets one; an unclean one leaves the path as it was', () => {
    assert.equal(rewrite({ path: { regex: { pattern: '^/old/', replacement: '' } } }).path('/old/page'), '/page');
    const q = rewrite({ path: { regex: { pattern: '^/item-(\\d+)', replacement: '/item/$1' } } });
    assert.equal(q.path('/item-9'), '/item/9');
    const empty = rewrite({ path: { regex: { pattern: '^/.*$', replacement: '' } } });
    assert.equal(empty.path('/anything'), '/');
  });

  it('rejects a regex result holding a space or "?" at run time by keeping the original', () => {
    // the replacement text cannot hold them (config error); a captured group could
    const r = rewrite({ path: { regex: { pattern: '^/p/(.*)$', replacement: '/q/$1' } } });
    assert.equal(r.path('/p/a b'), '/p/a b');
    assert.equal(r.path('/p/a?b'), '/p/a?b');
  });
});

describe('rewrite.host', () => {
  it('is lowercased; a port is allowed', () => {
    assert.equal(rewrite({ host: 'API.Internal' }).host, 'api.internal');
    assert.equal(rewrite({ host: 'api.internal:8080' }).host, 'api.internal:8080');
    assert.equal(rewrite({ host: '[::1]:8443' }).host, '[::1]:8443');
    assert.equal(rewrite({ path: { stripPrefix: '/a' } }).host, null);
  });
});

describe('rewriteSchema errors', () => {
  it('an invalid regex is reported at its path', () => {
    assert.deepEqual(issues({ path: { regex: { pattern: '(unclosed', replacement: '/' } } }), [
      'path.regex.pattern: expected a valid regular expression, found "(unclosed" (Unterminated group)',
    ]);
  });

  it('a replacement naming a group the pattern lacks', () => {
    assert.deepEqual(issues({ path: { regex: { pattern: '^/a/(.*)$', replacement: '/b/$2' } } }), [
      'path.regex.replacement: expected references to the pattern\'s groups (it has 1 group), found "$2"',
    ]);
    assert.deepEqual(issues({ path: { regex: { pattern: '^/a', replacement: '/$<x>' } } }), [
      'path.regex.replacement: expected references to the pattern\'s groups (it has no groups), found "$<x>"',
    ]);
    // "$$1" is a literal "$1", not a reference
    assert.equal(rewrite({ path: { regex: { pattern: '^/a$', replacement: '/$$1' } } }).path('/a'), '/$1');
  });

  it('exactly one path form; prefixes are clean paths; "/" alone is not a prefix to strip', () => {
    assert.deepEqual(issues({ path: {} }), ['path: expected exactly one of "stripPrefix", "replacePrefix" or "regex", found none']);
    assert.deepEqual(issues({ path: { stripPrefix: '/a', regex: { pattern: 'a', replacement: 'b' } } }), [
      'path: expected exactly one of "stripPrefix", "replacePrefix" or "regex", found "stripPrefix" and "regex"',
    ]);
    assert.deepEqual(issues({ path: { stripPrefix: 'api' } }), [
      'path.stripPrefix: expected a path prefix starting with "/" (no spaces, "?", "#" or control characters), found "api"',
    ]);
    assert.deepEqual(issues({ path: { stripPrefix: '/' } }), [
      'path.stripPrefix: expected a prefix longer than "/" (stripping "/" changes nothing), found "/"',
    ]);
    assert.deepEqual(issues({ path: { replacePrefix: { from: '/v1' } } }), [
      'path.replacePrefix.to: missing required key "to": expected a path prefix starting with "/" (no spaces, "?", "#" or control characters)',
    ]);
    assert.deepEqual(issues({ path: { prefix: '/a' } }), [
      'path.prefix: unknown key "prefix" (expected one of "stripPrefix", "replacePrefix", "regex")',
      'path: expected exactly one of "stripPrefix", "replacePrefix" or "regex", found none',
    ]);
  });

  it('host must be a host', () => {
    assert.deepEqual(issues({ host: 'http://api' }), ['host: expected a host like "api.internal" or "api.internal:8080", found "http://api"']);
    assert.deepEqual(issues({ host: 'api:99999' }), ['host: expected a host like "api.internal" or "api.internal:8080", found "api:99999"']);
  });

  it('compileRewrite of nothing is null', () => {
    assert.equal(compileRewrite(undefined), null);
    assert.equal(compileRewrite({}), null);
  });
});
