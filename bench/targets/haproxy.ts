// HAProxy in HTTP mode on one thread, round robin, idle server connections shared between clients
// (`http-reuse always`), no logging. Started in the foreground (-db), so the started process is the worker.
import { writeFileSync } from 'node:fs';
import { HOST } from '../net.ts';
import { serve } from './serve.ts';
import type { Target, TargetContext } from './types.ts';

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
  bind ${HOST}:${context.port}
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
  start(context) {
    const configPath = `${context.dir}/haproxy.cfg`;
    writeFileSync(configPath, config(context));
    return serve(context, 'haproxy', context.binaries.haproxy, ['-f', configPath, '-db']);
  },
};
