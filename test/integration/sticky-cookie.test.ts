// Cookie stickiness end to end: the first response pins the client to an endpoint, the cookie keeps it
// there for 1,000 requests, a tampered cookie is ignored and re-set, and when the pinned endpoint dies the
// next request fails over at once and the cookie is re-set to the new endpoint.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { parseConfigValue } from '../../src/control/config/load.ts';
import { simpleConfig, startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { startEchoOrigin, type EchoReply, type Origin } from '../helpers/origins.ts';

let origins: Origin[];
let lb: RunningFulcrum;
const agent = new Agent({ connections: 2 });

before(async () => {
  origins = await Promise.all(['a', 'b', 'c'].map((name) => startEchoOrigin({ name })));
  lb = await startFulcrum(
    simpleConfig(
      origins.map((o) => o.address),
      { pool: { sticky: { cookie: { name: 'SRV', maxAge: '1h', secure: true } } } },
    ),
  );
});
after(async () => {
  await agent.close();
  await lb.stop();
  await Promise.all(origins.map((o) => o.close()));
});

async function get(cookie?: string): Promise<{ name: string; setCookie: string | null }> {
  const res = await request(lb.url('/s'), { dispatcher: agent, headers: cookie === undefined ? {} : { cookie } });
  const body = (await res.body.json()) as EchoReply;
  const set = res.headers['set-cookie'];
  return { name: body.name, setCookie: set === undefined ? null : String(set) };
}

function cookieOf(setCookie: string | null): string {
  assert.ok(setCookie !== null, 'a Set-Cookie header');
  return setCookie.split(';')[0];
}

test('the first response sets an opaque, signed cookie with the configured attributes', async () => {
  const first = await get();
  assert.match(first.setCookie!, /^SRV=[A-Za-z0-9_-]{22}; Path=\/; Max-Age=3600; Secure; HttpOnly; SameSite=Lax$/);
  for (const o of origins) assert.ok(!first.setCookie!.includes(String(o.port)), 'the cookie does not reveal the address');
});

test('a client with the cookie stays on its endpoint for 1,000 requests', async () => {
  const first = await get();
  const cookie = cookieOf(first.setCookie);
  for (let i = 0; i < 1000; i++) {
    const r = await get(`theme=dark; ${cookie}`);
    assert.equal(r.name, first.name, `request ${i} moved`);
    assert.equal(r.setCookie, null, 'no new cookie while the pin holds');
  }
});

test('clients without the cookie are balanced, each getting its own pin', async () => {
  const names = new Set<string>();
  for (let i = 0; i < 9; i++) {
    const r = await get();
    names.add(r.name);
    assert.ok(r.setCookie !== null);
  }
  assert.equal(names.size, 3);
});

test('a tampered or unknown cookie is ignored and re-set, never an error', async () => {
  const first = await get();
  const cookie = cookieOf(first.setCookie);
  const last = cookie.at(-1) === 'A' ? 'B' : 'A';
  for (const bad of [cookie.slice(0, -1) + last, 'SRV=', 'SRV=../../etc', 'SRV="x"']) {
    const r = await get(bad);
    assert.ok(r.setCookie !== null, `re-set after ${bad}`);
    assert.notEqual(cookieOf(r.setCookie), bad);
  }
});

test('when the pinned endpoint dies, the request fails over and the cookie is re-set', async () => {
  const first = await get();
  const cookie = cookieOf(first.setCookie);
  const pinned = origins[['a', 'b', 'c'].indexOf(first.name)];
  await pinned.close();
  const moved = await get(cookie);
  assert.notEqual(moved.name, first.name);
  const newCookie = cookieOf(moved.setCookie);
  assert.notEqual(newCookie, cookie);
  const again = await get(newCookie);
  assert.equal(again.name, moved.name);
  assert.equal(again.setCookie, null);
});

test('sticky options are validated with their path', () => {
  const bad = (sticky: unknown) =>
    assert.throws(
      () => parseConfigValue(simpleConfig(['127.0.0.1:1'], { pool: { sticky } })),
      /pools\[0\]\.sticky/,
    );
  bad({ cookie: { name: 'bad name' } });
  bad({ cookie: { sameSite: 'Sometimes' } });
  bad({ cookie: { secret: 'short' } });
  bad({ cookie: { maxAge: 'forever' } });
  bad({ cookies: {} });
});
