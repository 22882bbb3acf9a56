// Operator verbs on one endpoint (HAProxy's runtime API `set server … state` and `set server … weight`):
// POST /pools/POOL/endpoints/ADDRESS/drain|enable|disable and PUT /pools/POOL/endpoints/ADDRESS/weight.
// Validation happens here; the change itself is a Runtime verb, which logs it.
import { endpointStateNames } from '../../upstream/endpoint.ts';
import type { Runtime } from '../runtime.ts';
import { fail, ok, type AdminRoute } from './route.ts';

/** Weights are integers 0..256, as in the config (HAProxy's range). */
export const maxWeight = 256;

/** The weight in a `{ "weight": N }` body, or the error to answer with. */
export function parseWeightBody(body: unknown): number | string {
  const example = 'expected a JSON body like {"weight": 5}';
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return `${example}, found ${body === undefined ? 'no body' : JSON.stringify(body)}`;
  const extra = Object.keys(body).filter((k) => k !== 'weight');
  if (extra.length > 0) return `${example}: unknown field ${JSON.stringify(extra[0])}`;
  const weight = (body as { weight?: unknown }).weight;
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > maxWeight) {
    return `weight: expected an integer 0..${maxWeight}, found ${weight === undefined ? 'nothing' : JSON.stringify(weight)}`;
  }
  return weight;
}

/** `{ "address": "host:port", "weight": N }` (weight optional, default 1), or the error to answer with. */
export function parseAddBody(body: unknown): { address: string; weight: number } | string {
  const example = 'expected a JSON body like {"address": "10.0.0.5:8080", "weight": 1}';
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return `${example}, found ${body === undefined ? 'no body' : JSON.stringify(body)}`;
  const extra = Object.keys(body).filter((k) => k !== 'address' && k !== 'weight');
  if (extra.length > 0) return `${example}: unknown field ${JSON.stringify(extra[0])}`;
  const { address, weight = 1 } = body as { address?: unknown; weight?: unknown };
  if (typeof address !== 'string') return `address: ${example}`;
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > maxWeight) return `weight: expected an integer 0..${maxWeight}, found ${JSON.stringify(weight)}`;
  return { address, weight };
}

export function endpointRoutes(rt: Runtime): AdminRoute[] {
  return [
    {
      path: '/pools/POOL/endpoints',
      pattern: /^\/pools\/([^/]+)\/endpoints$/,
      methods: {
        POST: async ({ params: [pool], body }) => {
          const add = parseAddBody(body);
          if (typeof add === 'string') return fail(400, add);
          const r = await rt.changeEndpoints(pool, { add });
          return r.ok ? { status: 201, body: { ok: true, pool, address: add.address, weight: add.weight, generation: r.generation } } : { status: 400, body: r };
        },
      },
    },
    {
      path: '/pools/POOL/endpoints/ADDRESS',
      pattern: /^\/pools\/([^/]+)\/endpoints\/([^/]+)$/,
      methods: {
        DELETE: async ({ params: [pool, address] }) => {
          const r = await rt.changeEndpoints(pool, { remove: address });
          return r.ok ? ok({ pool, address, removed: true, generation: r.generation }) : { status: 400, body: r };
        },
      },
    },
    {
      path: '/pools/POOL/endpoints/ADDRESS/drain|enable|disable',
      pattern: /^\/pools\/([^/]+)\/endpoints\/([^/]+)\/(drain|enable|disable)$/,
      methods: {
        POST: ({ params: [pool, address, verb] }) => {
          const error = rt.setEndpointState(pool, address, verb as 'drain' | 'enable' | 'disable');
          if (error !== null) return fail(404, error);
          const e = rt.generation.pools.get(pool)!.endpoints.find((x) => x.key === address)!;
          return ok({ pool, address, state: endpointStateNames[e.state] });
        },
      },
    },
    {
      path: '/pools/POOL/endpoints/ADDRESS/weight',
      pattern: /^\/pools\/([^/]+)\/endpoints\/([^/]+)\/weight$/,
      methods: {
        PUT: ({ params: [pool, address], body }) => {
          const weight = parseWeightBody(body);
          if (typeof weight === 'string') return fail(400, weight);
          const error = rt.setEndpointWeight(pool, address, weight);
          return error === null ? ok({ pool, address, weight }) : fail(404, error);
        },
      },
    },
  ];
}
