// A rolling restart under steady load fails no request: each of three backends in turn is drained (no new
// requests, in-flight ones finish, idle upstream connections closed), stopped, started again and enabled —
// the deployment that causes error spikes behind a balancer without draining. The operator verbs go through
// the admin API, as `fulcrum endpoints …` sends them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { Backend } from '../helpers/backend.ts';
import { simpleConfig, startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';

let backends: Backend[];
let lb: RunningFulcrum;
let admin: string;
const token = 'rolling-restart-token-0123';
const auth = { authorization: `Bearer ${token}` };

before(async () => {
  backends = await Promise.all(['a', 'b', 'c'].map((n) => new Backend(n).start()));
  // requests take a while, so every backend always has some in flight when its turn comes
  for (const b of backends) b.delayMs = 20;
  const config = simpleConfig(backends.map((b) => b.address)) as { admin?: unknown };
  config.admin = { address: '127.0.0.1:0', token };
  lb = await startFulcrum(config);
  const a = lb.rt.adminAddress!;
  admin = `http://${a.host}:${a.port}`;
});
after(async () => {
  await lb.stop();
  await Promise.all(backends.map((b) => b.stop()));
});

async function verb(name: string, address: string): Promise<number> {
  const res = await request(`${admin}/pools/app/endpoints/${encodeURIComponent(address)}/${name}`, { method: 'POST', headers: auth });
  await res.body.text();
  return res.statusCode;
}

test('drain → stop → start → enable each backend in turn: zero failed requests', async () => {
  const agent = new Agent({ connections: 6 });
  let stop = false;
  let ok = 0;
  const failures: string[] = [];
  const deadline = Date.now() + 30_000;
  const client = async () => {
    for (let i = 0; !stop && Date.now() < deadline && i < 100_000; i++) {
      try {
        // POST: not idempotent, so Fulcrum may not replay it elsewhere — only draining can keep it whole
        const res = await request(lb.url('/roll'), { dispatcher: agent, method: 'POST', body: 'x'.repeat(64) });
        await res.body.text();
        if (res.statusCode === 200) ok++;
        else failures.push(`status ${res.statusCode}`);
      } catch (err) {
        failures.push(String(err));
      }
    }
  };
  const clients = Array.from({ length: 6 }, client);
  const pool = lb.rt.generation.pools.get('app')!;
  for (const b of backends) {
    await sleep(100);
    assert.equal(await verb('drain', b.address), 200);
    const e = pool.endpoints.find((x) => x.key === b.address)!;
    for (let i = 0; i < 200 && e.inFlight > 0; i++) await sleep(5); // in-flight requests finish
    assert.equal(e.inFlight, 0);
    const served = b.requests;
    await b.stop();
    await sleep(100);
    await b.start();
    assert.equal(b.requests, served, 'a drained backend gets no new requests');
    assert.equal(await verb('enable', b.address), 200);
  }
  await sleep(100);
  stop = true;
  await Promise.all(clients);
  await agent.close();
  assert.deepEqual(failures, []);
  assert.ok(ok > 100, `only ${ok} requests`);
  for (const b of backends) assert.ok(b.requests > 0);
});

test('unknown pools and endpoints are refused with a message', async () => {
  const res = await request(`${admin}/pools/nope/endpoints/127.0.0.1:1/drain`, { method: 'POST', headers: auth });
  assert.equal(res.statusCode, 404);
  assert.match(await res.body.text(), /no pool named \\"nope\\"/);
  assert.equal(await verb('drain', '127.0.0.1:1'), 404);
});
