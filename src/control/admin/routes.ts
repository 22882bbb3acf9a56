// Routes (the L7 rules): GET /routes lists every listener's routes with their action and, for weighted
// forwards, the current split; PUT /routes/ROUTE/split re-weights one (a canary step or a blue-green flip)
// until the next reload — validated here, applied by Runtime.setSplit, which logs it.
import type { Runtime } from '../runtime.ts';
import { fail, ok, type AdminRoute } from './route.ts';

const example = 'expected a JSON body like {"pools": [{"pool": "blue", "weight": 0}, {"pool": "green", "weight": 100}]}';

/** The weights in a `{ "pools": [{ "pool", "weight" }] }` body, or the error to answer with. */
export function parseSplitBody(body: unknown): { pool: string; weight: number }[] | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return `${example}, found ${body === undefined ? 'no body' : JSON.stringify(body)}`;
  const extra = Object.keys(body).filter((k) => k !== 'pools');
  if (extra.length > 0) return `${example}: unknown field ${JSON.stringify(extra[0])}`;
  const pools = (body as { pools?: unknown }).pools;
  if (!Array.isArray(pools) || pools.length === 0) return `pools: ${example}`;
  const out: { pool: string; weight: number }[] = [];
  for (const [i, item] of pools.entries()) {
    const p = item as { pool?: unknown; weight?: unknown };
    if (typeof item !== 'object' || item === null || typeof p.pool !== 'string') return `pools[${i}].pool: expected a pool name`;
    if (typeof p.weight !== 'number' || !Number.isInteger(p.weight) || p.weight < 0 || p.weight > 1000) {
      return `pools[${i}].weight: expected an integer 0..1000, found ${JSON.stringify(p.weight ?? null)}`;
    }
    if (out.some((o) => o.pool === p.pool)) return `pools[${i}].pool: ${p.pool} named twice`;
    out.push({ pool: p.pool, weight: p.weight });
  }
  if (out.every((o) => o.weight === 0)) return 'pools: the weights must not all be 0';
  return out;
}

export function routeRoutes(rt: Runtime): AdminRoute[] {
  const describe = () =>
    [...rt.generation.listeners.entries()].flatMap(([listener, l]) =>
      l.routes.rules.map((r) => ({
        listener,
        name: r.name,
        action: r.respond !== null ? 'respond' : r.redirect !== null ? 'redirect' : 'forward',
        pool: r.pool?.name ?? null,
        split: r.split === null ? null : r.split.targets.map((t) => ({ pool: t.target.name, weight: t.weight })),
      })),
    );
  return [
    {
      path: '/routes',
      pattern: /^\/routes$/,
      methods: { GET: () => ok({ routes: describe() }) },
    },
    {
      path: '/routes/ROUTE/split',
      pattern: /^\/routes\/([^/]+)\/split$/,
      methods: {
        PUT: ({ params: [route], body }) => {
          const weights = parseSplitBody(body);
          if (typeof weights === 'string') return fail(400, weights);
          const error = rt.setSplit(route, weights);
          if (error !== null) return fail(error.startsWith('no route') ? 404 : 400, error);
          return ok({ route, split: weights });
        },
      },
    },
  ];
}
