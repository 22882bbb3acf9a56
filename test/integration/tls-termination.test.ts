// TLS termination end to end with certificates made by openssl at test time: an https listener serves real
// TLS clients, picks certificates by SNI (exact, wildcard, default without SNI), offers ALPN http/1.1 and
// honours minVersion; backends see X-Forwarded-Proto https and Forwarded proto=https; HSTS is added; a
// certificate file replaced on disk is served to new handshakes while open connections go on, and a broken
// replacement keeps the old one; a broken certificate in the config is a config error with its path; mTLS
// passes the verified subject and fingerprint upstream and strips forged ones.
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { parseConfigValue } from '../../src/control/config/load.ts';
import { startFulcrum, waitFor, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { startEchoOrigin, type EchoReply, type Origin } from '../helpers/origins.ts';
import { TestCa, type Issued } from '../helpers/tls-certs.ts';

let ca: TestCa;
let api: Issued;
let wild: Issued;
let fallback: Issued;
let origin: Origin;
const running: RunningFulcrum[] = [];

before(async () => {
  ca = new TestCa();
  api = ca.server('api', ['api.example.com']);
  wild = ca.server('wild', ['*.example.com']);
  fallback = ca.server('default', ['default.test']);
  origin = await startEchoOrigin({ name: 'app' });
});
after(async () => {
  for (const lb of running) await lb.stop(500);
  await origin.close();
});

function config(tlsOptions: object): object {
  return {
    listeners: [{ name: 'secure', protocol: 'https', address: '127.0.0.1:0', tls: tlsOptions, routes: [{ forward: { pool: 'app' } }] }],
    pools: [{ name: 'app', endpoints: [{ address: `127.0.0.1:${origin.port}` }] }],
  };
}

async function start(tlsOptions: object): Promise<RunningFulcrum> {
  const lb = await startFulcrum(config(tlsOptions));
  running.push(lb);
  return lb;
}

/** Handshake only: which certificate and protocol the server chose. */
function handshake(port: number, options: tls.ConnectionOptions): Promise<{ cn: string; alpn: string | false | null; socket: tls.TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: ca.pem, ALPNProtocols: ['http/1.1'], ...options }, () => {
      const cert = socket.getPeerCertificate();
      resolve({ cn: String(cert.subject.CN), alpn: socket.alpnProtocol, socket });
    });
    socket.once('error', reject);
  });
}

async function get(lb: RunningFulcrum, servername: string, headers: Record<string, string> = {}, extra: object = {}): Promise<{ status: number; headers: Record<string, unknown>; echo: EchoReply }> {
  const agent = new Agent({ connect: { ca: ca.pem, servername, ...extra } });
  try {
    const res = await request(`https://127.0.0.1:${lb.port()}/hello`, { dispatcher: agent, headers: { host: servername, ...headers } });
    return { status: res.statusCode, headers: res.headers, echo: JSON.parse(await res.body.text()) as EchoReply };
  } finally {
    await agent.close();
  }
}

describe('https listener', () => {
  let lb: RunningFulcrum;
  before(async () => {
    lb = await start({
      certificates: [{ cert: fallback.cert, key: fallback.key }, { cert: api.cert, key: api.key }, { cert: wild.cert, key: wild.key }],
      hsts: { maxAge: 600, includeSubDomains: true },
    });
  });

  test('certificates by SNI: exact, wildcard, and the first one without SNI; ALPN http/1.1', async () => {
    const exact = await handshake(lb.port(), { servername: 'api.example.com' });
    assert.equal(exact.cn, 'api.example.com');
    assert.equal(exact.alpn, 'http/1.1');
    exact.socket.destroy();
    const w = await handshake(lb.port(), { servername: 'shop.example.com' });
    assert.equal(w.cn, '*.example.com');
    w.socket.destroy();
    const deep = await handshake(lb.port(), { servername: 'a.b.example.com', checkServerIdentity: () => undefined });
    assert.equal(deep.cn, 'default.test', 'a wildcard covers one label only');
    deep.socket.destroy();
    const none = await handshake(lb.port(), { checkServerIdentity: () => undefined });
    assert.equal(none.cn, 'default.test');
    none.socket.destroy();
  });

  test('requests are proxied with X-Forwarded-Proto https, Forwarded proto=https and HSTS', async () => {
    const r = await get(lb, 'api.example.com');
    assert.equal(r.status, 200);
    assert.equal(r.echo.headers['x-forwarded-proto'], 'https');
    assert.match(String(r.echo.headers.forwarded), /proto=https/);
    assert.equal(r.headers['strict-transport-security'], 'max-age=600; includeSubDomains');
  });
});

test('minVersion TLSv1.3 refuses a TLS 1.2 client', async () => {
  const lb = await start({ certificates: [{ cert: api.cert, key: api.key }], minVersion: 'TLSv1.3' });
  await assert.rejects(handshake(lb.port(), { servername: 'api.example.com', maxVersion: 'TLSv1.2' }));
  const ok = await handshake(lb.port(), { servername: 'api.example.com' });
  assert.equal(ok.socket.getProtocol(), 'TLSv1.3');
  ok.socket.destroy();
});

test('a replaced certificate file reaches new handshakes; a broken replacement keeps the old one', async () => {
  const rotating = ca.server('rotating', ['rotate.example.com']);
  const lb = await start({ certificates: [{ cert: rotating.cert, key: rotating.key }] });
  const first = await handshake(lb.port(), { servername: 'rotate.example.com' });
  const serial1 = first.socket.getPeerCertificate().serialNumber;
  first.socket.destroy();
  // an open keep-alive connection keeps working across the rotation
  const agent = new Agent({ connect: { ca: ca.pem, servername: 'rotate.example.com' } });
  const url = `https://127.0.0.1:${lb.port()}/x`;
  assert.equal((await (await request(url, { dispatcher: agent })).body.text()).length > 0, true);
  const next = ca.server('next', ['rotate.example.com']);
  copyFileSync(next.key, rotating.key);
  copyFileSync(next.cert, rotating.cert);
  const expected = new X509Certificate(next.certPem).serialNumber;
  let serial = serial1;
  const t0 = performance.now();
  while (serial !== expected && performance.now() - t0 < 6000) {
    await new Promise((r) => setTimeout(r, 200));
    const h = await handshake(lb.port(), { servername: 'rotate.example.com' });
    serial = h.socket.getPeerCertificate().serialNumber;
    h.socket.destroy();
  }
  assert.equal(serial.toUpperCase(), expected.toUpperCase());
  const res = await request(url, { dispatcher: agent });
  assert.equal(res.statusCode, 200);
  await res.body.text();
  await agent.close();
  writeFileSync(rotating.cert, 'not a certificate');
  const store = lb.rt.generation.listeners.get('secure')!.tls!.certificates;
  await waitFor('the broken file noticed', () => store.failedReloads > 0, 6000);
  const still = await handshake(lb.port(), { servername: 'rotate.example.com' });
  assert.equal(still.socket.getPeerCertificate().serialNumber.toUpperCase(), expected.toUpperCase());
  still.socket.destroy();
});

test('a certificate that does not load is a config error with its path', () => {
  const broken = ca.server('broken', ['broken.example.com']);
  writeFileSync(broken.key, 'garbage');
  assert.throws(
    () => parseConfigValue(config({ certificates: [{ cert: broken.cert, key: broken.key }] }), 'test'),
    (err: Error & { diagnostics?: { path: string; message: string }[] }) =>
      /listeners\[0\]\.tls\.certificates\[0\]: certificate .*broken\.pem with key .*broken-key\.pem does not load/.test(String(err.message) + JSON.stringify(err.diagnostics ?? '')),
  );
  assert.throws(() => parseConfigValue({ ...config({}), listeners: [{ name: 'x', protocol: 'https', address: '127.0.0.1:0', routes: [{ forward: { pool: 'app' } }] }] }, 'test'), /listeners\[0\]\.tls: missing required key "tls"/);
});

test('mTLS: a verified client certificate reaches the backend as headers; forged ones are stripped; none is refused', async () => {
  const client = ca.client('client', '/CN=client-1/O=Fulcrum Tests');
  const lb = await start({ certificates: [{ cert: api.cert, key: api.key }], clientAuth: { ca: ca.cert } });
  const r = await get(lb, 'api.example.com', { 'x-client-cert-subject': 'CN=admin' }, { cert: client.certPem, key: await import('node:fs').then((fs) => fs.readFileSync(client.key)) });
  assert.equal(r.status, 200);
  assert.equal(r.echo.headers['x-client-cert-subject'], 'CN=client-1,O=Fulcrum Tests');
  const fingerprint = new X509Certificate(client.certPem).fingerprint256.replace(/:/g, '').toLowerCase();
  assert.equal(r.echo.headers['x-client-cert-fingerprint'], fingerprint);
  await assert.rejects(get(lb, 'api.example.com'));
});

test('large responses stay byte-exact to a client that reads in bursts (upstream read buffers reused under TLS)', async () => {
  // The upstream read buffer is reused as soon as the TLS socket has encrypted what it was handed; a response
  // written while an earlier write is still in progress must keep its buffer until it is encrypted.
  const bodies = [randomBytes(3 << 20), randomBytes(3 << 20), randomBytes(3 << 20)];
  const big = http.createServer((req, res) => {
    const body = bodies[Number(req.url!.slice(1))];
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => big.listen(0, '127.0.0.1', resolve));
  const lb = await startFulcrum({
    listeners: [{ name: 'secure', protocol: 'https', address: '127.0.0.1:0', tls: { certificates: [{ cert: api.cert, key: api.key }] }, routes: [{ forward: { pool: 'big' } }] }],
    pools: [{ name: 'big', endpoints: [{ address: `127.0.0.1:${(big.address() as AddressInfo).port}` }] }],
  });
  running.push(lb);
  const agent = new Agent({ connect: { ca: ca.pem, servername: 'api.example.com' }, connections: 1 });
  try {
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < bodies.length; i++) {
        const res = await request(`https://127.0.0.1:${lb.port()}/${i}`, { dispatcher: agent, headers: { host: 'api.example.com' } });
        assert.equal(res.statusCode, 200);
        const hash = createHash('sha256');
        let reads = 0;
        let bytes = 0;
        for await (const chunk of res.body) {
          hash.update(chunk as Buffer);
          bytes += (chunk as Buffer).length;
          if (++reads % 8 === 0) await new Promise((resolve) => setTimeout(resolve, 3)); // a reader in bursts: writes queue up
        }
        assert.equal(bytes, bodies[i].length);
        assert.equal(hash.digest('hex'), createHash('sha256').update(bodies[i]).digest('hex'), `body ${i} intact (round ${round})`);
      }
    }
  } finally {
    await agent.close();
    big.close();
  }
});
