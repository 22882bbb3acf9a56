export { direct } from './direct.ts';
export { fulcrum } from './fulcrum.ts';
export { haproxy } from './haproxy.ts';
export { nginx } from './nginx.ts';
export { nodeProxy } from './node-proxy.ts';
export type { RunningTarget, Target, TargetContext, Upstream } from './types.ts';
