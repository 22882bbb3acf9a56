// What `npm run bench:l4` compares: the peer directly, Fulcrum's `tcp` listener and HAProxy in `mode tcp`,
// each proxy one process on one core forwarding to the one peer. Both proxies get the same connection limit
// (the idle scenario's count plus headroom), so neither refuses a connection the other accepts.
import { writeFileSync } from 'node:fs';
import { HOST } from '../net.ts';
import type { Launched } from '../processes.ts';
import { serve } from '../targets/serve.ts';
import type { TargetContext } from '../targets/types.ts';

export interface L4Context extends TargetContext {
  /** Connections each proxy must hold at once. */
  readonly maxConnections: number;
}

export interface L4Running {
  /** Where the load connects. */
  readonly port: number;
  /** The process carrying the traffic; undefined for direct. */
  readonly measuredPid: number | undefined;
  readonly launched: Launched | undefined;
}

export interface L4Target {
  readonly name: string;
  /** One line for the docs: what runs and with which settings. */
  readonly summary: string;
  start(context: L4Context): Promise<L4Running>;
}

async function started(context: L4Context, name: string, command: string, args: readonly string[]): Promise<L4Running> {
  const running = await serve(context, name, command, args);
  return { port: context.port, measuredPid: running.measuredPid, launched: running.launched };
}

export const direct: L4Target = {
  name: 'direct',
  summary: 'no proxy: the load process to the peer',
  start(context) {
    return Promise.resolve({ port: context.upstreams[0].port, measuredPid: undefined, launched: undefined });
  },
};

function fulcrumConfig(context: L4Context): string {
  const peer = context.upstreams[0];
  return `listeners:
  - name: bench
    protocol: tcp
    address: ${HOST}:${context.port}
    pool: peer
    limits: { maxConnections: ${context.maxConnections} }
pools:
  - name: peer
    endpoints:
      - { address: ${peer.host}:${peer.port} }
`;
}

export const fulcrum: L4Target = {
  name: 'fulcrum',
  summary: '`fulcrum run` (bin/fulcrum.js), one `tcp` listener, default timeouts (connect 5s, idle 1h)',
  start(context) {
    const configPath = `${context.dir}/fulcrum-l4.yaml`;
    writeFileSync(configPath, fulcrumConfig(context));
    return started(context, 'fulcrum', context.node, [`${context.root}/bin/fulcrum.js`, 'run', configPath]);
  },
};

// No `option splice-*`: HAProxy's default, and Node.js has no splice either. HAProxy raises its own
// file-descriptor limit to fit maxconn when it runs as root.
function haproxyConfig(context: L4Context): string {
  const peer = context.upstreams[0];
  return `global
  nbthread 1
  maxconn ${context.maxConnections}

defaults
  mode tcp
  maxconn ${context.maxConnections}
  timeout connect 5s
  timeout client 1h
  timeout server 1h

frontend bench
  bind ${HOST}:${context.port}
  default_backend peer

backend peer
  server p1 ${peer.host}:${peer.port}
`;
}

export const haproxy: L4Target = {
  name: 'haproxy',
  summary: '`nbthread 1`, `mode tcp`, 5 s connect / 1 h client and server timeouts, no splicing, no logging',
  start(context) {
    const configPath = `${context.dir}/haproxy-l4.cfg`;
    writeFileSync(configPath, haproxyConfig(context));
    return started(context, 'haproxy', context.binaries.haproxy, ['-f', configPath, '-db']);
  },
};

export const TARGETS: readonly L4Target[] = [direct, fulcrum, haproxy];
