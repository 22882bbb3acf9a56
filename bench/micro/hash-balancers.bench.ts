// Hash balancer picks: hashString of a 32-byte key plus one pick, for hash, ring-hash, maglev and rendezvous at
// 10, 100 and 1,000 endpoints (weights 1..4), and the table rebuild time of ring-hash and maglev at 1,000.
import { hashString } from '../../src/core/hash.ts';
import { ModuloHash } from '../../src/upstream/balancing/hash.ts';
import { Maglev } from '../../src/upstream/balancing/maglev.ts';
import { Rendezvous } from '../../src/upstream/balancing/rendezvous.ts';
import { RingHash } from '../../src/upstream/balancing/ring-hash.ts';
import { beginPick, PickContext, type Balancer } from '../../src/upstream/balancing/types.ts';
import { Endpoint } from '../../src/upstream/endpoint.ts';
import { measure } from './harness.ts';

function endpoints(n: number, weight: (i: number) => number): Endpoint[] {
  return Array.from({ length: n }, (_, i) => new Endpoint(`10.3.${i >> 8}.${i & 255}:8080`, `10.3.${i >> 8}.${i & 255}`, 8080, weight(i)));
}

// 1,024 distinct 32-character keys, cycled
const keys = Array.from({ length: 1024 }, (_, i) => `user-${i.toString(16).padStart(8, '0')}-session-0000000`.slice(0, 32));
const ctx = new PickContext();
ctx.hasHash = true;
let k = 0;

const makers: [string, () => Balancer][] = [
  ['hash', () => new ModuloHash()],
  ['ring-hash', () => new RingHash()],
  ['maglev', () => new Maglev()],
  ['rendezvous', () => new Rendezvous()],
];
for (const [name, make] of makers) {
  for (const n of [10, 100, 1000]) {
    const balancer = make();
    balancer.update(endpoints(n, (i) => 1 + (i % 4)));
    measure(`${name}: hashString(32 B) + pick of ${n}`, () => {
      beginPick(ctx);
      ctx.hash = hashString(keys[k++ & 1023]);
      if (balancer.pick(ctx) === undefined) throw new Error('no pick');
    });
  }
}
measure('hashString(32 B) alone', () => {
  ctx.hash = hashString(keys[k++ & 1023]);
});

// Rebuilds: alternate between two sets that differ in one weight, so every update() rebuilds.
for (const [name, make] of [
  ['ring-hash', () => new RingHash()],
  ['maglev', () => new Maglev()],
] as const) {
  const a = endpoints(1000, () => 1);
  const b = endpoints(1000, () => 1);
  b[500].weight = 2;
  const balancer = make();
  let flip = false;
  const ns = measure(`${name}: rebuild at 1000 endpoints (weight 1)`, () => {
    flip = !flip;
    balancer.update(flip ? a : b);
  }, 3, 1);
  process.stdout.write(`${''.padEnd(48)} = ${(ns / 1e6).toFixed(1)} ms\n`);
}
