// Header edits: the schema (lowercased names, refused framing/hop-by-hop names, values without control
// characters, variables checked) and the compiled form the data plane applies (removeNames, constant lines,
// templated lines with unsafe values dropped).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configErrorMap, formatPath, issuesFromZod } from '../../../src/control/config/diagnostics.ts';
import { compileHeaderEdits, headerEditsSchema, type HeaderVariables } from '../../../src/filters/header-edits.ts';

function parse(raw: unknown) {
  const r = headerEditsSchema.safeParse(raw, { error: configErrorMap, reportInput: true });
  if (!r.success) assert.fail(r.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('\n'));
  return r.data;
}

function issues(raw: unknown): string[] {
  const r = headerEditsSchema.safeParse(raw, { error: configErrorMap, reportInput: true });
  assert.equal(r.success, false, 'expected the edits to be rejected');
  return r.success ? [] : issuesFromZod(r.error.issues, headerEditsSchema, raw).map((i) => `${formatPath(i.path)}: ${i.message}`);
}

function vars(over: Partial<HeaderVariables> = {}): HeaderVariables {
  return {
    clientAddress: '203.0.113.7',
    requestId: 'req-42',
    host: 'shop.example.com',
    method: 'GET',
    path: '/cart',
    scheme: 'https',
    pool: 'web-v2',
    endpoint: '10.0.0.5:8080',
    ...over,
  };
}

describe('headerEditsSchema', () => {
  it('lowercases names, keeps config order, dedupes remove, defaults to empty lists', () => {
    assert.deepEqual(parse({ set: { 'X-B': '2', 'X-A': '1' }, remove: ['Server', 'server'] }), {
      set: [['x-b', '2'], ['x-a', '1']],
      add: [],
      remove: ['server'],
    });
    assert.deepEqual(parse({}), { set: [], add: [], remove: [] });
  });

  it('refuses framing and hop-by-hop names, and Host, at their path', () => {
    assert.deepEqual(issues({ set: { 'Content-Length': '0' }, remove: ['transfer-encoding', 'Host'], add: { upgrade: 'h2c' } }), [
      'set["Content-Length"]: expected a header name other than a framing or hop-by-hop one, found "Content-Length" (it frames the message; Fulcrum writes it)',
      'add.upgrade: expected a header name other than a framing or hop-by-hop one, found "upgrade" (it is hop-by-hop; Fulcrum writes it)',
      'remove[0]: expected a header name other than a framing or hop-by-hop one, found "transfer-encoding" (it frames the message; Fulcrum writes it)',
      'remove[1]: expected a header name other than a framing or hop-by-hop one, found "Host" (set the upstream Host with rewrite.host)',
    ]);
    for (const name of ['connection', 'keep-alive', 'te', 'proxy-connection']) {
      assert.equal(issues({ remove: [name] }).length, 1, name);
    }
  });

  it('refuses CR, LF and NUL in values, bad names, unknown variables and stray $', () => {
    assert.deepEqual(issues({ set: { 'x-a': 'one\r\nx-b: two', 'bad name': 'v', 'x-c': '${user}', 'x-d': 'US$5' } }), [
      'set["x-a"]: expected a header value without CR, LF, NUL or other control characters (latin1 text), found "one\\r\\nx-b: two"',
      'set["bad name"]: expected an HTTP header name like "x-request-id", found "bad name"',
      'set["x-c"]: expected a known variable (${client_ip}, ${request_id}, ${host}, ${method}, ${path}, ${scheme}, ${pool}, ${endpoint}, ${route}), found "${user}"',
      'set["x-d"]: expected "${name}" for a variable or "$$" for a literal "$", found "$5" at character 3',
    ]);
    assert.deepEqual(issues({ add: { 'x-a': 'nul\0' } }).length, 1);
    assert.deepEqual(issues({ add: { 'x-a': 5 } }), ['add["x-a"]: expected a header value without CR, LF, NUL or other control characters (latin1 text), found 5']);
  });

  it('refuses a name written twice in one map, or both removed and set, and unknown keys', () => {
    assert.deepEqual(issues({ set: { 'x-a': '1', 'X-A': '2' } }), ['set["X-A"]: expected each header name once, found "X-A" (also written "x-a")']);
    assert.deepEqual(issues({ set: { 'x-a': '1' }, remove: ['X-A'] }), [
      'remove[0]: expected a header name not also in "set", found "x-a" (set already replaces its lines)',
    ]);
    assert.deepEqual(issues({ add: { 'x-a': '1' }, remove: ['x-a'] }), [
      'remove[0]: expected a header name not also in "add", found "x-a" (to replace its lines, use set)',
    ]);
    assert.deepEqual(issues({ sets: {} }), ['sets: unknown key "sets" (did you mean "set"?)']);
    assert.deepEqual(issues({ set: ['x-a'] }), ['set: expected a mapping of header names to values like { x-env: prod }, found a list']);
  });
});

describe('compileHeaderEdits', () => {
  it('is null when there is nothing to do', () => {
    assert.equal(compileHeaderEdits(undefined, 'r'), null);
    assert.equal(compileHeaderEdits(parse({}), 'r'), null);
  });

  it('constant edits: removeNames = remove ∪ set names; lines = set then add, precomputed', () => {
    const edits = compileHeaderEdits(parse({ add: { 'X-Env': 'prod' }, set: { 'Cache-Control': 'no-store' }, remove: ['Server'] }), 'r')!;
    assert.deepEqual([...edits.removeNames].sort(), ['cache-control', 'server']);
    assert.equal(edits.constant, 'cache-control: no-store\r\nx-env: prod\r\n');
    assert.equal(edits.lines(vars()), edits.constant);
  });

  it('${route} and $$ are folded in at compile time', () => {
    const edits = compileHeaderEdits(parse({ set: { 'x-route': '${route}', 'x-price': '$$5' } }), 'shop-api')!;
    assert.equal(edits.constant, 'x-route: shop-api\r\nx-price: $5\r\n');
  });

  it('templated values expand per exchange', () => {
    const edits = compileHeaderEdits(
      parse({ set: { 'x-client': '${client_ip}' }, add: { 'x-trace': '${request_id}@${host}${path} ${method} ${scheme}', 'x-served-by': '${pool}/${endpoint}' } }),
      'r',
    )!;
    assert.equal(edits.constant, null);
    assert.equal(
      edits.lines(vars()),
      'x-client: 203.0.113.7\r\nx-trace: req-42@shop.example.com/cart GET https\r\nx-served-by: web-v2/10.0.0.5:8080\r\n',
    );
    // for request edits the data plane leaves `endpoint` empty
    assert.equal(edits.lines(vars({ endpoint: '', requestId: 'req-43' })).split('\r\n')[2], 'x-served-by: web-v2/');
  });

  it('a request value with CR/LF is dropped, not injected; an empty value leaves the line out', () => {
    const edits = compileHeaderEdits(parse({ set: { 'x-id': '${request_id}', 'x-host': 'h=${host}' } }), 'r')!;
    assert.equal(edits.lines(vars({ requestId: 'a\r\nx-admin: 1', host: 'ok' })), 'x-host: h=ok\r\n');
    assert.deepEqual([...edits.removeNames].sort(), ['x-host', 'x-id']);
  });

  it('set with an empty value only removes', () => {
    const edits = compileHeaderEdits(parse({ set: { server: '' } }), 'r')!;
    assert.deepEqual([...edits.removeNames], ['server']);
    assert.equal(edits.constant, '');
  });
});
