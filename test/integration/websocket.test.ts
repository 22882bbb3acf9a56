// WebSocket through Fulcrum with real `ws` peers: the upgrade handshake reaches the endpoint picked by the
// route's pool, messages flow both ways (text and a 1 MiB binary one) untouched, either side's close reaches
// the other, connections are balanced like requests, and a refused upgrade (non-101) is an ordinary response.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';

const servers: WebSocketServer[] = [];
let lb: RunningFulcrum;

async function echoServer(name: string): Promise<{ port: number; server: WebSocketServer }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('connection', (ws, req) => {
    ws.send(`hello from ${name}; host ${req.headers.host}; forwarded ${req.headers['x-forwarded-for']}`);
    ws.on('message', (data, binary) => {
      if (!binary && String(data) === 'close please') ws.close(4001, 'asked');
      else ws.send(data, { binary });
    });
  });
  await once(server, 'listening');
  servers.push(server);
  return { port: (server.address() as AddressInfo).port, server };
}

before(async () => {
  const [a, b] = await Promise.all([echoServer('a'), echoServer('b')]);
  lb = await startFulcrum({
    listeners: [
      {
        name: 'web',
        address: '127.0.0.1:0',
        routes: [
          { match: { path: { prefix: '/denied' } }, respond: { status: 403, body: 'no' } },
          { forward: { pool: 'ws' } },
        ],
      },
    ],
    pools: [{ name: 'ws', endpoints: [{ address: `127.0.0.1:${a.port}` }, { address: `127.0.0.1:${b.port}` }] }],
  });
});
after(async () => {
  await lb.stop(500);
  for (const s of servers) {
    for (const c of s.clients) c.terminate();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

function open(path = '/chat'): Promise<{ ws: WebSocket; first: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${lb.port()}${path}`);
    ws.once('message', (data) => resolve({ ws, first: String(data) }));
    ws.once('error', reject);
  });
}

function next(ws: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data, binary) => resolve({ data: data as Buffer, binary })));
}

test('messages flow both ways through the tunnel, text and binary, byte-exact', async () => {
  const { ws, first } = await open();
  assert.match(first, /^hello from [ab]; host 127\.0\.0\.1:\d+; forwarded 127\.0\.0\.1$/);
  const reply = next(ws);
  ws.send('ping');
  assert.equal(String((await reply).data), 'ping');
  const big = Buffer.alloc(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 255;
  const echoed = next(ws);
  ws.send(big);
  const got = await echoed;
  assert.equal(got.binary, true);
  assert.ok(got.data.equals(big), '1 MiB binary message byte-exact');
  ws.close(1000, 'bye');
  const [code] = (await once(ws, 'close')) as [number];
  assert.equal(code, 1000);
});

test('the endpoint closing reaches the client with its code; connections are balanced over the pool', async () => {
  const names = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const { ws, first } = await open();
    names.add(first.slice(11, 12));
    const closed = once(ws, 'close');
    ws.send('close please');
    const [code, reason] = (await closed) as [number, Buffer];
    assert.deepEqual([code, String(reason)], [4001, 'asked']);
  }
  assert.deepEqual([...names].sort(), ['a', 'b']);
});

test('a refused upgrade is an ordinary response; plain HTTP on the same listener still works', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${lb.port()}/denied`);
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
  assert.equal(res.statusCode, 403);
  ws.on('error', () => {}); // terminating a socket that never opened reports it
  ws.terminate();
  const plain = await fetch(`http://127.0.0.1:${lb.port()}/plain`);
  assert.equal(plain.status, 426, 'the ws server answers plain HTTP with 426 Upgrade Required');
  await plain.text();
});

test('many concurrent sockets each keep their own stream', async () => {
  const sockets = await Promise.all(Array.from({ length: 20 }, () => open()));
  const replies = await Promise.all(
    sockets.map(async ({ ws }, i) => {
      const r = next(ws);
      ws.send(`message ${i}`);
      return String((await r).data);
    }),
  );
  assert.deepEqual(replies, sockets.map((_, i) => `message ${i}`));
  for (const { ws } of sockets) ws.close();
});
