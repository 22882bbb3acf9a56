// The three Fulcrum processes compared, identical but for the route's `rateLimit`: (a) none, (b) the memory
// store, (c) Redis. Each is `bin/fulcrum.js run <config>` as in `npm run bench`, with an admin listener whose
// /metrics proves that every request of (b) and (c) was checked. The limit, 1,000,000/s for the one client
// address wrk connects from, admits everything: the runs measure the check, not 429s.
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { freePort, HOST } from '../net.ts';
import { serve } from '../targets/serve.ts';
import type { RunningTarget, TargetContext } from '../targets/types.ts';

export type VariantName = 'none' | 'memory' | 'redis';

export interface Variant {
  readonly name: VariantName;
  /** One line for the docs: what the route's rateLimit is. */
  readonly summary: string;
  readonly rateLimit: (redisUrl: string) => string | undefined;
}

/** The policy name the metrics are read by. */
const POLICY = 'bench';
const LIMIT = '1000000/s';

export const VARIANTS: readonly Variant[] = [
  { name: 'none', summary: 'no `rateLimit`', rateLimit: () => undefined },
  {
    name: 'memory',
    summary: `\`rateLimit: { limit: ${LIMIT} }\`: sliding-window-counter, key client-ip, memory store`,
    rateLimit: () => `{ name: ${POLICY}, limit: ${LIMIT} }`,
  },
  {
    name: 'redis',
    summary: `the same with \`store: { redis: { url, failOpen: false } }\` (timeout 50ms): a Redis failure shows as a 429, never as a local decision`,
    rateLimit: (url) => `{ name: ${POLICY}, limit: ${LIMIT}, store: { redis: { url: "${url}", failOpen: false } } }`,
  },
];

export interface RunningVariant {
  readonly variant: Variant;
  readonly running: RunningTarget;
  readonly adminPort: number;
}

function config(variant: Variant, context: TargetContext, adminPort: number, redisUrl: string): string {
  const endpoints = context.upstreams.map((u) => `        - { address: ${u.host}:${u.port} }`).join('\n');
  const rateLimit = variant.rateLimit(redisUrl);
  const route = rateLimit === undefined ? '{ forward: { pool: backends } }' : `{ rateLimit: ${rateLimit}, forward: { pool: backends } }`;
  return `listeners:
  - name: bench
    address: ${HOST}:${context.port}
    routes: [${route}]
pools:
  - name: backends
    balancer: { algorithm: round-robin }
    endpoints:
${endpoints}
admin: { address: ${HOST}:${adminPort} }
`;
}

export async function startVariant(variant: Variant, context: TargetContext, redisUrl: string): Promise<RunningVariant> {
  const adminPort = await freePort();
  const configPath = `${context.dir}/fulcrum-${variant.name}.yaml`;
  writeFileSync(configPath, config(variant, context, adminPort, redisUrl));
  const running = await serve(context, `fulcrum-${variant.name}`, context.node, [`${context.root}/bin/fulcrum.js`, 'run', configPath]);
  return { variant, running, adminPort };
}

/** The policy's counters, summed over routes: requests by result, and Redis failures. */
export interface Checked {
  readonly admitted: number;
  readonly rejected: number;
  readonly failures: number;
}

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, timeout: 5000 }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => (response.statusCode === 200 ? resolve(text) : reject(new Error(`GET ${url}: ${response.statusCode}`))));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url}: no answer within 5 s`)));
    request.on('error', reject);
  });
}

function sum(text: string, metric: string, labels: Readonly<Record<string, string>>): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const inside = line.slice(metric.length + 1, line.indexOf('}'));
    if (Object.entries(labels).every(([k, v]) => inside.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

export async function readChecked(live: RunningVariant): Promise<Checked> {
  const text = await get(`http://${HOST}:${live.adminPort}/metrics`);
  const requests = 'fulcrum_ratelimit_requests_total';
  return {
    admitted: sum(text, requests, { policy: POLICY, result: 'admitted' }),
    rejected: sum(text, requests, { policy: POLICY, result: 'rejected' }),
    failures: sum(text, 'fulcrum_ratelimit_store_failures_total', { policy: POLICY }),
  };
}
