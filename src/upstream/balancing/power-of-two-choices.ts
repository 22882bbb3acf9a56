// power-of-two-choices: draw two distinct untried endpoints at random and take the one with fewer in-flight
// exchanges per unit of weight (ties: the first drawn, itself random). Mitzenmacher, "The Power of Two Choices
// in Randomized Load Balancing" (IEEE TPDS 2001): the maximum load falls from Θ(log n / log log n) to
// Θ(log log n). Envoy's `LEAST_REQUEST` uses it (choice_count 2). Property (power-of-two-choices.test.ts): in
// a queueing simulation at high load its peak in-flight is at most half of `random`'s.
import { z } from 'zod';
import type { Plugin } from '../../core/registry.ts';
import { Random } from '../../core/random.ts';
import type { Endpoint } from '../endpoint.ts';
import { isTried, type Balancer, type PickContext } from './types.ts';

export const schema = z.object({ algorithm: z.literal('power-of-two-choices') }).strict();
export type PowerOfTwoChoicesOptions = z.infer<typeof schema>;

/** Draws two distinct untried indexes into `first`/`second` without allocating; shared with peak-ewma. */
export class TwoChoices {
  first: number;
  second: number;
  private readonly rng: Random;

  constructor(rng: Random) {
    this.first = -1;
    this.second = -1;
    this.rng = rng;
  }

  // HOT PATH: two draws when both are untried (always, on a first try). Otherwise two distinct draws by rank
  // among the untried. Returns how many were drawn: 0 (none untried), 1 or 2.
  draw(list: readonly Endpoint[], ctx: PickContext): number {
    const n = list.length;
    const rng = this.rng;
    if (n === 0) return 0;
    if (n === 1) {
      this.first = 0;
      return isTried(list[0], ctx) ? 0 : 1;
    }
    const a = rng.below(n);
    let b = rng.below(n - 1);
    if (b >= a) b++;
    if (!isTried(list[a], ctx) && !isTried(list[b], ctx)) {
      this.first = a;
      this.second = b;
      return 2;
    }
    let untried = 0;
    for (let i = 0; i < n; i++) if (!isTried(list[i], ctx)) untried++;
    if (untried === 0) return 0;
    if (untried === 1) {
      this.first = nthUntried(list, ctx, 0);
      return 1;
    }
    const ra = rng.below(untried);
    let rb = rng.below(untried - 1);
    if (rb >= ra) rb++;
    this.first = nthUntried(list, ctx, ra);
    this.second = nthUntried(list, ctx, rb);
    return 2;
  }
}

function nthUntried(list: readonly Endpoint[], ctx: PickContext, rank: number): number {
  for (let i = 0; i < list.length; i++) {
    if (isTried(list[i], ctx)) continue;
    if (rank === 0) return i;
    rank--;
  }
  return -1;
}

/** In-flight exchanges per unit of weight; weight 0 (no new work) costs infinitely much. */
export function loadOf(e: Endpoint, weight: number): number {
  return weight > 0 ? e.inFlight / weight : Infinity;
}

export class PowerOfTwoChoices implements Balancer {
  private endpoints: readonly Endpoint[];
  private weights: Float64Array;
  private readonly choices: TwoChoices;

  constructor(rng: Random = new Random()) {
    this.endpoints = [];
    this.weights = new Float64Array(0);
    this.choices = new TwoChoices(rng);
  }

  update(eligible: readonly Endpoint[]): void {
    this.endpoints = eligible;
    this.weights = new Float64Array(eligible.length);
    for (let i = 0; i < eligible.length; i++) this.weights[i] = eligible[i].effectiveWeight;
  }

  // HOT PATH: two draws and one comparison.
  pick(ctx: PickContext): Endpoint | undefined {
    const list = this.endpoints;
    const c = this.choices;
    const drawn = c.draw(list, ctx);
    if (drawn === 0) return undefined;
    const a = c.first;
    if (this.weights[a] <= 0 && drawn === 1) return undefined;
    if (drawn === 1) return list[a];
    const b = c.second;
    const la = loadOf(list[a], this.weights[a]);
    const lb = loadOf(list[b], this.weights[b]);
    if (lb < la) return list[b];
    return la === Infinity ? undefined : list[a];
  }
}

export const powerOfTwoChoices: Plugin<typeof schema, Balancer> = {
  name: 'power-of-two-choices',
  schema,
  create: () => new PowerOfTwoChoices(),
};
