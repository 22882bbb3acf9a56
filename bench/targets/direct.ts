// wrk (or h2load) straight to the first backend: the ceiling the load side reaches with no proxy in between.
// For TLS and HTTP/2 the backend NGINX serves the same paths on extra ports (`listen … ssl http2`, `listen … http2`).
import { HOST } from '../net.ts';
import type { Target } from './types.ts';

export const direct: Target = {
  name: 'direct',
  summary: 'no proxy: wrk (h2load for HTTP/2) to the first backend',
  protocols: ['http', 'https', 'h2c', 'h2'],
  start(context) {
    const protocol = context.protocol ?? 'http';
    const url = protocol === 'http' ? `http://${HOST}:${context.upstreams[0].port}` : context.backendOrigins?.[protocol];
    if (url === undefined) return Promise.reject(new Error(`the backends do not serve ${protocol}`));
    return Promise.resolve({ url, measuredPid: undefined, launched: undefined });
  },
};
