// least-connections: the endpoint with the fewest in-flight exchanges per unit of weight (weighted least
// connections, like NGINX `least_conn` and HAProxy `balance leastconn`); ties go round robin — the first tied
// endpoint from one past the last pick — so idle endpoints share work instead of the first taking it all.
// Use for variable request durations and long-lived connections. O(log n) per pick and per in-flight change:
// loads live in a tournament tree (load-tree.ts) kept current through `Endpoint.loadHook`. Property
// (least-connections.test.ts): every pick has the minimum inFlight/weight, and each tied endpoint is picked
// over repeated ties.
import { z } from 'zod';
import type { Plugin } from '../../core/registry.ts';
import type { Endpoint } from '../endpoint.ts';
import { LoadHooks, LoadTree } from './load-tree.ts';
import { isTried, type Balancer, type PickContext } from './types.ts';

export const schema = z.object({ algorithm: z.literal('least-connections') }).strict();
export type LeastConnectionsOptions = z.infer<typeof schema>;

export class LeastConnections implements Balancer {
  private endpoints: readonly Endpoint[];
  /** Per slot: inFlight / effectiveWeight as of the last hook call; weight-0 slots are absent. */
  private readonly tree: LoadTree;
  private readonly hooks: LoadHooks;
  /** Slots hidden from the tree during one pick because the exchange already tried them. */
  private hidden: Int32Array;
  /** Where ties start: one past the last pick. */
  private next: number;

  constructor() {
    this.endpoints = [];
    this.tree = new LoadTree();
    this.hooks = new LoadHooks();
    this.hidden = new Int32Array(0);
    this.next = 0;
  }

  update(eligible: readonly Endpoint[]): void {
    this.endpoints = eligible;
    this.hidden = new Int32Array(eligible.length);
    this.hooks.attach(eligible, (slot) => (e) => {
      if (this.endpoints[slot] === e) this.tree.setNum(slot, e.inFlight);
    });
    this.load();
    if (this.next >= eligible.length) this.next = 0;
  }

  close(): void {
    this.hooks.release();
  }

  // HOT PATH: the tree's first minimum from `next`; an already tried one (a retry) is hidden and the tree asked
  // again, so the cost is O((k + 1) log n) for k tried endpoints that beat the untried minimum.
  pick(ctx: PickContext): Endpoint | undefined {
    if (!this.hooks.heardAll()) this.load(); // hooks changed hands (a reload; load-tree.ts): re-read
    const list = this.endpoints;
    let i = this.tree.first(this.next);
    if (i >= 0 && isTried(list[i], ctx)) i = this.firstUntried(ctx, i);
    if (i < 0) return undefined;
    this.next = i + 1 === list.length ? 0 : i + 1;
    return list[i];
  }

  private firstUntried(ctx: PickContext, i: number): number {
    const tree = this.tree;
    const list = this.endpoints;
    let hidden = 0;
    while (i >= 0 && isTried(list[i], ctx)) {
      tree.remove(i);
      this.hidden[hidden++] = i;
      i = tree.first(this.next);
    }
    while (hidden > 0) tree.insert(this.hidden[--hidden]);
    return i;
  }

  /** Reads every load into a fresh tree: O(n). */
  private load(): void {
    const list = this.endpoints;
    const tree = this.tree;
    tree.reset(list.length);
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      const w = e.effectiveWeight;
      if (w > 0) tree.place(i, e.inFlight, w);
    }
    tree.build();
  }
}

export const leastConnections: Plugin<typeof schema, Balancer> = {
  name: 'least-connections',
  schema,
  create: () => new LeastConnections(),
};
