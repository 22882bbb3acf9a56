// Application-cookie stickiness: Fulcrum learns which endpoint issued a session cookie from its
// Set-Cookie and sends requests carrying that session back to it; unknown sessions are balanced.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { simpleConfig, startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';

const servers: http.Server[] = [];
let lb: RunningFulcrum;

/** An origin that opens a session (Set-Cookie: APPSESSION=<name>-<n>) when the request has none. */
function sessionOrigin(name: string): Promise<string> {
  let n = 0;
  const server = http.createServer((req, res) => {
    const has = /APPSESSION=/.test(req.headers.cookie ?? '');
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'text/plain' };
    if (!has) headers['set-cookie'] = [`tracking=1; Path=/`, `APPSESSION=${name}-${++n}; Path=/; HttpOnly`];
    res.writeHead(200, headers);
    res.end(name);
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

before(async () => {
  const addresses = [await sessionOrigin('a'), await sessionOrigin('b'), await sessionOrigin('c')];
  lb = await startFulcrum(simpleConfig(addresses, { pool: { sticky: { appCookie: { name: 'APPSESSION', maxEntries: 100, timeout: '1h' } } } }));
});
after(async () => {
  await lb.stop();
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

async function get(cookie?: string): Promise<{ name: string; session: string | null }> {
  const res = await request(lb.url('/'), { headers: cookie === undefined ? {} : { cookie } });
  const name = await res.body.text();
  const set = res.headers['set-cookie'];
  const lines = set === undefined ? [] : Array.isArray(set) ? set : [set];
  const session = lines.map((l) => /^APPSESSION=([^;]+)/.exec(l)?.[1]).find((v) => v !== undefined) ?? null;
  return { name, session };
}

test('requests carrying a learned session go to the endpoint that issued it', async () => {
  const opened = [await get(), await get(), await get()];
  assert.deepEqual(opened.map((o) => o.name).sort(), ['a', 'b', 'c'], 'new sessions are balanced');
  for (const o of opened) {
    assert.ok(o.session !== null);
    for (let i = 0; i < 100; i++) {
      const r = await get(`tracking=1; APPSESSION=${o.session}`);
      assert.equal(r.name, o.name);
      assert.equal(r.session, null, 'the endpoint saw its session and opened no new one');
    }
  }
});

test('an unknown session value is balanced like a new client', async () => {
  const names = new Set<string>();
  for (let i = 0; i < 6; i++) names.add((await get(`APPSESSION=forged-${i}`)).name);
  assert.equal(names.size, 3);
});
