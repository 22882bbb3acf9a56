// Fulcrum itself: `bin/fulcrum.js run <config>` (as users run it, with the compile cache) with one listener
// forwarding round robin to the backends: `http`, `https` (TLS), with `http2: { cleartext: true }` (h2c) or
// `https` with `http2: {}` (h2 by ALPN), per protocol.
import { writeFileSync } from 'node:fs';
import { HOST } from '../net.ts';
import { instanceName, serve } from './serve.ts';
import type { Target, TargetContext } from './types.ts';

function listener(context: TargetContext): string {
  const tls = context.tls === undefined ? '' : `\n    tls: { certificates: [{ cert: ${context.tls.cert}, key: ${context.tls.key} }] }`;
  switch (context.protocol ?? 'http') {
    case 'http':
      return '';
    case 'https':
      return `\n    protocol: https${tls}`;
    case 'h2c':
      return '\n    http2: { cleartext: true }';
    case 'h2':
      return `\n    protocol: https${tls}\n    http2: {}`;
  }
}

function config(context: TargetContext): string {
  const endpoints = context.upstreams.map((u) => `        - { address: ${u.host}:${u.port} }`).join('\n');
  return `listeners:
  - name: bench
    address: ${HOST}:${context.port}${listener(context)}
    routes: [{ forward: { pool: backends } }]
pools:
  - name: backends
    balancer: { algorithm: round-robin }
    endpoints:
${endpoints}
`;
}

export const fulcrum: Target = {
  name: 'fulcrum',
  summary: '`fulcrum run` (bin/fulcrum.js), one listener, pool `round-robin`',
  protocols: ['http', 'https', 'h2c', 'h2'],
  start(context) {
    const configPath = `${context.dir}/${instanceName(context, 'fulcrum')}.yaml`;
    writeFileSync(configPath, config(context));
    return serve(context, 'fulcrum', context.node, [`${context.root}/bin/fulcrum.js`, 'run', configPath]);
  },
};
