// The ClientHello peek (RFC 8446 §5.1 records, §4.1.2 ClientHello, RFC 6066 §3 server_name): a real Node
// ClientHello yields its SNI; every prefix is incomplete; any fragmentation over records gives the same answer;
// malformed framing is refused; the 16 KiB bound holds; and fixed-seed fuzzing (random bytes, mutations of the real
// hello) only ever returns ok / incomplete / malformed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_CLIENT_HELLO_BYTES, parseClientHello, type ClientHelloResult } from '../../../src/l4/client-hello.ts';
import { realClientHello } from '../../helpers/l4.ts';

function parse(b: Uint8Array): ClientHelloResult {
  return parseClientHello(b, 0, b.length);
}

function u16(n: number): Buffer {
  return Buffer.from([n >> 8, n & 0xff]);
}

function extension(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), u16(data.length), data]);
}

function serverName(...names: [number, string][]): Buffer {
  const list = Buffer.concat(names.map(([t, n]) => Buffer.concat([Buffer.from([t]), u16(n.length), Buffer.from(n, 'latin1')])));
  return extension(0, Buffer.concat([u16(list.length), list]));
}

/** A ClientHello handshake message (type + 24-bit length + body) with the given extensions (null: none at all). */
function helloMessage(extensions: Buffer[] | null, sessionId = 32): Buffer {
  const parts = [Buffer.from([3, 3]), Buffer.alloc(32, 7), Buffer.from([sessionId]), Buffer.alloc(sessionId, 1), u16(4), Buffer.from([0x13, 0x01, 0x13, 0x02]), Buffer.from([1, 0])];
  if (extensions !== null) {
    const ext = Buffer.concat(extensions);
    parts.push(u16(ext.length), ext);
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([1, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
}

/** The message framed into handshake records of at most `size` payload bytes. */
function records(message: Buffer, size = 16384): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < message.length; i += size) {
    const part = message.subarray(i, i + size);
    out.push(Buffer.from([0x16, 3, 1]), u16(part.length), part);
  }
  return Buffer.concat(out);
}

/** The real hello's handshake message, and it re-framed. */
const realMessage = realClientHello.subarray(5);

function assertSni(r: ClientHelloResult, sni: string | null, what = ''): void {
  assert.deepEqual(r, { kind: 'ok', sni }, what);
}

describe('parseClientHello', () => {
  it("reads a real Node client's SNI", () => {
    assertSni(parse(realClientHello), 'api.example.com');
  });

  it('every prefix of the real hello is incomplete', () => {
    for (let n = 0; n < realClientHello.length; n++) {
      assert.deepEqual(parseClientHello(realClientHello, 0, n), { kind: 'incomplete' }, `${n} bytes`);
    }
  });

  it('the same answer over any fragmentation into records (fixed seed)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2000 }), (size) => {
        const framed = records(realMessage, size);
        assertSni(parse(framed), 'api.example.com', `records of ${size}`);
        // and every prefix of the fragmented form is incomplete
        for (const n of [0, 1, 5, 6, Math.floor(framed.length / 2), framed.length - 1]) {
          assert.equal(parseClientHello(framed, 0, n).kind, 'incomplete', `records of ${size}, ${n} bytes`);
        }
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('1-byte records: the message is reassembled', () => {
    const framed = records(helloMessage([serverName([0, 'a.example.com'])]), 1);
    assertSni(parse(framed), 'a.example.com');
  });

  it('lowercases the name, drops one trailing dot, reports no SNI as null', () => {
    assertSni(parse(records(helloMessage([serverName([0, 'API.Example.COM.'])]))), 'api.example.com');
    assertSni(parse(records(helloMessage([extension(16, Buffer.from([0, 3, 2, 0x68, 0x32]))]))), null);
    assertSni(parse(records(helloMessage(null))), null);
    assertSni(parse(records(helloMessage([serverName([1, 'opaque'], [0, 'x.test'])]))), 'x.test');
  });

  it('ignores bytes after the hello (early data, a second flight)', () => {
    const withMore = Buffer.concat([records(helloMessage([serverName([0, 'x.test'])])), Buffer.from([0x17, 3, 3, 0, 5, 1, 2, 3, 4, 5])]);
    assertSni(parse(withMore), 'x.test');
  });

  it('refuses what is not a ClientHello in TLS records', () => {
    const good = records(helloMessage([serverName([0, 'x.test'])]));
    const cases: [Buffer, string][] = [
      [Buffer.from('GET / HTTP/1.1\r\n\r\n'), 'HTTP'],
      [Buffer.from([0x80, 0x2e, 0x01]), 'SSLv2 hello'],
      [Buffer.from([0x17, 3, 1, 0, 1, 0]), 'application data record'],
      [Buffer.from([0x16, 2, 0, 0, 1, 0]), 'record version 2.0'],
      [Buffer.from([0x16, 3, 5, 0, 1, 0]), 'record version 3.5'],
      [Buffer.from([0x16, 3, 1, 0, 0]), 'empty record'],
      [Buffer.from([0x16, 3, 1, 0x40, 0x01]), 'record above 2^14'],
      [records(Buffer.from([2, 0, 0, 0])), 'ServerHello'],
      [records(helloMessage([serverName([0, 'x.test']), serverName([0, 'y.test'])])), 'two server_name extensions'],
      [records(helloMessage([serverName([0, 'x.test'], [0, 'y.test'])])), 'two host names'],
      [records(helloMessage([serverName([0, 'bad name'])])), 'space in the name'],
      [records(helloMessage([serverName([0, 'caf\u00e9.test'])])), 'non-ASCII name'],
      [records(helloMessage([extension(0, Buffer.alloc(0))])), 'empty server_name'],
      [records(helloMessage([extension(0, Buffer.from([0, 9, 0, 0, 1, 0x61]))])), 'list length past the extension'],
      [records(helloMessage([], 33)), 'session id of 33 bytes'],
    ];
    for (const [bytes, what] of cases) assert.equal(parse(bytes).kind, 'malformed', what);
    // a record that is not a handshake record after a first fragment
    const split = records(helloMessage([serverName([0, 'x.test'])]), 10);
    const bad = Buffer.from(split);
    bad[15] = 0x17;
    assert.equal(parse(bad).kind, 'malformed', 'second record not a handshake');
    assertSni(parse(good), 'x.test');
  });

  it('refuses a length mismatch between the message and its extensions', () => {
    const msg = helloMessage([serverName([0, 'x.test'])]);
    const longer = Buffer.concat([msg, Buffer.from([0])]);
    longer.writeUIntBE(msg.length - 4 + 1, 1, 3);
    assert.equal(parse(records(longer)).kind, 'malformed');
  });

  it('bounds the hello: above 16 KiB is refused at once, and so is input that never completes', () => {
    const big = helloMessage([serverName([0, 'x.test']), extension(21, Buffer.alloc(16500))]);
    const first = records(big).subarray(0, 9); // the header says how long it will be
    assert.equal(parse(first).kind, 'malformed');
    // 1-byte records of a 4 KiB hello need 6 bytes each: more input than the bound allows
    const slow = records(helloMessage([serverName([0, 'x.test']), extension(21, Buffer.alloc(4000))]), 1);
    assert.ok(slow.length > MAX_CLIENT_HELLO_BYTES);
    assert.equal(parseClientHello(slow, 0, MAX_CLIENT_HELLO_BYTES - 1).kind, 'incomplete');
    assert.equal(parseClientHello(slow, 0, MAX_CLIENT_HELLO_BYTES).kind, 'malformed');
  });
});

describe('fuzz: parseClientHello never throws', () => {
  function check(b: Uint8Array): void {
    const r = parseClientHello(b, 0, b.length);
    assert.ok(r.kind === 'ok' || r.kind === 'incomplete' || r.kind === 'malformed');
  }

  it('random bytes, also behind a handshake record header (fixed seed)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.constantFrom(Buffer.alloc(0), Buffer.from([0x16, 3, 1]), Buffer.from([0x16, 3, 1, 1, 0, 1])), (tail, prefix) => {
        check(Buffer.concat([prefix, tail]));
      }),
      { seed: 3, numRuns: 3000 },
    );
  });

  it('mutations of the real hello, whole and re-framed (fixed seed)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.constantFrom('set', 'insert', 'remove')), { minLength: 1, maxLength: 8 }),
        fc.nat(),
        (size, edits, cut) => {
          const b = [...records(realMessage, size)];
          for (const [at, value, op] of edits) {
            const i = at % (b.length + 1);
            if (op === 'set' && i < b.length) b[i] = value;
            else if (op === 'insert') b.splice(i, 0, value);
            else if (op === 'remove' && i < b.length) b.splice(i, 1);
          }
          const bytes = Uint8Array.from(b);
          check(bytes);
          check(bytes.subarray(0, cut % (bytes.length + 1)));
        },
      ),
      { seed: 5, numRuns: 2000 },
    );
  });
});
