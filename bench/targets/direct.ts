// wrk straight to the first backend: the ceiling the load side reaches with no proxy in between.
import { HOST } from '../net.ts';
import type { Target } from './types.ts';

export const direct: Target = {
  name: 'direct',
  summary: 'no proxy: wrk to the first backend',
  start(context) {
    const backend = context.upstreams[0];
    return Promise.resolve({ url: `http://${HOST}:${backend.port}`, measuredPid: undefined, launched: undefined });
  },
};
