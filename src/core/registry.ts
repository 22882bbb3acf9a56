// The one shape every pluggable piece takes: a balancing algorithm, a health check, a rate limiter, a filter,
// an endpoint source. `name` is the config value, the file name, the metric label and the docs anchor;
// `schema` is merged into the config schema; `create` runs when a generation is built, never per request.
import type { z } from 'zod';

export interface Plugin<Schema extends z.ZodType, Instance, Deps = void> {
  readonly name: string;
  readonly schema: Schema;
  create(options: z.infer<Schema>, deps: Deps): Instance;
}

/** Looks a plugin up by name; the config schema already guarantees it exists. */
export function pluginByName<P extends { readonly name: string }>(plugins: readonly P[], name: string): P {
  for (const p of plugins) if (p.name === name) return p;
  throw new Error(`unknown plugin ${JSON.stringify(name)}`);
}
