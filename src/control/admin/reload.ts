// POST /reload: reload the config file (validate → build → swap); 200 with the new generation, or 400 with
// every error while the running generation keeps serving.
import type { Runtime } from '../runtime.ts';
import type { AdminRoute } from './route.ts';

export function reloadRoutes(rt: Runtime): AdminRoute[] {
  return [
    {
      path: '/reload',
      pattern: /^\/reload$/,
      methods: {
        POST: async () => {
          const r = await rt.reload();
          return { status: r.ok ? 200 : 400, body: r };
        },
      },
    },
  ];
}
