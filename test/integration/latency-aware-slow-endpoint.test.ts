// Latency feedback reaches the balancer over real sockets: with one client sending requests one after
// another, every endpoint always has zero requests in flight, so only measured latency can tell a slow
// endpoint apart. least-response-time and peak-ewma must steer away from it; round robin cannot.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { simpleConfig, startFulcrum } from '../helpers/fulcrum.ts';
import { drive, shareOf, startNamedOrigin, type NamedOrigin } from '../helpers/load.ts';

describe('latency-aware balancing with one slow endpoint and one sequential client', () => {
  let origins: NamedOrigin[];

  before(async () => {
    origins = [await startNamedOrigin('fast-a', 0), await startNamedOrigin('slow', 20), await startNamedOrigin('fast-b', 0)];
    // Warm the proxy path first: an endpoint's first sample through a cold process (JIT, first connections) can
    // exceed the slow endpoint's 20 ms on a loaded machine, and a latency estimate is only refreshed when its
    // endpoint is picked again — which a sequential client never causes once another looks faster.
    const warm = await startFulcrum(simpleConfig(origins.map((o) => o.address), { balancer: { algorithm: 'round-robin' } }));
    try {
      await drive(warm.url('/'), 1, 400);
    } finally {
      await warm.stop();
    }
  });
  after(async () => {
    await Promise.all(origins.map((o) => o.close()));
  });

  for (const algorithm of ['least-response-time', 'peak-ewma']) {
    test(`${algorithm} sends the slow endpoint a small share`, async () => {
      const lb = await startFulcrum(simpleConfig(origins.map((o) => o.address), { balancer: { algorithm } }));
      try {
        const counts = await drive(lb.url('/'), 1, 1_500);
        const slow = shareOf(counts, 'slow');
        assert.ok(slow < 0.1, `slow origin share ${slow.toFixed(3)} (${JSON.stringify([...counts])})`);
      } finally {
        await lb.stop();
      }
    });
  }

  test('round robin, for contrast, gives it a third', async () => {
    const lb = await startFulcrum(simpleConfig(origins.map((o) => o.address), { balancer: { algorithm: 'round-robin' } }));
    try {
      const counts = await drive(lb.url('/'), 1, 1_000);
      const slow = shareOf(counts, 'slow');
      assert.ok(Math.abs(slow - 1 / 3) < 0.02, `slow origin share ${slow.toFixed(3)} (${JSON.stringify([...counts])})`);
    } finally {
      await lb.stop();
    }
  });
});
