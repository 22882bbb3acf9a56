// Balancing keys read from a parsed request head: path, query, headers (case-insensitive names), cookies.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeadKeyRequest } from '../../../src/http/key-request.ts';
import { HeadScanner, parseRequestHead, RequestHead } from '../../../src/http/parse/head.ts';
import { compileKey, keySchema } from '../../../src/upstream/balancing/keys.ts';

function parsed(text: string): RequestHead {
  const buf = Buffer.from(text, 'latin1');
  const head = new RequestHead(100);
  const end = new HeadScanner().scan(buf, buf.length, { maxStartLine: 8192, maxHeadSize: 65536, maxHeaders: 100 }, true);
  assert.ok(end > 0);
  assert.equal(parseRequestHead(buf, end, head, null), 0);
  return head;
}

const head = parsed(
  'GET /cart/items?user=42&empty&x=%20y HTTP/1.1\r\nHost: shop\r\nX-User-ID: u-7\r\nCookie: theme=dark; session="s-99"\r\ncookie: other=1\r\n\r\n',
);
const req = new HeadKeyRequest();
req.reset(head, '10.1.2.3', '');

test('path and path with query', () => {
  assert.equal(req.path(), '/cart/items');
  assert.equal(req.pathAndQuery(), '/cart/items?user=42&empty&x=%20y');
});

test('headers by lowercase name, whatever their case on the wire', () => {
  assert.equal(req.header('x-user-id'), 'u-7');
  assert.equal(req.header('host'), 'shop');
  assert.equal(req.header('x-missing'), null);
});

test('cookies across Cookie headers, quotes removed', () => {
  assert.equal(req.cookie('theme'), 'dark');
  assert.equal(req.cookie('session'), 's-99');
  assert.equal(req.cookie('other'), '1');
  assert.equal(req.cookie('them'), null);
});

test('query parameters, raw', () => {
  assert.equal(req.query('user'), '42');
  assert.equal(req.query('empty'), '');
  assert.equal(req.query('x'), '%20y');
  assert.equal(req.query('nope'), null);
});

test('an absolute-form target is read from its origin-form rewrite', () => {
  const abs = parsed('GET http://shop/a/b?k=v HTTP/1.1\r\nHost: shop\r\n\r\n');
  const r = new HeadKeyRequest();
  r.reset(abs, '10.0.0.1', '/a/b?k=v');
  assert.equal(r.path(), '/a/b');
  assert.equal(r.query('k'), 'v');
});

test('compiled key specs read the right part', () => {
  const key = (spec: unknown) => compileKey(keySchema.parse(spec))(req);
  assert.equal(key(undefined), '10.1.2.3');
  assert.equal(key('client-ip'), '10.1.2.3');
  assert.equal(key('path'), '/cart/items');
  assert.equal(key('path-query'), '/cart/items?user=42&empty&x=%20y');
  assert.equal(key({ header: 'X-User-ID' }), 'u-7');
  assert.equal(key({ cookie: 'session' }), 's-99');
  assert.equal(key({ query: 'user' }), '42');
  assert.throws(() => keySchema.parse({ header: 'bad header' }));
  assert.throws(() => keySchema.parse('client-port'));
});
