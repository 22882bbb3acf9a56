import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { z } from 'zod';
import { validateConfig, configSchema, type Config, type ListenerConfig } from '../../../../src/control/config/schema.ts';
import type { ConfigIssue } from '../../../../src/control/config/diagnostics.ts';
import { balancerPlugins } from '../../../../src/upstream/balancing/registry.ts';

type Raw = Record<string, any>;

function minimal(): Raw {
  return {
    listeners: [{ name: 'web', address: '127.0.0.1:8080', routes: [{ forward: { pool: 'web' } }] }],
    pools: [{ name: 'web', endpoints: [{ address: '127.0.0.1:9001' }] }],
  };
}

/** A valid config whose listeners are all HTTP ones (what these tests build). */
type HttpConfig = Omit<Config, 'listeners'> & { listeners: ListenerConfig[] };

function valid(raw: unknown): HttpConfig {
  const result = validateConfig(raw);
  if (!result.ok) assert.fail(`expected a valid config, got:\n${result.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n')}`);
  return result.config as HttpConfig;
}

function issues(raw: unknown): { path: string; message: string; at: ConfigIssue['at'] }[] {
  const result = validateConfig(raw);
  assert.equal(result.ok, false, 'expected the config to be rejected');
  return result.ok ? [] : result.issues.map((i) => ({ path: i.path.join('.'), message: i.message, at: i.at }));
}

/** The single issue a config has. */
function issue(raw: unknown): { path: string; message: string; at: ConfigIssue['at'] } {
  const all = issues(raw);
  assert.equal(all.length, 1, `expected one issue, got ${JSON.stringify(all, null, 1)}`);
  return all[0];
}

describe('defaults', () => {
  it('fill every optional option of a minimal config', () => {
    const config = valid(minimal());
    const listener = config.listeners[0];
    assert.equal(listener.protocol, 'http');
    assert.deepEqual(listener.address, { host: '127.0.0.1', port: 8080, text: '127.0.0.1:8080' });
    assert.deepEqual(listener.timeouts, { requestHeader: 10_000, keepAlive: 60_000, request: 0, tunnelIdle: 3_600_000 });
    assert.deepEqual(listener.limits, { maxRequestLine: 8_192, maxHeaderSize: 32_768, maxHeaders: 100 });
    assert.deepEqual(listener.trustedProxies, []);
    assert.equal(listener.requestIdHeader, 'x-request-id');
    assert.deepEqual(listener.routes[0], { name: 'web-0', priority: 0, match: {}, forward: { pool: 'web' }, timeouts: {} });
    const pool = config.pools[0];
    assert.deepEqual(pool.balancer, { algorithm: 'round-robin' });
    assert.deepEqual(pool.endpoints, [{ address: { host: '127.0.0.1', port: 9001, text: '127.0.0.1:9001' }, weight: 1 }]);
    assert.deepEqual(pool.connections, { maxConnections: 1024, maxQueue: 1024, queueTimeout: 5_000, idleTimeout: 4_000 });
    assert.deepEqual(pool.timeouts, { connect: 5_000, response: 60_000 });
    assert.equal(pool.maxTries, 3);
    assert.equal(config.admin, undefined);
    assert.deepEqual(config.shutdown, { drainTimeout: 30_000 });
  });

  it('give an admin section its loopback address', () => {
    const raw = minimal();
    raw.admin = {};
    assert.deepEqual(valid(raw).admin, { address: { host: '127.0.0.1', port: 9900, text: '127.0.0.1:9900' } });
  });

  it('do not share mutable defaults between parses', () => {
    const a = valid(minimal());
    a.listeners[0].trustedProxies.push(null as never);
    assert.deepEqual(valid(minimal()).listeners[0].trustedProxies, []);
  });

  it('name routes `${listener}-${index}` unless named', () => {
    const raw = minimal();
    raw.listeners[0].routes = [
      { match: { path: { prefix: '/api/' } }, forward: { pool: 'web' } },
      { name: 'static', forward: { pool: 'web' } },
      { forward: { pool: 'web' } },
    ];
    assert.deepEqual(valid(raw).listeners[0].routes.map((r) => r.name), ['web-0', 'static', 'web-2']);
  });
});

describe('parsed values', () => {
  it('turn units, addresses and CIDRs into numbers and structures', () => {
    const raw = minimal();
    Object.assign(raw.listeners[0], {
      timeouts: { requestHeader: '5s', keepAlive: '1.5s', request: '2m' },
      limits: { maxRequestLine: '4kb', maxHeaderSize: '1mb', maxHeaders: 50 },
      trustedProxies: ['10.0.0.0/8', '::1'],
      requestIdHeader: 'X-Trace-Id',
    });
    Object.assign(raw.pools[0], {
      endpoints: [{ address: '[::1]:9001', weight: 0 }, { address: 'backend.local:80', weight: 256 }],
      connections: { maxConnections: 10, maxQueue: 0, queueTimeout: '250ms', idleTimeout: '1s' },
      timeouts: { connect: '1s', response: 0 },
      maxTries: 10,
    });
    const config = valid(raw);
    const listener = config.listeners[0];
    assert.deepEqual(listener.timeouts, { requestHeader: 5_000, keepAlive: 1_500, request: 120_000, tunnelIdle: 3_600_000 });
    assert.deepEqual(listener.limits, { maxRequestLine: 4_096, maxHeaderSize: 1_048_576, maxHeaders: 50 });
    assert.deepEqual(listener.trustedProxies.map((c) => c.text), ['10.0.0.0/8', '::1/128']);
    assert.equal(listener.requestIdHeader, 'x-trace-id');
    const pool = config.pools[0];
    assert.deepEqual(pool.endpoints.map((e) => [e.address.host, e.address.port, e.weight]), [['::1', 9001, 0], ['backend.local', 80, 256]]);
    assert.deepEqual(pool.connections, { maxConnections: 10, maxQueue: 0, queueTimeout: 250, idleTimeout: 1_000 });
    assert.deepEqual(pool.timeouts, { connect: 1_000, response: 0 });
    assert.equal(pool.maxTries, 10);
  });

  it('accept port 0 for listeners and the admin listener', () => {
    const raw = minimal();
    raw.listeners[0].address = '127.0.0.1:0';
    raw.admin = { address: '127.0.0.1:0' };
    const config = valid(raw);
    assert.equal(config.listeners[0].address.port, 0);
    assert.equal(config.admin?.address.port, 0);
  });

  it('accept an empty endpoint list', () => {
    const raw = minimal();
    raw.pools[0].endpoints = [];
    assert.deepEqual(valid(raw).pools[0].endpoints, []);
  });
});

describe('route match', () => {
  const withMatch = (match: unknown) => {
    const raw = minimal();
    raw.listeners[0].routes[0].match = match;
    return raw;
  };

  it('lowercases hosts and always gives a list', () => {
    assert.deepEqual(valid(withMatch({ host: 'API.Example.com' })).listeners[0].routes[0].match, { host: ['api.example.com'] });
    assert.deepEqual(
      valid(withMatch({ host: ['*.Example.com', 'example.com', '10.0.0.1', '[::1]'] })).listeners[0].routes[0].match.host,
      ['*.example.com', 'example.com', '10.0.0.1', '[::1]'],
    );
  });

  it('rejects malformed host patterns, pointing at the bad item', () => {
    for (const host of ['*', 'a.*.com', '*example.com', 'api.example.com:80', 'exa mple.com', '']) {
      assert.deepEqual(issue(withMatch({ host: ['ok.com', host] })), {
        path: 'listeners.0.routes.0.match.host.1',
        message: `expected a host like "api.example.com" or "*.example.com", found ${JSON.stringify(host)}`,
        at: 'value',
      });
    }
    assert.equal(
      issue(withMatch({ host: [] })).message,
      'expected a host like "api.example.com" or "*.example.com" or a non-empty list of them, found an empty list',
    );
  });

  it('takes exactly one of prefix or exact, each starting with "/"', () => {
    assert.deepEqual(valid(withMatch({ path: { prefix: '/api/' } })).listeners[0].routes[0].match.path, { kind: 'prefix', value: '/api/' });
    assert.deepEqual(valid(withMatch({ path: { exact: '/health' } })).listeners[0].routes[0].match.path, { kind: 'exact', value: '/health' });
    assert.equal(issue(withMatch({ path: { prefix: '/a', exact: '/b' } })).message, 'expected exactly one of "exact", "prefix", "regex" or "glob", found "exact" and "prefix"');
    assert.equal(issue(withMatch({ path: {} })).message, 'expected exactly one of "exact", "prefix", "regex" or "glob", found none');
    for (const bad of ['api/', '/a b', '/a?b=1', '/a#x', '']) {
      assert.deepEqual(issue(withMatch({ path: { prefix: bad } })), {
        path: 'listeners.0.routes.0.match.path.prefix',
        message: `expected a path starting with "/" (no spaces, "?" or "#"), found ${JSON.stringify(bad)}`,
        at: 'value',
      });
    }
  });
});

describe('balancer', () => {
  it('accepts every algorithm in the registry', () => {
    assert.ok(balancerPlugins.length >= 2);
    for (const plugin of balancerPlugins) {
      const raw = minimal();
      raw.pools[0].balancer = { algorithm: plugin.name };
      assert.equal(valid(raw).pools[0].balancer.algorithm, plugin.name);
    }
  });

  it('names the registry algorithms when given an unknown one', () => {
    const raw = minimal();
    raw.pools[0].balancer = { algorithm: 'least-conn' };
    const names = balancerPlugins.map((p) => JSON.stringify(p.name)).join(', ');
    assert.deepEqual(issue(raw), { path: 'pools.0.balancer.algorithm', message: `expected one of ${names}, found "least-conn"`, at: 'value' });
  });

  it('reports a missing algorithm at the balancer object', () => {
    const raw = minimal();
    raw.pools[0].balancer = {};
    assert.equal(issue(raw).at, 'parent');
    assert.match(issue(raw).message, /^missing required key "algorithm": expected one of "round-robin", /);
  });
});

describe('ranges', () => {
  const cases: [string, (raw: Raw, value: unknown) => void, unknown[], unknown[], string][] = [
    ['weight', (r, v) => (r.pools[0].endpoints[0].weight = v), [0, 256], [-1, 257, 1.5, '1'], 'pools.0.endpoints.0.weight'],
    ['maxTries', (r, v) => (r.pools[0].maxTries = v), [1, 10], [0, 11], 'pools.0.maxTries'],
    ['maxHeaders', (r, v) => (r.listeners[0].limits = { maxHeaders: v }), [1, 10_000], [0, 10_001], 'listeners.0.limits.maxHeaders'],
    ['maxConnections', (r, v) => (r.pools[0].connections = { maxConnections: v }), [1], [0], 'pools.0.connections.maxConnections'],
    ['maxQueue', (r, v) => (r.pools[0].connections = { maxQueue: v }), [0], [-1], 'pools.0.connections.maxQueue'],
  ];
  for (const [name, set, good, bad, path] of cases) {
    it(`${name} accepts ${good.join(', ')} and rejects ${bad.join(', ')}`, () => {
      for (const value of good) {
        const raw = minimal();
        set(raw, value);
        valid(raw);
      }
      for (const value of bad) {
        const raw = minimal();
        set(raw, value);
        const found = issue(raw);
        assert.equal(found.path, path);
        assert.match(found.message, /^expected an integer \d+\.\.\d+, found /);
      }
    });
  }

  it('rejects zero sizes', () => {
    const raw = minimal();
    raw.listeners[0].limits = { maxRequestLine: '0b' };
    assert.deepEqual(issue(raw), { path: 'listeners.0.limits.maxRequestLine', message: 'expected a size above 0, found 0', at: 'value' });
  });
});

describe('strict objects', () => {
  const places: [string, (raw: Raw) => Raw, string, string][] = [
    ['top level', (r) => r, 'listener', 'listeners'],
    ['listener', (r) => r.listeners[0], 'tmeouts', 'timeouts'],
    ['route', (r) => r.listeners[0].routes[0], 'forwrad', 'forward'],
    ['match', (r) => (r.listeners[0].routes[0].match = {}), 'hots', 'host'],
    ['forward', (r) => r.listeners[0].routes[0].forward, 'pol', 'pool'],
    ['listener timeouts', (r) => (r.listeners[0].timeouts = {}), 'keepalive', 'keepAlive'],
    ['listener limits', (r) => (r.listeners[0].limits = {}), 'maxHeader', 'maxHeaders'],
    ['pool', (r) => r.pools[0], 'endpoint', 'endpoints'],
    ['endpoint', (r) => r.pools[0].endpoints[0], 'wieght', 'weight'],
    ['balancer', (r) => (r.pools[0].balancer = { algorithm: 'round-robin' }), 'algoritm', 'algorithm'],
    ['connections', (r) => (r.pools[0].connections = {}), 'maxConnection', 'maxConnections'],
    ['pool timeouts', (r) => (r.pools[0].timeouts = {}), 'conect', 'connect'],
    ['admin', (r) => (r.admin = {}), 'adress', 'address'],
    ['shutdown', (r) => (r.shutdown = {}), 'drainTimout', 'drainTimeout'],
  ];
  for (const [place, target, typo, key] of places) {
    it(`${place}: an unknown key is an error naming it, with a suggestion`, () => {
      const raw = minimal();
      target(raw)[typo] = 1;
      const found = issue(raw);
      assert.equal(found.message, `unknown key "${typo}" (did you mean "${key}"?)`);
      assert.equal(found.at, 'key');
      assert.ok(found.path.endsWith(typo));
    });
  }

  it('lists the accepted keys when nothing is close', () => {
    const raw = minimal();
    raw.pools[0].endpoints[0].zzzzzz = 1;
    assert.equal(issue(raw).message, 'unknown key "zzzzzz" (expected one of "address", "weight")');
  });
});

describe('missing and mistyped values', () => {
  it('reports a missing required key at its parent', () => {
    const raw = minimal();
    delete raw.listeners[0].address;
    assert.deepEqual(issue(raw), {
      path: 'listeners.0.address',
      message: 'missing required key "address": expected host:port like "10.0.0.1:8080"',
      at: 'parent',
    });
  });

  it('reports a missing section once (no pool-reference errors without pools)', () => {
    assert.deepEqual(issues({ listeners: minimal().listeners }), [
      { path: 'pools', message: 'missing required key "pools": expected a list', at: 'parent' },
    ]);
  });

  it('says what an empty YAML value needs', () => {
    const raw = minimal();
    raw.pools[0].endpoints = null;
    assert.equal(issue(raw).message, 'expected a list, found an empty value (write [] for none)');
  });

  it('rejects a config that is not an object', () => {
    assert.deepEqual(issues(undefined), [{ path: '', message: 'expected an object with "listeners" and "pools", found nothing', at: 'value' }]);
    assert.equal(issues([1])[0].message, 'expected an object with "listeners" and "pools", found a list');
  });

  it('rejects empty listener, route and pool lists', () => {
    const raw = minimal();
    raw.listeners[0].routes = [];
    raw.pools = [];
    assert.deepEqual(issues(raw), [
      { path: 'listeners.0.routes', message: 'expected a list of at least 1 item, found an empty list', at: 'value' },
      { path: 'pools', message: 'expected a list of at least 1 item, found an empty list', at: 'value' },
    ]);
  });

  it('rejects unknown protocols, https without tls and tls without https', () => {
    const raw = minimal();
    raw.listeners[0].protocol = 'spdy';
    assert.deepEqual(issue(raw), { path: 'listeners.0.protocol', message: 'expected one of "http", "https", "tcp", "tls-passthrough", "udp", found "spdy"', at: 'value' });
    raw.listeners[0].protocol = 'https';
    assert.deepEqual(issue(raw), { path: 'listeners.0.tls', message: 'missing required key "tls"', at: 'parent' });
  });

  it('rejects bad names and header names', () => {
    const raw = minimal();
    raw.listeners[0].name = 'Web';
    raw.listeners[0].routes[0].forward.pool = 'web';
    raw.listeners[0].requestIdHeader = 'x request id';
    assert.deepEqual(issues(raw).map((i) => i.message), [
      'expected a name of lowercase letters, digits, "-" and "_" like "web", found "Web"',
      'expected an HTTP header name like "x-request-id", found "x request id"',
    ]);
  });
});

describe('cross-references', () => {
  it('a route must forward to an existing pool', () => {
    const raw = minimal();
    raw.listeners[0].routes[0].forward.pool = 'wbe';
    assert.deepEqual(issue(raw), {
      path: 'listeners.0.routes.0.forward.pool',
      message: 'expected the name of a pool, found "wbe" (did you mean "web"?)',
      at: 'value',
    });
  });

  it('names must be unique', () => {
    const raw = minimal();
    raw.listeners.push({ name: 'web', address: '127.0.0.1:8081', routes: [{ name: 'web-0', forward: { pool: 'web' } }] });
    raw.pools.push({ name: 'web', endpoints: [] });
    assert.deepEqual(issues(raw), [
      { path: 'pools.1.name', message: 'duplicate pool name "web" (first at pools[0].name)', at: 'value' },
      { path: 'listeners.1.name', message: 'duplicate listener name "web" (first at listeners[0].name)', at: 'value' },
      { path: 'listeners.1.routes.0.name', message: 'duplicate route name "web-0" (first at listeners[0].routes[0].name)', at: 'value' },
    ]);
  });

  it('endpoint addresses are unique within a pool, compared in canonical form', () => {
    const raw = minimal();
    raw.pools[0].endpoints = [{ address: '[::1]:80' }, { address: '[0:0::1]:80' }, { address: '[::1]:81' }];
    raw.pools.push({ name: 'other', endpoints: [{ address: '[::1]:80' }] });
    assert.deepEqual(issue(raw), {
      path: 'pools.0.endpoints.1.address',
      message: 'duplicate endpoint address "[::1]:80" (first at endpoints[0])',
      at: 'value',
    });
  });

  it('listening addresses must not collide, wildcards included; port 0 never collides', () => {
    const raw = minimal();
    raw.listeners[0].address = '0.0.0.0:8080';
    raw.listeners.push(
      { name: 'b', address: '127.0.0.1:8080', routes: [{ forward: { pool: 'web' } }] },
      { name: 'c', address: '127.0.0.1:8081', routes: [{ forward: { pool: 'web' } }] },
      { name: 'd', address: '127.0.0.1:0', routes: [{ forward: { pool: 'web' } }] },
      { name: 'e', address: '127.0.0.1:0', routes: [{ forward: { pool: 'web' } }] },
    );
    raw.admin = { address: '127.0.0.1:8081' };
    assert.deepEqual(issues(raw), [
      { path: 'listeners.1.address', message: 'address "127.0.0.1:8080" collides with listeners[0].address "0.0.0.0:8080"', at: 'value' },
      { path: 'admin.address', message: 'address "127.0.0.1:8081" collides with listeners[2].address "127.0.0.1:8081"', at: 'value' },
    ]);
  });

  it('are reported together with schema errors', () => {
    const raw = minimal();
    raw.listeners[0].routes[0].forward.pool = 'nope';
    raw.pools[0].endpoints[0].weight = -1;
    assert.deepEqual(issues(raw).map((i) => i.path), ['pools.0.endpoints.0.weight', 'listeners.0.routes.0.forward.pool']);
  });
});

/** Every key the schema accepts, as dotted paths (lists as their element; a recursive schema once). */
function schemaKeys(schema: z.core.$ZodType, prefix = '', seen = new Set<unknown>()): string[] {
  const def = schema._zod.def as any;
  if (seen.has(def)) return [];
  seen.add(def);
  if (def.innerType) return schemaKeys(def.innerType, prefix, seen);
  if (def.type === 'pipe') return schemaKeys(def.in._zod.def.type === 'transform' ? def.out : def.in, prefix, seen);
  if (def.type === 'array') return schemaKeys(def.element, prefix, seen);
  if (def.type === 'record') return schemaKeys(def.valueType, `${prefix}*.`, seen);
  if (def.type === 'union') return [...new Set<string>(def.options.flatMap((o: z.core.$ZodType) => schemaKeys(o, prefix, seen)))];
  if (def.type !== 'object') return [];
  return Object.entries(def.shape as Record<string, z.core.$ZodType>).flatMap(([key, value]) => [
    `${prefix}${key}`,
    ...schemaKeys(value, `${prefix}${key}.`, seen),
  ]);
}

describe('docs/config.md', () => {
  it('documents every option of the schema', () => {
    const docs = readFileSync(new URL('../../../../docs/config.md', import.meta.url), 'utf8');
    const keys = schemaKeys(configSchema);
    assert.ok(keys.length > 40, `found ${keys.length} keys`);
    const missing = keys.filter((key) => !docs.includes(`\`${key.split('.').pop()}\``));
    assert.deepEqual(missing, []);
  });
});
