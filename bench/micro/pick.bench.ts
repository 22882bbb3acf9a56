// Balancer picks for the algorithms that do not hash, at 10, 100 and 1,000 endpoints (weights 1..4), under load
// churn as real traffic makes it: 4·n requests in flight; per operation beginPick + pick, the picked endpoint's
// inFlight++, and the completion (inFlight--) of the request picked 4·n operations earlier. The load-ordered
// balancers re-sort in the ++/-- (Endpoint.loadHook), so that cost is in the number. Balancers with observe()
// get a second row, `+observe`, that also reports each completion's latency as the data plane does.
// `node bench/micro/pick.bench.ts [name…]` runs only the named algorithms. Hash balancers: hash-balancers.bench.ts.
import { pluginByName } from '../../src/core/registry.ts';
import { balancerPlugins } from '../../src/upstream/balancing/registry.ts';
import { beginPick, PickContext, type Balancer } from '../../src/upstream/balancing/types.ts';
import { Endpoint } from '../../src/upstream/endpoint.ts';
import { measure } from './harness.ts';

const all = ['round-robin', 'weighted-round-robin', 'random', 'weighted-random', 'power-of-two-choices', 'least-connections', 'least-response-time', 'peak-ewma'];
const names = process.argv.length > 2 ? all.filter((name) => process.argv.includes(name)) : all;
const ctx = new PickContext();
const outcome = { ok: true, latencyMs: 5 };

function run(name: string, n: number, observe: boolean): void {
  const plugin = pluginByName(balancerPlugins, name) as unknown as { schema: { parse(v: unknown): unknown }; create(o: unknown, d: unknown): Balancer };
  const endpoints = Array.from({ length: n }, (_, i) => new Endpoint(`10.0.${i >> 8}.${i & 255}:80`, `10.0.${i >> 8}.${i & 255}`, 80, 1 + (i % 4)));
  const balancer = plugin.create(plugin.schema.parse({ algorithm: name }), undefined);
  balancer.update(endpoints);
  for (const e of endpoints) balancer.observe?.(e, outcome);
  // the requests in flight, oldest first: a ring, so the loop allocates nothing
  const ring = new Array<Endpoint>(4 * n);
  let head = 0;
  let filled = 0;
  measure(`${name}${observe ? ' +observe' : ''} @${n}`, () => {
    beginPick(ctx);
    const e = balancer.pick(ctx);
    if (e === undefined) throw new Error('no pick');
    e.inFlight++;
    if (filled === ring.length) {
      const done = ring[head];
      done.inFlight--;
      if (observe) balancer.observe!(done, outcome);
    } else filled++;
    ring[head] = e;
    head = head + 1 === ring.length ? 0 : head + 1;
  }, 0.25, 2000);
}

for (const name of names) {
  for (const n of [10, 100, 1000]) run(name, n, false);
  if (name === 'least-response-time' || name === 'peak-ewma') for (const n of [10, 100, 1000]) run(name, n, true);
}
