import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventHub, formatEvent } from '../../../../src/control/admin/dashboard/events.ts';
import type { StreamSink } from '../../../../src/control/admin/route.ts';

class FakeSink implements StreamSink {
  text = '';
  ended = false;
  bufferedBytes = 0;
  private closers: (() => void)[] = [];
  write(text: string): boolean {
    this.text += text;
    return true;
  }
  end(): void {
    this.ended = true;
  }
  onClose(fn: () => void): void {
    this.closers.push(fn);
  }
  /** The client goes away. */
  disconnect(): void {
    for (const fn of this.closers) fn();
  }
}

describe('EventHub', () => {
  it('formats one event per message, its JSON data on one line', () => {
    assert.equal(formatEvent('tick', { a: 'x\ny' }), 'event: tick\ndata: {"a":"x\\ny"}\n\n');
  });

  it('sends the retry hint and the snapshot on open, then broadcasts to every client', () => {
    const hub = new EventHub({ retryMs: 1500 });
    const a = new FakeSink();
    const b = new FakeSink();
    assert.equal(
      hub.open(a, () => ({ n: 1 })),
      true,
    );
    hub.open(b, () => ({ n: 2 }));
    assert.equal(a.text, 'retry: 1500\n\nevent: snapshot\ndata: {"n":1}\n\n');
    let built = 0;
    hub.broadcast('tick', () => {
      built++;
      return { t: 1 };
    });
    assert.equal(built, 1, 'data is built once for all clients');
    assert.ok(a.text.endsWith('event: tick\ndata: {"t":1}\n\n'));
    assert.ok(b.text.endsWith('event: tick\ndata: {"t":1}\n\n'));
    hub.close();
    assert.ok(a.ended && b.ended);
    assert.equal(hub.size, 0);
  });

  it('builds nothing when nobody listens', () => {
    const hub = new EventHub();
    hub.broadcast('tick', () => assert.fail('built for no one'));
  });

  it('refuses a client past maxClients; one that goes away frees its place and gets nothing more', () => {
    const hub = new EventHub({ maxClients: 2 });
    const [a, b, c] = [new FakeSink(), new FakeSink(), new FakeSink()];
    assert.equal(hub.open(a, () => 0), true);
    assert.equal(hub.open(b, () => 0), true);
    assert.equal(hub.full, true);
    assert.equal(hub.open(c, () => 0), false);
    assert.equal(c.text, '');
    a.disconnect();
    assert.equal(hub.size, 1);
    const before = a.text;
    hub.broadcast('tick', () => 1);
    assert.equal(a.text, before);
    assert.equal(hub.open(c, () => 0), true);
    hub.close();
  });

  it('drops a client that reads too slowly', () => {
    const hub = new EventHub({ maxBufferedBytes: 100 });
    const slow = new FakeSink();
    hub.open(slow, () => 0);
    slow.bufferedBytes = 101;
    hub.broadcast('tick', () => 1);
    assert.equal(slow.ended, true);
    assert.equal(hub.size, 0);
  });

  it('sends a heartbeat comment while clients are connected, and stops with the last one', async () => {
    const hub = new EventHub({ heartbeatMs: 20 });
    const a = new FakeSink();
    hub.open(a, () => 0);
    await sleep(70);
    assert.ok((a.text.match(/^: heartbeat\n\n/gm) ?? []).length >= 2, a.text);
    a.disconnect();
    const after = a.text;
    await sleep(50);
    assert.equal(a.text, after);
  });
});
