// Rate-limit checks with the memory store: ns per policy.check for a hot key and over 10,000 keys (client-ip),
// and the heap each algorithm holds per key, measured over 100,000 IPv4 keys (Map entry + key string + state;
// the log with 10 timestamps per key). Run: node bench/micro/ratelimit.bench.ts
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { compileRateLimit } from '../../src/ratelimit/policy.ts';
import { rateLimitPolicySchema } from '../../src/ratelimit/schema.ts';
import { routeRequest } from '../../test/helpers/route-request.ts';
import { measure } from './harness.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const configs: readonly Record<string, unknown>[] = [
  { limit: '1000000/s', algorithm: 'token-bucket' },
  { limit: '1000000/s', algorithm: 'leaky-bucket', maxDelay: 0 },
  { limit: '1000000/s', algorithm: 'fixed-window' },
  { limit: '10000/s', algorithm: 'sliding-window-log' },
  { limit: '1000000/s', algorithm: 'sliding-window-counter' },
];

const address = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

const base = 1_700_000_000_000;
// warm every algorithm up before timing any (the first function timed in a process otherwise pays for the JIT)
for (const raw of configs) {
  const policy = compileRateLimit(rateLimitPolicySchema.parse(raw), 'warm-up');
  const req = routeRequest({ clientAddress: '192.0.2.1' });
  for (let t = 0; t < 300_000; t++) policy.check(req, base + (t >> 10));
}
for (const raw of configs) {
  const name = raw.algorithm as string;
  const policy = compileRateLimit(rateLimitPolicySchema.parse(raw), 'bench');
  const hot = routeRequest({ clientAddress: '192.0.2.1' });
  // integer milliseconds, as the data plane's clock: one more every 1,024 checks
  let tick = 0;
  measure(`${name} check, one key`, () => {
    policy.check(hot, base + (tick++ >> 10));
  }, 0.4, 2000);
  const requests = Array.from({ length: 10_000 }, (_, i) => routeRequest({ clientAddress: address(i) }));
  let i = 0;
  measure(`${name} check, 10k keys`, () => {
    policy.check(requests[i++ % 10_000], base + (tick++ >> 10));
  }, 0.4, 2000);
}

// bytes per key: a fresh policy, 100k keys (sliding-window-log: 10 stamps each), heap before and after
const keys = 100_000;
const addresses = Array.from({ length: keys }, (_, i) => address(i));
for (const raw of configs) {
  const name = raw.algorithm as string;
  const policy = compileRateLimit(rateLimitPolicySchema.parse({ ...raw, maxKeys: keys }), 'bench');
  const perKey = name === 'sliding-window-log' ? 10 : 1;
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let k = 0; k < keys; k++) {
    // fresh strings, as the data plane's are: the key text is part of what a store holds
    const key = `${addresses[k]} `.trimEnd();
    for (let j = 0; j < perKey; j++) policy.limiter.take(key, 1, 1_700_000_000_000 + j);
  }
  gc();
  const bytes = (process.memoryUsage().heapUsed - before) / keys;
  process.stdout.write(`${`${name} heap per key${perKey > 1 ? ` (${perKey} stamps)` : ''}`.padEnd(48)} ${bytes.toFixed(0).padStart(9)} bytes\n`);
  policy.close();
}
