// Config tests for the random and load-aware balancers: `balancer: { algorithm, …options }` parses for each,
// with defaults filled in; bad options are rejected with the config path of the offending key.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../../src/control/config/diagnostics.ts';
import { parseConfigValue } from '../../../../src/control/config/load.ts';

function config(balancer: object): unknown {
  return {
    listeners: [{ name: 'web', address: '127.0.0.1:8080', routes: [{ forward: { pool: 'app' } }] }],
    pools: [{ name: 'app', balancer, endpoints: [{ address: '127.0.0.1:9001' }] }],
  };
}

function rejection(balancer: object): { path: string; message: string }[] {
  try {
    parseConfigValue(config(balancer));
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.diagnostics.map((d) => ({ path: d.path, message: d.message }));
  }
  assert.fail(`expected ${JSON.stringify(balancer)} to be rejected`);
}

describe('load-aware and random balancer config', () => {
  for (const algorithm of ['random', 'weighted-random', 'power-of-two-choices', 'least-connections']) {
    it(`accepts { algorithm: ${algorithm} } and rejects unknown options with a path`, () => {
      assert.deepEqual(parseConfigValue(config({ algorithm })).pools[0].balancer, { algorithm });
      const issues = rejection({ algorithm, decay: '1s' });
      assert.equal(issues.length, 1);
      assert.equal(issues[0].path, 'pools[0].balancer.decay');
      assert.match(issues[0].message, /decay/);
    });
  }

  for (const algorithm of ['least-response-time', 'peak-ewma']) {
    it(`accepts { algorithm: ${algorithm}, decay } with a 10s default`, () => {
      assert.deepEqual(parseConfigValue(config({ algorithm })).pools[0].balancer, { algorithm, decay: 10_000 });
      assert.deepEqual(parseConfigValue(config({ algorithm, decay: '250ms' })).pools[0].balancer, { algorithm, decay: 250 });
    });

    it(`rejects a bad ${algorithm} decay with its path`, () => {
      for (const decay of ['10', 10, '5S', 'soon', -1]) {
        const issues = rejection({ algorithm, decay });
        assert.equal(issues.length, 1, JSON.stringify(issues));
        assert.equal(issues[0].path, 'pools[0].balancer.decay');
        assert.match(issues[0].message, /expected a duration/);
      }
      assert.equal(rejection({ algorithm, tau: '1s' })[0].path, 'pools[0].balancer.tau');
    });
  }

  it('least-response-time takes decay 0 (latest sample only); peak-ewma needs a decay above 0', () => {
    assert.equal((parseConfigValue(config({ algorithm: 'least-response-time', decay: 0 })).pools[0].balancer as { decay: number }).decay, 0);
    const issues = rejection({ algorithm: 'peak-ewma', decay: 0 });
    assert.equal(issues[0].path, 'pools[0].balancer.decay');
    assert.match(issues[0].message, /above 0/);
  });
});
