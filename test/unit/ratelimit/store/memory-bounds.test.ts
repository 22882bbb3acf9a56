// The memory store's bounds under a flood of distinct keys (docs/rate-limiting.md "Memory store bounds"), each
// algorithm through its real limiter: 1,000,000 distinct keys under maxKeys 1,000 never hold more than 1,000,
// evict the least recently used, and leave the heap within 8 MB of what 1,000 keys take; with every key held,
// the heap per key stays within the documented figure — 1,000,000 keys for the default sliding-window-counter,
// 200,000 for the other four (1M of each would take ~15 s more). A new key in a full store costs the same at
// maxKeys 100,000 as at 1,000 (the LRU order is a linked list, not Map re-insertion, whose deleted slots made
// finding the oldest key O(maxKeys)).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { RateLimitPolicy } from '../../../../src/ratelimit/policy.ts';
import type { MemoryStore, StoreEntry } from '../../../../src/ratelimit/store/memory.ts';
import { policy, take } from '../helpers.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const base = 1_700_000_000_000;

interface Case {
  readonly algorithm: string;
  readonly options: Record<string, unknown>;
  /** Keys in the footprint run, all held (maxKeys = keys). */
  readonly keys: number;
  /** Heap per key documented in docs/rate-limiting.md (100,000 IPv4 keys, a fresh key string each). */
  readonly documentedBytes: number;
  /** Takes per key in the footprint run: the log is documented with 10 stamps (a buffer of 16). */
  readonly stamps: number;
}

const cases: readonly Case[] = [
  { algorithm: 'sliding-window-counter', options: {}, keys: 1_000_000, documentedBytes: 157, stamps: 1 },
  { algorithm: 'token-bucket', options: {}, keys: 200_000, documentedBytes: 173, stamps: 1 },
  { algorithm: 'leaky-bucket', options: { maxDelay: 0 }, keys: 200_000, documentedBytes: 173, stamps: 1 },
  { algorithm: 'fixed-window', options: {}, keys: 200_000, documentedBytes: 157, stamps: 1 },
  { algorithm: 'sliding-window-log', options: {}, keys: 200_000, documentedBytes: 250 + 8 * 16, stamps: 10 },
];

// A measured figure may exceed the documented one by this much (GC and Map-capacity noise) before the test fails.
const tolerance = 1.1;

/** Key text as the data plane gets it from a socket: a fresh, flat string (not a concatenation) per call. */
const scratch = Buffer.alloc(16);
function ipv4(i: number): string {
  const n = scratch.write(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 'latin1');
  return scratch.toString('latin1', 0, n);
}

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function storeOf(p: RateLimitPolicy): MemoryStore<StoreEntry> {
  return p.limiter.store as MemoryStore<StoreEntry>;
}

// Every state stays live for minutes (a bucket refills one unit in 6 min), so every eviction drops a live key;
// 10 per window leaves room for the log's 10 stamps.
const limit = '10/h';

describe('memory store: the maxKeys bound under a flood of distinct keys', () => {
  const maxKeys = 1_000;
  const keys = 1_000_000;
  for (const c of cases) {
    it(`${c.algorithm}: ${keys.toLocaleString('en-US')} distinct keys, never more than ${maxKeys} held, least recently used evicted, heap bounded`, (t) => {
      const p = policy({ limit, algorithm: c.algorithm, ...c.options, maxKeys });
      const store = storeOf(p);
      const before = heapUsed();
      // a key seen first and again every 500 keys is never the least recently used: it outlives the flood
      const hot = '192.0.2.1';
      let most = 0;
      for (let k = 0; k < keys; k++) {
        if (k % 500 === 0) take(p, hot, base + (k >> 10));
        take(p, ipv4(k), base + (k >> 10));
        if (store.size > most) most = store.size;
      }
      const grown = heapUsed() - before;
      t.diagnostic(`heap grew ${(grown / 1e6).toFixed(2)} MB over ${keys} keys`);
      const now = base + (keys >> 10);
      assert.equal(most, maxKeys);
      assert.equal(store.evictions, keys + 1 - maxKeys);
      // held: the hot key and the newest maxKeys − 1 others
      assert.equal(store.has(hot, now), true);
      assert.equal(store.has(ipv4(keys - 1), now), true);
      assert.equal(store.has(ipv4(keys - maxKeys + 1), now), true);
      assert.equal(store.has(ipv4(keys - maxKeys), now), false);
      assert.equal(store.has(ipv4(0), now), false);
      // what maxKeys states take, with 8 MB of slack for the heap's own churn (seen: −4.5 to +0.5 MB); every key
      // kept would be over 100 MB
      const allowed = maxKeys * c.documentedBytes * tolerance + 8_000_000;
      assert.ok(grown < allowed, `heap grew ${grown} bytes over ${keys} keys, allowed ${allowed}`);
      p.close();
    });
  }
});

describe('memory store: bytes per key with every key held', () => {
  for (const c of cases) {
    const what = c.stamps > 1 ? `, ${c.stamps} stamps each` : '';
    it(`${c.algorithm}: ${c.keys.toLocaleString('en-US')} keys under maxKeys ${c.keys.toLocaleString('en-US')}${what}, all held, within ${c.documentedBytes} bytes per key (+10%)`, (t) => {
      const p = policy({ limit, algorithm: c.algorithm, ...c.options, maxKeys: c.keys });
      const store = storeOf(p);
      const before = heapUsed();
      for (let k = 0; k < c.keys; k++) {
        const key = ipv4(k);
        for (let j = 0; j < c.stamps; j++) take(p, key, base + j);
      }
      const perKey = (heapUsed() - before) / c.keys;
      t.diagnostic(`${perKey.toFixed(1)} bytes per key`);
      assert.equal(store.size, c.keys);
      assert.equal(store.evictions, 0);
      assert.equal(store.has(ipv4(0), base + c.stamps), true);
      assert.ok(perKey <= c.documentedBytes * tolerance, `${perKey.toFixed(1)} bytes per key, documented ${c.documentedBytes}`);
      // a Map entry, the key text and a state cannot take less: below this nothing was measured
      assert.ok(perKey >= 64, `${perKey.toFixed(1)} bytes per key is too little to hold the key`);
      p.close();
    });
  }
});

describe('memory store: cost of a new key in a full store', () => {
  /** ns per new key once `maxKeys` keys are held and `evictions` more have arrived. */
  function nsPerNewKey(maxKeys: number, evictions: number): number {
    const p = policy({ limit, maxKeys });
    for (let k = 0; k < maxKeys; k++) take(p, ipv4(k), base);
    const keys = Array.from({ length: evictions }, (_, i) => ipv4(maxKeys + i));
    const started = process.hrtime.bigint();
    for (const key of keys) take(p, key, base);
    const ns = Number(process.hrtime.bigint() - started) / evictions;
    assert.equal(storeOf(p).size, maxKeys);
    p.close();
    return ns;
  }

  // Map iterators step over deleted entries one by one, so taking the oldest key after many evictions from the
  // front costs O(evictions since the table was last rebuilt): 10–100 µs per new key at maxKeys 100,000, ~1 µs
  // at 1,000. A key flood then costs the data plane CPU in proportion to maxKeys.
  it('costs about the same at maxKeys 100,000 as at 1,000', () => {
    nsPerNewKey(1_000, 5_000); // warm-up
    const small = nsPerNewKey(1_000, 30_000);
    const large = nsPerNewKey(100_000, 30_000);
    assert.ok(large < small * 8, `${large.toFixed(0)} ns per new key at maxKeys 100,000, ${small.toFixed(0)} ns at 1,000`);
  });
});
