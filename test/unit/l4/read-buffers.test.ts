// Which buffer a piped socket reads into next (read-buffers.ts): the shared one after small reads, its own after
// large ones, a fresh one while the writer still holds bytes of the last; and views that outlive the read.
import assert from 'node:assert/strict';
import type net from 'node:net';
import { describe, it } from 'node:test';
import { LARGE_READ_BYTES, readView, SHARED_READ_BUFFER, SocketReads } from '../../../src/l4/read-buffers.ts';

/** A writer with `queued` bytes not yet handed to the kernel (all SocketReads looks at). */
function writer(queued: { bytes: number }): net.Socket {
  return {
    get writableLength() {
      return queued.bytes;
    },
  } as net.Socket;
}

describe('SocketReads', () => {
  it('reads into the shared buffer at start and after small reads', () => {
    const r = new SocketReads();
    assert.equal(r.next(), SHARED_READ_BUFFER);
    r.lastRead = LARGE_READ_BYTES - 1;
    assert.equal(r.next(), SHARED_READ_BUFFER);
  });

  it('after a large read: a buffer of its own, reused while the writer has nothing queued', () => {
    const queued = { bytes: 0 };
    const r = new SocketReads();
    r.writer = writer(queued);
    r.lastRead = LARGE_READ_BYTES;
    const own = r.next();
    assert.notEqual(own, SHARED_READ_BUFFER);
    assert.equal(own.length, SHARED_READ_BUFFER.length);
    r.lastRead = 65536;
    assert.equal(r.next(), own, 'the last write completed: the same buffer again');
  });

  it('a write still queued holds the buffer: the next read goes to a fresh one', () => {
    const queued = { bytes: 0 };
    const r = new SocketReads();
    r.writer = writer(queued);
    r.lastRead = 65536;
    const first = r.next();
    queued.bytes = 1;
    const second = r.next();
    assert.notEqual(second, first);
    assert.notEqual(second, SHARED_READ_BUFFER);
    queued.bytes = 0;
    assert.equal(r.next(), second, 'queue empty again: the current buffer is reused');
  });

  it('falls back to the shared buffer (dropping its own) when reads become small', () => {
    const r = new SocketReads();
    r.writer = writer({ bytes: 0 });
    r.lastRead = 65536;
    assert.notEqual(r.next(), SHARED_READ_BUFFER);
    r.lastRead = 10;
    assert.equal(r.next(), SHARED_READ_BUFFER);
  });
});

describe('readView', () => {
  it('copies bytes read into the shared buffer, so they survive the next read', () => {
    SHARED_READ_BUFFER.write('hello', 0);
    const view = readView(SHARED_READ_BUFFER, 5);
    SHARED_READ_BUFFER.write('xxxxx', 0);
    assert.equal(view.toString(), 'hello');
  });

  it('returns a view of a socket’s own buffer as it is (no copy)', () => {
    const own = Buffer.alloc(64);
    const view = readView(own, 3);
    assert.equal(view.buffer, own.buffer);
    assert.equal(view.length, 3);
  });
});
