// least-connections: the endpoint with the fewest in-flight exchanges per unit of weight (weighted least
// connections, like NGINX `least_conn` and HAProxy `balance leastconn`); ties go round robin — the scan
// starts one past the last pick — so idle endpoints share work instead of the first taking it all. Use for
// variable request durations and long-lived connections. O(n) per pick. Property (least-connections.test.ts):
// every pick has the minimum inFlight/weight, and each tied endpoint is picked over repeated ties.
import { z } from 'zod';
import type { Plugin } from '../../core/registry.ts';
import type { Endpoint } from '../endpoint.ts';
import { isTried, type Balancer, type PickContext } from './types.ts';

export const schema = z.object({ algorithm: z.literal('least-connections') }).strict();
export type LeastConnectionsOptions = z.infer<typeof schema>;

export class LeastConnections implements Balancer {
  private endpoints: readonly Endpoint[];
  private weights: Float64Array;
  /** Where the next scan starts: one past the last pick. */
  private next: number;

  constructor() {
    this.endpoints = [];
    this.weights = new Float64Array(0);
    this.next = 0;
  }

  update(eligible: readonly Endpoint[]): void {
    this.endpoints = eligible;
    this.weights = new Float64Array(eligible.length);
    for (let i = 0; i < eligible.length; i++) this.weights[i] = eligible[i].effectiveWeight;
    if (this.next >= eligible.length) this.next = 0;
  }

  // HOT PATH: one pass; loads compared by cross-multiplication (a/wa < b/wb ⇔ a·wb < b·wa for wa, wb > 0),
  // so no division and exact ties.
  pick(ctx: PickContext): Endpoint | undefined {
    const list = this.endpoints;
    const weights = this.weights;
    const n = list.length;
    let best = -1;
    let bestInFlight = 0;
    let bestWeight = 0;
    let i = this.next;
    for (let k = 0; k < n; k++) {
      const e = list[i];
      const w = weights[i];
      if (w > 0 && !isTried(e, ctx) && (best < 0 || e.inFlight * bestWeight < bestInFlight * w)) {
        best = i;
        bestInFlight = e.inFlight;
        bestWeight = w;
      }
      i = i + 1 === n ? 0 : i + 1;
    }
    if (best < 0) return undefined;
    this.next = best + 1 === n ? 0 : best + 1;
    return list[best];
  }
}

export const leastConnections: Plugin<typeof schema, Balancer> = {
  name: 'least-connections',
  schema,
  create: () => new LeastConnections(),
};
