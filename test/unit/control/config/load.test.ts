import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, formatDiagnostic, type Diagnostic } from '../../../../src/control/config/diagnostics.ts';
import { loadConfigFile, parseConfigText, parseConfigValue } from '../../../../src/control/config/load.ts';
import type { ListenerConfig } from '../../../../src/control/config/schema.ts';

const root = new URL('../../../../', import.meta.url);

function diagnosticsOf(text: string, file = 'fulcrum.yaml'): Diagnostic[] {
  try {
    parseConfigText(text, file);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return [...error.diagnostics];
  }
  assert.fail('expected the config to be rejected');
}

function linesOf(text: string): string[] {
  return diagnosticsOf(text).map(formatDiagnostic);
}

const valid = `listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - forward: { pool: web }
pools:
  - name: web
    endpoints:
      - address: 127.0.0.1:9001
`;

describe('parseConfigText', () => {
  it('parses a valid YAML config with defaults filled in', () => {
    const config = parseConfigText(valid, 'fulcrum.yaml');
    assert.equal(config.listeners[0].address.port, 8080);
    assert.equal((config.listeners[0] as ListenerConfig).routes[0].name, 'web-0');
    assert.equal(config.pools[0].endpoints[0].weight, 1);
    assert.equal(config.shutdown.drainTimeout, 30_000);
  });

  it('points each error at line:column with its config path', () => {
    const text = `listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - forward: { pool: web }
pools:
  - name: web
    endpoints:
      - address: 10.0.0.1
        weight: 300
`;
    assert.deepEqual(diagnosticsOf(text), [
      {
        file: 'fulcrum.yaml',
        line: 9,
        column: 18,
        path: 'pools[0].endpoints[0].address',
        message: 'expected host:port like "10.0.0.1:8080", found "10.0.0.1" (no port)',
      },
      { file: 'fulcrum.yaml', line: 10, column: 17, path: 'pools[0].endpoints[0].weight', message: 'expected an integer 0..256, found 300' },
    ]);
  });

  it('reports every error at once, sorted by position, cross-references included', () => {
    // The example in docs/config.md, "Errors".
    const text = `listeners:
  - name: web
    tmeouts: { request: 5s }
    address: 127.0.0.1:8080
    routes:
      - match: { path: { prefix: /api/ } }
        forward: { pool: wbe }
pools:
  - name: web
    balancer: { algorithm: round-robin }
    endpoints:
      - address: 10.0.0.1
    timeouts:
      connect: 5 s
`;
    assert.deepEqual(linesOf(text), [
      'fulcrum.yaml:3:5: listeners[0].tmeouts: unknown key "tmeouts" (did you mean "timeouts"?)',
      'fulcrum.yaml:7:26: listeners[0].routes[0].forward.pool: expected the name of a pool, found "wbe" (did you mean "web"?)',
      'fulcrum.yaml:12:18: pools[0].endpoints[0].address: expected host:port like "10.0.0.1:8080", found "10.0.0.1" (no port)',
      'fulcrum.yaml:14:16: pools[0].timeouts.connect: expected a duration like "5s" or "250ms", found "5 s"',
    ]);
  });

  it('points a missing key at the object that lacks it', () => {
    const text = `listeners:
  - name: web
    routes:
      - forward: {}
pools:
  - name: web
    endpoints: []
`;
    assert.deepEqual(linesOf(text), [
      'fulcrum.yaml:2:5: listeners[0].address: missing required key "address": expected host:port like "10.0.0.1:8080"',
      'fulcrum.yaml:4:18: listeners[0].routes[0].forward: expected exactly one of "pool" or "pools", found neither',
    ]);
  });

  it('points a missing top-level section at the document', () => {
    assert.deepEqual(linesOf(`# comment\n\npools:\n  - name: web\n    endpoints: []\n`), [
      'fulcrum.yaml:3:1: listeners: missing required key "listeners": expected a list',
    ]);
  });

  it('points an unknown key at the key, even when its value is nested', () => {
    const text = `${valid}shutdown:\n  drainTimeout: 10s\n  hardStop:\n    after: 5s\n`;
    assert.deepEqual(linesOf(text), [
      'fulcrum.yaml:12:3: shutdown.hardStop: unknown key "hardStop" (expected one of "drainTimeout")',
    ]);
  });

  it('points an empty value at its key', () => {
    const text = valid.replace('    endpoints:\n      - address: 127.0.0.1:9001\n', '    endpoints:\n');
    assert.deepEqual(linesOf(text), [
      'fulcrum.yaml:8:5: pools[0].endpoints: expected a list, found an empty value (write [] for none)',
    ]);
  });

  it('reports duplicate names at the later one', () => {
    const text = `${valid}  - name: web\n    endpoints: []\n`;
    assert.deepEqual(linesOf(text), ['fulcrum.yaml:10:11: pools[1].name: duplicate pool name "web" (first at pools[0].name)']);
  });

  it('reports YAML syntax errors with their position', () => {
    assert.deepEqual(linesOf('listeners: [1\npools: 2\n'), [
      'fulcrum.yaml:2:1: YAML: flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    assert.deepEqual(linesOf(`${valid}pools: []\n`), ['fulcrum.yaml:10:1: YAML: duplicate key "pools"']);
    assert.deepEqual(linesOf('listeners:\n\t- name: web\n').length, 1);
    assert.match(linesOf('listeners:\n\t- name: web\n')[0], /^fulcrum\.yaml:2:1: YAML: tabs are not allowed as indentation/);
    assert.match(linesOf(`${valid}---\n${valid}`)[0], /^fulcrum\.yaml:10:1: YAML: source contains multiple documents/);
  });

  it('rejects an empty file', () => {
    assert.deepEqual(linesOf(''), ['fulcrum.yaml:1:1: expected an object with "listeners" and "pools", found nothing']);
    assert.deepEqual(linesOf('# nothing\n'), ['fulcrum.yaml:1:1: expected an object with "listeners" and "pools", found nothing']);
  });

  it('follows aliases', () => {
    const text = `listeners:
  - name: web
    address: 127.0.0.1:8080
    timeouts: &timeouts { requestHeader: 5s }
    routes: [{ forward: { pool: web } }]
  - name: admin
    address: 127.0.0.1:8081
    timeouts: *timeouts
    routes: [{ forward: { pool: web } }]
pools: [{ name: web, endpoints: [] }]
`;
    const config = parseConfigText(text, 'fulcrum.yaml');
    assert.equal((config.listeners[1] as ListenerConfig).timeouts.requestHeader, 5_000);
  });

  it('parses JSON and locates its errors', () => {
    const json = JSON.stringify(
      {
        listeners: [{ name: 'web', address: '127.0.0.1:8080', routes: [{ forward: { pool: 'web' } }] }],
        pools: [{ name: 'web', endpoints: [{ address: '127.0.0.1:9001', weight: 2 }] }],
      },
      null,
      2,
    );
    const config = parseConfigText(json, 'fulcrum.json');
    assert.equal(config.pools[0].endpoints[0].weight, 2);
    const broken = json.replace('"weight": 2', '"weight": "heavy"');
    const lines = broken.split('\n');
    const line = lines.findIndex((l) => l.includes('"heavy"')) + 1;
    const column = lines[line - 1].indexOf('"heavy"') + 1;
    assert.deepEqual(diagnosticsOf(broken, 'fulcrum.json'), [
      { file: 'fulcrum.json', line, column, path: 'pools[0].endpoints[0].weight', message: 'expected an integer 0..256, found "heavy"' },
    ]);
  });

  it('loads the documented full example', async () => {
    const docs = await readFile(new URL('docs/config.md', root), 'utf8');
    const example = /## Full example\s+```yaml\n([\s\S]*?)```/.exec(docs);
    assert.ok(example, 'docs/config.md has a full example');
    const config = parseConfigText(example[1], 'docs/config.md');
    assert.deepEqual((config.listeners[0] as ListenerConfig).routes.map((r: { name: string }) => r.name), ['api', 'health', 'web-2']);
    assert.deepEqual((config.listeners[0] as ListenerConfig).routes[0].match.host, ['api.example.com', '*.api.example.com']);
    assert.equal(config.pools[0].balancer.algorithm, 'weighted-round-robin');
    assert.equal(config.admin?.address.text, '127.0.0.1:9900');
  });
});

describe('ConfigError', () => {
  it('carries the diagnostics and prints them in its message', () => {
    try {
      parseConfigText('pools: 1\n', 'x.yaml');
      assert.fail('expected a ConfigError');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.diagnostics.length, 2);
      assert.equal(
        error.message,
        '2 configuration errors:\n' +
          'x.yaml:1:1: listeners: missing required key "listeners": expected a list\n' +
          'x.yaml:1:8: pools: expected a list, found 1',
      );
    }
  });

  it('formats a diagnostic as file:line:column: path: message', () => {
    const d = { file: 'f.yaml', line: 12, column: 7, path: 'pools[2].endpoints[0].address', message: 'expected x, found y' };
    assert.equal(formatDiagnostic(d), 'f.yaml:12:7: pools[2].endpoints[0].address: expected x, found y');
    assert.equal(formatDiagnostic({ ...d, path: '' }), 'f.yaml:12:7: expected x, found y');
    assert.equal(formatDiagnostic({ ...d, line: 0, column: 0 }), 'f.yaml: pools[2].endpoints[0].address: expected x, found y');
  });
});

describe('parseConfigValue', () => {
  it('validates a plain value and reports paths without positions', () => {
    const config = parseConfigValue({
      listeners: [{ name: 'web', address: '127.0.0.1:0', routes: [{ forward: { pool: 'web' } }] }],
      pools: [{ name: 'web', endpoints: [] }],
    });
    assert.equal(config.listeners[0].address.port, 0);
    assert.throws(
      () => parseConfigValue({ listeners: [], pools: [{ name: 'web', endpoints: [], maxTries: 0 }] }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.diagnostics.map(formatDiagnostic).join('\n') ===
          '<config>: listeners: expected a list of at least 1 item, found an empty list\n' +
            '<config>: pools[0].maxTries: expected an integer 1..10, found 0',
    );
  });
});

describe('loadConfigFile', () => {
  it('loads examples/basic.yaml', async () => {
    const config = await loadConfigFile(new URL('examples/basic.yaml', root).pathname);
    assert.equal(config.listeners.length, 1);
    assert.equal(config.listeners[0].protocol, 'http');
    assert.equal(config.listeners[0].address.text, '127.0.0.1:8080');
    assert.deepEqual(config.pools[0].balancer, { algorithm: 'round-robin' });
    assert.deepEqual(config.pools[0].endpoints.map((e) => e.address.text), ['127.0.0.1:9001', '127.0.0.1:9002']);
  });

  it('names the file in diagnostics', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fulcrum-config-'));
    try {
      const file = join(dir, 'bad.yaml');
      await writeFile(file, valid.replace('127.0.0.1:9001', '127.0.0.1'));
      await assert.rejects(loadConfigFile(file), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.diagnostics[0].file, file);
        assert.equal(error.diagnostics[0].line, 9);
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lets file-system errors through', async () => {
    await assert.rejects(loadConfigFile('/nonexistent/fulcrum.yaml'), { code: 'ENOENT' });
  });
});
