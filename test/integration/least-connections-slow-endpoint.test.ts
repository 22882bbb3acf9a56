// least-connections over real sockets: three origins, one answering after 50 ms and two at once, 20
// concurrent clients for 2 s. least-connections keeps in-flight counts level, so the slow origin — holding
// each request 50× longer — gets a small share; round robin, for contrast, gives it exactly a third.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { simpleConfig, startFulcrum } from '../helpers/fulcrum.ts';

interface NamedOrigin {
  readonly name: string;
  readonly address: string;
  close(): Promise<void>;
}

/** An origin that answers its name after `delayMs`. */
async function startNamedOrigin(name: string, delayMs: number): Promise<NamedOrigin> {
  const server = http.createServer((req, res) => {
    req.resume();
    const reply = () => res.end(name);
    if (delayMs > 0) setTimeout(reply, delayMs);
    else reply();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    name,
    address: `127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())).then(() => server.closeAllConnections()),
  };
}

/** `clients` loops sending requests back to back for `durationMs`; returns the replies counted by origin. */
async function drive(url: string, clients: number, durationMs: number): Promise<Map<string, number>> {
  const agent = new Agent({ connections: clients });
  const counts = new Map<string, number>();
  const end = Date.now() + durationMs;
  const client = async () => {
    while (Date.now() < end) {
      const res = await request(url, { dispatcher: agent });
      assert.equal(res.statusCode, 200);
      const name = await res.body.text();
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  await agent.close();
  return counts;
}

function shareOf(counts: Map<string, number>, name: string): number {
  let total = 0;
  for (const n of counts.values()) total += n;
  return (counts.get(name) ?? 0) / total;
}

describe('least-connections with one slow endpoint', () => {
  let origins: NamedOrigin[];

  before(async () => {
    origins = [await startNamedOrigin('fast-a', 0), await startNamedOrigin('slow', 50), await startNamedOrigin('fast-b', 0)];
  });
  after(async () => {
    await Promise.all(origins.map((o) => o.close()));
  });

  test('least-connections gives the slow origin a small share', async () => {
    const lb = await startFulcrum(simpleConfig(origins.map((o) => o.address), { balancer: { algorithm: 'least-connections' } }));
    try {
      const counts = await drive(lb.url('/'), 20, 2_000);
      const slow = shareOf(counts, 'slow');
      assert.ok(slow < 0.15, `slow origin share ${slow.toFixed(3)} (${JSON.stringify([...counts])})`);
      for (const name of ['fast-a', 'fast-b']) {
        assert.ok(shareOf(counts, name) > 0.35, `${name} share ${shareOf(counts, name).toFixed(3)} (${JSON.stringify([...counts])})`);
      }
    } finally {
      await lb.stop();
    }
  });

  test('round robin, for contrast, gives it an equal third', async () => {
    const lb = await startFulcrum(simpleConfig(origins.map((o) => o.address), { balancer: { algorithm: 'round-robin' } }));
    try {
      const counts = await drive(lb.url('/'), 20, 2_000);
      const slow = shareOf(counts, 'slow');
      assert.ok(Math.abs(slow - 1 / 3) < 0.02, `slow origin share ${slow.toFixed(3)} (${JSON.stringify([...counts])})`);
    } finally {
      await lb.stop();
    }
  });
});
