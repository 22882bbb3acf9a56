// PUT /pools/POOL/endpoints/ADDRESS/weight over real sockets: under load, weight 0 stops new requests to an
// endpoint at once; a 1:3 split follows the weights exactly (smooth weighted round robin); invalid weights
// and unknown endpoints are refused; a reload brings back the config's weight (as HAProxy's `set server
// weight` lasts until the configuration is reloaded).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { Backend } from '../helpers/backend.ts';
import { endpointOf, simpleConfig, startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';

const token = 'weight-test-token-0123';
let a: Backend;
let b: Backend;
let lb: RunningFulcrum;
let agent: Agent;

function config(): unknown {
  const c = simpleConfig([a.address, b.address], { balancer: { algorithm: 'weighted-round-robin' } }) as { admin?: unknown };
  c.admin = { address: '127.0.0.1:0', token };
  return c;
}

async function setWeight(address: string, body: unknown, pool = 'app'): Promise<{ status: number; json: { ok: boolean; errors?: string[] } }> {
  const { host, port } = lb.rt.adminAddress!;
  const res = await request(`http://${host}:${port}/pools/${pool}/endpoints/${encodeURIComponent(address)}/weight`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.statusCode, json: (await res.body.json()) as { ok: boolean; errors?: string[] } };
}

async function get(): Promise<string> {
  const res = await request(lb.url('/'), { dispatcher: agent });
  const text = await res.body.text();
  assert.equal(res.statusCode, 200);
  return text;
}

/** `n` sequential requests; the count per backend name. */
async function sequential(n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = { a: 0, b: 0 };
  for (let i = 0; i < n; i++) counts[await get()]++;
  return counts;
}

before(async () => {
  a = await new Backend('a').start();
  b = await new Backend('b').start();
  lb = await startFulcrum(config());
  agent = new Agent({ connections: 4 });
});
after(async () => {
  await agent.close();
  await lb.stop();
  await a.stop();
  await b.stop();
});

test('under load, weight 0 takes an endpoint out of rotation at once; 400 requests, none lost', async () => {
  const ea = endpointOf(lb, a.address);
  const total = 400;
  let started = 0;
  let done = 0;
  let aAtChange = -1;
  let change: Promise<unknown> | null = null;
  const client = async () => {
    while (started < total) {
      started++;
      await get();
      done++;
      if (done === 100 && change === null) {
        change = setWeight(a.address, { weight: 0 }).then((r) => {
          assert.equal(r.status, 200);
          // the change is made before the reply is written: every pick from now on sees weight 0
          aAtChange = ea.requests;
        });
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, client));
  await change;
  assert.ok(aAtChange > 0, 'a served requests before the change');
  assert.equal(ea.requests, aAtChange, 'no request picked a after its weight went to 0');
  assert.equal(ea.requests + endpointOf(lb, b.address).requests, total);
  assert.equal(a.requests + b.requests, total);
  // visible at once in GET /status
  const { host, port } = lb.rt.adminAddress!;
  const status = (await (await request(`http://${host}:${port}/pools/app`)).body.json()) as { endpoints: { address: string; weight: number }[] };
  assert.equal(status.endpoints.find((e) => e.address === a.address)!.weight, 0);
});

test('weights 1:3 split 400 requests 100:300', async () => {
  assert.equal((await setWeight(a.address, { weight: 1 })).status, 200);
  assert.equal((await setWeight(b.address, { weight: 3 })).status, 200);
  assert.deepEqual(await sequential(400), { a: 100, b: 300 });
});

test('invalid weights get 400 with a message; unknown pools and endpoints 404', async () => {
  for (const body of [{ weight: -1 }, { weight: 257 }, { weight: 1.5 }, { weight: '3' }, { weight: null }, {}, [], 7, { weight: 1, extra: true }]) {
    const r = await setWeight(a.address, body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.ok, false);
    assert.match(r.json.errors![0], /weight|expected a JSON body like \{"weight": 5\}/);
  }
  const empty = await setWeight(a.address, '');
  assert.equal(empty.status, 400);
  assert.match(empty.json.errors![0], /found no body/);
  const pool = await setWeight(a.address, { weight: 2 }, 'nope');
  assert.equal(pool.status, 404);
  assert.match(pool.json.errors![0], /no pool named "nope"/);
  const endpoint = await setWeight('127.0.0.1:1', { weight: 2 });
  assert.equal(endpoint.status, 404);
  assert.match(endpoint.json.errors![0], /pool app has no endpoint "127.0.0.1:1"/);
  assert.equal(endpointOf(lb, a.address).weight, 1, 'refused changes change nothing');
  assert.equal(endpointOf(lb, b.address).weight, 3);
});

test('a reload applies the config weight again', async () => {
  const r = await lb.reload(config());
  assert.equal(r.ok, true);
  assert.equal(endpointOf(lb, a.address).weight, 1);
  assert.equal(endpointOf(lb, b.address).weight, 1);
  assert.deepEqual(await sequential(100), { a: 50, b: 50 });
});
