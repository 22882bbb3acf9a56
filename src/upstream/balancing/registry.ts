// Every balancing algorithm is one file and one line here; the config schema is derived from this list.
import { roundRobin } from './round-robin.ts';
import { weightedRoundRobin } from './weighted-round-robin.ts';

export const balancerPlugins = [roundRobin, weightedRoundRobin] as const;
