// `health.grpc` in a pool: the options the grpc check adds to the config schema through the health registry,
// their defaults, the TLS-only options refused without `tls`, and errors reported with their config path.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, formatDiagnostic } from '../../../../src/control/config/diagnostics.ts';
import { parseConfigText } from '../../../../src/control/config/load.ts';
import { validateConfig, type Config } from '../../../../src/control/config/schema.ts';

function withHealth(health: unknown): Record<string, unknown> {
  return {
    listeners: [{ name: 'web', address: '127.0.0.1:8080', routes: [{ forward: { pool: 'cart' } }] }],
    pools: [{ name: 'cart', endpoints: [{ address: '127.0.0.1:50051' }], health }],
  };
}

function valid(raw: unknown): Config {
  const result = validateConfig(raw);
  if (!result.ok) assert.fail(result.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n'));
  return result.config;
}

function issues(raw: unknown): string[] {
  const result = validateConfig(raw);
  assert.equal(result.ok, false, 'expected the config to be rejected');
  return result.ok ? [] : result.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('pools[].health.grpc', () => {
  it('defaults: the whole server (service ""), cleartext h2c, verify on', () => {
    const h = valid(withHealth({ grpc: {} })).pools[0].health!;
    assert.equal(h.kind, 'grpc');
    assert.deepEqual(h.grpc, { service: '', tls: false, verify: true });
    assert.equal(h.interval, 5000);
  });

  it('a named service next to the timing options', () => {
    const h = valid(withHealth({ grpc: { service: 'x' }, interval: '100ms', timeout: '50ms', rise: 1, fall: 2 })).pools[0].health!;
    assert.equal(h.kind, 'grpc');
    assert.deepEqual(h.grpc, { service: 'x', tls: false, verify: true });
    assert.deepEqual([h.interval, h.unhealthyInterval, h.timeout, h.rise, h.fall], [100, 100, 50, 1, 2]);
  });

  it('TLS options with tls: true', () => {
    const grpc = { service: 'shop.Cart', authority: 'cart.internal:50051', tls: true, servername: 'cart.internal', ca: '/etc/ssl/ca.pem', verify: false };
    assert.deepEqual(valid(withHealth({ grpc })).pools[0].health!.grpc, grpc);
  });

  it('servername, ca and verify: false are refused without tls', () => {
    assert.deepEqual(issues(withHealth({ grpc: { servername: 'a.test', ca: 'ca.pem', verify: false } })), [
      'pools.0.health.grpc.servername: "servername" applies only with tls: true',
      'pools.0.health.grpc.ca: "ca" applies only with tls: true',
      'pools.0.health.grpc.verify: "verify" applies only with tls: true',
    ]);
  });

  it('bad values and unknown keys are reported with their paths', () => {
    const found = issues(withHealth({ grpc: { service: 5, tls: 'yes', authority: 'a b' } }));
    const paths = found.map((f) => f.split(':')[0]);
    for (const p of ['service', 'tls', 'authority']) assert.ok(paths.includes(`pools.0.health.grpc.${p}`), `${p} in ${found.join('\n')}`);
    assert.deepEqual(issues(withHealth({ grpc: { servce: 'x' } })), ['pools.0.health.grpc.servce: unknown key "servce" (did you mean "service"?)']);
    assert.ok(issues(withHealth({ grpc: {}, tcp: {} }))[0].includes('found "tcp" and "grpc"'));
  });

  it('YAML errors point at file:line:column', () => {
    const text = [
      'listeners:',
      '  - name: web',
      '    address: 127.0.0.1:8080',
      '    routes: [{ forward: { pool: cart } }]',
      'pools:',
      '  - name: cart',
      '    endpoints: [{ address: 127.0.0.1:50051 }]',
      '    health:',
      '      grpc: { service: shop.Cart, ca: ca.pem }',
      '',
    ].join('\n');
    try {
      parseConfigText(text, 'f.yaml');
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.diagnostics.map(formatDiagnostic), ['f.yaml:9:39: pools[0].health.grpc.ca: "ca" applies only with tls: true']);
    }
  });
});
