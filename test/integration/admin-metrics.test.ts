// GET /metrics over real sockets: exactly N requests through Fulcrum show as N in
// fulcrum_endpoint_requests_total; state gauges follow operator verbs; the output is valid Prometheus text
// (one # TYPE per family, no duplicate series, labels only from config names); counters carry on across
// reloads and a removed endpoint leaves the output.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { Backend } from '../helpers/backend.ts';
import { simpleConfig, startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { rawRequest } from '../helpers/origins.ts';

const token = 'metrics-test-token-0123';
let backends: Backend[];
let lb: RunningFulcrum;
let agent: Agent;

function config(addresses: readonly string[]): unknown {
  const c = simpleConfig(addresses) as { admin?: unknown };
  c.admin = { address: '127.0.0.1:0', token };
  return c;
}

function admin(path: string): string {
  const { host, port } = lb.rt.adminAddress!;
  return `http://${host}:${port}${path}`;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (0.0.4) strictly enough to catch a malformed line or a duplicate. */
function parse(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type !== null) {
      assert.ok(!types.has(type[1]), `two # TYPE lines for ${type[1]}`);
      types.set(type[1], type[2]);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/i.exec(line);
    assert.ok(m !== null, `not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g)) labels[l[1]] = l[2];
    const series = m[1] + JSON.stringify(Object.entries(labels).sort());
    assert.ok(!seen.has(series), `duplicate series ${series}`);
    seen.add(series);
    const family = m[1].replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(m[1]) || types.has(family), `sample before its # TYPE: ${m[1]}`);
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { types, samples };
}

async function scrape(): Promise<{ types: Map<string, string>; samples: Sample[]; contentType: string }> {
  const res = await request(admin('/metrics'));
  assert.equal(res.statusCode, 200);
  return { ...parse(await res.body.text()), contentType: String(res.headers['content-type']) };
}

function values(samples: readonly Sample[], name: string, where: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v));
}

function sum(samples: readonly Sample[], name: string, where: Record<string, string> = {}): number {
  return values(samples, name, where).reduce((n, s) => n + s.value, 0);
}

async function send(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await request(lb.url(`/path/${i}?q=${i}`), { dispatcher: agent });
    await res.body.text();
    assert.equal(res.statusCode, 200);
  }
}

before(async () => {
  backends = await Promise.all(['a', 'b', 'c'].map((n) => new Backend(n).start()));
  lb = await startFulcrum(config(backends.slice(0, 2).map((b) => b.address)));
  agent = new Agent({ connections: 2 });
});
after(async () => {
  await agent.close();
  await lb.stop();
  await Promise.all(backends.map((b) => b.stop()));
});

test('N requests through Fulcrum sum to exactly N in fulcrum_endpoint_requests_total', async () => {
  const N = 137;
  await send(N);
  const { types, samples, contentType } = await scrape();
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  assert.equal(sum(samples, 'fulcrum_endpoint_requests_total'), N);
  assert.equal(values(samples, 'fulcrum_endpoint_requests_total').length, 2);
  for (const b of backends.slice(0, 2)) {
    assert.equal(sum(samples, 'fulcrum_endpoint_requests_total', { pool: 'app', endpoint: b.address }), b.requests);
  }
  assert.equal(sum(samples, 'fulcrum_endpoint_failures_total'), 0);
  assert.equal(sum(samples, 'fulcrum_endpoint_in_flight'), 0);
  assert.equal(sum(samples, 'fulcrum_config_generation'), 1);
  assert.equal(sum(samples, 'fulcrum_pool_panic', { pool: 'app' }), 0);
  assert.equal(sum(samples, 'fulcrum_endpoint_weight'), 2);
  assert.equal(sum(samples, 'fulcrum_downstream_connections', { listener: 'web' }), 2);
  for (const [name, type] of [
    ['fulcrum_endpoint_requests_total', 'counter'],
    ['fulcrum_endpoint_failures_total', 'counter'],
    ['fulcrum_endpoint_in_flight', 'gauge'],
    ['fulcrum_endpoint_state', 'gauge'],
    ['fulcrum_endpoint_weight', 'gauge'],
    ['fulcrum_endpoint_connections', 'gauge'],
    ['fulcrum_endpoint_health_checks_total', 'counter'],
    ['fulcrum_endpoint_health_transitions_total', 'counter'],
    ['fulcrum_endpoint_ejections_total', 'counter'],
    ['fulcrum_pool_panic', 'gauge'],
    ['fulcrum_pool_endpoints', 'gauge'],
    ['fulcrum_config_generation', 'gauge'],
    ['fulcrum_config_reloads_total', 'counter'],
    ['fulcrum_process_cpu_seconds_total', 'counter'],
    ['fulcrum_process_resident_memory_bytes', 'gauge'],
    ['fulcrum_nodejs_eventloop_lag_seconds', 'gauge'],
  ]) {
    assert.equal(types.get(name), type, name);
  }
  // labels hold config names only: no client address, no request path
  const labelValues = samples.flatMap((s) => Object.values(s.labels));
  assert.ok(!labelValues.some((v) => v.startsWith('/path') || v.includes('q=')), 'no path in a label');
  const endpoints = new Set(backends.map((b) => b.address));
  for (const s of samples) {
    if (s.labels.endpoint !== undefined) assert.ok(endpoints.has(s.labels.endpoint), s.labels.endpoint);
  }
});

test('state gauges follow drain and disable: one state set to 1 per endpoint, pool counts per state', async () => {
  const [a, b] = backends;
  const verb = async (name: string, address: string) => {
    const res = await request(admin(`/pools/app/endpoints/${encodeURIComponent(address)}/${name}`), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    await res.body.text();
    assert.equal(res.statusCode, 200);
  };
  await verb('drain', a.address);
  await verb('disable', b.address);
  const { samples } = await scrape();
  const stateOf = (address: string) => values(samples, 'fulcrum_endpoint_state', { endpoint: address }).filter((s) => s.value === 1).map((s) => s.labels.state);
  assert.deepEqual(stateOf(a.address), ['draining']);
  assert.deepEqual(stateOf(b.address), ['disabled']);
  assert.equal(values(samples, 'fulcrum_endpoint_state', { endpoint: a.address }).length, 5, 'every state is present');
  assert.equal(sum(samples, 'fulcrum_pool_endpoints', { pool: 'app', state: 'draining' }), 1);
  assert.equal(sum(samples, 'fulcrum_pool_endpoints', { pool: 'app', state: 'disabled' }), 1);
  assert.equal(sum(samples, 'fulcrum_pool_endpoints', { pool: 'app', state: 'healthy' }), 0);
  assert.equal(sum(samples, 'fulcrum_endpoint_connections', { endpoint: a.address, state: 'idle' }), 0, 'draining closes idle connections');
  await verb('enable', a.address);
  await verb('enable', b.address);
  const after = await scrape();
  assert.equal(sum(after.samples, 'fulcrum_pool_endpoints', { pool: 'app', state: 'healthy' }), 2);
});

test('counters carry on across reloads; a removed endpoint leaves the output, an added one starts at 0', async () => {
  const before = await scrape();
  const total = sum(before.samples, 'fulcrum_endpoint_requests_total');
  const [a, b, c] = backends;
  const aBefore = sum(before.samples, 'fulcrum_endpoint_requests_total', { endpoint: a.address });

  assert.equal((await lb.reload(config([a.address, c.address]))).ok, true);
  const bad = await lb.rt.reload(); // no config file behind this in-process balancer: rejected
  assert.equal(bad.ok, false);
  const { samples } = await scrape();
  assert.equal(sum(samples, 'fulcrum_config_generation'), 2);
  assert.equal(sum(samples, 'fulcrum_config_reloads_total', { result: 'success' }), 1);
  assert.equal(sum(samples, 'fulcrum_config_reloads_total', { result: 'failure' }), 1);
  assert.equal(sum(samples, 'fulcrum_endpoint_requests_total', { endpoint: a.address }), aBefore, 'a kept endpoint keeps its count');
  assert.equal(values(samples, 'fulcrum_endpoint_requests_total', { endpoint: b.address }).length, 0, 'a removed endpoint is gone');
  assert.equal(values(samples, 'fulcrum_endpoint_state', { endpoint: b.address }).length, 0);
  assert.equal(sum(samples, 'fulcrum_endpoint_requests_total', { endpoint: c.address }), 0);

  await send(20);
  const later = await scrape();
  assert.equal(sum(later.samples, 'fulcrum_endpoint_requests_total'), total - sum(before.samples, 'fulcrum_endpoint_requests_total', { endpoint: b.address }) + 20);
  assert.equal(sum(later.samples, 'fulcrum_endpoint_requests_total', { endpoint: a.address }), aBefore + 10);
  assert.equal(sum(later.samples, 'fulcrum_endpoint_requests_total', { endpoint: c.address }), 10);
});

test('traffic metrics: route and endpoint status classes, latency histograms, listener bytes and local replies', async () => {
  const before = await scrape();
  const routeBefore = sum(before.samples, 'fulcrum_route_responses_total', { route: 'web-0', class: '2xx' });
  const durationBefore = sum(before.samples, 'fulcrum_route_duration_seconds_count', { route: 'web-0' });
  const responseBefore = sum(before.samples, 'fulcrum_endpoint_response_seconds_count');
  const requestsBefore = sum(before.samples, 'fulcrum_downstream_requests_total', { listener: 'web' });
  const N = 25;
  await send(N);
  const { types, samples } = await scrape();
  assert.equal(types.get('fulcrum_route_duration_seconds'), 'histogram');
  assert.equal(types.get('fulcrum_endpoint_response_seconds'), 'histogram');
  assert.equal(sum(samples, 'fulcrum_route_responses_total', { route: 'web-0', class: '2xx' }) - routeBefore, N);
  assert.equal(sum(samples, 'fulcrum_route_responses_total', { route: 'web-0', class: '5xx' }), 0);
  assert.equal(sum(samples, 'fulcrum_route_duration_seconds_count', { route: 'web-0' }) - durationBefore, N);
  assert.equal(sum(samples, 'fulcrum_endpoint_response_seconds_count') - responseBefore, N);
  assert.equal(sum(samples, 'fulcrum_downstream_requests_total', { listener: 'web' }) - requestsBefore, N);
  // buckets are cumulative and end at the count; the sum of latencies is plausible (loopback: under 1 s each)
  const buckets = values(samples, 'fulcrum_route_duration_seconds_bucket', { route: 'web-0' });
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value);
  assert.equal(buckets.at(-1)!.labels.le, '+Inf');
  assert.equal(buckets.at(-1)!.value, sum(samples, 'fulcrum_route_duration_seconds_count', { route: 'web-0' }));
  const seconds = sum(samples, 'fulcrum_route_duration_seconds_sum', { route: 'web-0' });
  assert.ok(seconds > 0 && seconds < N + 200, `sum ${seconds}`);
  assert.ok(sum(samples, 'fulcrum_downstream_received_bytes_total', { listener: 'web' }) > N * 20);
  assert.ok(sum(samples, 'fulcrum_downstream_sent_bytes_total', { listener: 'web' }) > N * 50);
  assert.equal(sum(samples, 'fulcrum_endpoint_responses_total', { class: '2xx' }), sum(samples, 'fulcrum_endpoint_requests_total'));
  // a request with two Host headers is refused locally: counted by reason
  const bad = await rawRequest(lb.port(), 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
  assert.match(bad.response, /^HTTP\/1\.1 400 /);
  const after = await scrape();
  assert.equal(sum(after.samples, 'fulcrum_downstream_local_replies_total', { listener: 'web', reason: 'bad_request' }), 1);
  assert.equal(sum(after.samples, 'fulcrum_pool_requests_active', { pool: 'app' }), 0);
});
