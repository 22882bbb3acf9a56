// Runs Fulcrum in-process for integration tests: config as a plain object (same shape as the YAML), real
// listeners on 127.0.0.1 port 0, control-plane logs silenced.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Endpoint } from '../../src/upstream/endpoint.ts';
import { parseConfigValue } from '../../src/control/config/load.ts';
import { Runtime } from '../../src/control/runtime.ts';
import { setQuiet } from '../../src/core/log.ts';

setQuiet(true);

export interface RunningFulcrum {
  readonly rt: Runtime;
  /** Port of the named listener (the first when omitted). */
  port(listener?: string): number;
  url(path?: string, listener?: string): string;
  reload(config: unknown): Promise<{ ok: boolean; generation: number; errors: readonly string[] }>;
  stop(drainTimeoutMs?: number): Promise<void>;
}

/** A config with one HTTP listener on an ephemeral port in front of one round-robin pool. */
export function simpleConfig(endpoints: readonly string[], overrides: { listener?: object; pool?: object; balancer?: object } = {}): unknown {
  return {
    listeners: [{ name: 'web', address: '127.0.0.1:0', routes: [{ forward: { pool: 'app' } }], ...overrides.listener }],
    pools: [
      {
        name: 'app',
        balancer: overrides.balancer ?? { algorithm: 'round-robin' },
        endpoints: endpoints.map((address) => ({ address })),
        ...overrides.pool,
      },
    ],
  };
}

export async function startFulcrum(config: unknown): Promise<RunningFulcrum> {
  const rt = await Runtime.start(parseConfigValue(config, 'test-config'));
  const first = rt.generation.config.listeners[0].name;
  return {
    rt,
    port: (listener = first) => rt.address(listener).port,
    url: (path = '/', listener = first) => `http://127.0.0.1:${rt.address(listener).port}${path}`,
    reload: (next: unknown) => rt.reload(parseConfigValue(next, 'test-config')),
    stop: (drainTimeoutMs = 2000) => rt.stop(drainTimeoutMs),
  };
}

/** The running generation's endpoint at `address` in `pool` (the test configs' pool is `app`). */
export function endpointOf(lb: RunningFulcrum, address: string, pool = 'app'): Endpoint {
  const e = lb.rt.generation.pools.get(pool)?.endpoints.find((x) => x.key === address);
  assert.ok(e !== undefined, `no endpoint ${address} in pool ${pool}`);
  return e;
}

/** Polls `cond` every 5 ms; resolves with the time waited, fails after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > timeoutMs) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
  return performance.now() - t0;
}
