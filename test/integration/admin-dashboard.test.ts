// The live dashboard on the admin listener, in a real browser: headless Chromium (playwright-core) opens the
// page served by Fulcrum in front of two pools of real backends under a bounded background load, sees every
// endpoint with its pool, state and weight, watches the sparklines fill, drains and enables an endpoint with
// a click (visible within 2 s, and the runtime agrees), is refused with a wrong token (nothing changes), sees a
// health transition arrive over the event stream, and leaves a screenshot in test-output/dashboard.png.
// Before the browser: the assets' content types and content-security-policy, and the event stream's framing,
// client limit and cleanup over plain sockets.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Agent, request } from 'undici';
import { Backend } from '../helpers/backend.ts';
import { endpointOf, startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { EndpointState } from '../../src/upstream/endpoint.ts';

const token = 'dashboard-test-token-0123';
const outputDir = fileURLToPath(new URL('../../test-output/', import.meta.url));
const screenshotPath = outputDir + 'dashboard.png';
/** The background load stops after this long whatever happens. */
const maxLoadMs = 20_000;

let api: Backend[];
let web: Backend[];
let lb: RunningFulcrum;
let admin: string;
let agent: Agent;
let loadStop = false;
let load: Promise<void> = Promise.resolve();

function config(): unknown {
  return {
    listeners: [
      {
        name: 'edge',
        address: '127.0.0.1:0',
        routes: [
          { name: 'api', match: { path: { prefix: '/api' } }, forward: { pool: 'api' } },
          { name: 'site', forward: { pool: 'web' } },
        ],
      },
    ],
    pools: [
      {
        name: 'api',
        balancer: { algorithm: 'weighted-round-robin' },
        endpoints: api.map((b, i) => ({ address: b.address, weight: i === 0 ? 3 : 1 })),
      },
      {
        name: 'web',
        endpoints: web.map((b) => ({ address: b.address, weight: 2 })),
        health: { http: { path: '/health' }, interval: '200ms', timeout: '500ms', rise: 2, fall: 2 },
      },
    ],
    admin: { address: '127.0.0.1:0', token },
  };
}

/** A few clients in a loop with a short pause, half to each pool, until stopped or maxLoadMs passed. */
function startLoad(): Promise<void> {
  const deadline = performance.now() + maxLoadMs;
  const client = async (n: number): Promise<void> => {
    let i = n;
    while (!loadStop && performance.now() < deadline) {
      try {
        const res = await request(lb.url(i++ % 2 === 0 ? '/api/items' : '/'), { dispatcher: agent });
        await res.body.dump();
      } catch {
        // the balancer is stopping
      }
      await sleep(10);
    }
  };
  return Promise.all([0, 1, 2, 3].map(client)).then(() => undefined);
}

async function post(path: string, bearer = token): Promise<{ status: number; json: { ok: boolean; state?: string; errors?: string[] } }> {
  const res = await request(admin + path, { method: 'POST', headers: { authorization: `Bearer ${bearer}` } });
  return { status: res.statusCode, json: (await res.body.json()) as { ok: boolean; state?: string } };
}

before(async () => {
  api = await Promise.all(['api-1', 'api-2', 'api-3'].map((n) => new Backend(n).start()));
  web = await Promise.all([new Backend('web-1').start(), new Backend('web-2', 500).start()]);
  lb = await startFulcrum(config());
  const a = lb.rt.adminAddress!;
  admin = `http://${a.host}:${a.port}`;
  agent = new Agent({ connections: 8 });
  load = startLoad();
});

after(async () => {
  loadStop = true;
  await load;
  await agent.close();
  await lb.stop();
  await Promise.all([...api, ...web].map((b) => b.stop()));
});

describe('dashboard over plain HTTP', () => {
  test('GET / and GET /dashboard serve the page; script and style have their content types; all carry a strict CSP', async () => {
    for (const [path, type] of [
      ['/', 'text/html; charset=utf-8'],
      ['/dashboard', 'text/html; charset=utf-8'],
      ['/dashboard/dashboard.js', 'text/javascript; charset=utf-8'],
      ['/dashboard/dashboard.css', 'text/css; charset=utf-8'],
    ]) {
      const res = await request(admin + path);
      const text = await res.body.text();
      assert.equal(res.statusCode, 200, path);
      assert.equal(res.headers['content-type'], type, path);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      const csp = String(res.headers['content-security-policy']);
      assert.match(csp, /default-src 'none'/, path);
      assert.match(csp, /script-src 'self'(;|$)/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/, path);
      assert.ok(text.length > 100, path);
    }
    const page = await (await request(admin + '/')).body.text();
    assert.doesNotMatch(page, /<script>|<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+=|style=/i, 'no inline script, handler or style');
    assert.doesNotMatch(page, /https?:\/\//, 'nothing loaded from another origin');
    const missing = await request(admin + '/dashboard/other.js');
    assert.equal(missing.statusCode, 404);
    await missing.body.dump();
  });

  test('GET /events: a retry hint and a snapshot at once, a tick every second; at most 32 streams; a client that leaves is dropped', async () => {
    const streams: http.ClientRequest[] = [];
    /** Opens a stream; resolves with its status and the text received in `readMs`. */
    const open = (readMs: number): Promise<{ status: number; type: string; text: string }> =>
      new Promise((resolve, reject) => {
        const req = http.get(admin + '/events', (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('error', () => undefined);
          setTimeout(() => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }), readMs);
        });
        req.on('error', reject);
        streams.push(req);
      });
    try {
      const first = await open(3500);
      assert.equal(first.status, 200);
      assert.equal(first.type, 'text/event-stream; charset=utf-8');
      assert.ok(first.text.startsWith('retry: 2000\n\nevent: snapshot\ndata: {'), first.text.slice(0, 60));
      const events = first.text
        .split('\n\n')
        .filter((b) => b.startsWith('event: '))
        .map((b) => ({ event: b.split('\n')[0].slice(7), data: JSON.parse(b.split('\n')[1].slice(6)) as { pools: { name: string; endpoints: { address: string; series: { rps: unknown[] } }[] }[] } }));
      assert.equal(events[0].event, 'snapshot');
      assert.deepEqual(
        events[0].data.pools.map((p) => [p.name, p.endpoints.length]),
        [
          ['api', 3],
          ['web', 2],
        ],
      );
      const ticks = events.filter((e) => e.event === 'tick');
      assert.ok(ticks.length >= 2 && ticks.length <= 4, `${ticks.length} ticks in 3.5 s`);
      for (const t of ticks) for (const p of t.data.pools) for (const e of p.endpoints) assert.equal(e.series.rps.length, 1, 'a tick carries one sample');

      // 31 more fill the dashboard; the 33rd is refused with a reason
      await Promise.all(Array.from({ length: 31 }, () => open(50)));
      const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        http
          .get(admin + '/events', (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          })
          .on('error', reject);
      });
      assert.equal(refused.status, 503);
      assert.match(refused.body, /at most 32 event streams/);

      // one goes away: its place is free again
      streams.shift()!.destroy();
      await sleep(100);
      const again = await open(100);
      assert.equal(again.status, 200);
      assert.match(again.text, /^retry: 2000\n\nevent: snapshot\n/);
    } finally {
      for (const s of streams) s.destroy();
    }
    await sleep(100);
  });
});

describe('dashboard in Chromium', () => {
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error' && !/401 \(Unauthorized\)/.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (err) => problems.push(err.message));
  });

  after(async () => {
    await browser?.close();
  });

  const row = (pool: string, b: Backend) => page.locator(`tr.endpoint[data-pool="${pool}"][data-address="${b.address}"]`);

  /** Resolves with the ms until the row shows `state`, failing after `timeoutMs`. */
  async function stateShown(pool: string, b: Backend, state: string, timeoutMs = 2000): Promise<number> {
    const t0 = performance.now();
    await row(pool, b).and(page.locator(`[data-state="${state}"]`)).waitFor({ timeout: timeoutMs });
    assert.equal(await row(pool, b).locator('.state').textContent(), state);
    return performance.now() - t0;
  }

  test('every endpoint is listed with its pool, state and weight; the sparklines fill up', async () => {
    await page.goto(admin + '/');
    await page.locator('tr.endpoint').nth(4).waitFor({ timeout: 5000 });
    assert.equal(await page.locator('tr.endpoint').count(), 5);
    for (const [i, b] of api.entries()) {
      assert.equal(await row('api', b).locator('.state').textContent(), 'healthy');
      assert.equal(await row('api', b).locator('td.weight').textContent(), i === 0 ? '3' : '1');
    }
    for (const b of web) {
      assert.equal(await row('web', b).locator('.state').textContent(), 'healthy');
      assert.equal(await row('web', b).locator('td.weight').textContent(), '2');
    }
    assert.equal(await page.locator('#connection').textContent(), 'live');
    assert.match((await page.locator('section.pool[data-pool="api"] .pool-head').textContent()) ?? '', /3\/3 eligible/);

    // a few ticks under load: requests/s and latency have points; the endpoint answering 500 shows errors
    const points = (pool: string, b: Backend, metric: string) =>
      row(pool, b)
        .locator(`svg.spark.${metric}`)
        .getAttribute('data-points')
        .then((n) => Number(n));
    await waitForAsync('sparklines with 3 points', async () => (await points('api', api[0], 'rps')) >= 3 && (await points('web', web[1], 'p99')) >= 3, 8000);
    assert.ok((await points('api', api[1], 'p50')) >= 2);
    assert.ok((await row('api', api[0]).locator('svg.spark.rps path.line').getAttribute('d'))!.startsWith('M'));
    assert.equal(await row('web', web[1]).locator('.errorRate .value').textContent(), '100%');
    assert.equal(await row('web', web[0]).locator('.errorRate .value').textContent(), '0%');
    assert.match((await row('api', api[0]).locator('.rps .value').textContent()) ?? '', /^\d+(\.\d)?\/s$/);
  });

  test('a wrong token shows the 401 message and changes nothing', async () => {
    await page.fill('#token', 'not-the-admin-token-000');
    await page.click('#token-save');
    await row('api', api[0]).locator('button[data-verb="drain"]').click();
    await page.locator('#message', { hasText: '401' }).waitFor({ timeout: 2000 });
    assert.match((await page.locator('#message').textContent()) ?? '', /401 Unauthorized: the admin token was refused and nothing was changed/);
    assert.equal(endpointOf(lb, api[0].address, 'api').state, EndpointState.healthy);
    await sleep(1200); // a tick later the page still shows it healthy
    assert.equal(await row('api', api[0]).getAttribute('data-state'), 'healthy');
    assert.equal(await page.locator('#token-state').textContent(), 'drain and enable need the token');
  });

  test('with the token, a click drains an endpoint (shown within 2 s, the runtime agrees) and another enables it', async () => {
    await page.fill('#token', token);
    await page.click('#token-save');
    assert.equal(await page.locator('#token-state').textContent(), 'token set for this tab');
    const target = api[1];
    await row('api', target).locator('button[data-verb="drain"]').click();
    const drainMs = await stateShown('api', target, 'draining');
    assert.equal(endpointOf(lb, target.address, 'api').state, EndpointState.draining);
    await page.locator('#transitions li[data-kind="operator"]', { hasText: target.address }).first().waitFor({ timeout: 2000 });
    await page.waitForTimeout(1100); // the next tick agrees
    assert.equal(await row('api', target).getAttribute('data-state'), 'draining');
    assert.match((await page.locator('section.pool[data-pool="api"] .pool-head').textContent()) ?? '', /2\/3 eligible/);
    assert.equal(await row('api', target).locator('button[data-verb="drain"]').isDisabled(), true);

    await row('api', target).locator('button[data-verb="enable"]').click();
    const enableMs = await stateShown('api', target, 'healthy');
    assert.equal(endpointOf(lb, target.address, 'api').state, EndpointState.healthy);
    process.stdout.write(`# drain shown after ${drainMs.toFixed(0)} ms, enable after ${enableMs.toFixed(0)} ms\n`);
  });

  test('changes made elsewhere arrive over the stream: a drain by the admin API, a health check failing', async () => {
    const t0 = performance.now();
    assert.equal((await post(`/pools/api/endpoints/${api[2].address}/drain`)).status, 200);
    const viaStreamMs = await stateShown('api', api[2], 'draining');
    process.stdout.write(`# drain by the API shown after ${(performance.now() - t0).toFixed(0)} ms (${viaStreamMs.toFixed(0)} ms after the reply)\n`);

    web[1].healthStatus = 503;
    await stateShown('web', web[1], 'unhealthy', 3000);
    await page.locator('#transitions li[data-kind="health"]', { hasText: web[1].address }).first().waitFor({ timeout: 2000 });
    assert.match((await page.locator('#transitions li[data-kind="health"]').first().textContent()) ?? '', /healthy → unhealthy.*2 failed checks: status 503/);

    mkdirSync(outputDir, { recursive: true });
    await page.screenshot({ path: screenshotPath, fullPage: true });

    web[1].healthStatus = 200;
    await stateShown('web', web[1], 'healthy', 3000);
    assert.equal((await post(`/pools/api/endpoints/${api[2].address}/enable`)).status, 200);
    await stateShown('api', api[2], 'healthy');
    assert.deepEqual(problems, [], 'no console errors, CSP violations or page errors');
  });
});

/** waitFor for an async condition, polled every 100 ms. */
async function waitForAsync(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > timeoutMs) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

