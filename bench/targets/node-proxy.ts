// A Node.js proxy from bench/proxies/, run by the project's Node.js as its own process.
import { serve } from './serve.ts';
import type { Target } from './types.ts';

export function nodeProxy(name: string, summary: string): Target {
  return {
    name,
    summary,
    protocols: ['http'],
    start(context) {
      const upstreams = context.upstreams.map((u) => `${u.host}:${u.port}`);
      const script = `${context.root}/bench/proxies/${name}.ts`;
      return serve(context, name, context.node, [script, String(context.port), ...upstreams]);
    },
  };
}
