// The `outlierDetection` pool option: absent by default, Envoy's defaults filled in, durations in ms, and bad
// values and unknown keys rejected with their config path.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig, type Config } from '../../../../src/control/config/schema.ts';

function withOutlier(outlierDetection: unknown): Record<string, unknown> {
  return {
    listeners: [{ name: 'web', address: '127.0.0.1:8080', routes: [{ forward: { pool: 'web' } }] }],
    pools: [{ name: 'web', endpoints: [{ address: '127.0.0.1:9001' }], outlierDetection }],
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

describe('pools[].outlierDetection', () => {
  it('is absent by default', () => {
    assert.equal(valid(withOutlier(undefined)).pools[0].outlierDetection, undefined);
  });

  it('{} gets Envoy\'s defaults: 5, 5, 30s, 300s, 10%, a 10s interval, statistical detection off', () => {
    assert.deepEqual(valid(withOutlier({})).pools[0].outlierDetection, {
      consecutive5xx: 5,
      consecutiveGatewayFailure: 5,
      baseEjectionTime: 30_000,
      maxEjectionTime: 300_000,
      maxEjectionPercent: 10,
      interval: 10_000,
    });
    const od = valid(withOutlier({ successRate: {}, failurePercentage: {} })).pools[0].outlierDetection!;
    assert.deepEqual(od.successRate, { minimumHosts: 5, requestVolume: 100, stdevFactor: 1.9 });
    assert.deepEqual(od.failurePercentage, { threshold: 85, minimumHosts: 5, requestVolume: 50 });
  });

  it('takes durations and integers', () => {
    const od = valid(withOutlier({ consecutive5xx: 3, baseEjectionTime: '300ms', maxEjectionTime: '2s', maxEjectionPercent: 34 })).pools[0].outlierDetection!;
    assert.equal(od.consecutive5xx, 3);
    assert.equal(od.baseEjectionTime, 300);
    assert.equal(od.maxEjectionTime, 2000);
    assert.equal(od.maxEjectionPercent, 34);
  });

  it('rejects zero thresholds, zero durations, percentages above 100 and unknown keys', () => {
    const found = issues(withOutlier({ consecutive5xx: 0, baseEjectionTime: '0s', maxEjectionPercent: 101, intervalMs: '10s' }));
    const text = found.join('\n');
    assert.match(text, /pools\.0\.outlierDetection\.consecutive5xx: expected an integer 1\.\.1000000/);
    assert.match(text, /pools\.0\.outlierDetection\.baseEjectionTime: expected a duration above 0/);
    assert.match(text, /pools\.0\.outlierDetection\.maxEjectionPercent: expected an integer 0\.\.100/);
    assert.match(text, /unknown key "intervalMs"/);
  });
});
