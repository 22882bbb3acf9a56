// The memory store: never more than maxKeys states, the least recently used evicted first, expired states
// recycled (no timer), and a policy's memory bounded the same way.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MemoryStore, StoreEntry } from '../../../../src/ratelimit/store/memory.ts';
import { pattern, policy, storeSize, take } from '../helpers.ts';

class S extends StoreEntry {
  n = 0;
}

function put(store: MemoryStore<S>, key: string, now: number, ttl = 1000): S {
  const s = store.lookup(key, now);
  s.expiresAtMs = now + ttl;
  return s;
}

describe('memory store', () => {
  it('evicts the least recently used key beyond maxKeys', () => {
    const store = new MemoryStore(3, () => new S());
    for (const k of ['a', 'b', 'c']) put(store, k, 0);
    put(store, 'a', 1); // a is now the most recent: b is the oldest
    put(store, 'd', 2);
    assert.equal(store.size, 3);
    assert.deepEqual(['a', 'b', 'c', 'd'].map((k) => store.has(k, 2)), [true, false, true, true]);
    assert.equal(store.evictions, 1);
  });

  it('says when a state must be initialised: a new key, or an expired state (reused in place)', () => {
    let created = 0;
    const store = new MemoryStore(10, () => {
      created++;
      return new S();
    });
    const first = store.lookup('a', 0);
    assert.equal(store.fresh, true);
    first.expiresAtMs = 100;
    assert.equal(store.lookup('a', 99), first);
    assert.equal(store.fresh, false);
    assert.equal(store.lookup('a', 100), first);
    assert.equal(store.fresh, true);
    assert.equal(created, 1);
  });

  it('drops expired states from the old end as new keys arrive', () => {
    const store = new MemoryStore(100, () => new S());
    for (let i = 0; i < 10; i++) put(store, `old${i}`, 0, 100);
    for (let i = 0; i < 5; i++) put(store, `new${i}`, 200, 100);
    // each new key dropped up to two expired ones
    assert.equal(store.size, 5);
  });

  it('reuses evicted states: a full store allocates nothing more', () => {
    let created = 0;
    const store = new MemoryStore(50, () => {
      created++;
      return new S();
    });
    for (let i = 0; i < 10_000; i++) put(store, `k${i}`, i, 1_000_000);
    assert.equal(store.size, 50);
    assert.equal(created, 50);
  });
});

describe('memory store under a policy', () => {
  for (const algorithm of ['token-bucket', 'leaky-bucket', 'fixed-window', 'sliding-window-log', 'sliding-window-counter']) {
    it(`${algorithm}: holds at most maxKeys keys, and an evicted key starts fresh`, () => {
      const p = policy({ limit: '2/min', algorithm, maxKeys: 100, ...(algorithm === 'leaky-bucket' ? { maxDelay: 0 } : {}) });
      assert.equal(pattern(p, 'victim', [0, 0, 0]), algorithm === 'leaky-bucket' ? 'ARR' : 'AAR');
      for (let i = 0; i < 1000; i++) take(p, `10.0.${i >> 8}.${i & 255}`, 1);
      assert.equal(storeSize(p), 100);
      assert.equal(p.keys, 100);
      assert.equal(p.evictions, 901);
      // the victim was evicted: it starts over (the bound trades accuracy for memory, as HAProxy's tables)
      assert.equal(take(p, 'victim', 2).allowed, true);
    });
  }
});

describe('memory store footprint', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // measured 85–93 bytes (133–149 with a fresh key string: bench/micro/ratelimit.bench.ts); the bound catches a state
  // that grows a field or a closure per key
  for (const algorithm of ['token-bucket', 'leaky-bucket', 'fixed-window', 'sliding-window-counter']) {
    it(`${algorithm}: under 150 bytes of heap per key (100k IPv4 keys: Map entry and state)`, () => {
      const p = policy({ limit: '100/s', algorithm, maxKeys: 100_000 });
      const keys = Array.from({ length: 100_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      const [pre] = keys; // keep the array alive; measure only what the store adds
      gc();
      const before = process.memoryUsage().heapUsed;
      for (const k of keys) take(p, k, 1);
      gc();
      const perKey = (process.memoryUsage().heapUsed - before) / keys.length;
      assert.equal(storeSize(p), 100_000);
      assert.ok(perKey < 150, `${perKey.toFixed(0)} bytes per key`);
      assert.ok(pre.length > 0);
    });
  }
});
