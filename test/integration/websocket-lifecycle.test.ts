// How WebSocket tunnels end when Fulcrum ends them, with real `ws` peers: an idle tunnel is closed with
// 1001 Going Away to both sides; a drained endpoint's tunnels keep flowing through the deregistration delay and
// are then closed with 1001; a close frame is never cut into the middle of a frame being relayed; tunnels are
// counted in metrics. And `Upgrade: h2c` is not forwarded: the endpoint sees a plain request.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, WebSocketServer } from 'ws';
import { createMetricsRegistry } from '../../src/observability/metrics.ts';
import { startFulcrum, waitFor, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { rawRequest } from '../helpers/origins.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Echo {
  readonly port: number;
  readonly address: string;
  /** Close codes the server side saw, one per closed socket. */
  readonly closes: number[];
}

async function echoServer(): Promise<Echo> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const closes: number[] = [];
  server.on('connection', (ws) => {
    ws.on('message', (data, binary) => ws.send(data, { binary }));
    ws.on('close', (code) => closes.push(code));
  });
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const c of server.clients) c.terminate();
        server.close(() => r());
      }),
  );
  return { port, address: `127.0.0.1:${port}`, closes };
}

async function fulcrum(endpoints: readonly string[], listener: object = {}, pool: object = {}): Promise<RunningFulcrum> {
  const lb = await startFulcrum({
    listeners: [{ name: 'web', address: '127.0.0.1:0', routes: [{ forward: { pool: 'app' } }], ...listener }],
    pools: [{ name: 'app', endpoints: endpoints.map((address) => ({ address })), ...pool }],
  });
  cleanups.push(() => lb.stop(500));
  return lb;
}

async function connect(lb: RunningFulcrum): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${lb.port()}/`);
  ws.on('error', () => {});
  await once(ws, 'open');
  cleanups.push(() => ws.terminate());
  return ws;
}

async function echo(ws: WebSocket, text: string): Promise<string> {
  const got = once(ws, 'message');
  ws.send(text);
  return String((await got)[0]);
}

/** One sample of the Prometheus exposition, as a scrape of /metrics would read it. */
async function metric(lb: RunningFulcrum, name: string): Promise<number> {
  const text = await createMetricsRegistry(lb.rt).metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{listener="web"}`));
  return line === undefined ? NaN : Number(line.split(' ').pop());
}

describe('WebSocket tunnels ended by Fulcrum', () => {
  it('an idle tunnel is closed with 1001 to both sides; one in use is not', async () => {
    const e = await echoServer();
    const lb = await fulcrum([e.address], { timeouts: { tunnelIdle: '400ms' } });
    const idle = await connect(lb);
    const busy = await connect(lb);
    const closed = once(idle, 'close');
    // keep one tunnel busy past the idle timeout
    for (let i = 0; i < 8; i++) {
      assert.equal(await echo(busy, `keep ${i}`), `keep ${i}`);
      await sleep(100);
    }
    const [code] = (await closed) as [number, Buffer];
    assert.equal(code, 1001, 'the client got Going Away');
    await waitFor('the endpoint to see the close', () => e.closes.length === 1, 3000);
    assert.equal(e.closes[0], 1001, 'the endpoint got Going Away');
    assert.equal(busy.readyState, WebSocket.OPEN, 'the busy tunnel is still open');
    assert.equal(await echo(busy, 'still here'), 'still here');
    assert.equal(await metric(lb, 'fulcrum_websocket_tunnels_closed_total'), 1);
  });

  it("a drained endpoint's tunnels flow through the deregistration delay, then get 1001", async () => {
    const e = await echoServer();
    const lb = await fulcrum([e.address], {}, { deregistrationDelay: '600ms' });
    const ws = await connect(lb);
    const closed = once(ws, 'close');
    const t0 = performance.now();
    assert.equal(lb.rt.setEndpointState('app', e.address, 'drain'), null);
    await sleep(300);
    assert.equal(await echo(ws, 'during the delay'), 'during the delay');
    const [code] = (await closed) as [number, Buffer];
    const elapsed = performance.now() - t0;
    assert.equal(code, 1001);
    assert.ok(elapsed >= 550, `closed after the delay (${elapsed.toFixed(0)} ms)`);
    await waitFor('the endpoint to see the close', () => e.closes.includes(1001), 3000);
  });

  it('a close never lands inside a frame being relayed: the large message in flight stays whole', async () => {
    // the endpoint sends a 4 MiB message to a client that does not read yet, so the tunnel is mid-frame
    // towards the client when the delay ends; the close frame must wait for the boundary, not corrupt it
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(server, 'listening');
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const big = Buffer.alloc(4 << 20, 0x5a);
    server.on('connection', (ws) => {
      ws.on('message', () => ws.send(big));
      ws.on('error', () => {});
    });
    const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const lb = await fulcrum([address], {}, { deregistrationDelay: '0' });
    const ws = await connect(lb);
    const messages: Buffer[] = [];
    ws.on('message', (m: Buffer) => messages.push(m));
    const closed = once(ws, 'close');
    ws.send('send it');
    await waitFor('the message to be on its way', () => (lb.rt.generation.pools.get('app')!.endpoints[0].connections?.activeCount ?? 0) > 0, 2000);
    await sleep(20);
    lb.rt.setEndpointState('app', address, 'drain');
    const [code] = (await closed) as [number, Buffer];
    // either the whole message arrived before the close, or the close came without a frame at all (1006);
    // never a protocol error (1002) from a frame cut in two
    assert.notEqual(code, 1002, 'no corrupted frame');
    for (const m of messages) assert.equal(m.length, big.length);
  });

  it('tunnels are counted: opened, open now', async () => {
    const e = await echoServer();
    const lb = await fulcrum([e.address]);
    const a = await connect(lb);
    await connect(lb);
    assert.equal(await metric(lb, 'fulcrum_websocket_tunnels_total'), 2);
    assert.equal(await metric(lb, 'fulcrum_websocket_tunnels_open'), 2);
    a.close(1000);
    const stats = lb.rt.generation.listeners.get('web')!.stats;
    await waitFor('the open gauge to drop', () => stats.tunnelsOpen === 1, 2000);
    assert.equal(await metric(lb, 'fulcrum_websocket_tunnels_open'), 1);
    assert.equal(await metric(lb, 'fulcrum_websocket_tunnels_total'), 2);
    assert.equal(await metric(lb, 'fulcrum_websocket_tunnels_closed_total'), 0, 'closed by the client, not by Fulcrum');
  });
});

describe('Upgrade tokens other than websocket', () => {
  it('Upgrade: h2c is removed: the endpoint sees a plain HTTP/1.1 request and answers it as such', async () => {
    let seen: http.IncomingHttpHeaders | null = null;
    const origin = http.createServer((req, res) => {
      seen = req.headers;
      res.end('plain');
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => origin.close(() => r())));
    const lb = await fulcrum([`127.0.0.1:${(origin.address() as AddressInfo).port}`]);
    const r = await rawRequest(lb.port(), 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n', { timeoutMs: 500 });
    assert.match(r.response, /^HTTP\/1\.1 200 /);
    assert.ok(r.response.endsWith('\r\n\r\nplain'), r.response);
    assert.ok(seen !== null);
    const h = seen as http.IncomingHttpHeaders;
    assert.equal(h.upgrade, undefined);
    assert.equal(h['http2-settings'], undefined);
    assert.doesNotMatch(String(h.connection ?? ''), /upgrade/i);
  });
});
