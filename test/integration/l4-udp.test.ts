// The udp listener with real UDP peers on 127.0.0.1: datagrams relayed both ways; each client source keeps its
// endpoint while it is active (one upstream socket per flow, so replies map back); round robin per new flow;
// flows expire after flowIdle and the next datagram picks afresh; an unreachable endpoint ends its flow; maxFlows
// drops datagrams of extra flows.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { watchedCount } from '../../src/core/deadlines.ts';
import type { UdpListener } from '../../src/l4/udp-listener.ts';
import { makePool, startUdpEchoServer, startUdpListener, UdpClient, waitFor, type UdpTestServer } from '../helpers/l4.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function servers(...names: string[]): Promise<UdpTestServer[]> {
  const out: UdpTestServer[] = [];
  for (const n of names) {
    const s = await startUdpEchoServer(n);
    cleanups.push(() => s.close());
    out.push(s);
  }
  return out;
}

function trackListener(l: UdpListener): UdpListener {
  cleanups.push(() => l.stop());
  return l;
}

async function udpClient(): Promise<UdpClient> {
  const c = await new UdpClient().bind();
  cleanups.push(() => c.close());
  return c;
}

/** Which endpoint answered: the reply is `name:payload`. */
function from(reply: string): string {
  return reply.slice(0, reply.indexOf(':'));
}

describe('udp listener', () => {
  it('relays a datagram to the endpoint and its reply back, and counts both', async () => {
    const [u1] = await servers('u1');
    const pool = makePool('dns', [u1.port]);
    const l = trackListener(await startUdpListener(pool));
    const c = await udpClient();
    assert.equal(await c.request(l.address.port, 'ping'), 'u1:ping');
    assert.equal(await c.request(l.address.port, 'again'), 'u1:again');
    const k = l.counters;
    assert.deepEqual([k.flowsCreated, k.flowsActive, k.datagramsIn, k.datagramsOut, k.bytesIn, k.bytesOut], [1, 1, 2, 2, 9, 15]);
    assert.equal(pool.endpoints[0].requests, 1);
    assert.equal(pool.endpoints[0].inFlight, 1);
  });

  it('two clients keep their own endpoints while their flows are active', async () => {
    const [a, b] = await servers('a', 'b');
    const l = trackListener(await startUdpListener(makePool('dns', [a.port, b.port])));
    const c1 = await udpClient();
    const c2 = await udpClient();
    const seen1 = new Set<string>();
    const seen2 = new Set<string>();
    for (let i = 0; i < 5; i++) {
      seen1.add(from(await c1.request(l.address.port, `one ${i}`)));
      seen2.add(from(await c2.request(l.address.port, `two ${i}`)));
    }
    assert.equal(seen1.size, 1);
    assert.equal(seen2.size, 1);
    assert.notDeepEqual([...seen1], [...seen2], 'round robin gave the two flows different endpoints');
    assert.equal(l.counters.flowsCreated, 2);
    // each endpoint saw one source: the flow's own upstream socket
    assert.equal(a.senders.size, 1);
    assert.equal(b.senders.size, 1);
  });

  it('round robin per new flow', async () => {
    const [a, b, c] = await servers('a', 'b', 'c');
    const l = trackListener(await startUdpListener(makePool('dns', [a.port, b.port, c.port])));
    const names: string[] = [];
    for (let i = 0; i < 6; i++) names.push(from(await (await udpClient()).request(l.address.port, 'hi')));
    assert.deepEqual(names.slice(3), names.slice(0, 3));
    assert.deepEqual([...names.slice(0, 3)].sort(), ['a', 'b', 'c']);
  });

  it('a flow expires after flowIdle; the next datagram starts a new flow, picked afresh', async () => {
    const [a, b] = await servers('a', 'b');
    const pool = makePool('dns', [a.port, b.port]);
    const before = watchedCount();
    const l = trackListener(await startUdpListener(pool, { flowIdleMs: 200 }));
    const c = await udpClient();
    const first = from(await c.request(l.address.port, 'x'));
    await sleep(100);
    assert.equal(from(await c.request(l.address.port, 'y')), first, 'still active: same endpoint');
    await waitFor('the flow to expire', () => l.counters.flowsActive === 0, 2000);
    assert.equal(l.counters.flowsExpired, 1);
    assert.deepEqual(pool.endpoints.map((e) => e.inFlight), [0, 0]);
    assert.equal(watchedCount(), before);
    const second = from(await c.request(l.address.port, 'z'));
    assert.notEqual(second, first, 'round robin moved on for the new flow');
    assert.equal(l.counters.flowsCreated, 2);
  });

  it('maxFlows: a datagram that would start one more flow is dropped and counted', async () => {
    const [a] = await servers('a');
    const l = trackListener(await startUdpListener(makePool('dns', [a.port]), { maxFlows: 1 }));
    const c1 = await udpClient();
    const c2 = await udpClient();
    assert.equal(await c1.request(l.address.port, 'first'), 'a:first');
    await assert.rejects(c2.request(l.address.port, 'second', 300), /no reply/);
    assert.equal(l.counters.flowsRefused, 1);
    assert.equal(l.counters.datagramsDropped, 1);
    assert.equal(await c1.request(l.address.port, 'still'), 'a:still');
  });

  it('an endpoint that answers port unreachable ends the flow; the next datagram picks again', async () => {
    const [live] = await servers('live');
    const gone = await startUdpEchoServer('gone');
    const deadPort = gone.port;
    await gone.close();
    const pool = makePool('dns', [deadPort, live.port]);
    const l = trackListener(await startUdpListener(pool));
    const c = await udpClient();
    await assert.rejects(c.request(l.address.port, 'first', 300), /no reply/); // the flow went to the dead port
    await waitFor('the flow to end on the ICMP error', () => l.counters.flowsActive === 0);
    assert.equal(l.counters.upstreamErrors, 1);
    assert.equal(pool.endpoints[0].failures, 1);
    assert.equal(await c.request(l.address.port, 'second'), 'live:second');
  });

  it('no eligible endpoint: dropped and counted', async () => {
    const l = trackListener(await startUdpListener(makePool('dns', [])));
    const c = await udpClient();
    await assert.rejects(c.request(l.address.port, 'anyone', 300), /no reply/);
    assert.equal(l.counters.noEndpoint, 1);
    assert.equal(l.counters.flowsActive, 0);
  });
});
