// The L4 config schemas: defaults as documented, every error with its path and an `expected …, found …` message,
// the pool's proxyProtocol option, and the listener schemas working as members of one discriminated union
// with an HTTP-like listener (what the config schema will do with them).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { proxyProtocolPoolSchema, tcpListenerSchema, tlsPassthroughListenerSchema, udpListenerSchema } from '../../../src/l4/schema.ts';

function issues(schema: z.ZodType, value: unknown): { path: string; message: string }[] {
  const r = schema.safeParse(value);
  if (r.success) assert.fail(`expected errors, parsed ${JSON.stringify(r.data)}`);
  return r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

describe('tcpListenerSchema', () => {
  it('fills the documented defaults', () => {
    const l = tcpListenerSchema.parse({ name: 'pg', protocol: 'tcp', address: '0.0.0.0:5432', pool: 'pg' });
    assert.equal(l.address.text, '0.0.0.0:5432');
    assert.equal(l.proxyProtocol, undefined);
    assert.deepEqual(l.limits, { maxConnections: 10_000 });
    assert.deepEqual(l.timeouts, { connect: 5_000, idle: 3_600_000, maxLifetime: 0, proxyHeader: 5_000 });
  });

  it('parses proxyProtocol.accept into CIDRs and durations into ms', () => {
    const l = tcpListenerSchema.parse({
      name: 'pg', protocol: 'tcp', address: '127.0.0.1:0', pool: 'pg',
      proxyProtocol: { accept: ['10.0.0.0/8', '::1'] },
      timeouts: { connect: '250ms', idle: 0, maxLifetime: '1h' },
    });
    assert.deepEqual(l.proxyProtocol?.accept.map((c) => c.text), ['10.0.0.0/8', '::1/128']);
    assert.equal(l.timeouts.connect, 250);
    assert.equal(l.timeouts.idle, 0);
    assert.equal(l.timeouts.maxLifetime, 3_600_000);
  });

  it('reports each error at its path with expected … found …', () => {
    const found = issues(tcpListenerSchema, {
      name: 'PG', protocol: 'tcp', address: 'nope', pool: 'pg',
      proxyProtocol: { accept: ['10.0.0.1/8'] },
      limits: { maxConnections: 0 },
      timeouts: { idle: '5 s' },
    });
    const byPath = new Map(found.map((i) => [i.path, i.message]));
    assert.match(byPath.get('name') ?? '', /^expected a name .*, found "PG"$/);
    assert.match(byPath.get('address') ?? '', /^expected host:port .*, found "nope"/);
    assert.match(byPath.get('proxyProtocol.accept.0') ?? '', /^expected a network address with no host bits set, found "10.0.0.1\/8"/);
    assert.match(byPath.get('limits.maxConnections') ?? '', /^expected an integer 1\.\.10000000, found 0$/);
    assert.match(byPath.get('timeouts.idle') ?? '', /^expected a duration like "5s" or "250ms", found "5 s"/);
  });

  it('refuses unknown keys and an empty accept list', () => {
    const found = issues(tcpListenerSchema, { name: 'pg', protocol: 'tcp', address: '127.0.0.1:1', pool: 'pg', proxyProtocol: { accept: [] }, routes: [] });
    assert.ok(found.some((i) => i.path === 'proxyProtocol.accept'));
    assert.ok(found.some((i) => i.message.includes('routes')));
  });
});

describe('tlsPassthroughListenerSchema', () => {
  it('takes one name or a list, lowercased, with wildcards; defaults clientHello to 5s', () => {
    const l = tlsPassthroughListenerSchema.parse({
      name: 'tls', protocol: 'tls-passthrough', address: '0.0.0.0:443',
      routes: [{ sni: 'API.example.com', pool: 'api' }, { sni: ['*.example.com', 'example.com.'], pool: 'web' }],
      defaultPool: 'web',
    });
    assert.deepEqual(l.routes.map((r) => r.sni), [['api.example.com'], ['*.example.com', 'example.com']]);
    assert.equal(l.timeouts.clientHello, 5_000);
    assert.equal(l.defaultPool, 'web');
  });

  it('refuses bad names, and a listener with neither routes nor a default pool', () => {
    const found = issues(tlsPassthroughListenerSchema, {
      name: 'tls', protocol: 'tls-passthrough', address: '0.0.0.0:443',
      routes: [{ sni: ['*.*.example.com', 'a b'], pool: 'api' }],
    });
    assert.deepEqual(found.map((i) => i.path), ['routes.0.sni.0', 'routes.0.sni.1']);
    assert.match(found[0].message, /^expected a server name like "api.example.com" or "\*.example.com", found "\*.\*.example.com"$/);
    const empty = issues(tlsPassthroughListenerSchema, { name: 'tls', protocol: 'tls-passthrough', address: '0.0.0.0:443' });
    assert.deepEqual(empty, [{ path: 'routes', message: 'expected at least one route or a "defaultPool", found neither' }]);
  });
});

describe('udpListenerSchema', () => {
  it('defaults maxFlows 10000 and flowIdle 30s; flowIdle 0 is refused', () => {
    const l = udpListenerSchema.parse({ name: 'dns', protocol: 'udp', address: '127.0.0.1:5353', pool: 'dns' });
    assert.equal(l.limits.maxFlows, 10_000);
    assert.equal(l.timeouts.flowIdle, 30_000);
    const found = issues(udpListenerSchema, { name: 'dns', protocol: 'udp', address: '127.0.0.1:5353', pool: 'dns', timeouts: { flowIdle: 0 } });
    assert.deepEqual(found, [{ path: 'timeouts.flowIdle', message: 'expected a duration above 0, found 0' }]);
  });
});

describe('proxyProtocolPoolSchema', () => {
  it('v1, v2 or absent', () => {
    assert.equal(proxyProtocolPoolSchema.parse('v1'), 'v1');
    assert.equal(proxyProtocolPoolSchema.parse('v2'), 'v2');
    assert.equal(proxyProtocolPoolSchema.parse(undefined), undefined);
    assert.deepEqual(issues(proxyProtocolPoolSchema, 'v3'), [{ path: '', message: 'expected "v1" or "v2", found "v3"' }]);
  });
});

describe('as members of a discriminated union on protocol', () => {
  const http = z.strictObject({ name: z.string(), protocol: z.literal('http').default('http'), address: z.string() }).transform((l) => ({ ...l, kind: 'http' as const }));
  const listener = z.discriminatedUnion('protocol', [http, tcpListenerSchema, tlsPassthroughListenerSchema, udpListenerSchema]);

  it('each protocol takes its own schema', () => {
    assert.equal(listener.parse({ name: 'a', protocol: 'tcp', address: '127.0.0.1:1', pool: 'p' }).protocol, 'tcp');
    assert.equal(listener.parse({ name: 'a', protocol: 'udp', address: '127.0.0.1:1', pool: 'p' }).protocol, 'udp');
    assert.equal(listener.parse({ name: 'a', protocol: 'tls-passthrough', address: '127.0.0.1:1', defaultPool: 'p' }).protocol, 'tls-passthrough');
    assert.equal(listener.parse({ name: 'a', protocol: 'http', address: 'x' }).protocol, 'http');
    assert.equal(listener.safeParse({ name: 'a', protocol: 'sctp', address: '127.0.0.1:1' }).success, false);
  });

  it('examples/l4.yaml: every listener parses, every pool proxyProtocol parses', () => {
    const doc = parseYaml(readFileSync(new URL('../../../examples/l4.yaml', import.meta.url), 'utf8')) as { listeners: unknown[]; pools: { proxyProtocol?: unknown }[] };
    const protocols = doc.listeners.map((l) => listener.parse(l).protocol);
    assert.deepEqual(protocols, ['tcp', 'tls-passthrough', 'udp']);
    for (const p of doc.pools) proxyProtocolPoolSchema.parse(p.proxyProtocol);
  });
});
