// The `health` and `panicThreshold` pool options: defaults, the check kinds derived from the health registry
// (exactly one), and errors reported with their config path and file position.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, formatDiagnostic } from '../../../../src/control/config/diagnostics.ts';
import { parseConfigText } from '../../../../src/control/config/load.ts';
import { validateConfig, type Config } from '../../../../src/control/config/schema.ts';
import { healthCheckPlugins } from '../../../../src/upstream/health/registry.ts';

type Raw = Record<string, any>;

function withHealth(health: unknown, pool: Raw = {}): Raw {
  return {
    listeners: [{ name: 'web', address: '127.0.0.1:8080', routes: [{ forward: { pool: 'web' } }] }],
    pools: [{ name: 'web', endpoints: [{ address: '127.0.0.1:9001' }], health, ...pool }],
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

describe('pools[].health', () => {
  it('is absent by default; panicThreshold defaults to 50', () => {
    const pool = valid(withHealth(undefined)).pools[0];
    assert.equal(pool.health, undefined);
    assert.equal(pool.panicThreshold, 50);
  });

  it('tcp: every timing default filled in; unhealthyInterval follows interval', () => {
    assert.deepEqual(valid(withHealth({ tcp: {}, interval: '1s' })).pools[0].health, {
      tcp: {},
      kind: 'tcp',
      interval: 1000,
      unhealthyInterval: 1000,
      timeout: 2000,
      rise: 2,
      fall: 3,
      initialState: 'healthy',
    });
  });

  it('http: defaults GET /, 200-399; options parsed', () => {
    const h = valid(withHealth({ http: {} })).pools[0].health!;
    assert.equal(h.interval, 5000);
    assert.deepEqual(h.http, { method: 'GET', path: '/', headers: {}, expect: [[200, 399]] });
    const full = valid(
      withHealth({
        http: { method: 'HEAD', path: '/healthz?full=1', host: 'app.internal', headers: { 'x-check': '1' }, expect: [200, '300-302'], bodyContains: 'ok' },
        interval: '100ms',
        unhealthyInterval: '1s',
        timeout: '50ms',
        rise: 1,
        fall: 5,
        port: 8081,
        initialState: 'unhealthy',
      }),
    ).pools[0].health!;
    assert.deepEqual(full.http?.expect, [[200, 200], [300, 302]]);
    assert.equal(full.kind, 'http');
    assert.equal(full.unhealthyInterval, 1000);
    assert.equal(full.port, 8081);
    assert.equal(full.initialState, 'unhealthy');
  });

  it('check kinds come from the health registry', () => {
    assert.deepEqual(healthCheckPlugins.map((p) => p.name), ['tcp', 'http', 'https', 'grpc']);
    for (const p of healthCheckPlugins) assert.equal(valid(withHealth({ [p.name]: {} })).pools[0].health?.kind, p.name);
  });

  it('exactly one check kind', () => {
    assert.deepEqual(issues(withHealth({ interval: '1s' })), ['pools.0.health: expected exactly one check kind, "tcp" or "http" or "https" or "grpc", found none']);
    assert.deepEqual(issues(withHealth({ tcp: {}, http: {} })), ['pools.0.health: expected exactly one check kind, "tcp" or "http" or "https" or "grpc", found "tcp" and "http"']);
  });

  it('bad values are reported with their paths, all together', () => {
    const found = issues(
      withHealth(
        { http: { expect: '200-600', method: 'get', path: 'health' }, interval: 0, timeout: '2', rise: 0, fall: 1.5, port: 70000, initialState: 'up' },
        { panicThreshold: 101 },
      ),
    );
    const paths = found.map((f) => f.split(':')[0]);
    for (const p of ['http.expect', 'http.method', 'http.path', 'interval', 'timeout', 'rise', 'fall', 'port', 'initialState']) {
      assert.ok(paths.includes(`pools.0.health.${p}`), `${p} in ${found.join('\n')}`);
    }
    assert.ok(paths.includes('pools.0.panicThreshold'));
    assert.ok(found.includes('pools.0.health.interval: expected a duration above 0, found 0'));
    assert.ok(found.some((f) => f.startsWith('pools.0.health.http.expect: expected a status like 200')));
  });

  it('unknown keys get a suggestion', () => {
    assert.deepEqual(issues(withHealth({ tcp: {}, intreval: '1s' })), ['pools.0.health.intreval: unknown key "intreval" (did you mean "interval"?)']);
  });

  it('YAML errors point at file:line:column', () => {
    const text = [
      'listeners:',
      '  - name: web',
      '    address: 127.0.0.1:8080',
      '    routes: [{ forward: { pool: web } }]',
      'pools:',
      '  - name: web',
      '    endpoints: [{ address: 127.0.0.1:9001 }]',
      '    health:',
      '      http: { path: /health, expect: 99 }',
      '      fall: 0',
      '',
    ].join('\n');
    try {
      parseConfigText(text, 'f.yaml');
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.diagnostics.map(formatDiagnostic), [
        'f.yaml:9:38: pools[0].health.http.expect: expected a status like 200, a range like "200-399", or a list of them, found 99',
        'f.yaml:10:13: pools[0].health.fall: expected an integer 1..1000, found 0',
      ]);
    }
  });
});
