// The defaults of an https listener that testssl.sh judges (docs/security.md), checked with real TLS clients:
// no CBC suite is offered (a client that only has CBC suites fails the handshake, one with AES-GCM succeeds),
// TLS 1.3 stays available, client-initiated renegotiation is refused, and a configured `ciphers` list still
// replaces the default.
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { TestCa, type Issued } from '../helpers/tls-certs.ts';

let ca: TestCa;
let leaf: Issued;
const running: RunningFulcrum[] = [];

before(() => {
  ca = new TestCa();
  leaf = ca.server('site', ['site.test']);
});
after(async () => {
  for (const lb of running) await lb.stop(500);
});

async function listener(tlsExtra: object = {}): Promise<number> {
  const lb = await startFulcrum({
    listeners: [{ name: 'secure', protocol: 'https', address: '127.0.0.1:0', tls: { certificates: [{ cert: leaf.cert, key: leaf.key }], ...tlsExtra }, routes: [{ respond: { status: 200, body: 'ok' } }] }],
    pools: [{ name: 'none', endpoints: [] }],
  });
  running.push(lb);
  return lb.port();
}

function handshake(port: number, options: tls.ConnectionOptions): Promise<{ ok: true; socket: tls.TLSSocket } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'site.test', ca: ca.pem, ...options });
    socket.once('secureConnect', () => resolve({ ok: true, socket }));
    socket.once('error', (err: Error) => resolve({ ok: false, error: err.message }));
  });
}

describe('https listener defaults', () => {
  it('offers no CBC suite over TLS 1.2, and AEAD suites and TLS 1.3 work', async () => {
    const port = await listener();
    const cbc = await handshake(port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384' });
    assert.equal(cbc.ok, false, 'a CBC-only client is refused');
    const gcm = await handshake(port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
    assert.ok(gcm.ok);
    assert.equal(gcm.socket.getCipher().name, 'ECDHE-ECDSA-AES128-GCM-SHA256');
    gcm.socket.destroy();
    const v13 = await handshake(port, {});
    assert.ok(v13.ok);
    assert.equal(v13.socket.getProtocol(), 'TLSv1.3');
    v13.socket.destroy();
  });

  it('refuses client-initiated renegotiation', async () => {
    const port = await listener();
    const r = await handshake(port, { maxVersion: 'TLSv1.2' });
    assert.ok(r.ok);
    const outcome = await new Promise<string>((resolve) => {
      r.socket.once('error', (err: Error) => resolve(`error: ${err.message}`));
      r.socket.once('close', () => resolve('closed'));
      const started = r.socket.renegotiate({}, (err) => resolve(err ? `refused: ${err.message}` : 'renegotiated'));
      if (!started) resolve('refused: not started');
    });
    assert.notEqual(outcome, 'renegotiated', outcome);
    r.socket.destroy();
  });

  it('a configured cipher list replaces the default', async () => {
    const port = await listener({ ciphers: 'ECDHE-ECDSA-AES128-SHA256' });
    const cbc = await handshake(port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256' });
    assert.ok(cbc.ok, cbc.ok ? '' : cbc.error);
    cbc.socket.destroy();
  });
});
