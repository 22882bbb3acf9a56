// Bounded loads (Mirrokni, Thorup & Zadimoghaddam, SODA 2018, §2; HAProxy `hash-balance-factor`) on ring-hash
// and maglev. A Zipf-skewed key stream (s = 1.1 over 5,000 keys, fixed seed) is simulated with exchanges held in
// flight (200 at once, completed in random order). With balanceFactor 1.25 no endpoint ever holds more than
// ⌈1.25 × average⌉ exchanges, and most exchanges still land on their key's first-choice endpoint; without the
// factor the same stream overloads an endpoint (so the bound is what holds the line).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashString } from '../../../../src/core/hash.ts';
import { Maglev } from '../../../../src/upstream/balancing/maglev.ts';
import { RingHash } from '../../../../src/upstream/balancing/ring-hash.ts';
import { beginPick, PickContext, type Balancer } from '../../../../src/upstream/balancing/types.ts';
import type { Endpoint } from '../../../../src/upstream/endpoint.ts';
import { endpoints, prng } from './hash-fixtures.ts';

const distinctKeys = 5000;
const exchanges = 120_000;
const concurrency = 200;

/** Zipf(s) sampler over key ranks by inverse CDF (fixed seed). */
function zipf(s: number, seed: number): () => number {
  const cdf = new Float64Array(distinctKeys);
  let total = 0;
  for (let r = 0; r < distinctKeys; r++) cdf[r] = total += 1 / (r + 1) ** s;
  const random = prng(seed);
  return () => {
    const u = random() * total;
    let lo = 0;
    let hi = distinctKeys - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

interface Run {
  /** Largest (load − ⌈factor × total/N⌉) seen right after any assignment; ≤ 0 means the bound held. */
  worstExcess: number;
  maxLoad: number;
  firstChoice: number;
}

/** Assigns `exchanges` Zipf keys with up to `concurrency` in flight; `reference` gives each key's first choice. */
function simulate(balancer: Balancer, reference: Balancer, set: readonly Endpoint[], factor: number): Run {
  for (const e of set) e.inFlight = 0;
  const keyHash = Array.from({ length: distinctKeys }, (_, r) => hashString(`user-${r}`));
  const next = zipf(1.1, 99);
  const random = prng(5);
  const held: Endpoint[] = [];
  const ctx = new PickContext();
  ctx.hasHash = true;
  const refCtx = new PickContext();
  refCtx.hasHash = true;
  let worstExcess = -Infinity;
  let maxLoad = 0;
  let firstChoice = 0;
  let total = 0;
  for (let x = 0; x < exchanges; x++) {
    if (held.length === concurrency) {
      const i = Math.floor(random() * held.length);
      held[i].inFlight--;
      held[i] = held[held.length - 1];
      held.pop();
      total--;
    }
    const h = keyHash[next()];
    beginPick(ctx);
    ctx.hash = h;
    const e = balancer.pick(ctx);
    assert.ok(e !== undefined);
    beginPick(refCtx);
    refCtx.hash = h;
    if (reference.pick(refCtx) === e) firstChoice++;
    e.inFlight++;
    held.push(e);
    total++;
    const cap = Math.ceil((factor * total) / set.length);
    for (const o of set) {
      if (o.inFlight > maxLoad) maxLoad = o.inFlight;
      if (o.inFlight - cap > worstExcess) worstExcess = o.inFlight - cap;
    }
  }
  for (const e of set) e.inFlight = 0;
  return { worstExcess, maxLoad, firstChoice: firstChoice / exchanges };
}

for (const [name, make] of [
  ['ring-hash', (balanceFactor?: number) => new RingHash({ balanceFactor })],
  ['maglev', (balanceFactor?: number) => new Maglev({ balanceFactor })],
] as const) {
  describe(`${name} with balanceFactor`, () => {
    it('never lets an endpoint exceed ⌈1.25 × average⌉ in flight under a Zipf stream; most keys keep their first choice', () => {
      const set = endpoints(10);
      const bounded = make(1.25);
      const plain = make();
      bounded.update(set);
      plain.update(set);
      const unbounded = simulate(plain, plain, set, 1.25);
      assert.ok(unbounded.worstExcess > 0, `the stream is not skewed enough to test the bound (max load ${unbounded.maxLoad})`);
      const run = simulate(bounded, plain, set, 1.25);
      assert.ok(run.worstExcess <= 0, `an endpoint held ${run.worstExcess} over ⌈1.25 × average⌉`);
      assert.ok(run.firstChoice >= 0.6, `only ${(run.firstChoice * 100).toFixed(1)}% kept their first choice`);
      process.stdout.write(`# ${name}: unbounded max load ${unbounded.maxLoad} (cap ${Math.ceil((1.25 * concurrency) / 10)}); bounded max ${run.maxLoad}, first choice ${(run.firstChoice * 100).toFixed(1)}%\n`);
    });

    it('with weights, scales each endpoint\'s bound by its weight share', () => {
      const weights = [1, 1, 2, 4];
      const set = endpoints(weights);
      const balancer = make(1.25);
      balancer.update(set);
      const ctx = new PickContext();
      ctx.hasHash = true;
      for (const e of set) e.inFlight = 0;
      for (let x = 0; x < 800; x++) {
        beginPick(ctx);
        ctx.hash = hashString('one-hot-key'); // every exchange wants the same endpoint
        const e = balancer.pick(ctx);
        assert.ok(e !== undefined);
        e.inFlight++;
        const total = x + 1;
        for (let i = 0; i < set.length; i++) {
          const cap = Math.ceil((1.25 * total * weights[i]) / 8);
          assert.ok(set[i].inFlight <= cap, `endpoint ${i} (weight ${weights[i]}): ${set[i].inFlight} in flight, cap ${cap}`);
        }
      }
      for (const e of set) e.inFlight = 0;
    });
  });
}
