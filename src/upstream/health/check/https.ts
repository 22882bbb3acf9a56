// https: the http check over TLS — the same request, statuses and body match, with the endpoint's certificate
// verified (against `ca` or the system store, for `servername` or the endpoint's host name) unless `verify` is
// false. HAProxy `check-ssl`, Envoy's http_health_check on a TLS transport socket.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Plugin } from '../../../core/registry.ts';
import type { HealthCheck, HealthCheckDeps } from '../types.ts';
import { HttpCheck, schema as httpSchema } from './http.ts';

export const schema = httpSchema.extend({
  /** SNI and the name verified; default the endpoint's host when it is a name. */
  servername: z.string().min(1).optional(),
  /** PEM bundle of trusted CAs; default the system's. */
  ca: z.string().min(1).optional(),
  /** Verify the certificate chain and name. Default true. */
  verify: z.boolean().default(true),
});
export type HttpsCheckOptions = z.output<typeof schema>;

export const httpsCheck = {
  name: 'https',
  schema,
  create: (options: HttpsCheckOptions, deps: HealthCheckDeps) =>
    new HttpCheck(options, deps, { ca: options.ca === undefined ? undefined : readFileSync(options.ca), servername: options.servername, verify: options.verify }),
} as const satisfies Plugin<typeof schema, HealthCheck, HealthCheckDeps>;
