import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  addressSchema,
  cidrContains,
  cidrSchema,
  cidrsContain,
  listenAddressSchema,
  normalizeIp,
  parseAddress,
  parseCidr,
  parseIpInto,
  type Cidr,
} from '../../../src/core/address.ts';

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  assert.ok(parsed, `${text} should parse`);
  return parsed;
}

function firstMessage(result: { error?: { issues: { message: string }[] } }): string | undefined {
  return result.error?.issues[0].message;
}

describe('parseAddress', () => {
  it('parses IPv4, bracketed IPv6 and hostnames', () => {
    assert.deepEqual(parseAddress('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080, text: '127.0.0.1:8080' });
    assert.deepEqual(parseAddress('0.0.0.0:8080'), { host: '0.0.0.0', port: 8080, text: '0.0.0.0:8080' });
    assert.deepEqual(parseAddress('[::1]:80'), { host: '::1', port: 80, text: '[::1]:80' });
    assert.deepEqual(parseAddress('localhost:1'), { host: 'localhost', port: 1, text: 'localhost:1' });
    assert.deepEqual(parseAddress('db-1.internal:65535'), { host: 'db-1.internal', port: 65535, text: 'db-1.internal:65535' });
  });

  it('normalizes the host: lowercase names, RFC 5952 IPv6', () => {
    assert.deepEqual(parseAddress('Api.Example.COM:443'), { host: 'api.example.com', port: 443, text: 'api.example.com:443' });
    assert.deepEqual(parseAddress('[2001:DB8:0:0:0:0:0:1]:80'), { host: '2001:db8::1', port: 80, text: '[2001:db8::1]:80' });
    assert.equal(parseAddress('[::ffff:10.0.0.1]:80')?.host, '::ffff:10.0.0.1');
  });

  it('rejects what is not exactly host:port', () => {
    const rejected = [
      '', '10.0.0.1', ':80', '::1:80', '::1', '[::1]', '[::1]80', '[::1]:', 'http://a:80', 'a:80/x', 'a:65536',
      'a:-1', 'a:080', 'a:8o', ' a:80', 'a:80 ', 'a_b:80', '-a:80', 'a-:80', 'a..b:80', '.a:80', '10.0.0.300:80',
      '1.2.3:80', '01.2.3.4:80', '[1.2.3.4]:80', '[fe80::1%eth0]:80', `${'x'.repeat(64)}.com:80`, 'a:b:80', 'a:0',
    ];
    for (const text of rejected) assert.equal(parseAddress(text), undefined, JSON.stringify(text));
  });

  it('accepts port 0 only when allowed', () => {
    assert.equal(parseAddress('127.0.0.1:0'), undefined);
    assert.deepEqual(parseAddress('127.0.0.1:0', { allowPortZero: true }), { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' });
  });

  it('accepts a 63-character label and rejects a 64-character one', () => {
    assert.equal(parseAddress(`${'a'.repeat(63)}.com:80`)?.port, 80);
    assert.equal(parseAddress(`${'a'.repeat(64)}.com:80`), undefined);
  });
});

describe('address schemas', () => {
  it('parse to {host, port, text}', () => {
    assert.deepEqual(addressSchema.parse('10.0.0.1:8080'), { host: '10.0.0.1', port: 8080, text: '10.0.0.1:8080' });
    assert.equal(listenAddressSchema.parse('127.0.0.1:0').port, 0);
  });

  it('explain the problem', () => {
    assert.equal(firstMessage(addressSchema.safeParse('10.0.0.1')), 'expected host:port like "10.0.0.1:8080", found "10.0.0.1" (no port)');
    assert.equal(firstMessage(addressSchema.safeParse('10.0.0.1:0')), 'expected a port 1..65535, found "10.0.0.1:0"');
    assert.equal(firstMessage(listenAddressSchema.safeParse('10.0.0.1:70000')), 'expected a port 0..65535, found "10.0.0.1:70000"');
    assert.equal(
      firstMessage(addressSchema.safeParse('::1:8080')),
      'expected an IPv6 address in brackets like "[::1]:8080", found "::1:8080"',
    );
    assert.equal(
      firstMessage(addressSchema.safeParse('http://10.0.0.1:80')),
      'expected host:port like "10.0.0.1:8080" (no scheme), found "http://10.0.0.1:80"',
    );
    assert.equal(firstMessage(addressSchema.safeParse(8080)), 'expected host:port like "10.0.0.1:8080", found 8080');
  });
});

describe('parseCidr', () => {
  it('parses IPv4 and IPv6 networks; a bare address is a single-address network', () => {
    const v4 = cidr('10.0.0.0/8');
    assert.equal(v4.text, '10.0.0.0/8');
    assert.equal(v4.family, 4);
    assert.equal(v4.prefix, 8);
    assert.deepEqual([...v4.network], [0, 0, 0xffff, 0x0a000000]);
    assert.deepEqual([...v4.mask], [0xffffffff, 0xffffffff, 0xffffffff, 0xff000000]);
    assert.equal(cidr('10.1.2.3').text, '10.1.2.3/32');
    assert.equal(cidr('::1').text, '::1/128');
    assert.equal(cidr('::1/128').family, 6);
    assert.equal(cidr('2001:DB8::/32').text, '2001:db8::/32');
    assert.equal(cidr('0.0.0.0/0').prefix, 0);
    assert.equal(cidr('::/0').text, '::/0');
  });

  it('rejects host bits, bad prefixes and junk', () => {
    const rejected = ['10.0.0.1/8', '10.0.0.0/33', '::/129', '10.0.0.0/08', '10.0.0.0/', '/8', 'abc', '10.0.0.0/8 ', '10.0.0/8', 'fe80::1%eth0'];
    for (const text of rejected) assert.equal(parseCidr(text), undefined, text);
    assert.equal(
      firstMessage(cidrSchema.safeParse('10.0.0.1/8')),
      'expected a network address with no host bits set, found "10.0.0.1/8" (did you mean "10.0.0.0/8"?)',
    );
    assert.equal(firstMessage(cidrSchema.safeParse('10.0.0.0/33')), 'expected a prefix length 0..32 after "/", found "10.0.0.0/33"');
    assert.equal(firstMessage(cidrSchema.safeParse('ten')), 'expected a CIDR like "10.0.0.0/8" or "fd00::/8", found "ten"');
  });
});

describe('cidrContains', () => {
  it('matches IPv4 and IPv4-mapped IPv6 against an IPv4 network', () => {
    const net = cidr('10.0.0.0/8');
    assert.equal(cidrContains(net, '10.1.2.3'), true);
    assert.equal(cidrContains(net, '10.255.255.255'), true);
    assert.equal(cidrContains(net, '::ffff:10.1.2.3'), true);
    assert.equal(cidrContains(net, '::FFFF:a01:203'), true);
    assert.equal(cidrContains(net, '11.0.0.0'), false);
    assert.equal(cidrContains(net, '9.255.255.255'), false);
    assert.equal(cidrContains(net, '::1'), false);
    assert.equal(cidrContains(net, '::10.1.2.3'), false);
  });

  it('matches IPv6 networks, ignoring a zone', () => {
    assert.equal(cidrContains(cidr('::1/128'), '::1'), true);
    assert.equal(cidrContains(cidr('::1/128'), '0:0:0:0:0:0:0:1'), true);
    assert.equal(cidrContains(cidr('::1/128'), '::2'), false);
    assert.equal(cidrContains(cidr('fe80::/10'), 'fe80::1%eth0'), true);
    assert.equal(cidrContains(cidr('fe80::/10'), 'febf:ffff::1'), true);
    assert.equal(cidrContains(cidr('fe80::/10'), 'fec0::1'), false);
    assert.equal(cidrContains(cidr('2001:db8::/33'), '2001:db8:7fff::1'), true);
    assert.equal(cidrContains(cidr('2001:db8::/33'), '2001:db8:8000::1'), false);
  });

  it('treats /0 as everything of its space', () => {
    assert.equal(cidrContains(cidr('0.0.0.0/0'), '255.255.255.255'), true);
    assert.equal(cidrContains(cidr('0.0.0.0/0'), '::ffff:1.2.3.4'), true);
    assert.equal(cidrContains(cidr('0.0.0.0/0'), '2001:db8::1'), false);
    assert.equal(cidrContains(cidr('::/0'), '2001:db8::1'), true);
    assert.equal(cidrContains(cidr('::/0'), '1.2.3.4'), true);
  });

  it('never matches something that is not an address', () => {
    for (const text of ['', 'abc', '10.1.2', '10.1.2.3.4', '::g', '10.01.2.3', ' 10.1.2.3']) {
      assert.equal(cidrContains(cidr('0.0.0.0/0'), text), false, text);
      assert.equal(cidrContains(cidr('::/0'), text), false, text);
    }
  });

  it('cidrsContain checks a list', () => {
    const list = [cidr('10.0.0.0/8'), cidr('192.168.0.0/16'), cidr('fd00::/8')];
    assert.equal(cidrsContain(list, '192.168.4.5'), true);
    assert.equal(cidrsContain(list, 'fd12::1'), true);
    assert.equal(cidrsContain(list, '172.16.0.1'), false);
    assert.equal(cidrsContain([], '10.0.0.1'), false);
  });
});

// Reference implementation for the property tests: BigInt arithmetic over the same IPv6 space.
function words(text: string): bigint | undefined {
  const out = new Uint32Array(4);
  if (!parseIpInto(text, out)) return undefined;
  return out.reduce((n, w) => (n << 32n) | BigInt(w), 0n);
}

const groupsArbitrary = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 });
const groupsValue = (g: number[]) => g.reduce((n, x) => (n << 16n) | BigInt(x), 0n);

describe('IP parsing (properties, fixed seed)', () => {
  it('agrees with node:net isIP on arbitrary strings of address characters', () => {
    const chars = fc.constantFrom(...'0123456789abcdefABCDEF:.'.split(''));
    fc.assert(
      fc.property(fc.string({ unit: chars, maxLength: 45 }), (text) => (words(text) !== undefined) === (isIP(text) !== 0)),
      { seed: 42, numRuns: 20_000 },
    );
  });

  it('agrees with node:net isIP on near-valid addresses', () => {
    // Eight groups (or six and a dotted quad), then: maybe a "::" replacing parts[a, b) (a === b replaces
    // nothing, which is invalid), maybe one part padded with a leading zero (valid up to four hex digits, never
    // valid in a dotted quad).
    const near = fc
      .record({
        g: groupsArbitrary,
        tail: fc.boolean(),
        gap: fc.option(fc.tuple(fc.nat(8), fc.nat(8))),
        pad: fc.option(fc.nat(10)),
      })
      .map(({ g, tail, gap, pad }) => {
        const octets = [g[6] >> 8, g[6] & 255, g[7] >> 8, g[7] & 255].map(String);
        const hex = g.slice(0, tail ? 6 : 8).map((x) => x.toString(16));
        if (pad !== null) {
          if (tail && pad >= 6) octets[pad % 4] = `0${octets[pad % 4]}`;
          else hex[pad % hex.length] = `0${hex[pad % hex.length]}`;
        }
        const parts = tail ? [...hex, octets.join('.')] : hex;
        if (gap === null) return parts.join(':');
        const a = Math.min(gap[0], gap[1], parts.length);
        const b = Math.min(Math.max(gap[0], gap[1]), parts.length);
        return `${parts.slice(0, a).join(':')}::${parts.slice(b).join(':')}`;
      });
    let valid = 0;
    fc.assert(
      fc.property(near, (text) => {
        if (isIP(text) === 6) valid++;
        return (words(text) !== undefined) === (isIP(text) === 6);
      }),
      { seed: 7, numRuns: 5000 },
    );
    assert.ok(valid > 1000 && valid < 4000, `a mix of valid and invalid inputs (${valid} valid)`);
  });

  it('agrees with node:net isIP on near-valid IPv4', () => {
    const octet = fc.oneof(fc.nat(255).map(String), fc.constantFrom('256', '00', '01', '999', ''));
    const v4 = fc.array(octet, { minLength: 3, maxLength: 5 }).map((parts) => parts.join('.'));
    fc.assert(fc.property(v4, (text) => (words(text) !== undefined) === (isIP(text) === 4)), { seed: 9, numRuns: 5000 });
  });

  it('parses every full and compressed IPv6 form to the same value', () => {
    fc.assert(
      fc.property(groupsArbitrary, (g) => {
        const value = groupsValue(g);
        const full = g.map((x) => x.toString(16).padStart(4, '0')).join(':');
        const upper = full.toUpperCase();
        const compressed = new URL(`http://[${full}]/`).hostname.slice(1, -1);
        return words(full) === value && words(upper) === value && words(compressed) === value;
      }),
      { seed: 11, numRuns: 3000 },
    );
  });

  it('normalizeIp matches the WHATWG URL serializer (RFC 5952) for IPv6', () => {
    fc.assert(
      fc.property(groupsArbitrary, (g) => {
        if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) return true;
        const full = g.map((x) => x.toString(16)).join(':');
        return normalizeIp(full) === new URL(`http://[${full}]/`).hostname.slice(1, -1);
      }),
      { seed: 13, numRuns: 3000 },
    );
    // Zero runs are where compression choices differ; cover them deliberately.
    const sparse = fc.array(fc.constantFrom(0, 0, 0, 1, 0xabcd), { minLength: 8, maxLength: 8 });
    fc.assert(
      fc.property(sparse, (g) => {
        const full = g.map((x) => x.toString(16)).join(':');
        return normalizeIp(full) === new URL(`http://[${full}]/`).hostname.slice(1, -1);
      }),
      { seed: 17, numRuns: 3000 },
    );
  });

  it('cidrContains agrees with a BigInt reference', () => {
    const all = (1n << 128n) - 1n;
    fc.assert(
      fc.property(groupsArbitrary, groupsArbitrary, fc.integer({ min: 0, max: 128 }), (netGroups, ipGroups, prefix) => {
        const mask = prefix === 0 ? 0n : (all << BigInt(128 - prefix)) & all;
        const network = groupsValue(netGroups) & mask;
        // Half the time, put the address inside the network.
        const ipValue = netGroups[0] % 2 === 0 ? network | (groupsValue(ipGroups) & ~mask & all) : groupsValue(ipGroups);
        const hex = (v: bigint) => v.toString(16).padStart(32, '0').match(/.{4}/g)!.join(':');
        const net = cidr(`${hex(network)}/${prefix}`);
        return cidrContains(net, hex(ipValue)) === ((ipValue & mask) === network);
      }),
      { seed: 19, numRuns: 3000 },
    );
  });
});

describe('normalizeIp', () => {
  it('gives canonical text', () => {
    assert.equal(normalizeIp('10.1.2.3'), '10.1.2.3');
    assert.equal(normalizeIp('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(normalizeIp('::FFFF:a01:203'), '10.1.2.3');
    assert.equal(normalizeIp('2001:0DB8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
    assert.equal(normalizeIp('1:0:0:1:0:0:0:1'), '1:0:0:1::1');
    assert.equal(normalizeIp('1:0:0:2:0:0:3:4'), '1::2:0:0:3:4');
    assert.equal(normalizeIp('1:2:3:4:5:6:7:0'), '1:2:3:4:5:6:7:0');
    assert.equal(normalizeIp('::'), '::');
    assert.equal(normalizeIp('fe80::1%eth0'), 'fe80::1');
    assert.equal(normalizeIp('abc'), undefined);
  });
});
