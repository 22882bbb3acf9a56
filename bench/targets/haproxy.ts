// HAProxy in HTTP mode on one thread, round robin, idle server connections shared between clients
// (`http-reuse always`), no logging. Started in the foreground (-db), so the started process is the worker.
// TLS: `bind … ssl crt` (ALPN `http/1.1`, or `h2` for HTTP/2); h2c: `bind … proto h2`.
import { writeFileSync } from 'node:fs';
import { HOST } from '../net.ts';
import { instanceName, serve } from './serve.ts';
import type { Target, TargetContext } from './types.ts';

function bind(context: TargetContext): string {
  const address = `${HOST}:${context.port}`;
  const crt = context.tls === undefined ? '' : ` ssl crt ${context.tls.pem}`;
  switch (context.protocol ?? 'http') {
    case 'http':
      return address;
    case 'https':
      return `${address}${crt} alpn http/1.1`;
    case 'h2c':
      return `${address} proto h2`;
    case 'h2':
      return `${address}${crt} alpn h2,http/1.1`;
  }
}

function config(context: TargetContext): string {
  const servers = context.upstreams.map((u, i) => `  server b${i + 1} ${u.host}:${u.port}`).join('\n');
  return `global
  nbthread 1
  maxconn 4096

defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-request 10s
  timeout http-keep-alive 30s

frontend bench
  bind ${bind(context)}
  default_backend backends

backend backends
  balance roundrobin
  http-reuse always
${servers}
`;
}

export const haproxy: Target = {
  name: 'haproxy',
  summary: '`nbthread 1`, `balance roundrobin`, `http-reuse always`, no logging',
  protocols: ['http', 'https', 'h2c', 'h2'],
  start(context) {
    const configPath = `${context.dir}/${instanceName(context, 'haproxy')}.cfg`;
    writeFileSync(configPath, config(context));
    return serve(context, 'haproxy', context.binaries.haproxy, ['-f', configPath, '-db']);
  },
};
