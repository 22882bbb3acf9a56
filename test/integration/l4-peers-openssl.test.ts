// `openssl s_client` through a tls-passthrough listener of a `fulcrum run` process, in front of TLS backends
// with their own certificates from a test CA: the SNI picks the backend, and the certificate s_client prints is
// that backend's own, byte for byte, verified against the CA (TLS ends on the backend, never in Fulcrum); a name
// no route matches and a hello without a name go to the default pool; a backend that requires a client
// certificate gets s_client's (mTLS stays between client and backend), and refuses a client without one.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { serve, type TestServer } from '../helpers/l4.ts';
import { RunningProgram, runFulcrum, type FulcrumProcess } from '../helpers/l4-peers.ts';
import { TestCa, type Issued } from '../helpers/tls-certs.ts';

let ca: TestCa;
const certs = new Map<string, Issued>();
const backends = new Map<string, TestServer>();
/** Handshakes each backend refused (its 'tlsClientError'), by backend name. */
const refused = new Map<string, number>();
let client: Issued;
let lb: FulcrumProcess;

/** A TLS backend with its own certificate: once the handshake is done it says who it is, the server name it
 *  saw and the client certificate's CN (or `-`), then echoes. */
async function startBackend(name: string, cert: Issued, mtls = false): Promise<TestServer> {
  const server = tls.createServer({
    cert: cert.certPem,
    key: readFileSync(cert.key),
    ALPNProtocols: ['h2', 'http/1.1'],
    ...(mtls ? { requestCert: true, rejectUnauthorized: true, ca: ca.pem } : {}),
  });
  server.on('tlsClientError', () => refused.set(name, (refused.get(name) ?? 0) + 1));
  return serve(name, server, (s) => {
    const t = s as tls.TLSSocket;
    const peer = t.getPeerCertificate();
    const cn = peer !== null && typeof peer.subject?.CN === 'string' ? peer.subject.CN : '-';
    t.write(`backend=${name} sni=${String(t.servername || '-')} client=${cn}\n`);
    t.pipe(t);
  });
}

before(async () => {
  ca = new TestCa();
  for (const name of ['a.test', 'b.test', 'fallback.test', 'mtls.test']) certs.set(name, ca.server(name, [name]));
  client = ca.client('alice', '/CN=alice/O=Fulcrum Tests');
  backends.set('a', await startBackend('a', certs.get('a.test')!));
  backends.set('b', await startBackend('b', certs.get('b.test')!));
  backends.set('fallback', await startBackend('fallback', certs.get('fallback.test')!));
  backends.set('mtls', await startBackend('mtls', certs.get('mtls.test')!, true));
  const pool = (name: string) => [`  - name: ${name}`, `    endpoints: [{ address: 127.0.0.1:${backends.get(name)!.port} }]`];
  lb = await runFulcrum(
    [
      'listeners:',
      '  - name: tls',
      '    protocol: tls-passthrough',
      '    address: 127.0.0.1:0',
      '    routes:',
      '      - { sni: a.test, pool: a }',
      '      - { sni: [b.test, www.b.test], pool: b }',
      '      - { sni: mtls.test, pool: mtls }',
      '    defaultPool: fallback',
      '    timeouts: { clientHello: 2s, idle: 30s }',
      'pools:',
      ...pool('a'),
      ...pool('b'),
      ...pool('fallback'),
      ...pool('mtls'),
    ].join('\n'),
  );
});

after(async () => {
  await lb?.stop();
  for (const b of backends.values()) await b.close();
});

interface Session {
  /** Everything s_client printed, stdout and stderr. */
  readonly output: string;
  /** The backend's greeting line, or null when none arrived. */
  readonly greeting: string | null;
  /** The line the backend echoed back, or null. */
  readonly echo: string | null;
  readonly code: number | null;
}

/**
 * Runs `openssl s_client` against the tls-passthrough listener with `args`; waits for the backend's greeting,
 * sends a line and waits for its echo, then closes stdin (s_client exits on EOF). When no greeting comes within
 * `greetingMs`, stdin is closed anyway and whatever s_client printed is returned.
 */
async function sClient(args: readonly string[], greetingMs = 3000): Promise<Session> {
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${lb.port('tls')}`, '-CAfile', ca.cert, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const p = new RunningProgram(child);
  let greeting: string | null = null;
  let echo: string | null = null;
  try {
    // not anchored to a line start: s_client's session dump on stdout may end without a newline
    greeting = (await p.waitForOutput(/backend=\S+ sni=\S+ client=\S+/, greetingMs))[0];
    const line = `ping-${Math.random().toString(36).slice(2)}`;
    child.stdin!.write(line + '\n');
    echo = (await p.waitForOutput(new RegExp(line), 2000))[0];
  } catch {
    // no greeting (a refused handshake) or no echo: the assertions say which
  }
  child.stdin!.end();
  const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r));
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
  return { output: p.output(), greeting, echo, code: child.exitCode };
}

/** The first certificate s_client printed (the server's leaf: `-showcerts` is not used). */
function presented(output: string): X509Certificate {
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(output);
  assert.ok(pem !== null, `s_client printed no certificate:\n${output}`);
  return new X509Certificate(pem[0]);
}

function subjectCn(output: string): string | undefined {
  return /^subject=.*?CN\s*=\s*([^,\n/]+)/m.exec(output)?.[1]?.trim();
}

for (const [sni, backend] of [
  ['a.test', 'a'],
  ['b.test', 'b'],
] as const) {
  test(`SNI ${sni}: the ${backend} backend's own certificate reaches s_client, verified against the CA`, async () => {
    const s = await sClient(['-servername', sni, '-verify_return_error', '-verify_hostname', sni, '-alpn', 'h2']);
    assert.equal(s.greeting, `backend=${backend} sni=${sni} client=-`, s.output);
    assert.equal(s.echo !== null, true, 'bytes flow both ways after the handshake');
    assert.equal(subjectCn(s.output), sni);
    const cert = presented(s.output);
    assert.ok(cert.raw.equals(new X509Certificate(certs.get(sni)!.certPem).raw), 'the exact certificate the backend holds');
    assert.match(s.output, /Verify return code: 0 \(ok\)/);
    assert.match(s.output, /ALPN protocol: h2/, 'ALPN was negotiated with the backend');
    assert.equal(s.code, 0);
  });
}

test('a second name of a route (www.b.test) goes to the same backend', async () => {
  const s = await sClient(['-servername', 'www.b.test']);
  assert.equal(s.greeting, 'backend=b sni=www.b.test client=-', s.output);
  assert.equal(subjectCn(s.output), 'b.test');
});

test('a server name no route matches goes to the default pool, which presents its own certificate', async () => {
  const s = await sClient(['-servername', 'nobody.test']);
  assert.equal(s.greeting, 'backend=fallback sni=nobody.test client=-', s.output);
  assert.equal(subjectCn(s.output), 'fallback.test');
  assert.ok(presented(s.output).raw.equals(new X509Certificate(certs.get('fallback.test')!.certPem).raw));
});

test('a ClientHello without a server name (-noservername) goes to the default pool', async () => {
  const s = await sClient(['-noservername']);
  assert.equal(s.greeting, 'backend=fallback sni=- client=-', s.output);
  assert.equal(subjectCn(s.output), 'fallback.test');
});

test('mTLS end to end: the backend that requires a client certificate receives s_client\'s', async () => {
  const s = await sClient(['-servername', 'mtls.test', '-verify_return_error', '-cert', client.cert, '-key', client.key]);
  assert.equal(s.greeting, 'backend=mtls sni=mtls.test client=alice', s.output);
  assert.equal(s.echo !== null, true);
  assert.equal(subjectCn(s.output), 'mtls.test');
  assert.match(s.output, /Verify return code: 0 \(ok\)/);
});

test('mTLS: without a client certificate the backend itself refuses the handshake, and its alert reaches s_client', async () => {
  const before = refused.get('mtls') ?? 0;
  const s = await sClient(['-servername', 'mtls.test'], 1500);
  assert.equal(s.greeting, null, `no greeting without a client certificate:\n${s.output}`);
  assert.match(s.output, /alert certificate required|alert handshake failure/i, s.output);
  assert.equal(refused.get('mtls'), before + 1, 'the refusal was the backend\'s');
});
