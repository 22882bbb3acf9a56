// NGINX as a proxy: one worker, an upstream block keeping up to 64 idle connections per worker, HTTP/1.1
// upstream with the Connection header cleared (both needed for upstream keep-alive), no access log.
// TLS: `listen … ssl` (with `http2` for h2 by ALPN); h2c: `listen … http2` (prior knowledge).
import { writeFileSync } from 'node:fs';
import { HOST } from '../net.ts';
import { nginxArgs, nginxConfig } from '../nginx-conf.ts';
import { instanceName, serve } from './serve.ts';
import type { Target, TargetContext } from './types.ts';

function listen(context: TargetContext): string {
  const flags = { http: '', https: ' ssl', h2c: ' http2', h2: ' ssl http2' }[context.protocol ?? 'http'];
  const certificate =
    context.tls === undefined ? '' : `\n    ssl_certificate ${context.tls.cert};\n    ssl_certificate_key ${context.tls.key};`;
  return `listen ${HOST}:${context.port}${flags};${flags.includes('ssl') ? certificate : ''}`;
}

function http(context: TargetContext): string {
  const servers = context.upstreams.map((u) => `    server ${u.host}:${u.port};`).join('\n');
  // proxy_buffers: 8 × 16k holds a whole 64 KiB response in memory, so NGINX never spills it to a temp file.
  return `  upstream backends {
${servers}
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    ${listen(context)}
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffer_size 16k;
      proxy_buffers 8 16k;
    }
  }`;
}

export const nginx: Target = {
  name: 'nginx',
  summary: '`worker_processes 1`, `upstream` with `keepalive 64`, `proxy_http_version 1.1`, access log off',
  protocols: ['http', 'https', 'h2c', 'h2'],
  start(context) {
    const name = instanceName(context, 'nginx');
    const configPath = `${context.dir}/${name}.conf`;
    writeFileSync(configPath, nginxConfig(context.dir, name, http(context)));
    return serve(context, 'nginx', context.binaries.nginx, nginxArgs(context.dir, name, configPath));
  },
};
