// `dig` through the udp listeners of a `fulcrum run` process, in front of small DNS servers that each answer A
// queries with their own address (10.0.0.x), so every answer says which server gave it. One dig process sends a
// batch (`-f`), each query from a new source port, hence a new flow: round robin spreads the flows evenly; a hash
// on the client address keeps every query of one source address (`-b`) on one server; a stopped server that
// the `tcp` health check marks down gets no more queries, and takes them again once it is back and healthy.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runFulcrum, runProgram, startDnsServer, type DnsTestServer, type FulcrumProcess } from '../helpers/l4-peers.ts';

const dir = mkdtempSync(join(tmpdir(), 'fulcrum-dig-'));
const servers = new Map<string, DnsTestServer>();
let lb: FulcrumProcess;

before(async () => {
  for (const [name, address] of [
    ['a', '10.0.0.1'],
    ['b', '10.0.0.2'],
    ['c', '10.0.0.3'],
    ['d', '10.0.0.4'],
  ]) {
    servers.set(name, await startDnsServer(name, address));
  }
  const at = (name: string) => `{ address: 127.0.0.1:${servers.get(name)!.port} }`;
  lb = await runFulcrum(
    [
      'listeners:',
      '  - { name: dns-rr, protocol: udp, address: 127.0.0.1:0, pool: dns-rr, timeouts: { flowIdle: 5s } }',
      '  - { name: dns-hash, protocol: udp, address: 127.0.0.1:0, pool: dns-hash, timeouts: { flowIdle: 5s } }',
      '  - { name: dns-health, protocol: udp, address: 127.0.0.1:0, pool: dns-health, timeouts: { flowIdle: 5s } }',
      'pools:',
      `  - { name: dns-rr, balancer: { algorithm: round-robin }, endpoints: [${at('a')}, ${at('b')}] }`,
      `  - { name: dns-hash, balancer: { algorithm: hash, key: client-ip }, endpoints: [${at('a')}, ${at('b')}] }`,
      '  - name: dns-health',
      `    endpoints: [${at('c')}, ${at('d')}]`,
      // the DNS servers listen on TCP too, on the same port, as real ones do: that is what the check probes
      '    health: { tcp: {}, interval: 100ms, timeout: 200ms, rise: 1, fall: 2 }',
      '    panicThreshold: 0',
    ].join('\n'),
  );
});

after(async () => {
  await lb?.stop();
  for (const s of servers.values()) await s.close();
});

/** `dig +short` for each query line (`name A`, optionally with `-b ADDRESS`) in one dig process, one query
 *  at a time, each from a new source port; returns the output lines (an address, or dig's timeout message). */
async function digBatch(listener: string, queries: readonly string[]): Promise<string[]> {
  const file = join(dir, `batch-${listener}-${Date.now()}.txt`);
  writeFileSync(file, queries.join('\n') + '\n');
  const r = await runProgram('dig', ['@127.0.0.1', '-p', String(lb.port(listener)), '+short', '+tries=1', '+time=2', '-f', file], { timeoutMs: 10_000 });
  assert.equal(r.timedOut, false, 'dig finished');
  return r.stdout.split('\n').filter((line) => line !== '');
}

function tally(lines: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of lines) out[line] = (out[line] ?? 0) + 1;
  return out;
}

test('dig through the udp listener: a full answer from the DNS server, header and all', async () => {
  const r = await runProgram('dig', ['@127.0.0.1', '-p', String(lb.port('dns-rr')), '+tries=1', '+time=2', 'www.example.test', 'A']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /status: NOERROR/);
  assert.match(r.stdout, /flags: qr aa rd;/, 'the server\'s own flags');
  assert.match(r.stdout, /^www\.example\.test\.\s+60\s+IN\s+A\s+10\.0\.0\.[12]$/m);
});

test('round robin: 20 queries from 20 source ports are 20 flows, answered 10 and 10 by the two servers', async () => {
  const before = [...servers.values()].map((s) => s.udpSenders.size);
  const lines = await digBatch(
    'dns-rr',
    Array.from({ length: 20 }, (_, i) => `q${i}.rr.test A`),
  );
  assert.deepEqual(tally(lines), { '10.0.0.1': 10, '10.0.0.2': 10 });
  const flowSockets = [...servers.values()].reduce((n, s, i) => n + s.udpSenders.size - before[i], 0);
  assert.equal(flowSockets, 20, 'each flow reached its server from its own upstream socket');
});

test('hash on the client address: every query from one source address goes to one server, whatever its port', async () => {
  const sources = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);
  const queries = sources.flatMap((src) => [1, 2, 3].map((n) => `-b ${src} q${n}.${src.replaceAll('.', '-')}.hash.test A`));
  const lines = await digBatch('dns-hash', queries);
  assert.equal(lines.length, queries.length, lines.join('\n'));
  const bySource = new Map<string, Set<string>>();
  lines.forEach((answer, i) => {
    const src = sources[Math.floor(i / 3)];
    bySource.set(src, (bySource.get(src) ?? new Set()).add(answer));
  });
  for (const [src, answers] of bySource) assert.equal(answers.size, 1, `${src} was answered by ${[...answers].join(' and ')}`);
  assert.deepEqual(new Set(lines), new Set(['10.0.0.1', '10.0.0.2']), 'different sources hash to both servers');
});

test('a stopped server is marked down by its tcp check and gets no queries; back and healthy, it gets them again', async () => {
  const c = servers.get('c')!;
  assert.deepEqual(tally(await digBatch('dns-health', Array.from({ length: 10 }, (_, i) => `q${i}.up.test A`))), { '10.0.0.3': 5, '10.0.0.4': 5 });

  await c.close();
  const endpoint = `"endpoint":"127\\.0\\.0\\.1:${c.port}"`;
  await lb.waitForOutput(new RegExp(`"msg":"endpoint state"[^\\n]*${endpoint}[^\\n]*"to":"unhealthy"`), 3000);
  const during = await digBatch('dns-health', Array.from({ length: 10 }, (_, i) => `q${i}.down.test A`));
  assert.deepEqual(tally(during), { '10.0.0.4': 10 }, 'every query answered, all by the server left');

  const back = await startDnsServer('c', '10.0.0.3', c.port);
  servers.set('c', back);
  await lb.waitForOutput(new RegExp(`"msg":"endpoint state"[^\\n]*${endpoint}[^\\n]*"from":"unhealthy","to":"healthy"`), 3000);
  assert.deepEqual(tally(await digBatch('dns-health', Array.from({ length: 10 }, (_, i) => `q${i}.back.test A`))), { '10.0.0.3': 5, '10.0.0.4': 5 });
});
