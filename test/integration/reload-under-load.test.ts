// Hot reload under a steady load: 20 reloads that change endpoints, weights and routes, and not one
// request may fail. In-flight requests finish on the generation they started on; endpoints that stay keep
// their counters.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { startEchoOrigin, type EchoReply, type Origin } from '../helpers/origins.ts';
import { startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';

let origins: Origin[];
let lb: RunningFulcrum;

function config(step: number): unknown {
  // rotate which origins are in the pool, their weights and the route table
  const members = origins.filter((_, i) => (i + step) % 4 !== 0);
  return {
    listeners: [
      {
        name: 'web',
        address: '127.0.0.1:0',
        routes: [
          ...(step % 2 === 0 ? [{ match: { path: { prefix: `/extra-${step}/` } }, forward: { pool: 'other' } }] : []),
          { match: { path: { prefix: '/' } }, forward: { pool: 'app' } },
        ],
      },
    ],
    pools: [
      {
        name: 'app',
        balancer: { algorithm: step % 3 === 0 ? 'round-robin' : 'weighted-round-robin' },
        endpoints: members.map((o, i) => ({ address: o.address, weight: 1 + ((i + step) % 3) })),
      },
      { name: 'other', endpoints: [{ address: origins[0].address }] },
    ],
  };
}

before(async () => {
  origins = await Promise.all(['o0', 'o1', 'o2', 'o3'].map((name) => startEchoOrigin({ name })));
  lb = await startFulcrum(config(1));
});
after(async () => {
  await lb.stop();
  await Promise.all(origins.map((o) => o.close()));
});

test('20 reloads under steady load fail no request', async () => {
  const agent = new Agent({ connections: 8, pipelining: 1 });
  const port = lb.port();
  let stop = false;
  let ok = 0;
  const failures: string[] = [];
  const seenOrigins = new Set<string>();
  const deadline = Date.now() + 30_000; // the load stops by itself even if the reloads hang
  async function client(id: number): Promise<void> {
    for (let i = 0; !stop && Date.now() < deadline && i < 100_000; i++) {
      try {
        // some requests carry a body and some are slow, so reloads land in the middle of exchanges
        const slow = i % 10 === 0 ? '&delay=30' : '';
        const res = await request(`http://127.0.0.1:${port}/load?c=${id}${slow}`, {
          dispatcher: agent,
          method: i % 4 === 0 ? 'POST' : 'GET',
          body: i % 4 === 0 ? Buffer.alloc(2000, 1) : undefined,
        });
        const body = (await res.body.json()) as EchoReply;
        if (res.statusCode !== 200) failures.push(`status ${res.statusCode}`);
        else {
          ok++;
          seenOrigins.add(body.name);
        }
      } catch (err) {
        failures.push(String(err));
      }
    }
  }
  const clients = Array.from({ length: 8 }, (_, i) => client(i));
  for (let step = 2; step <= 21; step++) {
    await sleep(60);
    const r = await lb.reload(config(step));
    assert.equal(r.ok, true, r.errors.join('\n'));
    assert.equal(r.generation, step);
  }
  await sleep(60);
  stop = true;
  await Promise.all(clients);
  await agent.close();
  assert.deepEqual(failures, []);
  assert.ok(ok > 80, `only ${ok} requests completed`);
  assert.equal(seenOrigins.size, 4, 'every origin served while it was in the pool');
  for (const e of lb.rt.generation.endpoints.values()) assert.equal(e.inFlight, 0);
});

test('an endpoint that survives a reload keeps its counters and connections', async () => {
  const before = lb.rt.generation.pools.get('app')!.endpoints.find((e) => e.key === origins[1].address)!;
  const requestsBefore = before.requests;
  const step = 22; // origins[1] stays in the pool for this step
  const r = await lb.reload(config(step));
  assert.equal(r.ok, true);
  const afterReload = lb.rt.generation.pools.get('app')!.endpoints.find((e) => e.key === origins[1].address)!;
  assert.equal(afterReload, before, 'the same endpoint object');
  assert.equal(afterReload.requests, requestsBefore);
});

test('a reload to a listener on a new port binds it and retires the old one', async () => {
  const oldPort = lb.port();
  const cfg = config(23) as { listeners: { name: string }[] };
  cfg.listeners[0].name = 'renamed';
  (cfg.listeners as unknown[]).push({ name: 'second', address: '127.0.0.1:0', routes: [{ forward: { pool: 'other' } }] });
  const r = await lb.reload(cfg);
  assert.equal(r.ok, true, r.errors.join('\n'));
  // same protocol and address: the socket is kept under its new name
  assert.equal(lb.rt.address('renamed').port, oldPort);
  const second = lb.rt.address('second').port;
  const res = await request(`http://127.0.0.1:${second}/x`);
  assert.equal(((await res.body.json()) as EchoReply).name, 'o0');
});
