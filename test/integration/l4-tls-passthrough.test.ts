// The tls-passthrough listener over real sockets: a node:tls client's handshake completes with the endpoint chosen
// by its server name (so TLS really passed through: the certificate verifies and the endpoint saw the SNI);
// wildcard and default routes; a ClientHello cut into small records and 1-byte writes; garbage and silence are
// closed and counted; no route without a default pool.
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, it } from 'node:test';
import type { TlsPassthroughListener } from '../../src/l4/tls-passthrough.ts';
import {
  closedWithin,
  connect,
  connectTlsFragmented,
  makePool,
  readAll,
  readLine,
  realClientHello,
  startTlsListener,
  startTlsServer,
  testCert,
  waitFor,
  type TestServer,
} from '../helpers/l4.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Setup {
  api: TestServer;
  web: TestServer;
  fallback: TestServer;
  listener: TlsPassthroughListener;
}

async function setup(withDefault = true, clientHelloTimeoutMs = 2000): Promise<Setup> {
  const api = await startTlsServer('api');
  const web = await startTlsServer('web');
  const fallback = await startTlsServer('fallback');
  const listener = await startTlsListener(
    [
      { sni: ['api.example.com'], target: makePool('api', [api.port]) },
      { sni: ['*.example.com'], target: makePool('web', [web.port]) },
    ],
    withDefault ? makePool('fallback', [fallback.port]) : null,
    { clientHelloTimeoutMs },
  );
  cleanups.push(() => api.close(), () => web.close(), () => fallback.close(), () => {
    listener.close();
    listener.closeAll();
  });
  return { api, web, fallback, listener };
}

/** `checkName` false: the certificate is verified against the CA only (no name, or one it does not cover). */
function tlsConnect(port: number, servername: string | undefined, checkName = servername !== undefined): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const options: tls.ConnectionOptions = { host: '127.0.0.1', port, ca: testCert };
    if (servername !== undefined) options.servername = servername;
    if (!checkName) options.checkServerIdentity = () => undefined;
    const s = tls.connect(options, () => resolve(s));
    s.once('error', reject);
    cleanups.push(() => s.destroy());
  });
}

/** The first line the endpoint sends after the handshake: `name servername`. */
async function greeting(port: number, servername: string | undefined, checkName = servername !== undefined): Promise<string> {
  const s = await tlsConnect(port, servername, checkName);
  assert.ok(s.authorized, `the endpoint's certificate verified (${String(s.authorizationError)})`);
  return readLine(s as unknown as net.Socket);
}

describe('tls-passthrough listener', () => {
  it('routes by SNI: the handshake completes with the api endpoint, which saw the name', async () => {
    const { api, web, listener } = await setup();
    const s = await tlsConnect(listener.address.port, 'api.example.com');
    assert.equal(await readLine(s as unknown as net.Socket), 'api api.example.com');
    s.write('over tls\n');
    assert.equal(await readLine(s as unknown as net.Socket), 'over tls');
    assert.equal(api.connections, 1);
    assert.equal(web.connections, 0);
    assert.ok(listener.counters.bytesIn > realClientHello.length / 2);
  });

  it('wildcard, default for an unknown name, default for no name', async () => {
    const { listener } = await setup();
    const port = listener.address.port;
    assert.equal(await greeting(port, 'www.example.com'), 'web www.example.com');
    assert.equal(await greeting(port, 'a.b.example.com', false), 'web a.b.example.com'); // *.example.com covers one label only
    assert.equal(await greeting(port, 'other.test'), 'fallback other.test');
    assert.equal(await greeting(port, undefined), 'fallback -');
  });

  it('no route and no default pool: closed and counted as no_route', async () => {
    const { listener, fallback } = await setup(false);
    await assert.rejects(tlsConnect(listener.address.port, 'other.test'));
    await waitFor('the counter', () => listener.counters.noRoute === 1);
    assert.equal(fallback.connections, 0);
    assert.equal(await greeting(listener.address.port, 'api.example.com'), 'api api.example.com');
  });

  it('a ClientHello over 16-byte records written 1 byte at a time still routes and handshakes', async () => {
    const { listener } = await setup();
    const s = await connectTlsFragmented(listener.address.port, 'api.example.com', 16, 1);
    cleanups.push(() => s.destroy());
    assert.equal(await readLine(s as unknown as net.Socket), 'api api.example.com');
  });

  it('garbage instead of a ClientHello: closed and counted, no endpoint contacted', async () => {
    const { listener, api, web, fallback } = await setup();
    const s = await connect(listener.address.port);
    cleanups.push(() => s.destroy());
    const got = readAll(s);
    s.write('GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n');
    assert.equal((await got).length, 0);
    await waitFor('the counter', () => listener.counters.clientHellosMalformed === 1);
    assert.equal(api.connections + web.connections + fallback.connections, 0);
    assert.equal(listener.counters.active, 0);
  });

  it('no ClientHello within timeouts.clientHello: closed and counted', async () => {
    const { listener } = await setup(true, 200);
    const s = await connect(listener.address.port);
    cleanups.push(() => s.destroy());
    s.write(realClientHello.subarray(0, 100)); // a start, never finished
    const ms = await closedWithin(s, 2000);
    assert.ok(ms >= 120, `closed after ${ms} ms`);
    await waitFor('the counter', () => listener.counters.clientHelloTimeouts === 1);
    assert.equal(listener.counters.clientHellosMalformed, 0);
  });
});
