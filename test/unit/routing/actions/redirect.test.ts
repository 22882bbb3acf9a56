// The `redirect` action: exact Location strings for each option (scheme upgrade, host, port, path with
// variables, query kept/stripped/replaced), exact reply bytes, and config errors at their path.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configErrorMap, formatPath, issuesFromZod } from '../../../../src/control/config/diagnostics.ts';
import { compileRedirect, redirectReply, redirectSchema, type Redirect } from '../../../../src/routing/actions/redirect.ts';
import { routeRequest, type RouteRequestInit } from '../../../helpers/route-request.ts';

function redirect(raw: unknown): Redirect {
  const r = redirectSchema.safeParse(raw, { error: configErrorMap, reportInput: true });
  if (!r.success) assert.fail(r.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('\n'));
  return compileRedirect(r.data);
}

function issues(raw: unknown): string[] {
  const r = redirectSchema.safeParse(raw, { error: configErrorMap, reportInput: true });
  assert.equal(r.success, false, 'expected the redirect to be rejected');
  return r.success ? [] : issuesFromZod(r.error.issues, redirectSchema, raw).map((i) => `${formatPath(i.path)}: ${i.message}`);
}

/** A request as the data plane sees it: `host` is also the Host header. */
function req(init: RouteRequestInit = {}) {
  const host = init.host ?? 'shop.example.com';
  return routeRequest({ host, headers: [['host', host], ...(init.headers ?? [])], ...init });
}

function location(raw: unknown, init: RouteRequestInit = {}): string {
  return redirect(raw).location(req(init));
}

describe('redirect Location', () => {
  it('{ scheme: https } upgrades, keeping host, path and query; status 302 by default', () => {
    const r = redirect({ scheme: 'https' });
    assert.equal(r.status, 302);
    assert.equal(r.location(req({ target: '/cart?item=7&q=a%20b' })), 'https://shop.example.com/cart?item=7&q=a%20b');
  });

  it('a scheme change drops the request port; an explicit port is kept unless it is the default', () => {
    assert.equal(location({ scheme: 'https' }, { host: 'Shop.Example.com:8080', target: '/a' }), 'https://shop.example.com/a');
    assert.equal(location({ scheme: 'https', port: 8443 }, { target: '/a' }), 'https://shop.example.com:8443/a');
    assert.equal(location({ scheme: 'https', port: 443 }, { target: '/a' }), 'https://shop.example.com/a');
    assert.equal(location({ port: 443 }, { target: '/a' }), 'http://shop.example.com:443/a');
    assert.equal(location({ port: 80 }, { target: '/a' }), 'http://shop.example.com/a');
  });

  it('a same-origin redirect keeps the port the client used (not the default one)', () => {
    assert.equal(location({ path: '/new' }, { host: 'shop.example.com:8080', target: '/old?x=1' }), 'http://shop.example.com:8080/new?x=1');
    assert.equal(location({ path: '/new' }, { host: 'shop.example.com:80', target: '/old' }), 'http://shop.example.com/new');
    assert.equal(location({ path: '/new' }, { host: '[2001:db8::1]:8080', target: '/old' }), 'http://[2001:db8::1]:8080/new');
    assert.equal(location({ path: '/new' }, { host: '[2001:db8::1]', target: '/old' }), 'http://[2001:db8::1]/new');
  });

  it('a configured host replaces the request host and its port', () => {
    assert.equal(location({ host: 'www.example.com' }, { host: 'example.com:8080', target: '/p?q' }), 'http://www.example.com/p?q');
    assert.equal(location({ host: 'WWW.example.com', scheme: 'https', status: 301 }, { host: 'example.com', target: '/' }), 'https://www.example.com/');
  });

  it('path replaces the path and may use variables; the query is kept by default', () => {
    assert.equal(location({ path: '/v2${path}' }, { target: '/items/9?sort=asc' }), 'http://shop.example.com/v2/items/9?sort=asc');
    assert.equal(location({ path: '/from/${host}/${method}$$' }, { target: '/' }), 'http://shop.example.com/from/shop.example.com/GET$');
  });

  it('stripQuery drops the query; query replaces it', () => {
    assert.equal(location({ stripQuery: true }, { target: '/a?b=1' }), 'http://shop.example.com/a');
    assert.equal(location({ path: '/b', stripQuery: true }, { target: '/a?b=1' }), 'http://shop.example.com/b');
    assert.equal(location({ query: 'from=${path}&id=${request_id}' }, { target: '/a?b=1', requestId: 'r7' }), 'http://shop.example.com/a?from=/a&id=r7');
    assert.equal(location({ path: '/login', query: 'next=${path}' }, { target: '/account' }), 'http://shop.example.com/login?next=/account');
  });

  it('without any host (HTTP/1.0, no Host) the Location is a relative reference', () => {
    const r = redirect({ path: '/new' });
    assert.equal(r.location(routeRequest({ target: '/old?x=1' })), '/new?x=1');
  });

  it('a request value with control characters or spaces never reaches the Location', () => {
    const r = redirect({ scheme: 'https' });
    assert.equal(r.location(routeRequest({ host: 'a b', target: '/x' })), '/x');
    assert.equal(redirect({ path: '/go${path}' }).location(req({ target: '/a\r\nset-cookie: x' })), 'http://shop.example.com/go');
  });
});

describe('redirectReply', () => {
  const loc = 'https://shop.example.com/cart';
  const body = `301 Moved Permanently\nlocation: ${loc}\nrequest-id: req-9\n`;
  const head = `HTTP/1.1 301 Moved Permanently\r\nlocation: ${loc}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\n`;

  it('is one buffer: status line, location, content headers, body', () => {
    assert.equal(redirectReply(301, loc, 'req-9', { close: false, head: false, keepAlive10: false }).toString('latin1'), `${head}\r\n${body}`);
    assert.equal(body.length, 80);
  });

  it('HEAD keeps the content-length and sends no body; close and HTTP/1.0 keep-alive add their line', () => {
    assert.equal(redirectReply(301, loc, 'req-9', { close: false, head: true, keepAlive10: false }).toString('latin1'), `${head}\r\n`);
    assert.equal(redirectReply(301, loc, 'req-9', { close: true, head: false, keepAlive10: false }).toString('latin1'), `${head}connection: close\r\n\r\n${body}`);
    assert.equal(redirectReply(301, loc, 'req-9', { close: false, head: false, keepAlive10: true }).toString('latin1'), `${head}connection: keep-alive\r\n\r\n${body}`);
  });

  it('Redirect.reply uses the configured status and the request id', () => {
    const reply = redirect({ scheme: 'https', status: 308 }).reply(req({ target: '/x', requestId: 'abc' }), { close: false, head: true, keepAlive10: false });
    assert.equal(
      reply.toString('latin1'),
      'HTTP/1.1 308 Permanent Redirect\r\nlocation: https://shop.example.com/x\r\ncontent-type: text/plain; charset=utf-8\r\n' +
        'content-length: 76\r\n\r\n',
    );
    assert.equal('308 Permanent Redirect\nlocation: https://shop.example.com/x\nrequest-id: abc\n'.length, 76);
  });

  it('each status has its reason phrase', () => {
    const line = (s: number) => redirectReply(s, '/', 'r', { close: false, head: true, keepAlive10: false }).toString('latin1').split('\r\n')[0];
    assert.deepEqual([301, 302, 303, 307, 308].map(line), [
      'HTTP/1.1 301 Moved Permanently',
      'HTTP/1.1 302 Found',
      'HTTP/1.1 303 See Other',
      'HTTP/1.1 307 Temporary Redirect',
      'HTTP/1.1 308 Permanent Redirect',
    ]);
  });
});

describe('redirectSchema errors', () => {
  it('status, scheme, host, port', () => {
    assert.deepEqual(issues({ status: 300 }), ['status: expected a redirect status 301, 302, 303, 307, 308, found 300']);
    assert.deepEqual(issues({ scheme: 'ftp' }), ['scheme: expected one of "http", "https", found "ftp"']);
    assert.deepEqual(issues({ host: 'example.com:8443' }), ['host: expected a host like "www.example.com" (the port is its own option), found "example.com:8443"']);
    assert.deepEqual(issues({ port: 0 }), ['port: expected an integer 1..65535, found 0']);
  });

  it('path and query text: no control characters, "?" or "#"; variables known', () => {
    assert.deepEqual(issues({ path: 'new' }), ['path: expected a path starting with "/" or "${path}" (no spaces, "?", "#" or control characters), found "new"']);
    assert.deepEqual(issues({ path: '/a\r\nx: 1' }).length, 1);
    assert.deepEqual(issues({ path: '/a?b' }).length, 1);
    assert.deepEqual(issues({ path: '/${pool}' }), ['path: expected a known variable (${client_ip}, ${request_id}, ${host}, ${method}, ${path}, ${scheme}), found "${pool}"']);
    assert.deepEqual(issues({ query: '?a=1' }), ['query: expected a query without the leading "?" like "from=old" (no spaces, "#" or control characters), found "?a=1"']);
    assert.deepEqual(issues({ query: 'a=1#frag' }).length, 1);
  });

  it('stripQuery and query together; unknown keys', () => {
    assert.deepEqual(issues({ stripQuery: true, query: 'a=1' }), ['stripQuery: expected either "stripQuery" or "query" (query replaces it), found both']);
    assert.deepEqual(issues({ schema: 'https' }), ['schema: unknown key "schema" (did you mean "scheme"?)']);
  });
});
