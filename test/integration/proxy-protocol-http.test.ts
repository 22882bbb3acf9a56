// PROXY protocol in front of an HTTP listener: a trusted peer's v1 or v2 header names the client, which the
// backend sees in X-Forwarded-For, routes match on and rate limits key by; a trusted peer without a valid
// header is closed, and an untrusted peer's header is just bad HTTP (400).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { buildProxyHeaderV1, buildProxyHeaderV2 } from '../../src/l4/proxy-protocol.ts';
import { startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { rawRequest, startEchoOrigin, type EchoReply, type Origin } from '../helpers/origins.ts';

let origin: Origin;
let trusting: RunningFulcrum;
let plain: RunningFulcrum;

function config(listener: object): object {
  return {
    listeners: [
      {
        name: 'web',
        address: '127.0.0.1:0',
        routes: [
          { name: 'office', match: { source: '203.0.113.0/24' }, respond: { status: 200, body: 'office\n' } },
          { forward: { pool: 'app' } },
        ],
        ...listener,
      },
    ],
    pools: [{ name: 'app', endpoints: [{ address: `127.0.0.1:${origin.port}` }] }],
  };
}

before(async () => {
  origin = await startEchoOrigin({ name: 'app' });
  trusting = await startFulcrum(config({ proxyProtocol: { accept: ['127.0.0.0/8'] } }));
  plain = await startFulcrum(config({}));
});
after(async () => {
  await trusting.stop(500);
  await plain.stop(500);
  await origin.close();
});

const request = 'GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
const src = (address: string) => ({ address, port: 40000 });
const dst = { address: '127.0.0.1', port: 80 };

function echoed(response: string): EchoReply {
  return JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as EchoReply;
}

test('a v1 header from a trusted peer names the client the backend sees', async () => {
  const r = await rawRequest(trusting.port(), Buffer.concat([buildProxyHeaderV1(src('198.51.100.20'), dst), Buffer.from(request)]));
  assert.match(r.response, /^HTTP\/1\.1 200 /);
  assert.equal(echoed(r.response).headers['x-forwarded-for'], '198.51.100.20');
});

test('a v2 header works the same, and routes match on the carried address', async () => {
  const r = await rawRequest(trusting.port(), Buffer.concat([buildProxyHeaderV2(src('2001:db8::7'), { address: '::1', port: 80 }), Buffer.from(request)]));
  assert.equal(echoed(r.response).headers['x-forwarded-for'], '2001:db8::7');
  const office = await rawRequest(trusting.port(), Buffer.concat([buildProxyHeaderV2(src('203.0.113.9'), dst), Buffer.from(request)]));
  assert.match(office.response, /\r\n\r\noffice\n$/);
});

test('a header split over several writes is read whole', async () => {
  const bytes = Buffer.concat([buildProxyHeaderV1(src('198.51.100.21'), dst), Buffer.from(request)]);
  const { default: net } = await import('node:net');
  const response = await new Promise<string>((resolve, reject) => {
    const s = net.connect(trusting.port(), '127.0.0.1', async () => {
      for (let i = 0; i < bytes.length; i += 7) {
        s.write(bytes.subarray(i, i + 7));
        await new Promise((r) => setTimeout(r, 2));
      }
    });
    let out = '';
    s.on('data', (c) => (out += c));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
  assert.equal(echoed(response).headers['x-forwarded-for'], '198.51.100.21');
});

test('a trusted peer without a valid header is closed without an answer', async () => {
  const r = await rawRequest(trusting.port(), request);
  assert.equal(r.response, '');
  assert.equal(r.closed, true);
});

test('on a listener that reads no PROXY header, one is bad HTTP: 400', async () => {
  const r = await rawRequest(plain.port(), Buffer.concat([buildProxyHeaderV1(src('198.51.100.20'), dst), Buffer.from(request)]));
  assert.match(r.response, /^HTTP\/1\.1 400 /);
});
