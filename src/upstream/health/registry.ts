// Every health check is one file and one line here; the `health` config option is derived from this list
// (one optional key per check name, exactly one of them set).
import { grpcCheck } from './check/grpc.ts';
import { httpCheck } from './check/http.ts';
import { httpsCheck } from './check/https.ts';
import { tcp } from './check/tcp.ts';

export const healthCheckPlugins = [tcp, httpCheck, httpsCheck, grpcCheck] as const;
export type HealthCheckName = (typeof healthCheckPlugins)[number]['name'];
