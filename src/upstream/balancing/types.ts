// The Balancer interface (ARCHITECTURE.md "Plug-ins"): `pick` is the only hot-path verb. Picks are
// synchronous and allocation-free; tables are rebuilt in `update`, which runs only when the eligible set
// or weights change.
import type { Endpoint } from '../endpoint.ts';

/** Reused per exchange; never allocated per pick. */
export class PickContext {
  /** Endpoints whose `triedEpoch` equals this were already tried by this exchange and are skipped. */
  epoch: number;
  /** Client address after trusted-proxy resolution (for hash-based balancers). */
  clientAddress: string;
  /** A 32-bit hash of the request's balancing key (keys.ts), computed once per exchange when the pool hashes. */
  hash: number;
  /** False when the pool hashes but the request lacks the key: hash balancers then fall back (HAProxy does
   *  round robin in that case). */
  hasHash: boolean;

  constructor() {
    this.epoch = 0;
    this.clientAddress = '';
    this.hash = 0;
    this.hasHash = false;
  }
}

let nextEpoch = 1;
/** Starts a fresh exclusion set for one exchange. */
export function beginPick(ctx: PickContext): void {
  ctx.epoch = nextEpoch++;
  if (nextEpoch === 0x7fffffff) nextEpoch = 1;
}

export function isTried(e: Endpoint, ctx: PickContext): boolean {
  return e.triedEpoch === ctx.epoch;
}

export function markTried(e: Endpoint, ctx: PickContext): void {
  e.triedEpoch = ctx.epoch;
}

export interface Outcome {
  readonly ok: boolean;
  readonly latencyMs: number;
}

export interface Balancer {
  pick(ctx: PickContext): Endpoint | undefined;
  update(eligible: readonly Endpoint[]): void;
  observe?(endpoint: Endpoint, outcome: Outcome): void;
  /** Stops background work (agent polling) when the generation that owns the balancer is replaced. */
  close?(): void;
}
