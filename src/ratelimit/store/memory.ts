// The memory store: one per policy, per process. At most `maxKeys` states, least recently used evicted first;
// no timer per key — a state whose `expiresAtMs` has passed is as good as fresh, so it is reinitialised in
// place when its key comes back, and every new key first drops up to two expired states from the old end
// (HAProxy stick tables expire the same way, on access). A Map iterates in insertion order; re-inserting on use
// keeps it LRU:
//
//   oldest ── k7 ── k2 ── k9 ── … ── k4 ── newest        lookup(k2): delete + set → k2 moves to the newest end
//
// Evicted states are reused for the next new key, so a full store allocates nothing per request.

/** A per-key state: the algorithm sets `expiresAtMs` to the time its state equals a fresh one. */
export interface Expiring {
  expiresAtMs: number;
}

/** Default bound on keys per policy. */
export const defaultMaxKeys = 100_000;

export class MemoryStore<S extends Expiring> {
  readonly maxKeys: number;
  /** States dropped to make room for a new key while still live (the LRU bound at work). */
  evictions: number;
  /** Set by `lookup`: the state returned must be initialised. */
  fresh: boolean;
  private readonly map: Map<string, S>;
  private readonly create: () => S;
  private spare: S | null;

  constructor(maxKeys: number, create: () => S) {
    this.maxKeys = maxKeys;
    this.evictions = 0;
    this.fresh = false;
    this.map = new Map();
    this.create = create;
    this.spare = null;
  }

  get size(): number {
    return this.map.size;
  }

  // HOT PATH: a Map get, and a delete + set to keep LRU order.
  /**
   * The state of `key`, now the most recently used. `fresh` tells the caller to initialise it: the key is new
   * (its state recycled when one is spare) or its state has expired (reused in place).
   */
  lookup(key: string, nowMs: number): S {
    const state = this.map.get(key);
    if (state !== undefined) {
      this.map.delete(key);
      this.map.set(key, state);
      this.fresh = state.expiresAtMs <= nowMs;
      return state;
    }
    this.fresh = true;
    return this.insert(key, nowMs);
  }

  private insert(key: string, nowMs: number): S {
    this.sweep(nowMs);
    let state = this.spare;
    this.spare = null;
    if (this.map.size >= this.maxKeys) {
      const oldest = this.map.keys().next().value as string;
      const evicted = this.map.get(oldest) as S;
      this.map.delete(oldest);
      if (evicted.expiresAtMs > nowMs) this.evictions++;
      state ??= evicted;
    }
    state ??= this.create();
    this.map.set(key, state);
    return state;
  }

  /** Whether `key` holds a live state (tests). Does not touch LRU order. */
  has(key: string, nowMs: number): boolean {
    const state = this.map.get(key);
    return state !== undefined && state.expiresAtMs > nowMs;
  }

  /** Drops up to two expired states from the old end, so the store shrinks as keys go quiet. */
  private sweep(nowMs: number): void {
    for (let i = 0; i < 2 && this.map.size > 0; i++) {
      const oldest = this.map.keys().next().value as string;
      const state = this.map.get(oldest) as S;
      if (state.expiresAtMs > nowMs) return;
      this.map.delete(oldest);
      this.spare ??= state;
    }
  }
}
