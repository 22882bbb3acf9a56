// The request of an HTTP/2 stream as routing sees it: pseudo-headers apart, cookie fields joined with "; "
// (RFC 9113 §8.2.3), the authority without its port, header and query lookups; malformed lists are 400,
// too many fields or too large a list 431.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { H2Request, validName, validValue, type Pseudo } from '../../../../src/http/h2/request.ts';

const pseudo = (): Pseudo => ({ method: '', path: '', authority: null, protocol: false });

test('pseudo-headers are read apart; cookie fields are joined in order into one', () => {
  const req = new H2Request();
  const p = pseudo();
  const raw = [':method', 'GET', ':scheme', 'https', ':path', '/a/b?x=1&y', ':authority', 'Shop.Example.com:8443', 'cookie', 'a=1', 'x-id', '7', 'cookie', 'session="s-9"', 'cookie', 'b=2'];
  assert.equal(req.read(raw, 100, 65536, p), 0);
  assert.deepEqual(p, { method: 'GET', path: '/a/b?x=1&y', authority: 'Shop.Example.com:8443', protocol: false });
  assert.deepEqual(req.names, ['cookie', 'x-id']);
  assert.deepEqual(req.values, ['a=1; session="s-9"; b=2', '7']);
  req.authority = p.authority!;
  req.target = p.path;
  assert.equal(req.host(), 'shop.example.com');
  assert.equal(req.path(), '/a/b');
  assert.equal(req.pathAndQuery(), '/a/b?x=1&y');
  assert.equal(req.query('x'), '1');
  assert.equal(req.query('y'), '');
  assert.equal(req.query('z'), null);
  assert.equal(req.cookie('session'), 's-9');
  assert.equal(req.cookie('b'), '2');
  assert.equal(req.cookie('c'), null);
  assert.equal(req.header('x-id'), '7');
  assert.equal(req.header('host'), 'Shop.Example.com:8443', 'host falls back to :authority');
});

test('a reused request forgets the previous stream', () => {
  const req = new H2Request();
  req.read([':method', 'GET', ':path', '/', 'cookie', 'a=1'], 100, 65536, pseudo());
  req.read([':method', 'GET', ':path', '/', 'x', 'y'], 100, 65536, pseudo());
  assert.equal(req.cookie('a'), null);
  assert.deepEqual(req.names, ['x']);
});

test('IPv6 authorities keep their brackets', () => {
  const req = new H2Request();
  req.authority = '[::1]:8080';
  assert.equal(req.host(), '[::1]');
});

test('malformed lists are 400: unknown pseudo-header, uppercase or empty name, control characters', () => {
  const req = new H2Request();
  assert.equal(req.read([':method', 'GET', ':weird', 'x'], 100, 65536, pseudo()), 400);
  assert.equal(req.read(['X-Upper', 'v'], 100, 65536, pseudo()), 400);
  assert.equal(req.read(['x-ctl', 'a\x01b'], 100, 65536, pseudo()), 400);
  assert.equal(req.read(['x-del', 'a\x7fb'], 100, 65536, pseudo()), 400);
  assert.equal(req.read(['x sp', 'v'], 100, 65536, pseudo()), 400);
  assert.equal(req.read(['x-tab', 'a\tb'], 100, 65536, pseudo()), 0);
  assert.equal(req.read(['x-latin1', 'caf\xe9'], 100, 65536, pseudo()), 0);
});

test('more fields than maxHeaders, or a list over the size limit (name + value + 32 each), is 431', () => {
  const req = new H2Request();
  const fields = (n: number) => Array.from({ length: n }, (_, i) => [`x-${i}`, 'v']).flat();
  assert.equal(req.read(fields(10), 10, 65536, pseudo()), 0);
  assert.equal(req.read(fields(11), 10, 65536, pseudo()), 431);
  // joined cookies count once
  assert.equal(req.read([...fields(9), 'cookie', 'a=1', 'cookie', 'b=2'], 10, 65536, pseudo()), 0);
  const big = ['x-big', 'a'.repeat(100)];
  assert.equal(req.read(big, 10, 5 + 100 + 32, pseudo()), 0);
  assert.equal(req.read(big, 10, 5 + 100 + 31, pseudo()), 431);
});

test('validName and validValue', () => {
  assert.ok(validName('x-forwarded-for'));
  assert.ok(!validName(''));
  assert.ok(!validName('Host'));
  assert.ok(!validName('a:b'));
  assert.ok(validValue(''));
  assert.ok(!validValue('a\r\nb'));
  assert.ok(!validValue('\u0100'));
});
