// curl as the client of HTTP/2 listeners: h2c with prior knowledge, h2 over TLS (ALPN) verified against the test
// CA with --cacert, and mTLS with a client certificate (--cert/--key) whose verified subject reaches the
// endpoint. curl reports the HTTP version it spoke, so the test knows HTTP/2 was used end to end.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { startEchoOrigin, type EchoReply, type Origin } from '../helpers/origins.ts';
import { TestCa, type Issued } from '../helpers/tls-certs.ts';

const exec = promisify(execFile);
let ca: TestCa;
let site: Issued;
let origin: Origin;
const running: RunningFulcrum[] = [];

before(async () => {
  ca = new TestCa();
  site = ca.server('site', ['localhost']);
  origin = await startEchoOrigin({ name: 'app' });
});
after(async () => {
  for (const lb of running) await lb.stop(500);
  await origin.close();
});

async function fulcrum(listener: object): Promise<RunningFulcrum> {
  const lb = await startFulcrum({
    listeners: [{ name: 'l', address: '127.0.0.1:0', routes: [{ forward: { pool: 'app' } }], ...listener }],
    pools: [{ name: 'app', endpoints: [{ address: `127.0.0.1:${origin.port}` }] }],
  });
  running.push(lb);
  return lb;
}

/** curl with a 10 s bound; the last line of stdout is `%{http_version} %{http_code}`. */
async function curl(args: readonly string[]): Promise<{ version: string; status: number; echo: EchoReply }> {
  const { stdout } = await exec('curl', ['-sS', '--max-time', '10', '-w', '\n%{http_version} %{http_code}', ...args]);
  const lines = stdout.split('\n');
  const [version, status] = lines.pop()!.split(' ');
  return { version, status: Number(status), echo: JSON.parse(lines.join('\n')) as EchoReply };
}

describe('curl over HTTP/2', () => {
  it('--http2-prior-knowledge on an h2c listener', async () => {
    const lb = await fulcrum({ http2: { cleartext: true } });
    const r = await curl(['--http2-prior-knowledge', `http://127.0.0.1:${lb.port()}/h2c`]);
    assert.deepEqual([r.version, r.status, r.echo.url], ['2', 200, '/h2c']);
    assert.equal(r.echo.headers['x-forwarded-proto'], 'http');
    assert.match(String(r.echo.headers.via), /2 fulcrum/);
  });

  it('--http2 with --cacert on an https listener: ALPN h2, the certificate verified', async () => {
    const lb = await fulcrum({ protocol: 'https', tls: { certificates: [{ cert: site.cert, key: site.key }] }, http2: {} });
    const r = await curl(['--http2', '--cacert', ca.cert, `https://localhost:${lb.port()}/tls`]);
    assert.deepEqual([r.version, r.status, r.echo.url], ['2', 200, '/tls']);
    assert.equal(r.echo.headers['x-forwarded-proto'], 'https');
    // without the CA, curl refuses the certificate
    await assert.rejects(exec('curl', ['-sS', '--max-time', '10', '--http2', `https://localhost:${lb.port()}/`]), /certificate/i);
  });

  it('a client certificate (--cert/--key) over h2: the verified subject reaches the endpoint, a forged header does not', async () => {
    const client = ca.client('curl-client', '/CN=curl-client/O=Fulcrum Tests');
    const lb = await fulcrum({ protocol: 'https', tls: { certificates: [{ cert: site.cert, key: site.key }], clientAuth: { ca: ca.cert } }, http2: {} });
    const url = `https://localhost:${lb.port()}/mtls`;
    const r = await curl(['--http2', '--cacert', ca.cert, '--cert', client.cert, '--key', client.key, '-H', 'x-client-cert-subject: CN=admin', url]);
    assert.deepEqual([r.version, r.status], ['2', 200]);
    assert.equal(r.echo.headers['x-client-cert-subject'], 'CN=curl-client,O=Fulcrum Tests');
    await assert.rejects(exec('curl', ['-sS', '--max-time', '10', '--http2', '--cacert', ca.cert, url]), 'no client certificate: the handshake fails');
  });
});
