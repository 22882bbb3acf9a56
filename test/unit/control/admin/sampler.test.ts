import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LatencyHistogram } from '../../../../src/core/histogram.ts';
import { Sampler, type SampledListener, type SampledPool } from '../../../../src/control/admin/dashboard/sampler.ts';
import { Endpoint } from '../../../../src/upstream/endpoint.ts';

function endpoint(n: number): Endpoint {
  return new Endpoint(`10.0.0.${n}:80`, `10.0.0.${n}`, 80, 1);
}

/** `count` tries answered with status class `cls` (0 = no response) after `ms`. */
function serve(e: Endpoint, count: number, cls: number, ms: number): void {
  for (let i = 0; i < count; i++) {
    e.requests++;
    e.responses[cls]++;
    e.responseLatency.observe(ms);
  }
}

class Source {
  pools: SampledPool[];
  listeners: SampledListener[];
  constructor(pools: SampledPool[], listeners: SampledListener[] = []) {
    this.pools = pools;
    this.listeners = listeners;
  }
  view(): { pools: () => Iterable<SampledPool>; listeners: () => Iterable<SampledListener> } {
    return { pools: () => this.pools, listeners: () => this.listeners };
  }
}

const last = <T>(xs: readonly T[]): T => xs[xs.length - 1];

describe('Sampler', () => {
  it('the first sample only sets baselines; the next gives requests/s, error rate and p50/p99 of the interval', () => {
    const a = endpoint(1);
    serve(a, 50, 2, 3); // before the first sample: not counted
    const s = new Sampler(new Source([{ name: 'web', endpoints: [a] }]).view(), 1000, 10_000);
    s.sample(10_000);
    assert.deepEqual(s.endpointSeries(a), { rps: [null], errorRate: [null], p50: [null], p99: [null] });
    serve(a, 16, 2, 3);
    serve(a, 2, 5, 40);
    serve(a, 2, 0, 800);
    s.sample(11_000);
    const series = s.endpointSeries(a)!;
    assert.equal(last(series.rps), 20);
    assert.equal(last(series.errorRate), 0.2);
    const delta = new LatencyHistogram();
    for (let i = 0; i < 16; i++) delta.observe(3);
    for (let i = 0; i < 2; i++) delta.observe(40);
    for (let i = 0; i < 2; i++) delta.observe(800);
    assert.equal(last(series.p50), Math.round(LatencyHistogram.quantileMs(delta.counts, 0.5) * 1000) / 1000);
    assert.equal(last(series.p99), Math.round(LatencyHistogram.quantileMs(delta.counts, 0.99) * 1000) / 1000);
    assert.ok(last(series.p50)! > 2.5 && last(series.p50)! <= 5, `p50 ${last(series.p50)}`);
    assert.ok(last(series.p99)! > 500 && last(series.p99)! <= 1000, `p99 ${last(series.p99)}`);
  });

  it('divides by the time that really passed between samples', () => {
    const a = endpoint(1);
    const s = new Sampler(new Source([{ name: 'web', endpoints: [a] }]).view(), 1000, 10_000);
    s.sample(0);
    serve(a, 30, 2, 1);
    s.sample(2000);
    assert.equal(last(s.endpointSeries(a)!.rps), 15);
  });

  it('an interval without responses has 0 requests/s and no error rate or latency (null, not 0)', () => {
    const a = endpoint(1);
    const s = new Sampler(new Source([{ name: 'web', endpoints: [a] }]).view(), 1000, 10_000);
    s.sample(0);
    s.sample(1000);
    assert.deepEqual(s.endpointSeries(a, 1), { rps: [0], errorRate: [null], p50: [null], p99: [null] });
  });

  it('a pool sums its endpoints: requests/s, error rate over all their responses, quantiles of the merged deltas', () => {
    const a = endpoint(1);
    const b = endpoint(2);
    const s = new Sampler(new Source([{ name: 'web', endpoints: [a, b] }]).view(), 1000, 10_000);
    s.sample(0);
    serve(a, 9, 2, 2);
    serve(b, 1, 5, 2);
    serve(b, 90, 2, 200);
    s.sample(1000);
    const p = s.poolSeries('web', 1)!;
    assert.equal(p.rps[0], 100);
    assert.equal(p.errorRate[0], 0.01);
    assert.ok(p.p50[0]! > 100 && p.p50[0]! <= 250, `p50 ${p.p50[0]}`);
    assert.ok(p.p99[0]! > 100 && p.p99[0]! <= 250, `p99 ${p.p99[0]}`);
    assert.equal(s.endpointSeries(a, 1)!.errorRate[0], 0);
    assert.equal(s.endpointSeries(b, 1)!.rps[0], 91);
  });

  it('an endpoint in two pools is read once per sample and counts in both', () => {
    const shared = endpoint(1);
    const s = new Sampler(
      new Source([
        { name: 'a', endpoints: [shared] },
        { name: 'b', endpoints: [shared] },
      ]).view(),
      1000,
      10_000,
    );
    s.sample(0);
    serve(shared, 7, 2, 1);
    s.sample(1000);
    assert.equal(s.endpointSeries(shared, 1)!.rps[0], 7);
    assert.equal(s.poolSeries('a', 1)!.rps[0], 7);
    assert.equal(s.poolSeries('b', 1)!.rps[0], 7);
  });

  it('keeps the last windowMs / intervalMs samples, oldest first', () => {
    const a = endpoint(1);
    const s = new Sampler(new Source([{ name: 'web', endpoints: [a] }]).view(), 1000, 5000);
    assert.equal(s.capacity, 5);
    for (let t = 0; t <= 8; t++) {
      serve(a, t, 2, 1); // t requests between sample t-1 and t
      s.sample(t * 1000);
    }
    assert.equal(s.samples, 9);
    assert.deepEqual(s.endpointSeries(a)!.rps, [4, 5, 6, 7, 8]);
    assert.deepEqual(s.sampleTimes(), [4000, 5000, 6000, 7000, 8000]);
    assert.deepEqual(s.endpointSeries(a, 2)!.rps, [7, 8]);
    assert.deepEqual(s.sampleTimes(1), [8000]);
  });

  it('an endpoint a reload adds starts with no data; one it removes leaves the series', () => {
    const a = endpoint(1);
    const b = endpoint(2);
    const source = new Source([{ name: 'web', endpoints: [a] }]);
    const s = new Sampler(source.view(), 1000, 10_000);
    s.sample(0);
    s.sample(1000);
    source.pools = [{ name: 'web', endpoints: [b] }];
    s.sample(2000);
    assert.equal(s.endpointSeries(a), null);
    assert.deepEqual(s.endpointSeries(b)!.rps, [null, null, null]);
    serve(b, 3, 2, 1);
    s.sample(3000);
    assert.deepEqual(s.endpointSeries(b)!.rps, [null, null, null, 3]);
    source.pools = [];
    s.sample(4000);
    assert.equal(s.poolSeries('web'), null);
  });

  it('counters that go backwards give no data rather than a negative rate', () => {
    const a = endpoint(1);
    const s = new Sampler(new Source([{ name: 'web', endpoints: [a] }]).view(), 1000, 10_000);
    serve(a, 10, 2, 1);
    s.sample(0);
    a.requests = 0;
    s.sample(1000);
    assert.deepEqual(s.endpointSeries(a, 1)!.rps, [null]);
    serve(a, 4, 2, 1);
    s.sample(2000);
    assert.deepEqual(s.endpointSeries(a, 1)!.rps, [4]);
  });

  it('samples listeners: requests/s from their request counts', () => {
    const stats = { requests: 100 };
    const s = new Sampler(new Source([], [{ name: 'edge', stats }]).view(), 1000, 10_000);
    s.sample(0);
    stats.requests += 25;
    s.sample(500);
    assert.deepEqual(s.listenerSeries('edge'), [null, 50]);
    assert.equal(s.listenerSeries('other'), null);
  });

  it('start() samples on an unref\'d timer and tells subscribers; stop() ends it', async () => {
    const a = endpoint(1);
    const s = new Sampler(new Source([{ name: 'web', endpoints: [a] }]).view(), 20, 1000);
    const times: number[] = [];
    const unsubscribe = s.onSample((at) => times.push(at));
    s.start();
    s.start(); // idempotent
    assert.equal(s.running, true);
    assert.equal(s.samples, 1, 'a baseline at once');
    await sleep(130);
    s.stop();
    assert.equal(s.running, false);
    const taken = s.samples;
    assert.ok(taken >= 4, `${taken} samples in 130 ms at 20 ms`);
    assert.equal(times.length, taken);
    unsubscribe();
    await sleep(60);
    assert.equal(s.samples, taken);
  });

  it('refuses an interval of 0 or a window shorter than the interval', () => {
    const src = new Source([]).view();
    assert.throws(() => new Sampler(src, 0, 1000), RangeError);
    assert.throws(() => new Sampler(src, 1000, 500), RangeError);
  });
});
