// Hash balancing over real sockets: the key is read from the request (a header, a cookie, the client
// address), the same key always lands on the same endpoint, different keys spread, and a request without
// the key is balanced in turn.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { simpleConfig, startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { startEchoOrigin, type EchoReply, type Origin } from '../helpers/origins.ts';

let origins: Origin[];
before(async () => {
  origins = await Promise.all(['a', 'b', 'c', 'd'].map((name) => startEchoOrigin({ name })));
});
after(async () => {
  await Promise.all(origins.map((o) => o.close()));
});

async function nameFor(lb: RunningFulcrum, headers: Record<string, string>): Promise<string> {
  const res = await request(lb.url('/k'), { headers });
  return ((await res.body.json()) as EchoReply).name;
}

for (const algorithm of ['ring-hash', 'maglev', 'rendezvous', 'hash']) {
  test(`${algorithm} on a header: one user, one endpoint; many users, every endpoint`, async () => {
    const lb = await startFulcrum(simpleConfig(origins.map((o) => o.address), { balancer: { algorithm, key: { header: 'x-user' } } }));
    try {
      const home = new Map<string, string>();
      for (let round = 0; round < 3; round++) {
        for (let u = 0; u < 40; u++) {
          const name = await nameFor(lb, { 'x-user': `user-${u}` });
          if (round === 0) home.set(`user-${u}`, name);
          else assert.equal(name, home.get(`user-${u}`), `user-${u} moved`);
        }
      }
      assert.equal(new Set(home.values()).size, 4, 'forty users reach all four endpoints');
      // no key: balanced in turn instead
      const keyless = new Set<string>();
      for (let i = 0; i < 8; i++) keyless.add(await nameFor(lb, {}));
      assert.equal(keyless.size, 4);
    } finally {
      await lb.stop();
    }
  });
}

test('ring-hash on a cookie and on the client address', async () => {
  const byCookie = await startFulcrum(simpleConfig(origins.map((o) => o.address), { balancer: { algorithm: 'ring-hash', key: { cookie: 'cart' } } }));
  try {
    const first = await nameFor(byCookie, { cookie: 'x=1; cart=c-42' });
    for (let i = 0; i < 20; i++) assert.equal(await nameFor(byCookie, { cookie: `cart=c-42; y=${i}` }), first);
  } finally {
    await byCookie.stop();
  }
  const byClient = await startFulcrum(simpleConfig(origins.map((o) => o.address), { balancer: { algorithm: 'ring-hash' } }));
  try {
    const first = await nameFor(byClient, {});
    for (let i = 0; i < 20; i++) assert.equal(await nameFor(byClient, {}), first, 'one client address, one endpoint');
  } finally {
    await byClient.stop();
  }
});
