// Regression: an empty line before a request line (allowed by RFC 9112 §2.2) whose CR and LF arrived in
// separate packets was taken for an empty request line and answered 400.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { simpleConfig, startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { startEchoOrigin, type Origin } from '../helpers/origins.ts';

let origin: Origin;
let lb: RunningFulcrum;
before(async () => {
  origin = await startEchoOrigin({ name: 'o' });
  lb = await startFulcrum(simpleConfig([origin.address]));
});
after(async () => {
  await lb.stop();
  await origin.close();
});

test('CR, then LF and a request in a later packet', async () => {
  const socket = net.connect({ port: lb.port(), host: '127.0.0.1', noDelay: true });
  let got = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (got += d));
  await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
  socket.write('\r');
  await sleep(50);
  socket.write('\nGET /after-empty-line HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await new Promise<void>((resolve) => socket.on('close', () => resolve()));
  assert.match(got, /^HTTP\/1\.1 200 /);
  assert.match(got, /"url":"\/after-empty-line"/);
});
