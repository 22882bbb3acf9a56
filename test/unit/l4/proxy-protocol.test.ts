// PROXY protocol v1/v2 (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt): the spec's examples and
// limits, every truncation of a valid header is `incomplete`, strictness (leading zeros, single spaces, lone CR/LF,
// version/command/family/transport nibbles, lengths, TLV framing), build → parse round trips, and a fixed-seed fuzz
// over random bytes and mutations that must never throw.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  buildProxyHeaderV1,
  buildProxyHeaderV2,
  MAX_V2_BLOCK_LENGTH,
  parseProxyHeader,
  sniffProxySignature,
  type ProxyHeader,
} from '../../../src/l4/proxy-protocol.ts';

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

function parse(bytes: Buffer | string): ProxyHeader {
  const b = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
  return parseProxyHeader(b, 0, b.length);
}

function v2(verCmd: number, fam: number, block: Buffer): Buffer {
  const head = Buffer.alloc(16);
  SIG.copy(head);
  head[12] = verCmd;
  head[13] = fam;
  head.writeUInt16BE(block.length, 14);
  return Buffer.concat([head, block]);
}

function inet4Block(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  b.set(src, 0);
  b.set(dst, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

function assertOk(h: ProxyHeader): Extract<ProxyHeader, { kind: 'ok' }> {
  if (h.kind !== 'ok') assert.fail(`expected ok, got ${JSON.stringify(h)}`);
  return h;
}

function assertInvalid(h: ProxyHeader, what: string): void {
  assert.equal(h.kind, 'invalid', `${what}: ${JSON.stringify(h)}`);
}

/** Every strict prefix of a valid header is incomplete; the whole is ok. */
function assertEveryPrefixIncomplete(bytes: Buffer): void {
  for (let n = 0; n < bytes.length; n++) {
    assert.deepEqual(parseProxyHeader(bytes, 0, n), { kind: 'incomplete' }, `prefix of ${n} bytes`);
  }
  assert.equal(parse(bytes).kind, 'ok');
}

describe('PROXY protocol v1', () => {
  it("parses the spec's example and reports the bytes it took", () => {
    const line = 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n';
    const h = assertOk(parse(line + 'GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n'));
    assert.equal(h.version, 1);
    assert.equal(h.consumed, line.length);
    assert.equal(h.local, false);
    assert.deepEqual(h.source, { address: '192.168.0.1', port: 56324 });
    assert.deepEqual(h.destination, { address: '192.168.0.11', port: 443 });
  });

  it('parses TCP6, normalising the address text', () => {
    const h = assertOk(parse('PROXY TCP6 2001:DB8:0:0::1 ::1 65535 0\r\n'));
    assert.deepEqual(h.source, { address: '2001:db8::1', port: 65535 });
    assert.deepEqual(h.destination, { address: '::1', port: 0 });
  });

  it('accepts the longest lines the spec lists (56, 104 and 107 bytes)', () => {
    const full6 = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const lines = [
      'PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n',
      `PROXY TCP6 ${full6} ${full6} 65535 65535\r\n`,
      `PROXY UNKNOWN ${full6} ${full6} 65535 65535\r\n`,
    ];
    assert.deepEqual(lines.map((l) => l.length), [56, 104, 107]);
    for (const l of lines) assert.equal(assertOk(parse(l)).consumed, l.length);
  });

  it('UNKNOWN: the rest of the line is ignored and no address is given', () => {
    for (const l of ['PROXY UNKNOWN\r\n', 'PROXY UNKNOWN anything at all 1 2\r\n']) {
      const h = assertOk(parse(l));
      assert.equal(h.source, undefined);
      assert.equal(h.consumed, l.length);
    }
  });

  it('every prefix of a valid line is incomplete', () => {
    assertEveryPrefixIncomplete(Buffer.from('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'));
    assertEveryPrefixIncomplete(Buffer.from('PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n'));
    assertEveryPrefixIncomplete(Buffer.from('PROXY UNKNOWN\r\n'));
  });

  it('refuses what does not match the spec exactly', () => {
    const bad: [string, string][] = [
      ['PROXY TCP4 192.168.0.1 192.168.0.11 056324 443\r\n', 'leading zero in a port'],
      ['PROXY TCP4 192.168.0.01 192.168.0.11 56324 443\r\n', 'leading zero in an address'],
      ['PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n', 'port above 65535'],
      ['PROXY TCP4 192.168.0.1  192.168.0.11 56324 443\r\n', 'two spaces'],
      ['PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 \r\n', 'trailing space'],
      ['PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n', 'missing field'],
      ['PROXY TCP4 ::1 ::1 1 2\r\n', 'IPv6 under TCP4'],
      ['PROXY TCP6 1.2.3.4 1.2.3.4 1 2\r\n', 'IPv4 under TCP6'],
      ['PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n', 'dotted quad under TCP6'],
      ['PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n', 'unknown protocol'],
      ['PROXY tcp4 1.2.3.4 1.2.3.4 1 2\r\n', 'lowercase protocol'],
      ['PROXY  TCP4 1.2.3.4 1.2.3.4 1 2\r\n', 'two spaces after PROXY'],
      ['PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n', 'LF without CR'],
      ['PROXY TCP4 1.2.3.4 1.2.3.4 1 2\rX', 'CR without LF'],
      ['PROXY TCP4 1.2.3.4\t1.2.3.4 1 2\r\n', 'a tab'],
      ['PROXY UNKNOWN\u00ff\r\n', 'non-ASCII byte'],
      ['GET / HTTP/1.1\r\n\r\n', 'not a PROXY header'],
      ['PROXX TCP4', 'signature mismatch'],
    ];
    for (const [line, what] of bad) assertInvalid(parse(line), what);
  });

  it('no CRLF within 107 bytes is invalid; fewer bytes without one are incomplete', () => {
    const long = 'PROXY UNKNOWN ' + 'x'.repeat(100);
    assert.equal(parse(long.slice(0, 105)).kind, 'incomplete'); // the CR may still come at index 105
    assertInvalid(parse(long.slice(0, 106)), '106 bytes, no CR');
    assertInvalid(parse(long.slice(0, 107)), '107 bytes, no CRLF');
    assertInvalid(parse('PROXY UNKNOWN ' + 'x'.repeat(92) + '\r\n'), '108-byte line');
  });

  it('parses at an offset inside a larger buffer', () => {
    const b = Buffer.from('xxPROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nyy');
    const h = parseProxyHeader(b, 2, b.length - 2);
    assert.equal(assertOk(h).consumed, b.length - 4);
  });
});

describe('PROXY protocol v2', () => {
  const tcp4 = v2(0x21, 0x11, inet4Block([192, 168, 0, 1], [192, 168, 0, 11], 56324, 443));

  it('parses TCP over IPv4', () => {
    const h = assertOk(parse(Buffer.concat([tcp4, Buffer.from('GET /')])));
    assert.equal(h.version, 2);
    assert.equal(h.consumed, 28);
    assert.deepEqual(h.source, { address: '192.168.0.1', port: 56324 });
    assert.deepEqual(h.destination, { address: '192.168.0.11', port: 443 });
  });

  it('parses TCP and UDP over IPv6', () => {
    const block = Buffer.alloc(36);
    block[15] = 1; // ::1
    Buffer.from('20010db8000000000000000000000002', 'hex').copy(block, 16);
    block.writeUInt16BE(1234, 32);
    block.writeUInt16BE(443, 34);
    for (const fam of [0x21, 0x22]) {
      const h = assertOk(parse(v2(0x21, fam, block)));
      assert.deepEqual(h.source, { address: '::1', port: 1234 });
      assert.deepEqual(h.destination, { address: '2001:db8::2', port: 443 });
    }
  });

  it('LOCAL: valid, marked local, no address, whatever the family and block', () => {
    for (const h of [parse(v2(0x20, 0x00, Buffer.alloc(0))), parse(v2(0x20, 0x11, Buffer.alloc(7)))]) {
      const ok = assertOk(h);
      assert.equal(ok.local, true);
      assert.equal(ok.source, undefined);
    }
  });

  it('AF_UNSPEC, AF_UNIX and an unspecified transport are accepted without addresses', () => {
    assert.equal(assertOk(parse(v2(0x21, 0x00, Buffer.alloc(0)))).source, undefined);
    assert.equal(assertOk(parse(v2(0x21, 0x31, Buffer.alloc(216)))).source, undefined);
    assert.equal(assertOk(parse(v2(0x21, 0x10, Buffer.alloc(12)))).source, undefined);
  });

  it('skips TLVs within the declared length and refuses broken TLV framing', () => {
    const addr = inet4Block([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
    const tlvs = Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32, 0x04, 0x00, 0x00, 0x05, 0x00, 0x01, 0xaa]);
    const h = assertOk(parse(v2(0x21, 0x11, Buffer.concat([addr, tlvs]))));
    assert.equal(h.consumed, 16 + 12 + tlvs.length);
    assert.equal(h.source?.address, '10.0.0.1');
    assertInvalid(parse(v2(0x21, 0x11, Buffer.concat([addr, Buffer.from([0x01, 0x00])]))), 'truncated TLV header');
    assertInvalid(parse(v2(0x21, 0x11, Buffer.concat([addr, Buffer.from([0x01, 0x00, 0x05, 0x61])]))), 'TLV past the block');
  });

  it('every prefix is incomplete (IPv4, IPv6, LOCAL, with TLVs)', () => {
    assertEveryPrefixIncomplete(tcp4);
    assertEveryPrefixIncomplete(v2(0x21, 0x21, Buffer.alloc(36)));
    assertEveryPrefixIncomplete(v2(0x20, 0x00, Buffer.alloc(0)));
    assertEveryPrefixIncomplete(v2(0x21, 0x11, Buffer.concat([inet4Block([1, 2, 3, 4], [5, 6, 7, 8], 9, 10), Buffer.from([0x04, 0x00, 0x01, 0x00])])));
  });

  it('refuses bad version, command, family, transport and lengths', () => {
    assertInvalid(parse(v2(0x11, 0x11, Buffer.alloc(12))), 'version 1 in the v2 byte');
    assertInvalid(parse(v2(0x31, 0x11, Buffer.alloc(12))), 'version 3');
    assertInvalid(parse(v2(0x22, 0x11, Buffer.alloc(12))), 'command 2');
    assertInvalid(parse(v2(0x21, 0x41, Buffer.alloc(12))), 'family 4');
    assertInvalid(parse(v2(0x21, 0x13, Buffer.alloc(12))), 'transport 3');
    assertInvalid(parse(v2(0x21, 0x11, Buffer.alloc(11))), 'IPv4 block of 11 bytes');
    assertInvalid(parse(v2(0x21, 0x21, Buffer.alloc(12))), 'IPv6 block of 12 bytes');
    assertInvalid(parse(v2(0x21, 0x31, Buffer.alloc(100))), 'UNIX block of 100 bytes');
  });

  it('refuses a declared length above the bound before waiting for it', () => {
    const head = v2(0x21, 0x11, Buffer.alloc(0));
    head.writeUInt16BE(MAX_V2_BLOCK_LENGTH + 1, 14);
    assertInvalid(parse(head), 'oversized');
    head.writeUInt16BE(0xffff, 14);
    assertInvalid(parse(head), 'largest length');
    const max = v2(0x21, 0x00, Buffer.alloc(MAX_V2_BLOCK_LENGTH));
    assert.equal(assertOk(parse(max)).consumed, 16 + MAX_V2_BLOCK_LENGTH);
  });

  it('refuses a bad signature as soon as a byte differs', () => {
    for (let i = 0; i < 12; i++) {
      const b = Buffer.from(tcp4);
      b[i] ^= 0x40;
      assertInvalid(parse(b), `signature byte ${i}`);
      assertInvalid(parseProxyHeader(b, 0, i + 1), `signature byte ${i}, ${i + 1} bytes`);
    }
  });
});

describe('sniffProxySignature', () => {
  it('tells a signature, a prefix of one, and anything else apart', () => {
    const s = (t: string | Buffer) => {
      const b = typeof t === 'string' ? Buffer.from(t, 'latin1') : t;
      return sniffProxySignature(b, 0, b.length);
    };
    assert.equal(s('PROXY TCP4'), 'yes');
    assert.equal(s(SIG), 'yes');
    assert.equal(s('PROX'), 'maybe');
    assert.equal(s('\r\n\r\n'), 'maybe');
    assert.equal(s(''), 'maybe');
    assert.equal(s('PROXIMITY'), 'no');
    assert.equal(s('\x16\x03\x01'), 'no');
    assert.equal(s('\r\n\r\nX'), 'no');
  });
});

describe('building headers', () => {
  it('v1: TCP4, TCP6, a mixed pair as TCP6 with the IPv4 side mapped, UNKNOWN without addresses', () => {
    assert.equal(buildProxyHeaderV1({ address: '192.168.0.1', port: 56324 }, { address: '192.168.0.11', port: 443 }).toString(), 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n');
    assert.equal(buildProxyHeaderV1({ address: '2001:db8::1', port: 1 }, { address: '::1', port: 2 }).toString(), 'PROXY TCP6 2001:db8::1 ::1 1 2\r\n');
    assert.equal(buildProxyHeaderV1({ address: '::ffff:10.0.0.1', port: 1 }, { address: '10.0.0.2', port: 2 }).toString(), 'PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n');
    assert.equal(buildProxyHeaderV1({ address: '10.0.0.1', port: 1 }, { address: '::1', port: 2 }).toString(), 'PROXY TCP6 ::ffff:a00:1 ::1 1 2\r\n');
    assert.equal(buildProxyHeaderV1(null, { address: '::1', port: 2 }).toString(), 'PROXY UNKNOWN\r\n');
    assert.equal(buildProxyHeaderV1({ address: 'not-an-ip', port: 1 }, { address: '::1', port: 2 }).toString(), 'PROXY UNKNOWN\r\n');
  });

  it('v2: TCP over IPv4 is 28 bytes, over IPv6 52, unknown 16 with AF_UNSPEC', () => {
    const four = buildProxyHeaderV2({ address: '192.168.0.1', port: 56324 }, { address: '192.168.0.11', port: 443 });
    assert.equal(four.toString('hex'), SIG.toString('hex') + '2111000c' + 'c0a80001' + 'c0a8000b' + 'dc04' + '01bb');
    assert.equal(buildProxyHeaderV2({ address: '::1', port: 1 }, { address: '::2', port: 2 }).length, 52);
    assert.equal(buildProxyHeaderV2(null, null).toString('hex'), SIG.toString('hex') + '21000000');
  });

  const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((q) => q.join('.'));
  const ipv6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':'));
  const port = fc.nat(65535);

  it('build → parse gives back the addresses (fixed seed)', () => {
    fc.assert(
      fc.property(fc.oneof(ipv4, ipv6), fc.oneof(ipv4, ipv6), port, port, fc.boolean(), (s, d, sp, dp, useV2) => {
        const src = { address: s, port: sp };
        const dst = { address: d, port: dp };
        const bytes = useV2 ? buildProxyHeaderV2(src, dst) : buildProxyHeaderV1(src, dst);
        const h = assertOk(parse(bytes));
        assert.equal(h.consumed, bytes.length);
        assert.equal(h.source?.port, sp);
        assert.equal(h.destination?.port, dp);
        const bothFour = !s.includes(':') && !d.includes(':');
        if (bothFour) {
          assert.equal(h.source?.address, s);
          assert.equal(h.destination?.address, d);
        } else {
          // compare as 16 bytes: the text is normalised
          assert.equal(canonical6(h.source!.address), canonical6(s.includes(':') ? s : `::ffff:${s}`));
        }
      }),
      { seed: 20240611, numRuns: 500 },
    );
  });
});

function canonical6(text: string): string {
  const u = new URL(`http://[${text}]/`);
  return u.hostname;
}

describe('fuzz: the parser never throws', () => {
  const valid = [
    Buffer.from('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'),
    Buffer.from('PROXY TCP6 2001:db8::1 ::1 1 2\r\n'),
    buildProxyHeaderV2({ address: '10.0.0.1', port: 1 }, { address: '10.0.0.2', port: 2 }),
    buildProxyHeaderV2({ address: '::1', port: 1 }, { address: '::2', port: 2 }),
  ];

  function check(b: Uint8Array): void {
    const h = parseProxyHeader(b, 0, b.length);
    assert.ok(h.kind === 'ok' || h.kind === 'incomplete' || h.kind === 'invalid');
    if (h.kind === 'ok') assert.ok(h.consumed > 0 && h.consumed <= b.length);
  }

  it('random bytes, also behind a signature (fixed seed)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(Buffer.alloc(0), Buffer.from('PROXY '), SIG, Buffer.concat([SIG, Buffer.from([0x21])])), (tail, prefix) => {
        check(Buffer.concat([prefix, tail]));
      }),
      { seed: 7, numRuns: 3000 },
    );
  });

  it('mutations of valid headers: flipped, inserted and removed bytes, truncation (fixed seed)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.constantFrom('flip', 'insert', 'remove')), { maxLength: 6 }),
        fc.nat(),
        (base, edits, cut) => {
          const b = [...base];
          for (const [at, value, op] of edits) {
            const i = at % (b.length + 1);
            if (op === 'flip' && i < b.length) b[i] = value;
            else if (op === 'insert') b.splice(i, 0, value);
            else if (op === 'remove' && i < b.length) b.splice(i, 1);
          }
          const bytes = Uint8Array.from(b);
          check(bytes);
          check(bytes.subarray(0, cut % (bytes.length + 1)));
        },
      ),
      { seed: 11, numRuns: 3000 },
    );
  });
});
