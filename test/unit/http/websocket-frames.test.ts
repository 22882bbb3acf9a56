// FrameBoundary against the frames it reads: for random sequences of frames (every length encoding: 7-bit,
// 16-bit and 64-bit, masked and not) cut into random pieces, it reports a boundary exactly where a frame
// ends and nowhere inside one. And the close frames Fulcrum writes decode as 1001 for both roles.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { clientCloseFrame, FrameBoundary, serverCloseFrame } from '../../../src/http/websocket-frames.ts';

function frame(payload: number, masked: boolean): Buffer {
  const len = payload < 126 ? [payload] : payload < 65536 ? [126, payload >> 8, payload & 0xff] : [127, 0, 0, 0, 0, (payload >>> 24) & 0xff, (payload >> 16) & 0xff, (payload >> 8) & 0xff, payload & 0xff];
  const head = [0x82, (masked ? 0x80 : 0) | len[0], ...len.slice(1), ...(masked ? [1, 2, 3, 4] : [])];
  return Buffer.concat([Buffer.from(head), Buffer.alloc(payload, 0x33)]);
}

describe('FrameBoundary', () => {
  it('is at a boundary exactly at the end of each frame, however the bytes are cut (seed 7)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ payload: fc.oneof(fc.integer({ min: 0, max: 125 }), fc.integer({ min: 126, max: 70_000 })), masked: fc.boolean() }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 20 }),
        (frames, cuts) => {
          const bytes = Buffer.concat(frames.map((f) => frame(f.payload, f.masked)));
          const ends = new Set<number>();
          let at = 0;
          for (const f of frames) ends.add((at += frame(f.payload, f.masked).length));
          const fb = new FrameBoundary();
          // feed piece by piece; after each piece the boundary answer must match the frame ends
          let pos = 0;
          let k = 0;
          while (pos < bytes.length) {
            const next = Math.min(bytes.length, pos + cuts[k++ % cuts.length]);
            fb.feed(bytes, pos, next);
            pos = next;
            assert.equal(fb.atBoundary, ends.has(pos), `after ${pos} bytes`);
          }
        },
      ),
      { seed: 7, numRuns: 300 },
    );
  });

  it('reads a 64-bit length', () => {
    const fb = new FrameBoundary();
    fb.feed(Buffer.from([0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0]), 0, 10); // 2^32 bytes of payload
    assert.equal(fb.atBoundary, false);
    const chunk = Buffer.alloc(1 << 20);
    for (let i = 0; i < 4096; i++) fb.feed(chunk, 0, chunk.length);
    assert.equal(fb.atBoundary, true);
  });

  it('close frames: unmasked from the server side, masked from the client side, both 1001', () => {
    assert.deepEqual([...serverCloseFrame(1001)], [0x88, 0x02, 0x03, 0xe9]);
    const mask = Uint8Array.from([9, 8, 7, 6]);
    const c = clientCloseFrame(1001, mask);
    assert.equal(c[0], 0x88);
    assert.equal(c[1], 0x82);
    assert.equal(((c[6] ^ mask[0]) << 8) | (c[7] ^ mask[1]), 1001);
  });
});
