// Config for the hash balancers through parseConfigValue: options accepted with their defaults filled in
// (key client-ip, virtualNodes 160, tableSize 65537, balanceFactor off), bad values rejected with their path.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, formatDiagnostic } from '../../../../src/control/config/diagnostics.ts';
import { parseConfigValue } from '../../../../src/control/config/load.ts';

function withBalancer(balancer: unknown): unknown {
  return {
    listeners: [{ name: 'web', address: '127.0.0.1:0', routes: [{ forward: { pool: 'web' } }] }],
    pools: [{ name: 'web', balancer, endpoints: [{ address: '127.0.0.1:9001' }] }],
  };
}

function balancerOf(balancer: unknown): unknown {
  return parseConfigValue(withBalancer(balancer)).pools[0].balancer;
}

function errorsOf(balancer: unknown): string[] {
  try {
    parseConfigValue(withBalancer(balancer));
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.diagnostics.map(formatDiagnostic);
  }
  return assert.fail('accepted');
}

describe('hash balancer config', () => {
  it('accepts every option and fills in the defaults', () => {
    assert.deepEqual(balancerOf({ algorithm: 'ring-hash', key: { header: 'X-User' }, virtualNodes: 100, balanceFactor: 1.25 }), {
      algorithm: 'ring-hash',
      key: { header: 'x-user' },
      virtualNodes: 100,
      balanceFactor: 1.25,
    });
    assert.deepEqual(balancerOf({ algorithm: 'ring-hash' }), { algorithm: 'ring-hash', key: 'client-ip', virtualNodes: 160 });
    assert.deepEqual(balancerOf({ algorithm: 'maglev', key: 'path', tableSize: 131071, balanceFactor: 1.5 }), {
      algorithm: 'maglev',
      key: 'path',
      tableSize: 131071,
      balanceFactor: 1.5,
    });
    assert.deepEqual(balancerOf({ algorithm: 'maglev' }), { algorithm: 'maglev', key: 'client-ip', tableSize: 65537 });
    assert.deepEqual(balancerOf({ algorithm: 'rendezvous', key: { cookie: 'sid' } }), { algorithm: 'rendezvous', key: { cookie: 'sid' } });
    assert.deepEqual(balancerOf({ algorithm: 'hash', key: { query: 'user' } }), { algorithm: 'hash', key: { query: 'user' } });
  });

  it('rejects a table size that is not prime, with its path', () => {
    assert.deepEqual(errorsOf({ algorithm: 'maglev', tableSize: 65536 }), [
      '<config>: pools[0].balancer.tableSize: expected a prime table size like 65537 or 131071, found 65536',
    ]);
  });

  it('rejects bad values with their paths', () => {
    const cases: [unknown, string][] = [
      [{ algorithm: 'ring-hash', virtualNodes: 0 }, 'pools[0].balancer.virtualNodes: expected at least 1, found 0'],
      [{ algorithm: 'ring-hash', virtualNodes: 10_000 }, 'pools[0].balancer.virtualNodes: expected at most 4096'],
      [{ algorithm: 'ring-hash', balanceFactor: 1 }, 'pools[0].balancer.balanceFactor: expected more than 1, found 1'],
      [{ algorithm: 'maglev', balanceFactor: '125%' }, 'pools[0].balancer.balanceFactor: expected a number'],
      [{ algorithm: 'maglev', tableSize: 2 }, 'pools[0].balancer.tableSize: expected at least 3'],
      [{ algorithm: 'ring-hash', key: { header: 'bad header' } }, 'pools[0].balancer.key'],
      [{ algorithm: 'rendezvous', balanceFactor: 1.25 }, 'pools[0].balancer.balanceFactor: unknown key "balanceFactor"'],
      [{ algorithm: 'hash', virtualNodes: 10 }, 'pools[0].balancer.virtualNodes: unknown key "virtualNodes"'],
    ];
    for (const [balancer, expected] of cases) {
      const errors = errorsOf(balancer);
      assert.ok(errors.some((e) => e.includes(expected)), `${JSON.stringify(balancer)}: ${errors.join(' | ')}`);
    }
  });
});
