// A deterministic latency simulation for adaptive balancers: millisecond ticks on a test clock, `arrivalsPerMs`
// picks each tick, each exchange held in flight for its endpoint's latency (uniform in 0.5–1.5× its base)
// and then reported through observe(). Returns each endpoint's share of the picks.
import { Random } from '../../src/core/random.ts';
import { beginPick, PickContext, type Balancer } from '../../src/upstream/balancing/types.ts';
import { Endpoint } from '../../src/upstream/endpoint.ts';

export interface LatencySim {
  readonly set: readonly Endpoint[];
  readonly clock: { nowMs: number };
  /** Runs `durationMs` ticks; returns picks per endpoint. */
  run(durationMs: number): number[];
}

export function latencySim(make: (now: () => number) => Balancer, baseLatencyMs: readonly number[], arrivalsPerMs: number, seed: number): LatencySim {
  const set = baseLatencyMs.map((_, i) => new Endpoint(`10.0.6.${i}:80`, `10.0.6.${i}`, 80, 1));
  const clock = { nowMs: 0 };
  const balancer = make(() => clock.nowMs);
  balancer.update(set);
  const rng = new Random(seed);
  const ctx = new PickContext();
  const horizon = 4096; // > 1.5 × the largest latency
  const due: { e: Endpoint; sentMs: number }[][] = Array.from({ length: horizon }, () => []);
  return {
    set,
    clock,
    run(durationMs: number): number[] {
      const counts = new Array<number>(set.length).fill(0);
      for (let t = 0; t < durationMs; t++) {
        clock.nowMs++;
        const slot = due[clock.nowMs % horizon];
        for (const { e, sentMs } of slot) {
          e.inFlight--;
          balancer.observe?.(e, { ok: true, latencyMs: clock.nowMs - sentMs });
        }
        slot.length = 0;
        for (let a = 0; a < arrivalsPerMs; a++) {
          beginPick(ctx);
          const e = balancer.pick(ctx);
          if (e === undefined) throw new Error('no pick');
          const i = set.indexOf(e);
          counts[i]++;
          e.inFlight++;
          const latency = Math.max(1, Math.round(baseLatencyMs[i] * (0.5 + rng.nextFloat())));
          due[(clock.nowMs + latency) % horizon].push({ e, sentMs: clock.nowMs });
        }
      }
      return counts;
    },
  };
}
