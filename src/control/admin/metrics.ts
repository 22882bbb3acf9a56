// GET /metrics: the Prometheus text format from observability/metrics.ts. prom-client is loaded on the first
// scrape, so a balancer nobody scrapes does not carry it (nor its event-loop and GC observers).
import type { Registry } from 'prom-client';
import type { Runtime } from '../runtime.ts';
import type { AdminRoute } from './route.ts';

export function metricsRoutes(rt: Runtime): AdminRoute[] {
  let registry: Promise<Registry> | null = null;
  return [
    {
      path: '/metrics',
      pattern: /^\/metrics$/,
      methods: {
        GET: async () => {
          registry ??= import('../../observability/metrics.ts').then((m) => m.createMetricsRegistry(rt));
          const r = await registry;
          return { status: 200, text: await r.metrics(), contentType: r.contentType };
        },
      },
    },
  ];
}
