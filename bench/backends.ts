// The two backends every target balances over: one NGINX worker serving two ports, each answering
// `/` with a 13-byte body and `/64k` with 64 KiB from a file. Pinned with wrk, away from the proxy core.
// When TLS or HTTP/2 rows run, the first backend also serves them on extra ports, for `direct` only.
import { mkdirSync, writeFileSync } from 'node:fs';
import { freePort, HOST, waitForListening } from './net.ts';
import { launch, type Launched } from './processes.ts';
import { nginxArgs, nginxConfig } from './nginx-conf.ts';
import type { Protocol } from './protocols.ts';
import type { TlsFiles } from './tls.ts';
import type { Upstream } from './targets/types.ts';

export const SMALL_BODY = 'Hello, world\n';
export const LARGE_BODY_BYTES = 64 * 1024;

export interface Backends {
  readonly upstreams: readonly Upstream[];
  readonly launched: Launched;
  /** Where the first backend answers the other protocols asked for. */
  readonly origins: Partial<Record<Protocol, string>>;
}

function server(port: number, www: string, extra = ''): string {
  return `  server {
    listen ${HOST}:${port};${extra}
    location = / { default_type text/plain; return 200 "${SMALL_BODY.replace('\n', '\\n')}"; }
    location = /64k { root ${www}; default_type application/octet-stream; }
  }`;
}

export async function startBackends(
  dir: string,
  nginx: string,
  cpus: string | undefined,
  protocols: readonly Protocol[] = ['http'],
  tls?: TlsFiles,
): Promise<Backends> {
  const www = `${dir}/www`;
  mkdirSync(www, { mode: 0o755 });
  writeFileSync(`${www}/64k`, Buffer.alloc(LARGE_BODY_BYTES, 'x'), { mode: 0o644 });
  const ports = [await freePort(), await freePort()];
  const origins: Partial<Record<Protocol, string>> = {};
  let extra = '';
  if (tls !== undefined && (protocols.includes('https') || protocols.includes('h2'))) {
    const port = await freePort();
    extra += `\n    listen ${HOST}:${port} ssl http2;\n    ssl_certificate ${tls.cert};\n    ssl_certificate_key ${tls.key};`;
    origins.https = origins.h2 = `https://${HOST}:${port}`;
  }
  if (protocols.includes('h2c')) {
    const port = await freePort();
    extra += `\n    listen ${HOST}:${port} http2;`;
    origins.h2c = `http://${HOST}:${port}`;
  }
  const servers = ports.map((port, i) => server(port, www, i === 0 ? extra : '')).join('\n');
  const http = `  sendfile on;\n  tcp_nopush on;\n${servers}`;
  const configPath = `${dir}/backends.conf`;
  writeFileSync(configPath, nginxConfig(dir, 'backends', http));
  const launched = launch('backends', nginx, nginxArgs(dir, 'backends', configPath), `${dir}/backends.log`, cpus);
  for (const port of ports) await waitForListening(port, launched, 10_000);
  return { upstreams: ports.map((port) => ({ host: HOST, port })), launched, origins };
}
