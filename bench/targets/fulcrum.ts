// Fulcrum itself: `bin/fulcrum.js run <config>` (as users run it, with the compile cache) with one HTTP listener forwarding round robin to the backends.
import { writeFileSync } from 'node:fs';
import { HOST } from '../net.ts';
import { serve } from './serve.ts';
import type { Target, TargetContext } from './types.ts';

function config(context: TargetContext): string {
  const endpoints = context.upstreams.map((u) => `        - { address: ${u.host}:${u.port} }`).join('\n');
  return `listeners:
  - name: bench
    address: ${HOST}:${context.port}
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
  start(context) {
    const configPath = `${context.dir}/fulcrum.yaml`;
    writeFileSync(configPath, config(context));
    return serve(context, 'fulcrum', context.node, [`${context.root}/bin/fulcrum.js`, 'run', configPath]);
  },
};
