// Admin verbs that reshape traffic: re-weighting a weighted forward (a canary step, a blue-green flip under
// load with no failed request) and adding or removing endpoints at runtime (validated like config, applied
// through a reload, removed ones drained). Auth and validation errors answer 401 / 400 / 404.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { Backend } from '../helpers/backend.ts';
import { startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';

const token = 'splits-test-token-0123456';
const agent = new Agent({ connections: 16 });
let blue: Backend;
let green: Backend;
let extra: Backend;
let lb: RunningFulcrum;

before(async () => {
  [blue, green, extra] = await Promise.all(['blue', 'green', 'extra'].map((n) => new Backend(n).start()));
  lb = await startFulcrum({
    listeners: [
      {
        name: 'web',
        address: '127.0.0.1:0',
        routes: [
          { name: 'single', match: { path: { prefix: '/single' } }, forward: { pool: 'blue' } },
          { name: 'bg', forward: { pools: [{ pool: 'blue', weight: 100 }, { pool: 'green', weight: 0 }] } },
        ],
      },
    ],
    pools: [
      { name: 'blue', endpoints: [{ address: blue.address }] },
      { name: 'green', endpoints: [{ address: green.address }] },
    ],
    admin: { address: '127.0.0.1:0', token },
  });
});
after(async () => {
  await lb.stop(500);
  await agent.close();
  for (const b of [blue, green, extra]) await b.stop();
});

async function admin(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown, auth = true): Promise<{ status: number; json: Record<string, unknown> }> {
  const { host, port } = lb.rt.adminAddress!;
  const res = await request(`http://${host}:${port}${path}`, {
    method,
    headers: { ...(auth ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

async function hit(path = '/'): Promise<string> {
  const res = await request(lb.url(path), { dispatcher: agent });
  const text = await res.body.text();
  assert.equal(res.statusCode, 200, text);
  return text;
}

describe('splits', () => {
  test('a canary step sets exact shares from the next request on', async () => {
    assert.equal((await admin('PUT', '/routes/bg/split', { pools: [{ pool: 'blue', weight: 3 }, { pool: 'green', weight: 1 }] })).status, 200);
    const by = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      const name = await hit();
      by.set(name, (by.get(name) ?? 0) + 1);
    }
    assert.deepEqual([by.get('blue'), by.get('green')], [75, 25]);
    const listed = await admin('GET', '/routes', undefined, false);
    const bg = (listed.json.routes as { name: string; split: unknown }[]).find((r) => r.name === 'bg')!;
    assert.deepEqual(bg.split, [{ pool: 'blue', weight: 3 }, { pool: 'green', weight: 1 }]);
  });

  test('a blue-green flip under load fails no request, and green takes everything after it', async () => {
    await admin('PUT', '/routes/bg/split', { pools: [{ pool: 'blue', weight: 100 }, { pool: 'green', weight: 0 }] });
    const failures: string[] = [];
    let flipped = false;
    let afterFlip = { blue: 0, green: 0 };
    const deadline = performance.now() + 10_000;
    let stop = false;
    const load = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (!stop && performance.now() < deadline) {
          try {
            const startedAfter = flipped;
            const name = await hit();
            if (startedAfter) afterFlip[name as 'blue' | 'green']++;
          } catch (err) {
            failures.push(String(err));
          }
        }
      }),
    );
    await new Promise((r) => setTimeout(r, 200));
    const r = await admin('PUT', '/routes/bg/split', { pools: [{ pool: 'blue', weight: 0 }, { pool: 'green', weight: 100 }] });
    assert.equal(r.status, 200);
    flipped = true;
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await load;
    assert.deepEqual(failures, []);
    assert.equal(afterFlip.blue, 0, 'requests started after the flip all went to green');
    assert.ok(afterFlip.green > 10);
  });

  test('errors: unknown route 404, a single-pool route or a wrong pool list 400, no token 401', async () => {
    assert.equal((await admin('PUT', '/routes/nope/split', { pools: [{ pool: 'blue', weight: 1 }] })).status, 404);
    assert.equal((await admin('PUT', '/routes/single/split', { pools: [{ pool: 'blue', weight: 1 }] })).status, 400);
    const missing = await admin('PUT', '/routes/bg/split', { pools: [{ pool: 'blue', weight: 1 }] });
    assert.equal(missing.status, 400);
    assert.match(JSON.stringify(missing.json), /exactly once: blue, green/);
    assert.equal((await admin('PUT', '/routes/bg/split', { pools: [{ pool: 'blue', weight: 0 }, { pool: 'green', weight: 0 }] })).status, 400);
    assert.equal((await admin('PUT', '/routes/bg/split', { pools: [{ pool: 'blue', weight: 1 }, { pool: 'green', weight: 1 }] }, false)).status, 401);
  });
});

describe('endpoints', () => {
  test('an endpoint added at runtime takes traffic; removed, it takes none', async () => {
    const before = lb.rt.generation.id;
    const added = await admin('POST', '/pools/blue/endpoints', { address: extra.address, weight: 1 });
    assert.equal(added.status, 201, JSON.stringify(added.json));
    assert.equal(lb.rt.generation.id, before + 1);
    extra.requests = 0;
    for (let i = 0; i < 10; i++) await hit('/single');
    assert.equal(extra.requests, 5, 'round robin over blue and the added endpoint');
    const removed = await admin('DELETE', `/pools/blue/endpoints/${encodeURIComponent(extra.address)}`);
    assert.equal(removed.status, 200, JSON.stringify(removed.json));
    extra.requests = 0;
    for (let i = 0; i < 6; i++) await hit('/single');
    assert.equal(extra.requests, 0);
  });

  test('validation: bad address, duplicate, unknown pool, unknown endpoint', async () => {
    assert.equal((await admin('POST', '/pools/blue/endpoints', { address: 'nohost' })).status, 400);
    assert.equal((await admin('POST', '/pools/blue/endpoints', { address: blue.address })).status, 400);
    assert.equal((await admin('POST', '/pools/nope/endpoints', { address: '127.0.0.1:1' })).status, 400);
    assert.equal((await admin('DELETE', '/pools/blue/endpoints/127.0.0.1:1')).status, 400);
    assert.equal((await admin('POST', '/pools/blue/endpoints', { address: '127.0.0.1:1', weight: 999 })).status, 400);
  });
});
