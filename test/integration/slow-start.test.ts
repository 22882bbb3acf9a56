// Slow start over real sockets: an endpoint that joins a pool through a reload takes a share of its weight
// that grows over the window, instead of half the traffic at once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { simpleConfig, startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { drive, shareOf, startNamedOrigin, type NamedOrigin } from '../helpers/load.ts';

let origins: NamedOrigin[];
let lb: RunningFulcrum;

before(async () => {
  origins = [await startNamedOrigin('old', 0), await startNamedOrigin('new', 0)];
});
after(async () => {
  await lb?.stop();
  await Promise.all(origins.map((o) => o.close()));
});

const config = (addresses: string[]) =>
  simpleConfig(addresses, { balancer: { algorithm: 'weighted-round-robin' }, pool: { slowStart: '1500ms' } });

test('a joining endpoint ramps up from a small share to an even one', async () => {
  lb = await startFulcrum(config([origins[0].address]));
  const r = await lb.reload(config(origins.map((o) => o.address)));
  assert.equal(r.ok, true);
  const early = shareOf(await drive(lb.url('/'), 4, 250), 'new');
  await sleep(1600);
  const late = shareOf(await drive(lb.url('/'), 4, 300), 'new');
  assert.ok(early < 0.25, `share of the joining endpoint in its first 250 ms: ${early.toFixed(3)}`);
  assert.ok(Math.abs(late - 0.5) < 0.03, `share after the window: ${late.toFixed(3)}`);
});

test('without slow start, a joining endpoint takes its full share at once', async () => {
  await lb.stop();
  lb = await startFulcrum(simpleConfig([origins[0].address], { balancer: { algorithm: 'weighted-round-robin' } }));
  await lb.reload(simpleConfig(origins.map((o) => o.address), { balancer: { algorithm: 'weighted-round-robin' } }));
  const early = shareOf(await drive(lb.url('/'), 4, 250), 'new');
  assert.ok(Math.abs(early - 0.5) < 0.03, `share: ${early.toFixed(3)}`);
});
