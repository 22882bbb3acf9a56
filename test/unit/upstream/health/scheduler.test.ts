// The health scheduler owns rise/fall: `fall` consecutive failures move a healthy endpoint to unhealthy,
// `rise` consecutive successes move it back, a single opposite result resets the count, and every move is
// reported once. Counting is driven directly with scripted results (deterministic); timing — jittered
// intervals, the probe timeout, stop() aborting probes in flight — runs on real timers with a fake check.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { setQuiet } from '../../../../src/core/log.ts';
import { Endpoint, EndpointState, type EndpointStateValue } from '../../../../src/upstream/endpoint.ts';
import { HealthScheduler, type HealthSettings } from '../../../../src/upstream/health/scheduler.ts';
import type { HealthCheck, ProbeResult } from '../../../../src/upstream/health/types.ts';

setQuiet(true);

const ok: ProbeResult = { ok: true, detail: 'status 200' };
const bad: ProbeResult = { ok: false, detail: 'status 503' };

function settings(over: Partial<HealthSettings> = {}): HealthSettings {
  return { intervalMs: 20, unhealthyIntervalMs: 20, timeoutMs: 50, rise: 2, fall: 3, jitter: 0.1, ...over };
}

const never: HealthCheck = { probe: () => new Promise(() => {}) };

function setup(over: Partial<HealthSettings> = {}, check: HealthCheck = never) {
  const e = new Endpoint('127.0.0.1:1', '127.0.0.1', 1, 1);
  const moves: [EndpointStateValue, EndpointStateValue][] = [];
  const s = new HealthScheduler('app', [e], check, settings(over), (_e, from, to) => moves.push([from, to]));
  return { e, s, moves };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

describe('HealthScheduler rise/fall', () => {
  it('fall consecutive failures make a healthy endpoint unhealthy, not fewer', () => {
    const { e, s, moves } = setup();
    s.record(e, bad);
    s.record(e, bad);
    assert.equal(e.state, EndpointState.healthy);
    s.record(e, ok); // resets the failure count
    s.record(e, bad);
    s.record(e, bad);
    assert.equal(e.state, EndpointState.healthy);
    s.record(e, bad);
    assert.equal(e.state, EndpointState.unhealthy);
    assert.deepEqual(moves, [[EndpointState.healthy, EndpointState.unhealthy]]);
    assert.equal(e.probeFailures, 3);
    assert.equal(e.lastProbe, 'status 503');
    assert.equal(e.probes, 6);
  });

  it('rise consecutive successes make it healthy again; further results in the same direction do not move it', () => {
    const { e, s, moves } = setup({ rise: 3, fall: 1 });
    s.record(e, bad);
    assert.equal(e.state, EndpointState.unhealthy);
    s.record(e, bad);
    s.record(e, ok);
    s.record(e, ok);
    s.record(e, bad); // resets the success count
    s.record(e, ok);
    s.record(e, ok);
    assert.equal(e.state, EndpointState.unhealthy);
    s.record(e, ok);
    assert.equal(e.state, EndpointState.healthy);
    s.record(e, ok);
    assert.deepEqual(moves, [
      [EndpointState.healthy, EndpointState.unhealthy],
      [EndpointState.unhealthy, EndpointState.healthy],
    ]);
    assert.equal(e.healthTransitions, 2);
  });

  it('counts but never moves an endpoint in another state (draining)', () => {
    const { e, s, moves } = setup({ fall: 1 });
    e.state = EndpointState.draining;
    s.record(e, bad);
    s.record(e, bad);
    assert.equal(e.state, EndpointState.draining);
    assert.equal(e.probeFailures, 2);
    assert.deepEqual(moves, []);
  });
});

describe('HealthScheduler transitions are logged', () => {
  it('one line per move: pool, endpoint, from, to and the reason', () => {
    const { e, s } = setup({ fall: 2, rise: 1 });
    const lines: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => (lines.push(chunk), true)) as typeof process.stderr.write;
    setQuiet(false);
    try {
      s.record(e, bad);
      s.record(e, bad);
      s.record(e, bad);
      s.record(e, ok);
    } finally {
      setQuiet(true);
      process.stderr.write = write;
    }
    const logged = lines.map((l) => {
      const { time, ...rest } = JSON.parse(l) as Record<string, unknown>;
      assert.equal(typeof time, 'string');
      return rest;
    });
    assert.deepEqual(logged, [
      { level: 'warn', msg: 'endpoint state', pool: 'app', endpoint: '127.0.0.1:1', from: 'healthy', to: 'unhealthy', reason: '2 failed checks: status 503' },
      { level: 'info', msg: 'endpoint state', pool: 'app', endpoint: '127.0.0.1:1', from: 'unhealthy', to: 'healthy', reason: '1 successful check: status 200' },
    ]);
  });
});

describe('HealthScheduler timing', () => {
  it('spreads first probes over one interval by the random source', async () => {
    const first = (r: number) => {
      const at: number[] = [];
      const t0 = performance.now();
      const check: HealthCheck = { probe: async () => (at.push(performance.now() - t0), ok) };
      const e = new Endpoint('127.0.0.1:1', '127.0.0.1', 1, 1);
      const s = new HealthScheduler('app', [e], check, settings({ intervalMs: 150 }), () => {}, () => r);
      s.start();
      return { at, s };
    };
    const early = first(0);
    const late = first(0.9);
    await waitFor('both probed', () => early.at.length > 0 && late.at.length > 0);
    early.s.stop();
    late.s.stop();
    assert.ok(early.at[0] < 60, `random 0: ${early.at[0].toFixed(1)}ms`);
    assert.ok(late.at[0] >= 130, `random 0.9: ${late.at[0].toFixed(1)}ms`);
  });

  it('probes repeatedly at about the interval, with jitter', async () => {
    const at: number[] = [];
    const check: HealthCheck = { probe: async () => (at.push(performance.now()), ok) };
    const { s } = setup({ intervalMs: 20 }, check);
    s.start();
    await waitFor('6 probes', () => at.length >= 6);
    s.stop();
    const gaps = at.slice(1).map((t, i) => t - at[i]);
    // 20ms ± 10%, plus timer lateness
    for (const g of gaps) assert.ok(g >= 17 && g < 80, `gap ${g.toFixed(1)}ms in ${gaps.map((x) => x.toFixed(1)).join(', ')}`);
  });

  it('a probe that does not settle within timeout is a failure "timeout after Nms" and is aborted', async () => {
    let aborted = 0;
    const check: HealthCheck = {
      probe: (_e, signal) =>
        new Promise((resolve) => signal.addEventListener('abort', () => (aborted++, resolve({ ok: false, detail: 'aborted' })))),
    };
    const { e, s, moves } = setup({ intervalMs: 10, timeoutMs: 30, fall: 2 }, check);
    s.start();
    await waitFor('unhealthy', () => e.state === EndpointState.unhealthy);
    s.stop();
    assert.equal(e.lastProbe, 'timeout after 30ms');
    assert.ok(aborted >= 2);
    assert.deepEqual(moves, [[EndpointState.healthy, EndpointState.unhealthy]]);
  });

  it('a check that ignores the abort still fails at the timeout, and probing goes on', async () => {
    let probes = 0;
    const check: HealthCheck = { probe: () => (probes++, new Promise(() => {})) };
    const { e, s } = setup({ intervalMs: 5, timeoutMs: 20, fall: 2 }, check);
    s.start();
    await waitFor('unhealthy', () => e.state === EndpointState.unhealthy);
    s.stop();
    assert.ok(probes >= 2);
    assert.equal(e.lastProbe, 'timeout after 20ms');
  });

  it('uses unhealthyInterval while unhealthy', async () => {
    const at: number[] = [];
    const check: HealthCheck = { probe: async () => (at.push(performance.now()), bad) };
    const { e, s } = setup({ intervalMs: 10, unhealthyIntervalMs: 120, fall: 1 }, check);
    s.start();
    await waitFor('3 probes', () => at.length >= 3);
    s.stop();
    assert.equal(e.state, EndpointState.unhealthy);
    assert.ok(at[2] - at[1] >= 100, `gap while unhealthy ${(at[2] - at[1]).toFixed(1)}ms`);
  });

  it('stop() aborts the probe in flight, ignores its result and schedules nothing more', async () => {
    let signal: AbortSignal | null = null;
    let probes = 0;
    const check: HealthCheck = {
      probe: (_e, sig) => {
        probes++;
        signal = sig;
        return new Promise((resolve) => sig.addEventListener('abort', () => resolve(bad)));
      },
    };
    const { e, s } = setup({ intervalMs: 5, timeoutMs: 10_000, fall: 1 }, check);
    s.start();
    await waitFor('a probe in flight', () => signal !== null);
    s.stop();
    assert.equal(signal!.aborted, true);
    await sleep(40);
    assert.equal(probes, 1);
    assert.equal(e.probes, 0, 'the aborted result is not counted');
    assert.equal(e.state, EndpointState.healthy);
  });

  it('a check that throws counts as a failure', async () => {
    const check: HealthCheck = { probe: async () => { throw new Error('boom'); } };
    const { e, s } = setup({ intervalMs: 5, fall: 1 }, check);
    s.start();
    await waitFor('unhealthy', () => e.state === EndpointState.unhealthy);
    s.stop();
    assert.equal(e.lastProbe, 'check failed: boom');
  });
});

describe('flap damping', () => {
  const flap = { maxTransitions: 4, windowMs: 60_000, holdDownMs: 150, maxHoldDownMs: 400 };
  const cycle = (s: HealthScheduler, e: Endpoint, up: boolean) => {
    for (let i = 0; i < (up ? 2 : 3); i++) s.record(e, up ? ok : bad);
  };

  it('an endpoint that flaps maxTransitions times is held unhealthy, then may rise again', async () => {
    const { e, s, moves } = setup({ fall: 3, rise: 2, flap });
    cycle(s, e, false); // 1: unhealthy
    cycle(s, e, true); // 2: healthy
    cycle(s, e, false); // 3: unhealthy
    cycle(s, e, true); // 4: healthy
    assert.equal(e.holdUntil, 0, 'no hold-down before the limit');
    cycle(s, e, false); // 5: unhealthy, flapping: held down
    assert.equal(moves.length, 5);
    assert.ok(e.holdUntil > Date.now(), 'held down');
    assert.equal(e.holds, 1);
    cycle(s, e, true);
    cycle(s, e, true);
    assert.equal(e.state, EndpointState.unhealthy, 'passing checks do not end a hold-down');
    assert.equal(moves.length, 5);
    await sleep(170);
    s.record(e, ok);
    assert.equal(e.state, EndpointState.healthy, 'after the hold-down the next success brings it back');
  });

  it('hold-downs that follow each other double, up to maxHoldDown', () => {
    const { e, s } = setup({ fall: 1, rise: 1, flap: { ...flap, maxTransitions: 2 } });
    const lengths: number[] = [];
    for (let round = 0; round < 4; round++) {
      e.holdUntil = 0; // let it rise at once, to flap again
      s.record(e, bad);
      s.record(e, ok);
      s.record(e, bad);
      lengths.push(Math.round((e.holdUntil - Date.now()) / 50) * 50);
    }
    assert.deepEqual(lengths, [150, 300, 400, 400]);
  });

  it('without flapDamping an endpoint moves on every threshold', () => {
    const { e, s, moves } = setup({ fall: 1, rise: 1 });
    for (let i = 0; i < 10; i++) s.record(e, i % 2 === 0 ? bad : ok);
    assert.equal(moves.length, 10);
    assert.equal(e.holdUntil, 0);
  });
});
