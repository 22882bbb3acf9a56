// L4 connection limits per source: the concurrent cap, the new-connection rate (token bucket), sources apart,
// the bound on tracked sources (idle evicted first, untracked admission when all are busy).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionLimiter, connectionLimitSchema } from '../../../src/ratelimit/connection-limiter.ts';

function limiter(raw: Record<string, unknown>): ConnectionLimiter {
  return new ConnectionLimiter(connectionLimitSchema.parse(raw));
}

describe('connection limiter', () => {
  it('caps concurrent connections per source and frees a slot on close', () => {
    const l = limiter({ maxConnections: 2 });
    assert.deepEqual([0, 0, 0].map((t) => l.tryOpen('192.0.2.1', t)), [true, true, false]);
    assert.equal(l.tryOpen('192.0.2.2', 0), true);
    l.close('192.0.2.1');
    assert.equal(l.tryOpen('192.0.2.1', 0), true);
    assert.equal(l.openCount('192.0.2.1'), 2);
    assert.equal(l.refusedConcurrent, 1);
  });

  it('limits new connections per second with a burst', () => {
    const l = limiter({ rate: '10/s', burst: 2 });
    const opened = [0, 0, 0, 99, 100, 100].map((t) => l.tryOpen('192.0.2.1', t));
    assert.deepEqual(opened, [true, true, false, false, true, false]);
    assert.equal(l.refusedRate, 3);
    // closing does not give a rate token back
    l.close('192.0.2.1');
    assert.equal(l.tryOpen('192.0.2.1', 100), false);
  });

  it('checks both limits together', () => {
    const l = limiter({ maxConnections: 1, rate: '1/s' });
    assert.equal(l.tryOpen('192.0.2.1', 0), true);
    assert.equal(l.tryOpen('192.0.2.1', 5000), false); // concurrent
    l.close('192.0.2.1');
    assert.equal(l.tryOpen('192.0.2.1', 5000), true);
  });

  it('tracks at most maxSources, evicting idle sources first', () => {
    const l = limiter({ maxConnections: 1, rate: '1/min', maxSources: 3 });
    l.tryOpen('a', 0);
    l.close('a'); // idle, but out of rate tokens
    l.tryOpen('b', 0);
    l.tryOpen('c', 0);
    assert.equal(l.tryOpen('a', 0), false);
    l.close('a');
    assert.equal(l.tryOpen('d', 0), true); // evicts idle a
    assert.equal(l.size, 3);
    l.close('b');
    assert.equal(l.tryOpen('a', 0), true); // evicts idle b; a starts over with a full bucket
    assert.equal(l.openCount('a'), 1);
    assert.equal(l.openCount('b'), 0);
    assert.equal(l.untracked, 0);
  });

  it('admits a new source untracked when every tracked source is busy', () => {
    const l = limiter({ maxConnections: 1, maxSources: 2 });
    l.tryOpen('a', 0);
    l.tryOpen('b', 0);
    assert.equal(l.tryOpen('c', 0), true);
    assert.equal(l.untracked, 1);
    assert.equal(l.size, 2);
    l.close('c'); // nothing to undo
    assert.equal(l.openCount('a'), 1);
  });

  it('forgets an idle source when only concurrency is limited', () => {
    const l = limiter({ maxConnections: 5 });
    l.tryOpen('a', 0);
    l.close('a');
    assert.equal(l.size, 0);
  });
});
