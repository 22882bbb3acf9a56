// A bounded keyed store with expiry (HAProxy's stick table): at most `maxEntries` keys, each forgotten
// `ttlMs` after it was last written or read. No timer per key: expiry is checked on access, and inserting
// into a full table first drops expired entries from the oldest end, then the least recently used one.
// Map iteration order is insertion order, so re-inserting on access keeps the oldest entry first.

interface Entry<V> {
  value: V;
  expiresAt: number;
}

export class StickTable<V> {
  readonly maxEntries: number;
  readonly ttlMs: number;
  private readonly map: Map<string, Entry<V>>;
  private readonly now: () => number;

  constructor(maxEntries: number, ttlMs: number, now: () => number = Date.now) {
    this.maxEntries = maxEntries;
    this.ttlMs = ttlMs;
    this.map = new Map();
    this.now = now;
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    const t = this.now();
    if (entry.expiresAt <= t) {
      this.map.delete(key);
      return undefined;
    }
    // touch: move to the young end and extend
    this.map.delete(key);
    entry.expiresAt = t + this.ttlMs;
    this.map.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V): void {
    const t = this.now();
    const existing = this.map.get(key);
    if (existing !== undefined) this.map.delete(key);
    else if (this.map.size >= this.maxEntries) this.evict(t);
    this.map.set(key, { value, expiresAt: t + this.ttlMs });
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  private evict(t: number): void {
    // expired entries sit at the old end: drop them, then the least recently used if still full
    for (const [key, entry] of this.map) {
      if (entry.expiresAt > t) break;
      this.map.delete(key);
    }
    if (this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
  }
}
