// Balancer picks: the per-request work of upstream/balancing, over 10 endpoints.
import { RoundRobin } from '../../src/upstream/balancing/round-robin.ts';
import { beginPick, PickContext } from '../../src/upstream/balancing/types.ts';
import { WeightedRoundRobin } from '../../src/upstream/balancing/weighted-round-robin.ts';
import { Endpoint } from '../../src/upstream/endpoint.ts';
import { measure } from './harness.ts';

const endpoints = Array.from({ length: 10 }, (_, i) => new Endpoint(`10.0.0.${i}:80`, `10.0.0.${i}`, 80, 1 + (i % 4)));
const ctx = new PickContext();
for (const [name, balancer] of [
  ['round-robin', new RoundRobin()],
  ['weighted-round-robin', new WeightedRoundRobin()],
] as const) {
  balancer.update(endpoints);
  measure(`${name}: beginPick + pick of 10`, () => {
    beginPick(ctx);
    if (balancer.pick(ctx) === undefined) throw new Error('no pick');
  });
}
