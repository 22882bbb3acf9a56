// Load helpers for balancing tests over real sockets: named origins with a fixed delay, a bounded
// closed-loop load of concurrent clients, and each origin's share of the replies.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';

export interface NamedOrigin {
  readonly name: string;
  readonly address: string;
  close(): Promise<void>;
}

/** An origin that answers its name after `delayMs`. */
export async function startNamedOrigin(name: string, delayMs: number): Promise<NamedOrigin> {
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
export async function drive(url: string, clients: number, durationMs: number): Promise<Map<string, number>> {
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

export function shareOf(counts: Map<string, number>, name: string): number {
  let total = 0;
  for (const n of counts.values()) total += n;
  return (counts.get(name) ?? 0) / total;
}
