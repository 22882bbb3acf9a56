// The deregistration delay: a drained endpoint's in-flight exchange may finish within the delay; one still
// running when it passes is cut (the client gets 502 before a response started), while new requests go to
// the other endpoints from the moment of the drain. The same holds for an endpoint a reload removes.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { request } from 'undici';
import { endpointOf, simpleConfig, startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { startEchoOrigin, type Origin } from '../helpers/origins.ts';

const running: { stop(): Promise<void> }[] = [];
after(async () => {
  for (const r of running.reverse()) await r.stop();
});

async function setup(delay: string): Promise<{ lb: RunningFulcrum; slow: Origin; other: Origin }> {
  const slow = await startEchoOrigin({ name: 'slow' });
  const other = await startEchoOrigin({ name: 'other' });
  running.push({ stop: () => slow.close() }, { stop: () => other.close() });
  // round robin: the first request goes to `slow`; retries off so a cut exchange is not replayed
  const lb = await startFulcrum(simpleConfig([`127.0.0.1:${slow.port}`, `127.0.0.1:${other.port}`], { pool: { deregistrationDelay: delay, retries: { on: ['connect-failure'] } } }));
  running.push({ stop: () => lb.stop(500) });
  return { lb, slow, other };
}

async function timed(url: string): Promise<{ status: number; ms: number; name: string }> {
  const t0 = performance.now();
  const res = await request(url);
  const text = await res.body.text();
  let name = '';
  try {
    name = (JSON.parse(text) as { name: string }).name;
  } catch {
    // a local reply
  }
  return { status: res.statusCode, ms: performance.now() - t0, name };
}

test('a drained endpoint keeps its in-flight exchange within the delay', async () => {
  const { lb, slow } = await setup('5s');
  const inFlight = timed(lb.url('/?delay=600'));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(lb.rt.setEndpointState('app', `127.0.0.1:${slow.port}`, 'drain'), null);
  const next = await timed(lb.url('/'));
  assert.equal(next.name, 'other', 'new work goes elsewhere at once');
  const done = await inFlight;
  assert.deepEqual([done.status, done.name], [200, 'slow']);
});

test('an exchange still running when the delay passes is cut', async () => {
  const { lb, slow } = await setup('300ms');
  const inFlight = timed(lb.url('/?delay=3000'));
  await new Promise((r) => setTimeout(r, 100));
  lb.rt.setEndpointState('app', `127.0.0.1:${slow.port}`, 'drain');
  const cut = await inFlight;
  assert.equal(cut.status, 502);
  assert.ok(cut.ms >= 300 && cut.ms < 2000, `cut after ${cut.ms.toFixed(0)} ms`);
  // enabled again, it serves normally
  lb.rt.setEndpointState('app', `127.0.0.1:${slow.port}`, 'enable');
  const names = new Set<string>();
  for (let i = 0; i < 4; i++) names.add((await timed(lb.url('/'))).name);
  assert.deepEqual([...names].sort(), ['other', 'slow']);
  assert.equal(endpointOf(lb, `127.0.0.1:${slow.port}`).deregisterTimer, null);
});

test('an endpoint removed by a reload is cut after the delay too', async () => {
  const { lb, slow, other } = await setup('300ms');
  const inFlight = timed(lb.url('/?delay=3000'));
  await new Promise((r) => setTimeout(r, 100));
  const r = await lb.reload(simpleConfig([`127.0.0.1:${other.port}`], { pool: { deregistrationDelay: '300ms' } }));
  assert.equal(r.ok, true, r.errors.join('\n'));
  const cut = await inFlight;
  assert.equal(cut.status, 502);
  assert.ok(cut.ms < 2000, `cut after ${cut.ms.toFixed(0)} ms`);
  assert.ok(slow.requests >= 1);
});
