// Every balancing algorithm is one file and one line here; the config schema is derived from this list.
import { leastConnections } from './least-connections.ts';
import { leastResponseTime } from './least-response-time.ts';
import { peakEwma } from './peak-ewma.ts';
import { powerOfTwoChoices } from './power-of-two-choices.ts';
import { random } from './random.ts';
import { roundRobin } from './round-robin.ts';
import { weightedRandom } from './weighted-random.ts';
import { weightedRoundRobin } from './weighted-round-robin.ts';
import { hash } from './hash.ts';
import { maglev } from './maglev.ts';
import { rendezvous } from './rendezvous.ts';
import { resourceBased } from './resource-based.ts';
import { ringHash } from './ring-hash.ts';

export const balancerPlugins = [roundRobin, weightedRoundRobin, random, weightedRandom, powerOfTwoChoices, leastConnections, leastResponseTime, peakEwma, hash, ringHash, maglev, rendezvous, resourceBased] as const;
