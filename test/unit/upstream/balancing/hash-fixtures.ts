// Shared by the hash balancer tests: endpoints, fixed-seed key streams, and helpers that assign keys through a
// balancer and compare assignments. Not a test file itself.
import assert from 'node:assert/strict';
import { hashString } from '../../../../src/core/hash.ts';
import { beginPick, markTried, PickContext, type Balancer } from '../../../../src/upstream/balancing/types.ts';
import { Endpoint } from '../../../../src/upstream/endpoint.ts';

export function endpoints(weights: number | readonly number[], from = 0): Endpoint[] {
  const list = typeof weights === 'number' ? new Array<number>(weights).fill(1) : weights;
  return list.map((w, i) => {
    const n = from + i;
    const host = `10.2.${n >> 8}.${n & 255}`;
    return new Endpoint(`${host}:8080`, host, 8080, w);
  });
}

/** A fixed-seed PRNG in [0,1) (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const cache = new Map<string, Uint32Array>();
/** `count` key hashes as the data plane computes them: hashString of a 32-ish-character key. */
export function keyHashes(count: number, seed = 1): Uint32Array {
  const id = `${count}/${seed}`;
  let hashes = cache.get(id);
  if (hashes === undefined) {
    hashes = new Uint32Array(count);
    for (let i = 0; i < count; i++) hashes[i] = hashString(`session-${seed}-${i.toString(16).padStart(8, '0')}-user`);
    cache.set(id, hashes);
  }
  return hashes;
}

const ctx = new PickContext();
ctx.hasHash = true;

/** One fresh exchange per key; returns each key's endpoint as an index into `set` (fails outside the set). */
export function assign(balancer: Balancer, set: readonly Endpoint[], hashes: Uint32Array): Int32Array {
  const index = new Map(set.map((e, i) => [e, i]));
  const out = new Int32Array(hashes.length);
  for (let k = 0; k < hashes.length; k++) {
    beginPick(ctx);
    ctx.hash = hashes[k];
    const e = balancer.pick(ctx);
    const at = e === undefined ? undefined : index.get(e);
    if (at === undefined) assert.fail(`key ${k} went to ${e?.key ?? 'nothing'}, outside the set`);
    out[k] = at;
  }
  return out;
}

export function counts(assignment: Int32Array, n: number): number[] {
  const c = new Array<number>(n).fill(0);
  for (const i of assignment) c[i]++;
  return c;
}

export function maxOverMean(c: readonly number[]): number {
  let total = 0;
  for (const x of c) total += x;
  return Math.max(...c) / (total / c.length);
}

/** Fraction of keys whose endpoint differs between two assignments (indices into the same list). */
export function movedFraction(a: Int32Array, b: Int32Array): number {
  let moved = 0;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) moved++;
  return moved / a.length;
}

/**
 * One exchange per key with `tried` endpoints marked: every pick is untried and new, picks continue until
 * undefined, and every untried endpoint is offered exactly once. Returns the picks of the last key.
 */
export function assertRetries(balancer: Balancer, set: readonly Endpoint[], hashes: Uint32Array, tried: readonly number[]): Endpoint[] {
  const c = new PickContext();
  c.hasHash = true;
  let order: Endpoint[] = [];
  for (let k = 0; k < hashes.length; k++) {
    beginPick(c);
    c.hash = hashes[k];
    for (const i of tried) markTried(set[i], c);
    order = [];
    for (;;) {
      const e = balancer.pick(c);
      if (e === undefined) break;
      const at = set.indexOf(e);
      assert.ok(at >= 0 && !tried.includes(at), `key ${k}: returned ${e.key}, which was tried or is outside the set`);
      assert.ok(!order.includes(e), `key ${k}: returned ${e.key} twice in one exchange`);
      order.push(e);
      markTried(e, c);
      assert.ok(order.length <= set.length);
    }
    assert.equal(order.length, set.length - tried.length, `key ${k}: every untried endpoint is offered once before undefined`);
  }
  return order;
}

/** With the key missing, picks go round robin over the set (HAProxy's behaviour): k·N picks give k each. */
export function assertFallback(balancer: Balancer, set: readonly Endpoint[]): void {
  const c = new PickContext();
  c.hasHash = false;
  const tally = new Array<number>(set.length).fill(0);
  for (let i = 0; i < 5 * set.length; i++) {
    beginPick(c);
    c.hash = 12345; // ignored
    const e = balancer.pick(c);
    assert.ok(e !== undefined);
    tally[set.indexOf(e)]++;
  }
  assert.deepEqual(tally, new Array<number>(set.length).fill(5));
}

/** Shuffles a copy with a fixed seed. */
export function shuffled<T>(list: readonly T[], seed: number): T[] {
  const random = prng(seed);
  const out = list.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
