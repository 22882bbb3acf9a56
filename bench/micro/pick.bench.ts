// Balancer picks for the algorithms that do not hash: ns per beginPick + pick at 10, 100 and 1,000
// endpoints (weights 1..4), with in-flight counts that change between picks as they do under load.
// Hash balancers: hash-balancers.bench.ts.
import { pluginByName } from '../../src/core/registry.ts';
import { balancerPlugins } from '../../src/upstream/balancing/registry.ts';
import { beginPick, PickContext, type Balancer } from '../../src/upstream/balancing/types.ts';
import { Endpoint } from '../../src/upstream/endpoint.ts';
import { measure } from './harness.ts';

const names = ['round-robin', 'weighted-round-robin', 'random', 'weighted-random', 'power-of-two-choices', 'least-connections', 'least-response-time', 'peak-ewma'];
const ctx = new PickContext();
const outcome = { ok: true, latencyMs: 5 };

for (const name of names) {
  const plugin = pluginByName(balancerPlugins, name) as unknown as { schema: { parse(v: unknown): unknown }; create(o: unknown, d: unknown): Balancer };
  for (const n of [10, 100, 1000]) {
    const endpoints = Array.from({ length: n }, (_, i) => new Endpoint(`10.0.${i >> 8}.${i & 255}:80`, `10.0.${i >> 8}.${i & 255}`, 80, 1 + (i % 4)));
    const balancer = plugin.create(plugin.schema.parse({ algorithm: name }), undefined);
    balancer.update(endpoints);
    for (const e of endpoints) balancer.observe?.(e, outcome);
    let i = 0;
    measure(`${name} @${n}`, () => {
      beginPick(ctx);
      const e = balancer.pick(ctx);
      if (e === undefined) throw new Error('no pick');
      // a request starts on the picked endpoint and one elsewhere finishes
      e.inFlight++;
      const done = endpoints[i++ % n];
      if (done.inFlight > 0) done.inFlight--;
    }, 0.4, 2000);
  }
}
