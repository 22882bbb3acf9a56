// Outlier detection on a fake clock: consecutive 5xx and gateway failures count and a success resets them;
// the n-th ejection lasts n × baseEjectionTime up to maxEjectionTime; maxEjectionPercent (one endpoint always
// allowed, the last eligible one never) bounds how much of a pool is ejected; the return goes to healthy, or to
// unhealthy when active checks run; stop() cancels returns and start() takes over carried-over ejections.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setQuiet } from '../../../../src/core/log.ts';
import { RoundRobin } from '../../../../src/upstream/balancing/round-robin.ts';
import { Endpoint, EndpointState } from '../../../../src/upstream/endpoint.ts';
import { OutlierDetector, releaseEjected, type OutlierClock, type OutlierSettings } from '../../../../src/upstream/health/outlier.ts';
import { HealthScheduler } from '../../../../src/upstream/health/scheduler.ts';
import { Pool, retrySettings, type PoolSettings } from '../../../../src/upstream/pool.ts';

setQuiet(true);

const poolSettings: PoolSettings = { maxConnections: 1, maxQueue: 0, queueTimeoutMs: 1, idleTimeoutMs: 1, connectTimeoutMs: 1, responseTimeoutMs: 1, slowStartMs: 0, ...retrySettings(1) };

const defaults: OutlierSettings = { consecutive5xx: 5, consecutiveGatewayFailure: 5, baseEjectionTimeMs: 30_000, maxEjectionTimeMs: 300_000, maxEjectionPercent: 10 };

/** Timers fire only when the test advances the time. */
class FakeClock implements OutlierClock {
  t = 1000;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return timer;
  }
  clearTimeout(handle: unknown): void {
    (handle as { live: boolean }).live = false;
  }
  get pending(): number {
    return this.timers.filter((x) => x.live).length;
  }
  advance(ms: number): void {
    this.t += ms;
    for (const timer of this.timers.filter((x) => x.live && x.at <= this.t).sort((a, b) => a.at - b.at)) {
      timer.live = false;
      timer.fn();
    }
    this.timers = this.timers.filter((x) => x.live);
  }
}

function setup(n: number, settings: Partial<OutlierSettings> = {}, activeChecks = false) {
  const es = Array.from({ length: n }, (_, i) => new Endpoint(`127.0.0.1:${i + 1}`, '127.0.0.1', i + 1, 1));
  const pool = new Pool('app', es, new RoundRobin(), poolSettings, null, null, 0);
  const clock = new FakeClock();
  const d = new OutlierDetector(pool, { ...defaults, ...settings }, activeChecks, clock);
  pool.outlier = d;
  return { pool, es, clock, d };
}

function times(d: OutlierDetector, e: Endpoint, status: number, n: number): void {
  for (let i = 0; i < n; i++) d.record(e, status);
}

describe('OutlierDetector', () => {
  it('ejects after consecutive5xx 5xx answers in a row; a success resets the run', () => {
    const { pool, es, d } = setup(10);
    times(d, es[0], 500, 4);
    d.record(es[0], 200);
    times(d, es[0], 500, 4);
    assert.equal(es[0].state, EndpointState.healthy, '4 + success + 4 is not 5 in a row');
    d.record(es[0], 404); // 4xx is a success here
    times(d, es[0], 500, 4);
    assert.equal(es[0].state, EndpointState.healthy);
    d.record(es[0], 500);
    assert.equal(es[0].state, EndpointState.ejected);
    assert.equal(es[0].ejections, 1);
    assert.equal(pool.eligible.includes(es[0]), false);
    assert.equal(pool.eligible.length, 9);
  });

  it('ejects after consecutiveGatewayFailure gateway failures (0, 502, 503, 504); a 500 breaks that run only', () => {
    const { es, d } = setup(10, { consecutive5xx: 100, consecutiveGatewayFailure: 3 });
    d.record(es[0], 0);
    d.record(es[0], 502);
    d.record(es[0], 500);
    d.record(es[0], 503);
    d.record(es[0], 504);
    assert.equal(es[0].state, EndpointState.healthy);
    d.record(es[0], 0);
    assert.equal(es[0].state, EndpointState.ejected);
    // gateway failures also count as 5xx (Envoy): consecutive5xx 3 ejects on 0, 0, 0 as well
    const two = setup(10, { consecutive5xx: 3, consecutiveGatewayFailure: 100 });
    times(two.d, two.es[1], 0, 3);
    assert.equal(two.es[1].state, EndpointState.ejected);
  });

  it('the n-th ejection lasts n × baseEjectionTime, capped at maxEjectionTime; the return is to healthy', () => {
    const { pool, es, clock, d } = setup(10, { baseEjectionTimeMs: 1000, maxEjectionTimeMs: 2500 });
    const e = es[3];
    const lengths: number[] = [];
    for (let n = 1; n <= 4; n++) {
      times(d, e, 500, 5);
      assert.equal(e.state, EndpointState.ejected, `ejection ${n}`);
      const start = clock.t;
      while (e.state === EndpointState.ejected) clock.advance(100);
      lengths.push(clock.t - start);
      assert.equal(e.state, EndpointState.healthy);
      assert.equal(pool.eligible.includes(e), true);
    }
    assert.deepEqual(lengths, [1000, 2000, 2500, 2500]);
    assert.equal(e.ejections, 4);
  });

  it('maxEjectionPercent bounds the ejected share; one endpoint may always be ejected', () => {
    const { es, d } = setup(3, { maxEjectionPercent: 34 });
    times(d, es[0], 500, 5);
    times(d, es[1], 500, 5);
    assert.deepEqual(es.map((e) => e.state), [EndpointState.ejected, EndpointState.healthy, EndpointState.healthy]);
    const ten = setup(3); // 10%: below one endpoint of three, but one is always allowed
    times(ten.d, ten.es[0], 0, 5);
    times(ten.d, ten.es[1], 0, 5);
    assert.equal(ten.es.filter((e) => e.state === EndpointState.ejected).length, 1);
    const half = setup(4, { maxEjectionPercent: 50 });
    for (const e of half.es) times(half.d, e, 500, 5);
    assert.equal(half.es.filter((e) => e.state === EndpointState.ejected).length, 2);
  });

  it('never ejects the last eligible endpoint, even at maxEjectionPercent 100', () => {
    const { pool, es, d } = setup(2, { maxEjectionPercent: 100 });
    times(d, es[0], 500, 5);
    times(d, es[1], 500, 5);
    assert.deepEqual(es.map((e) => e.state), [EndpointState.ejected, EndpointState.healthy]);
    assert.equal(pool.eligible.length, 1);
    const one = setup(1, { maxEjectionPercent: 100 });
    times(one.d, one.es[0], 500, 20);
    assert.equal(one.es[0].state, EndpointState.healthy);
  });

  it('with active checks an ejection ends in unhealthy with the probe run cleared, so rise probes must pass', () => {
    const { es, clock, d } = setup(10, { baseEjectionTimeMs: 1000 }, true);
    es[0].probeSuccesses = 7;
    times(d, es[0], 503, 5);
    clock.advance(1000);
    assert.equal(es[0].state, EndpointState.unhealthy);
    assert.equal(es[0].probeSuccesses, 0);
  });

  it('only healthy endpoints are counted toward ejection (an unhealthy one taking panic traffic is not)', () => {
    const { es, d } = setup(10);
    es[0].state = EndpointState.unhealthy;
    times(d, es[0], 500, 10);
    assert.equal(es[0].state, EndpointState.unhealthy);
    assert.equal(es[0].ejections, 0);
  });

  it('stop() cancels returns and ignores outcomes; a new detector start()s the return of carried-over ejections', () => {
    const { pool, es, clock, d } = setup(10, { baseEjectionTimeMs: 1000 });
    times(d, es[0], 500, 5);
    clock.advance(400);
    d.stop();
    assert.equal(clock.pending, 0);
    times(d, es[1], 500, 5);
    assert.equal(es[1].state, EndpointState.healthy, 'a stopped detector ejects nothing');
    clock.advance(1000);
    assert.equal(es[0].state, EndpointState.ejected, 'no return without a detector');
    // the next generation's detector on the same endpoints: returns it when the ejection was due (already past)
    const next = new OutlierDetector(pool, { ...defaults, baseEjectionTimeMs: 1000 }, false, clock);
    next.start();
    clock.advance(0);
    assert.equal(es[0].state, EndpointState.healthy);
    // one still due later keeps its remaining time
    times(next, es[2], 500, 5);
    clock.advance(300);
    next.stop();
    const third = new OutlierDetector(pool, defaults, false, clock);
    third.start();
    clock.advance(600);
    assert.equal(es[2].state, EndpointState.ejected);
    clock.advance(100);
    assert.equal(es[2].state, EndpointState.healthy);
    // detection turned off: ejected endpoints return at once
    times(third, es[4], 500, 5);
    third.stop();
    assert.equal(releaseEjected(pool, false), true);
    assert.equal(es[4].state, EndpointState.healthy);
  });

  it('an endpoint drained while ejected stays drained when its ejection ends', () => {
    const { es, clock, d } = setup(10, { baseEjectionTimeMs: 1000 });
    times(d, es[0], 500, 5);
    es[0].state = EndpointState.draining;
    clock.advance(1000);
    assert.equal(es[0].state, EndpointState.draining);
  });

  it('active checks count an ejected endpoint but never move it; after the ejection rise probes bring it back', () => {
    const { es, clock, d } = setup(10, { baseEjectionTimeMs: 1000 }, true);
    const check = { probe: () => Promise.resolve({ ok: true, detail: 'status 200' }) };
    const settings = { intervalMs: 100, unhealthyIntervalMs: 100, timeoutMs: 100, rise: 2, fall: 2, jitter: 0 };
    const scheduler = new HealthScheduler('app', es, check, settings, () => {});
    times(d, es[0], 500, 5);
    for (let i = 0; i < 5; i++) scheduler.record(es[0], { ok: true, detail: 'status 200' });
    for (let i = 0; i < 5; i++) scheduler.record(es[0], { ok: false, detail: 'status 500' });
    assert.equal(es[0].state, EndpointState.ejected);
    assert.equal(es[0].probes, 10);
    scheduler.record(es[0], { ok: true, detail: 'status 200' });
    clock.advance(1000);
    assert.equal(es[0].state, EndpointState.unhealthy);
    scheduler.record(es[0], { ok: true, detail: 'status 200' });
    assert.equal(es[0].state, EndpointState.unhealthy, 'a success before the return does not count toward rise');
    scheduler.record(es[0], { ok: true, detail: 'status 200' });
    assert.equal(es[0].state, EndpointState.healthy);
  });
});

describe('statistical outlier detection (Envoy success rate and failure percentage)', () => {
  /** `ok` responses 2xx and `failed` 5xx recorded on the endpoint's outcome counters, as the data plane does. */
  function traffic(e: Endpoint, ok: number, failed: number): void {
    e.responses[2] += ok;
    e.responses[5] += failed;
  }
  const successRate = { minimumHosts: 5, requestVolume: 100, stdevFactor: 1.9 };

  it('ejects an endpoint whose success rate is far below the pool’s, at the interval', () => {
    const { es, clock, d } = setup(6, { successRate, intervalMs: 10_000, maxEjectionPercent: 50 });
    d.start();
    for (const e of es.slice(0, 5)) traffic(e, 198, 2);
    traffic(es[5], 120, 80);
    clock.advance(9_999);
    assert.equal(es[5].state, EndpointState.healthy, 'not before the interval');
    clock.advance(1);
    assert.equal(es[5].state, EndpointState.ejected);
    for (const e of es.slice(0, 5)) assert.equal(e.state, EndpointState.healthy);
  });

  it('needs minimumHosts endpoints with requestVolume each; only the interval’s traffic counts', () => {
    const { es, clock, d } = setup(6, { successRate, intervalMs: 10_000, maxEjectionPercent: 50 });
    for (const e of es) traffic(e, 1000, 0); // before start: not in any interval
    d.start();
    for (const e of es.slice(0, 3)) traffic(e, 200, 0);
    for (const e of es.slice(3, 5)) traffic(e, 50, 0); // below requestVolume
    traffic(es[5], 100, 100);
    clock.advance(10_000);
    assert.equal(es[5].state, EndpointState.healthy, '4 qualified endpoints: fewer than minimumHosts');
    // the next interval has enough traffic everywhere
    for (const e of es.slice(0, 5)) traffic(e, 200, 0);
    traffic(es[5], 100, 100);
    clock.advance(10_000);
    assert.equal(es[5].state, EndpointState.ejected);
  });

  it('failure percentage: at or above the threshold is ejected, below is not', () => {
    const { es, clock, d } = setup(6, { failurePercentage: { threshold: 50, minimumHosts: 5, requestVolume: 50 }, intervalMs: 1000, maxEjectionPercent: 50 });
    d.start();
    for (const e of es.slice(0, 4)) traffic(e, 100, 0);
    traffic(es[4], 51, 49);
    traffic(es[5], 50, 50);
    clock.advance(1000);
    assert.equal(es[4].state, EndpointState.healthy);
    assert.equal(es[5].state, EndpointState.ejected);
  });

  it('stop() ends the interval runs', () => {
    const { clock, d } = setup(6, { successRate, intervalMs: 1000 });
    d.start();
    assert.equal(clock.pending, 1);
    d.stop();
    assert.equal(clock.pending, 0);
  });
});
