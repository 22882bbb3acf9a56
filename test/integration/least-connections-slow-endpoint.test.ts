// least-connections over real sockets: three origins, one answering after 50 ms and two at once, 20
// concurrent clients for 2 s. least-connections keeps in-flight counts level, so the slow origin — holding
// each request 50× longer — gets a small share; round robin, for contrast, gives it exactly a third.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { simpleConfig, startFulcrum } from '../helpers/fulcrum.ts';
import { drive, shareOf, startNamedOrigin, type NamedOrigin } from '../helpers/load.ts';

describe('least-connections with one slow endpoint', () => {
  let origins: NamedOrigin[];

  before(async () => {
    origins = [await startNamedOrigin('fast-a', 0), await startNamedOrigin('slow', 50), await startNamedOrigin('fast-b', 0)];
  });
  after(async () => {
    await Promise.all(origins.map((o) => o.close()));
  });

  test('least-connections gives the slow origin a small share', async () => {
    const lb = await startFulcrum(simpleConfig(origins.map((o) => o.address), { balancer: { algorithm: 'least-connections' } }));
    try {
      const counts = await drive(lb.url('/'), 20, 2_000);
      const slow = shareOf(counts, 'slow');
      assert.ok(slow < 0.15, `slow origin share ${slow.toFixed(3)} (${JSON.stringify([...counts])})`);
      for (const name of ['fast-a', 'fast-b']) {
        assert.ok(shareOf(counts, name) > 0.35, `${name} share ${shareOf(counts, name).toFixed(3)} (${JSON.stringify([...counts])})`);
      }
    } finally {
      await lb.stop();
    }
  });

  test('round robin, for contrast, gives it an equal third', async () => {
    const lb = await startFulcrum(simpleConfig(origins.map((o) => o.address), { balancer: { algorithm: 'round-robin' } }));
    try {
      const counts = await drive(lb.url('/'), 20, 2_000);
      const slow = shareOf(counts, 'slow');
      assert.ok(Math.abs(slow - 1 / 3) < 0.02, `slow origin share ${slow.toFixed(3)} (${JSON.stringify([...counts])})`);
    } finally {
      await lb.stop();
    }
  });
});
