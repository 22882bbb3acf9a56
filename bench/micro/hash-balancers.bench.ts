// Hash balancer picks: hashString of a 32-byte key plus one pick, for hash, ring-hash, maglev and rendezvous at
// 10, 100 and 1,000 endpoints (weights 1..4; rendezvous also with equal weights, which takes no logarithm), and the
// table rebuild time of ring-hash, maglev and rendezvous at 1,000 (ring-hash also cold: a new balancer, every MD5
// digest computed). Rendezvous scores every endpoint up to 64 endpoints and runs its skeleton above, so its 100 and
// 1,000 rows are the skeleton's.
import { hashString } from '../../src/core/hash.ts';
import { ModuloHash } from '../../src/upstream/balancing/hash.ts';
import { Maglev } from '../../src/upstream/balancing/maglev.ts';
import { Rendezvous } from '../../src/upstream/balancing/rendezvous.ts';
import { RingHash } from '../../src/upstream/balancing/ring-hash.ts';
import { beginPick, PickContext, type Balancer } from '../../src/upstream/balancing/types.ts';
import { Endpoint } from '../../src/upstream/endpoint.ts';
import { measure } from './harness.ts';

/** Seconds per measured case: 16 pick cases and 4 builds stay within ≈ 15 s. */
const seconds = 0.5;

function endpoints(n: number, weight: (i: number) => number): Endpoint[] {
  return Array.from({ length: n }, (_, i) => new Endpoint(`10.3.${i >> 8}.${i & 255}:8080`, `10.3.${i >> 8}.${i & 255}`, 8080, weight(i)));
}

// 1,024 distinct 32-character keys, cycled
const keys = Array.from({ length: 1024 }, (_, i) => `user-${i.toString(16).padStart(8, '0')}-session-0000000`.slice(0, 32));
const ctx = new PickContext();
ctx.hasHash = true;
let k = 0;

const weighted = (i: number): number => 1 + (i % 4);
const makers: [string, () => Balancer, (i: number) => number][] = [
  ['hash', () => new ModuloHash(), weighted],
  ['ring-hash', () => new RingHash(), weighted],
  ['maglev', () => new Maglev(), weighted],
  ['rendezvous', () => new Rendezvous(), weighted],
  ['rendezvous (equal weights)', () => new Rendezvous(), () => 1],
];
for (const [name, make, weight] of makers) {
  for (const n of [10, 100, 1000]) {
    const balancer = make();
    balancer.update(endpoints(n, weight));
    measure(`${name}: hashString(32 B) + pick of ${n}`, () => {
      beginPick(ctx);
      ctx.hash = hashString(keys[k++ & 1023]);
      if (balancer.pick(ctx) === undefined) throw new Error('no pick');
    }, seconds);
  }
}
measure('hashString(32 B) alone', () => {
  ctx.hash = hashString(keys[k++ & 1023]);
}, seconds);

// Rebuilds: alternate between two sets that differ in one weight, so every update() rebuilds.
for (const [name, make] of [
  ['ring-hash', () => new RingHash()],
  ['maglev', () => new Maglev()],
  ['rendezvous', () => new Rendezvous()],
] as const) {
  const a = endpoints(1000, () => 1);
  const b = endpoints(1000, () => 1);
  b[500].weight = 2;
  const balancer = make();
  let flip = false;
  const ns = measure(`${name}: rebuild at 1000 endpoints (weight 1)`, () => {
    flip = !flip;
    balancer.update(flip ? a : b);
  }, 3 * seconds, 1);
  process.stdout.write(`${''.padEnd(48)} = ${(ns / 1e6).toFixed(1)} ms\n`);
}
{
  const set = endpoints(1000, () => 1);
  const ns = measure('ring-hash: cold build at 1000 endpoints (weight 1)', () => {
    new RingHash().update(set);
  }, 3 * seconds, 1);
  process.stdout.write(`${''.padEnd(48)} = ${(ns / 1e6).toFixed(1)} ms\n`);
}
