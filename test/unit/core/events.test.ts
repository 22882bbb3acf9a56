import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventLog, type StateEvent, type StateEventInput } from '../../../src/core/events.ts';

function change(i: number): StateEventInput {
  return { kind: 'health', pool: 'web', endpoint: `10.0.0.${i}:80`, from: 'healthy', to: 'unhealthy', reason: `${i}` };
}

describe('EventLog', () => {
  it('stamps each event with a sequence number from 1 and the time, unless the time is given', () => {
    const log = new EventLog(4);
    const before = Date.now();
    const a = log.publish(change(1));
    const b = log.publish({ ...change(2), at: 1234 });
    assert.equal(a.seq, 1);
    assert.equal(b.seq, 2);
    assert.ok(a.at >= before && a.at <= Date.now());
    assert.equal(b.at, 1234);
    assert.deepEqual(log.recent(), [a, b]);
    assert.equal(log.total, 2);
  });

  it('keeps the last `capacity` events, oldest first; recent(n) gives the last n', () => {
    const log = new EventLog(3);
    for (let i = 1; i <= 7; i++) log.publish(change(i));
    assert.deepEqual(
      log.recent().map((e) => e.reason),
      ['5', '6', '7'],
    );
    assert.deepEqual(
      log.recent(2).map((e) => e.seq),
      [6, 7],
    );
    assert.deepEqual(log.recent(0), []);
    assert.equal(log.recent(100).length, 3);
    assert.equal(log.total, 7);
  });

  it('an empty log has no recent events', () => {
    assert.deepEqual(new EventLog(8).recent(5), []);
  });

  it('hands every event to subscribers in order until they unsubscribe', () => {
    const log = new EventLog(2);
    const seen: number[] = [];
    const stop = log.subscribe((e) => seen.push(e.seq));
    assert.equal(log.subscribers, 1);
    log.publish(change(1));
    log.publish(change(2));
    stop();
    log.publish(change(3));
    assert.deepEqual(seen, [1, 2]);
    assert.equal(log.subscribers, 0);
  });

  it('a subscriber that throws is skipped: the publisher and the other subscribers go on', () => {
    const log = new EventLog(2);
    const seen: StateEvent[] = [];
    log.subscribe(() => {
      throw new Error('broken reader');
    });
    log.subscribe((e) => seen.push(e));
    const e = log.publish(change(1));
    assert.deepEqual(seen, [e]);
  });

  it('the same function subscribed twice is called twice and unsubscribed separately', () => {
    const log = new EventLog(2);
    let calls = 0;
    const fn = (): void => {
      calls++;
    };
    const first = log.subscribe(fn);
    log.subscribe(fn);
    log.publish(change(1));
    first();
    log.publish(change(2));
    assert.equal(calls, 3);
  });

  it('refuses a capacity that is not a positive integer', () => {
    assert.throws(() => new EventLog(0), RangeError);
    assert.throws(() => new EventLog(1.5), RangeError);
  });
});
