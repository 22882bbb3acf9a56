// Chunked transfer coding (src/http/parse/chunked.ts): a body split at every possible byte boundary decodes
// to the same data spans and ends at the same offset; malformed sizes, extensions, line endings and
// trailers fail; random and mutated bodies (fixed seeds) never throw and never look past `end`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ChunkedDecoder } from '../../../../src/http/parse/chunked.ts';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

interface Decoded {
  /** The data spans, concatenated. */
  data: string;
  /** Absolute offset just past the final CRLF, or -1. */
  doneAt: number;
  /** Absolute offset of the byte that failed, or -1. */
  failedAt: number;
}

/**
 * Feeds `buf` to a fresh decoder in pieces cut at `cuts` (ascending), each piece a separate copy so that the
 * decoder cannot see past its end, and collects what it reports.
 */
function decode(buf: Buffer, cuts: readonly number[] = [], maxTrailerBytes = 1024): Decoded {
  const d = new ChunkedDecoder(maxTrailerBytes);
  let data = '';
  let from = 0;
  for (const to of [...cuts, buf.length]) {
    if (to <= from) continue;
    const piece = Buffer.from(buf.subarray(from, to));
    let p = 0;
    // each call moves forward or ends the piece: at most piece.length + 1 calls
    for (let calls = 0; calls <= piece.length + 1 && p < piece.length && !d.done && !d.failed; calls++) {
      const next = d.execute(piece, p, piece.length);
      assert.ok(next >= p && next <= piece.length, `position ${next} outside [${p}, ${piece.length}]`);
      assert.ok(d.spanStart >= p && d.spanEnd >= d.spanStart && d.spanEnd <= next, 'span inside what was consumed');
      data += piece.latin1Slice(d.spanStart, d.spanEnd);
      if (d.failed) return { data, doneAt: -1, failedAt: from + next };
      if (d.done) return { data, doneAt: from + next, failedAt: -1 };
      assert.ok(next > p || d.spanEnd > d.spanStart, 'progress');
      p = next;
    }
    assert.ok(p === piece.length || d.done || d.failed, 'the piece was consumed');
    from = to;
  }
  return { data, doneAt: -1, failedAt: -1 };
}

/** A complete decode that must succeed: the data and the end offset. */
function ok(text: string, cuts: readonly number[] = []): Decoded {
  const r = decode(bytes(text), cuts);
  assert.equal(r.failedAt, -1, `expected ${JSON.stringify(text)} to decode`);
  return r;
}

function fails(text: string, maxTrailerBytes = 1024): number {
  const r = decode(bytes(text), [], maxTrailerBytes);
  assert.notEqual(r.failedAt, -1, `expected ${JSON.stringify(text)} to fail (decoded ${JSON.stringify(r.data)}, done at ${r.doneAt})`);
  return r.failedAt;
}

const payload = 'hello, world! chunked data\r\nwith CRLF inside, finally';
const body =
  '5;name=value\r\nhello\r\n' +
  '8; a = "q\\"t" ;b\r\n, world!\r\n' +
  '0000d\r\n chunked data\r\n' +
  '10;x="a;b=c"\r\n\r\nwith CRLF insi\r\n' +
  'B\r\nde, finally\r\n' +
  '0;last\r\nX-Checksum: abc\r\nX-Empty:\r\n\r\n';
const next = 'GET /next HTTP/1.1\r\nHost: a\r\n\r\n';

describe('ChunkedDecoder', () => {
  it('decodes a body with extensions and trailers, stopping just past the final CRLF', () => {
    assert.deepEqual(ok(body + next), { data: payload, doneAt: body.length, failedAt: -1 });
  });

  it('gives the same spans and end when fed one byte at a time', () => {
    const buf = bytes(body + next);
    const cuts = Array.from({ length: buf.length - 1 }, (_, i) => i + 1);
    assert.deepEqual(decode(buf, cuts), { data: payload, doneAt: body.length, failedAt: -1 });
  });

  it('gives the same spans and end when split at every position, and at every pair of positions', () => {
    const buf = bytes(body + next);
    for (let a = 1; a < buf.length; a++) {
      assert.deepEqual(decode(buf, [a]), { data: payload, doneAt: body.length, failedAt: -1 }, `cut at ${a}`);
    }
    const small = bytes('3;e=1\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n');
    for (let a = 1; a < small.length; a++) {
      for (let b = a + 1; b < small.length; b++) {
        assert.deepEqual(decode(small, [a, b]), { data: 'abcde', doneAt: small.length, failedAt: -1 }, `cuts at ${a}, ${b}`);
      }
    }
  });

  it('returns after each data span so the caller can forward it, and continues from there', () => {
    const d = new ChunkedDecoder(1024);
    const buf = bytes('3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n');
    assert.equal(d.execute(buf, 0, buf.length), 6);
    assert.deepEqual([d.spanStart, d.spanEnd], [3, 6]);
    assert.equal(d.execute(buf, 6, buf.length), 13);
    assert.deepEqual([d.spanStart, d.spanEnd], [11, 13]);
    assert.equal(d.execute(buf, 13, buf.length), buf.length);
    assert.equal(d.spanStart, d.spanEnd, 'no data in the last call');
    assert.ok(d.done);
    assert.equal(d.execute(buf, buf.length, buf.length), buf.length, 'nothing more once done');
  });

  it('is reused after reset', () => {
    const d = new ChunkedDecoder(1024);
    const bad = bytes('x\r\n');
    d.execute(bad, 0, bad.length);
    assert.ok(d.failed);
    const buf = bytes('0\r\n\r\n');
    assert.equal(d.execute(buf, 0, buf.length), 0, 'a failed decoder consumes nothing');
    d.reset();
    assert.equal(d.execute(buf, 0, buf.length), buf.length);
    assert.ok(d.done && !d.failed);
  });

  it('accepts sizes of up to 16 hex digits in either case, leading zeros included', () => {
    assert.equal(ok('A\r\n0123456789\r\n0\r\n\r\n').data, '0123456789');
    assert.equal(ok('a\r\n0123456789\r\n000\r\n\r\n').data, '0123456789');
    assert.equal(ok('000000000000000a\r\n0123456789\r\n0\r\n\r\n').data, '0123456789');
    // 2^53 - 1 is the largest size: the decoder then waits for data
    const d = new ChunkedDecoder(1024);
    const big = bytes('1fffffffffffff\r\n');
    assert.equal(d.execute(big, 0, big.length), big.length);
    assert.ok(!d.failed);
  });

  it('refuses malformed chunk sizes', () => {
    for (const size of ['g', '-1', '+1', '0x10', 'x', ' 5', '5 ', '5\t', '', ';a', '00000000000000001', '10000000000000005', 'ffffffffffffffff', '20000000000000', '5,5', '5\x00']) {
      fails(`${size}\r\nhello\r\n0\r\n\r\n`);
    }
  });

  it('refuses bare CR and bare LF and a missing CRLF after the data', () => {
    const bodies = [
      '5\nhello\r\n0\r\n\r\n',
      '5\rhello\r\n0\r\n\r\n',
      '5\r\nhello\n0\r\n\r\n',
      '5\r\nhello\r0\r\n\r\n',
      '5\r\nhelloX\r\n0\r\n\r\n',
      '5\r\nhello0\r\n\r\n',
      '5\r\nhell\r\n0\r\n\r\n',
      '5\r\nhello\r\n0\n\r\n',
      '5\r\nhello\r\n0\r\n\n',
      '5\r\nhello\r\n0\r\n\r\r',
      '5;a=b\nhello\r\n0\r\n\r\n',
      '5;a\nhello\r\n0\r\n\r\n',
      '5;a="b\nc"\r\nhello\r\n0\r\n\r\n',
      '5\r\nhello\r\n0\r\nX: y\n\r\n',
    ];
    for (const text of bodies) fails(text);
  });

  it('accepts chunk extensions as RFC 9112 §7.1.1 writes them', () => {
    for (const ext of [';a', ';a=b', ';a="b c"', ';a=""', ';a="q\\"x"', ';a="\\\\"', ';a="\xe9"', '; a = b ; c', ';a;b=c', ';a=b;c="d"', ';a\t=\t"x"', ";!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~"]) {
      assert.equal(ok(`5${ext}\r\nhello\r\n0${ext}\r\n\r\n`).data, 'hello', JSON.stringify(ext));
    }
  });

  it('refuses malformed chunk extensions', () => {
    const exts = [
      ';', ';;', ';=', ';=b', ';a=', ';a= ', ';a =', ';a b', ';a ', ';a=b ', ';a=b c', ';a="b', ';a="b"c', ';a="b" c',
      ';a=b"c"', ';a="\x01"', ';a="\x7f"', ';a="\\\x00"', ';a=\x00', ';a\x00', ';a,b', ';a=b,c', ';a=@', ';a="b\r"', ' ;a', '\t;a',
    ];
    for (const ext of exts) fails(`5${ext}\r\nhello\r\n0\r\n\r\n`);
  });

  it('bounds one chunk extension at 4096 bytes, its CR included', () => {
    const name = 'a'.repeat(4095);
    assert.equal(ok(`5;${name}\r\nhello\r\n0\r\n\r\n`).data, 'hello');
    fails(`5;${name}a\r\nhello\r\n0\r\n\r\n`);
  });

  it('accepts trailer fields and refuses malformed ones', () => {
    const trailers = '0\r\nA: 1\r\nB:\r\nC: x y\t\r\n\r\n';
    assert.equal(ok(trailers + 'next').doneAt, trailers.length);
    for (const trailer of [' A: 1', 'A : 1', 'A', ': 1', 'A: 1\r', 'A: \x00', 'A: \x7f', 'A: a\rb', 'A\x00: 1', '"A": 1']) {
      fails(`0\r\n${trailer}\r\n\r\n`);
    }
  });

  it('bounds the trailer section at maxTrailerBytes', () => {
    const trailers = 'A: 1234567890\r\nB: 1234567890\r\n';
    assert.equal(decode(bytes(`0\r\n${trailers}\r\n`), [], 64).failedAt, -1);
    fails(`0\r\n${trailers}\r\n`, 20);
  });

  it('points at the byte that broke the framing', () => {
    assert.equal(fails('5\r\nhelloX'), 8);
    assert.equal(fails('12g\r\n'), 2);
    assert.equal(fails('5;a b\r\n'), 4);
  });
});

// ---- properties ----------------------------------------------------------------------------------------------

const seed = { seed: 7, numRuns: 2000 };
const tokenArb = fc.string({ unit: fc.constantFrom(...'abcXYZ09!#$%&\'*+-.^_`|~'), minLength: 1, maxLength: 6 });
const extArb = fc.array(
  fc.record({
    name: tokenArb,
    value: fc.option(fc.oneof(tokenArb, fc.string({ unit: fc.constantFrom('a', ' ', ';', '=', '\\"', '\\\\', '\t', '\xe9'), maxLength: 6 }).map((s) => `"${s}"`)), { nil: undefined }),
    ws: fc.constantFrom('', ' ', '\t '),
  }),
  { maxLength: 2 },
).map((exts) => exts.map((e, i) => `${i === 0 ? '' : e.ws};${e.ws}${e.name}${e.value === undefined ? '' : `${e.ws}=${e.ws}${e.value}`}`).join(''));
const chunkArb = fc.record({
  data: fc.string({ unit: fc.constantFrom('a', 'b', '\r', '\n', '0', ';', '\x00', '\xff'), minLength: 1, maxLength: 40 }),
  ext: extArb,
  upper: fc.boolean(),
  zeros: fc.integer({ min: 0, max: 3 }),
});
const bodyArb = fc.record({
  chunks: fc.array(chunkArb, { maxLength: 6 }),
  lastExt: extArb,
  trailers: fc.array(fc.tuple(tokenArb, fc.string({ unit: fc.constantFrom('v', ' ', '\t', ':', '\xe9'), maxLength: 10 })), { maxLength: 3 }),
});
type GeneratedBody = typeof bodyArb extends fc.Arbitrary<infer T> ? T : never;

function encode(b: GeneratedBody): { text: string; data: string } {
  let text = '';
  for (const c of b.chunks) {
    const size = '0'.repeat(c.zeros) + (c.upper ? c.data.length.toString(16).toUpperCase() : c.data.length.toString(16));
    text += `${size}${c.ext}\r\n${c.data}\r\n`;
  }
  text += `0${b.lastExt}\r\n` + b.trailers.map(([n, v]) => `${n}:${v}\r\n`).join('') + '\r\n';
  return { text, data: b.chunks.map((c) => c.data).join('') };
}

const cutsArb = fc.array(fc.nat(), { maxLength: 6 });
/** Turns random numbers into ascending cut positions inside a buffer of `length` bytes. */
function cutsFor(raw: readonly number[], length: number): number[] {
  return [...new Set(raw.map((n) => n % (length + 1)))].sort((a, b) => a - b);
}

const significant = ['0', '5', 'a', 'f', 'g', '\r', '\n', '\r\n', ';', '=', '"', '\\', ' ', '\t', ':', '\x00', '\x7f', '\xff', '-', 'x'];
const mutationArb = fc.record({ at: fc.nat(), kind: fc.constantFrom('insert', 'delete', 'replace'), piece: fc.constantFrom(...significant) });

/** Decoding arbitrary bytes: same outcome whole and in pieces, and independent of bytes past `end`. */
function checkArbitrary(buf: Buffer, rawCuts: readonly number[]): Decoded {
  const whole = decode(buf);
  assert.deepEqual(decode(buf, cutsFor(rawCuts, buf.length)), whole, 'the same in pieces');
  // One call on a buffer with junk after `end` must stop where it stops without it.
  const padded = Buffer.concat([buf, bytes('\r\n0\r\n\r\nJUNK')]);
  const d = new ChunkedDecoder(1024);
  let p = 0;
  for (let calls = 0; calls <= buf.length + 1 && p < buf.length && !d.done && !d.failed; calls++) p = d.execute(padded, p, buf.length);
  assert.ok(p <= buf.length, 'never past end');
  assert.equal(d.done ? p : -1, whole.doneAt);
  assert.equal(d.failed ? p : -1, whole.failedAt);
  return whole;
}

describe('chunked decoding properties', () => {
  it('valid bodies decode to their data and end just past the final CRLF, however they are split', () => {
    fc.assert(
      fc.property(bodyArb, cutsArb, fc.string({ maxLength: 10 }), (b, rawCuts, after) => {
        const { text, data } = encode(b);
        const buf = bytes(text + after);
        const expected = { data, doneAt: text.length, failedAt: -1 };
        assert.deepEqual(decode(buf), expected);
        assert.deepEqual(decode(buf, cutsFor(rawCuts, buf.length)), expected);
      }),
      seed,
    );
  });

  it('random bytes never throw and decode the same way in pieces', () => {
    const arb = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      fc.array(fc.oneof(fc.constantFrom(...significant), fc.string({ maxLength: 3 })), { maxLength: 40 }).map((a) => bytes(a.join(''))),
    );
    fc.assert(fc.property(arb, cutsArb, (buf, rawCuts) => void checkArbitrary(buf, rawCuts)), seed);
  });

  it('mutated valid bodies never throw, and decode the same way in pieces', () => {
    const arb = fc.tuple(bodyArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 })).map(([b, ms]) => {
      let text = encode(b).text;
      for (const m of ms) {
        const at = m.at % (text.length + 1);
        if (m.kind === 'insert') text = text.slice(0, at) + m.piece + text.slice(at);
        else if (m.kind === 'delete') text = text.slice(0, at) + text.slice(at + 1);
        else text = text.slice(0, at) + m.piece + text.slice(at + m.piece.length);
      }
      return bytes(text);
    });
    fc.assert(
      fc.property(arb, cutsArb, (buf, rawCuts) => {
        const r = checkArbitrary(buf, rawCuts);
        // whatever was accepted is framed: a decode that ended did so on a CRLF
        if (r.doneAt >= 0) assert.equal(buf.latin1Slice(r.doneAt - 2, r.doneAt), '\r\n');
      }),
      seed,
    );
  });
});
