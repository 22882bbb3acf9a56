// resource-based over real sockets: each endpoint serves traffic on / and an agent report on /agent; the
// balancer polls the agents and shifts traffic to match the reports.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { simpleConfig, startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';

const servers: http.Server[] = [];
let addresses: string[] = [];
const reports = new Map<string, string>();
let agentPolls = 0;
let lb: RunningFulcrum;

function agentOrigin(name: string): Promise<string> {
  const server = http.createServer((req, res) => {
    if (req.url === '/agent') {
      agentPolls++;
      res.end((reports.get(name) ?? 'up') + '\n');
    }
    else res.end(name);
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

async function shares(n: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const res = await request(lb.url('/'));
    const name = await res.body.text();
    out.set(name, (out.get(name) ?? 0) + 1);
  }
  return out;
}

before(async () => {
  addresses = [await agentOrigin('a'), await agentOrigin('b')];
  lb = await startFulcrum(
    simpleConfig(addresses, { balancer: { algorithm: 'resource-based', agent: { path: '/agent', interval: '50ms', timeout: '200ms' } } }),
  );
});
after(async () => {
  await lb.stop();
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

test('traffic follows the agents: 25% vs 100%, then drain', async () => {
  reports.set('a', '25%');
  reports.set('b', '100%');
  await sleep(300);
  const first = await shares(100);
  assert.equal(first.get('a'), 20, JSON.stringify([...first]));
  assert.equal(first.get('b'), 80);
  reports.set('a', 'drain');
  await sleep(300);
  const drained = await shares(50);
  assert.equal(drained.get('a') ?? 0, 0, JSON.stringify([...drained]));
  assert.equal(drained.get('b'), 50);
});

test('a reload to another algorithm stops the agent polling of the old balancer', async () => {
  const r = await lb.reload(simpleConfig(addresses, { balancer: { algorithm: 'round-robin' } }));
  assert.equal(r.ok, true);
  await sleep(100); // a poll already in flight may still land
  const before = agentPolls;
  await sleep(300);
  assert.equal(agentPolls, before, 'no agent polls after the reload');
});
