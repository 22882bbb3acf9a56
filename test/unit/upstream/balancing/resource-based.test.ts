// resource-based: agent reports become weights (clamped), silence falls back to configured weights, and
// picks follow the effective weights exactly (smooth weighted round robin).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setQuiet } from '../../../../src/core/log.ts';
import { parseAgentReport } from '../../../../src/upstream/health/agent.ts';
import { ResourceBased, schema } from '../../../../src/upstream/balancing/resource-based.ts';
import { beginPick, PickContext } from '../../../../src/upstream/balancing/types.ts';
import { Endpoint } from '../../../../src/upstream/endpoint.ts';

setQuiet(true);

describe('agent reports', () => {
  it('parses HAProxy agent words', () => {
    assert.equal(parseAgentReport('75%\n'), 0.75);
    assert.equal(parseAgentReport('up 50%'), 0.5);
    assert.equal(parseAgentReport('ready'), 1);
    assert.equal(parseAgentReport('drain'), 0);
    assert.equal(parseAgentReport('DOWN'), 0);
    assert.equal(parseAgentReport('maint,75%'), 0.75);
    assert.equal(parseAgentReport('150%'), 1.5);
    assert.equal(parseAgentReport(''), undefined);
    assert.equal(parseAgentReport('hello'), undefined);
    assert.equal(parseAgentReport('-5%'), undefined);
  });
});

function counts(balancer: ResourceBased, set: Endpoint[], picks: number): number[] {
  const ctx = new PickContext();
  const out = set.map(() => 0);
  for (let i = 0; i < picks; i++) {
    beginPick(ctx);
    out[set.indexOf(balancer.pick(ctx)!)]++;
  }
  return out;
}

describe('resource-based balancing', () => {
  const make = (options: object, now: () => number) => {
    const b = new ResourceBased(schema.parse({ algorithm: 'resource-based', ...options }), now);
    return b;
  };

  it('weights follow reports, clamped, and silence restores configured weights', () => {
    let t = 0;
    const set = [new Endpoint('127.0.0.1:1', '127.0.0.1', 1, 4), new Endpoint('127.0.0.1:2', '127.0.0.1', 2, 4), new Endpoint('127.0.0.1:3', '127.0.0.1', 3, 4)];
    const b = make({ agent: { interval: '1s', staleAfter: '3s' } }, () => t);
    b.update(set);
    b.close(); // no polling in a unit test: reports are fed by hand
    assert.deepEqual(counts(b, set, 1200), [400, 400, 400], 'no reports: configured weights');
    b.report(set[0], 0.25);
    b.report(set[1], parseAgentReport('drain'));
    b.report(set[2], 5); // clamped to maxShare 1
    assert.deepEqual(counts(b, set, 1000), [200, 0, 800]);
    t = 3500; // every report is now stale
    b.reweight();
    assert.deepEqual(counts(b, set, 1200), [400, 400, 400]);
  });

  it('maxShare lets an agent ask for more than its configured weight', () => {
    let t = 0;
    const set = [new Endpoint('127.0.0.1:1', '127.0.0.1', 1, 1), new Endpoint('127.0.0.1:2', '127.0.0.1', 2, 1)];
    const b = make({ maxShare: 3 }, () => t);
    b.update(set);
    b.close();
    b.report(set[0], 3);
    assert.deepEqual(counts(b, set, 400), [300, 100]);
  });

  it('rejects bad options', () => {
    assert.throws(() => schema.parse({ algorithm: 'resource-based', agent: { path: 'agent' } }));
    assert.throws(() => schema.parse({ algorithm: 'resource-based', agent: { port: 70000 } }));
    assert.throws(() => schema.parse({ algorithm: 'resource-based', maxShare: -1 }));
  });
});
