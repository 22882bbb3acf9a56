// The admin API over real sockets: every action needs the configured bearer token (missing or wrong → 401
// with a challenge and a message saying what to do), reads from loopback need none, a reload rotates the
// token, and the router answers unknown routes, wrong methods, bad bodies and oversized ones precisely.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { Backend } from '../helpers/backend.ts';
import { simpleConfig, startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';

const token = 'admin-token-0123456789';
let backend: Backend;

function withAdmin(admin: object): unknown {
  const config = simpleConfig([backend.address]) as { admin?: unknown };
  config.admin = { address: '127.0.0.1:0', ...admin };
  return config;
}

async function call(lb: RunningFulcrum, method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  const a = lb.rt.adminAddress!;
  const res = await request(`http://${a.host}:${a.port}${path}`, { method: method as 'GET', headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

before(async () => {
  backend = await new Backend('a').start();
});
after(async () => {
  await backend.stop();
});

function actions(): [string, string, string?][] {
  const e = encodeURIComponent(backend.address);
  return [
    ['POST', '/reload'],
    ['POST', `/pools/app/endpoints/${e}/drain`],
    ['POST', `/pools/app/endpoints/${e}/disable`],
    ['POST', `/pools/app/endpoints/${e}/enable`],
    ['PUT', `/pools/app/endpoints/${e}/weight`, '{"weight": 2}'],
  ];
}

describe('with admin.token configured', () => {
  let lb: RunningFulcrum;
  before(async () => {
    lb = await startFulcrum(withAdmin({ token }));
  });
  after(async () => {
    await lb.stop();
  });

  test('every action without a token gets 401 with a Bearer challenge and a message, and changes nothing', async () => {
    for (const [method, path, body] of actions()) {
      const res = await call(lb, method, path, {}, body);
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.match(String(res.headers['www-authenticate']), /^Bearer\b/);
      assert.equal(res.json?.ok, false);
      assert.match(String((res.json?.errors as string[])[0]), /actions need the admin token: send it as `Authorization: Bearer TOKEN`/);
    }
    const e = lb.rt.generation.pools.get('app')!.endpoints[0];
    assert.equal(e.weight, 1);
    assert.equal(e.state, 0);
  });

  test('a wrong token gets 401 on every action; other schemes count as no token', async () => {
    for (const [method, path, body] of actions()) {
      const res = await call(lb, method, path, { authorization: `Bearer ${token}x` }, body);
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/);
      assert.match(res.text, /wrong admin token/);
      assert.ok(!res.text.includes(token), 'the reply does not echo a token');
    }
    const basic = await call(lb, 'POST', '/reload', { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` });
    assert.equal(basic.status, 401);
  });

  test('the right token is accepted on every action', async () => {
    for (const [method, path, body] of actions()) {
      const res = await call(lb, method, path, { authorization: `Bearer ${token}` }, body);
      // POST /reload has no file to reload from here (the config was given in-process): 400, past auth
      assert.equal(res.status, path === '/reload' ? 400 : 200, `${method} ${path}: ${res.text}`);
    }
    assert.equal(lb.rt.generation.pools.get('app')!.endpoints[0].weight, 2);
  });

  test('reads from loopback need no token', async () => {
    for (const path of ['/status', '/config', '/pools', '/pools/app', '/metrics']) {
      const res = await call(lb, 'GET', path);
      assert.equal(res.status, 200, path);
    }
    const head = await call(lb, 'HEAD', '/status');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
  });

  test('GET /config redacts the token', async () => {
    const res = await call(lb, 'GET', '/config');
    assert.ok(!res.text.includes(token));
    assert.equal((res.json?.admin as { token: string }).token, '<redacted>');
    assert.equal((res.json?.pools as { endpoints: { address: string }[] }[])[0].endpoints[0].address, backend.address);
  });

  test('a reload rotates the token: the old one is refused, the new one accepted', async () => {
    const next = 'rotated-token-9876543210';
    assert.equal((await lb.reload(withAdmin({ token: next }))).ok, true);
    const path = `/pools/app/endpoints/${encodeURIComponent(backend.address)}/enable`;
    assert.equal((await call(lb, 'POST', path, { authorization: `Bearer ${token}` })).status, 401);
    assert.equal((await call(lb, 'POST', path, { authorization: `Bearer ${next}` })).status, 200);
    assert.equal((await lb.reload(withAdmin({ token }))).ok, true);
  });

  test('unknown route → 404 listing the routes; wrong method → 405 with allow', async () => {
    const missing = await call(lb, 'GET', '/nope');
    assert.equal(missing.status, 404);
    assert.ok((missing.json?.routes as string[]).includes('PUT /pools/POOL/endpoints/ADDRESS/weight'));
    assert.ok((missing.json?.routes as string[]).includes('GET /metrics'));
    const get = await call(lb, 'GET', '/reload');
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST');
    const post = await call(lb, 'POST', '/status', { authorization: `Bearer ${token}` });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    const weight = await call(lb, 'POST', `/pools/app/endpoints/${encodeURIComponent(backend.address)}/weight`, { authorization: `Bearer ${token}` });
    assert.equal(weight.status, 405);
    assert.equal(weight.headers.allow, 'PUT');
  });

  test('malformed JSON → 400 with the parse error; a body over 64 KiB → 413', async () => {
    const path = `/pools/app/endpoints/${encodeURIComponent(backend.address)}/weight`;
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const bad = await call(lb, 'PUT', path, auth, '{"weight": 3');
    assert.equal(bad.status, 400);
    assert.match(String((bad.json?.errors as string[])[0]), /^malformed JSON body: /);
    const big = await call(lb, 'PUT', path, auth, JSON.stringify({ weight: 1, pad: 'x'.repeat(70 * 1024) }));
    assert.equal(big.status, 413);
    const encoded = await call(lb, 'GET', '/pools/%E0%A4%A');
    assert.equal(encoded.status, 400);
  });
});

describe('without admin.token', () => {
  test('every action gets 401 saying the config has no admin.token; loopback reads still work', async () => {
    const lb = await startFulcrum(withAdmin({}));
    try {
      for (const [method, path, body] of actions()) {
        const res = await call(lb, method, path, { authorization: `Bearer ${token}` }, body);
        assert.equal(res.status, 401, `${method} ${path}`);
        assert.match(res.text, /the running config has no admin\.token: set admin\.token/);
      }
      assert.equal((await call(lb, 'GET', '/status')).status, 200);
    } finally {
      await lb.stop();
    }
  });
});
