// The memory store: one per policy, per process. At most `maxKeys` states, least recently used evicted first;
// no timer per key — a state whose `expiresAtMs` has passed is as good as fresh, so it is reinitialised in
// place when its key comes back, and every new key first drops up to two expired states from the old end
// (HAProxy stick tables expire the same way, on access). The LRU order is a doubly linked list threaded
// through the states themselves, so a hit, an eviction and a sweep are O(1) and touch no Map entry:
//
//   oldest ── k7 ⇄ k2 ⇄ k9 ⇄ … ⇄ k4 ── newest        lookup(k2): unlink, relink at the newest end
//
// (Re-inserting into the Map on every hit would keep it ordered too, but V8's Map leaves a deleted slot per
// delete until it rehashes, and finding the oldest key then walks past them: O(maxKeys) per new key once full.)
// Evicted states are reused for the next new key, so a full store allocates nothing per request.

/** What every per-key state extends: the algorithm sets `expiresAtMs` to the time its state equals a fresh one;
 *  the store keeps the LRU links. Fields set in the constructor, so they sit in the object itself. */
export class StoreEntry {
  expiresAtMs: number;
  lruKey: string;
  lruPrev: StoreEntry | null;
  lruNext: StoreEntry | null;
  constructor() {
    this.expiresAtMs = 0;
    this.lruKey = '';
    this.lruPrev = null;
    this.lruNext = null;
  }
}

/** Default bound on keys per policy. */
export const defaultMaxKeys = 100_000;

export class MemoryStore<S extends StoreEntry> {
  readonly maxKeys: number;
  /** States dropped to make room for a new key while still live (the LRU bound at work). */
  evictions: number;
  /** Set by `lookup`: the state returned must be initialised. */
  fresh: boolean;
  private readonly map: Map<string, S>;
  private readonly create: () => S;
  private spare: (S) | null;
  private oldest: (S) | null;
  private newest: (S) | null;

  constructor(maxKeys: number, create: () => S) {
    this.maxKeys = maxKeys;
    this.evictions = 0;
    this.fresh = false;
    this.map = new Map();
    this.create = create;
    this.spare = null;
    this.oldest = null;
    this.newest = null;
  }

  get size(): number {
    return this.map.size;
  }

  // HOT PATH: a Map get and a relink at the newest end.
  /**
   * The state of `key`, now the most recently used. `fresh` tells the caller to initialise it: the key is new
   * (its state recycled when one is spare) or its state has expired (reused in place).
   */
  lookup(key: string, nowMs: number): S {
    const state = this.map.get(key);
    if (state !== undefined) {
      if (state !== this.newest) {
        this.unlink(state);
        this.append(state);
      }
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
      const evicted = this.oldest!;
      this.drop(evicted);
      if (evicted.expiresAtMs > nowMs) this.evictions++;
      state ??= evicted;
    }
    state ??= this.create();
    state.lruKey = key;
    this.map.set(key, state);
    this.append(state);
    return state;
  }

  /** Whether `key` holds a live state (tests). Does not touch LRU order. */
  has(key: string, nowMs: number): boolean {
    const state = this.map.get(key);
    return state !== undefined && state.expiresAtMs > nowMs;
  }

  /** Keys from the least to the most recently used (tests). */
  keysOldestFirst(): string[] {
    const keys: string[] = [];
    for (let s: StoreEntry | null = this.oldest; s !== null; s = s.lruNext) keys.push(s.lruKey);
    return keys;
  }

  /** Drops up to two expired states from the old end, so the store shrinks as keys go quiet. */
  private sweep(nowMs: number): void {
    for (let i = 0; i < 2; i++) {
      const state = this.oldest;
      if (state === null || state.expiresAtMs > nowMs) return;
      this.drop(state);
      this.spare ??= state;
    }
  }

  private drop(state: S): void {
    this.map.delete(state.lruKey);
    this.unlink(state);
    state.lruKey = '';
  }

  private unlink(state: S): void {
    const prev = state.lruPrev as (S) | null;
    const next = state.lruNext as (S) | null;
    if (prev === null) this.oldest = next;
    else prev.lruNext = next;
    if (next === null) this.newest = prev;
    else next.lruPrev = prev;
    state.lruPrev = null;
    state.lruNext = null;
  }

  private append(state: S): void {
    const last = this.newest;
    state.lruPrev = last;
    state.lruNext = null;
    if (last === null) this.oldest = state;
    else last.lruNext = state;
    this.newest = state;
  }
}
