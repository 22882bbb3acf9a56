// Weighted forward: the `forward` schema (one pool or a split), smooth weighted round robin (exact shares in
// every cycle of W picks, interleaved), sticky splits by key (stable, proportional over distinct keys, and a
// weight change moves only the keys in the moved band), the fallback for requests without the key, and
// weight-0 targets never picked. Random keys come from a fixed seed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configErrorMap, formatPath, issuesFromZod } from '../../../src/control/config/diagnostics.ts';
import { Random } from '../../../src/core/random.ts';
import { compileSplit, forwardSchema, Split, type ForwardConfig } from '../../../src/routing/split.ts';
import { compileKey } from '../../../src/upstream/balancing/keys.ts';
import { routeRequest } from '../../helpers/route-request.ts';

function parse(raw: unknown): ForwardConfig {
  const r = forwardSchema.safeParse(raw, { error: configErrorMap, reportInput: true });
  if (!r.success) assert.fail(r.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('\n'));
  return r.data;
}

function issues(raw: unknown): string[] {
  const r = forwardSchema.safeParse(raw, { error: configErrorMap, reportInput: true });
  assert.equal(r.success, false, 'expected the forward action to be rejected');
  return r.success ? [] : issuesFromZod(r.error.issues, forwardSchema, raw).map((i) => `${formatPath(i.path)}: ${i.message}`);
}

const anyRequest = routeRequest();
const userKey = compileKey({ header: 'x-user' });

function userRequest(user: string) {
  return routeRequest({ headers: [['x-user', user]] });
}

function randomUsers(count: number, seed: number): string[] {
  const rng = new Random(seed);
  const users = new Set<string>();
  while (users.size < count) users.add(`user-${rng.nextUint32().toString(36)}`);
  return [...users];
}

function split(weights: Record<string, number>, key = userKey as typeof userKey | null): Split<string> {
  return new Split(Object.entries(weights).map(([target, weight]) => ({ target, weight })), key);
}

describe('forwardSchema', () => {
  it('one pool, or a split with weights and an optional sticky key', () => {
    assert.deepEqual(parse({ pool: 'web' }), { pool: 'web' });
    assert.deepEqual(parse({ pools: [{ pool: 'v1', weight: 95 }, { pool: 'v2', weight: 5 }] }), {
      pools: [{ pool: 'v1', weight: 95 }, { pool: 'v2', weight: 5 }],
      sticky: null,
    });
    assert.deepEqual(parse({ pools: [{ pool: 'blue', weight: 100 }, { pool: 'green', weight: 0 }], sticky: { header: 'X-User' } }), {
      pools: [{ pool: 'blue', weight: 100 }, { pool: 'green', weight: 0 }],
      sticky: { header: 'x-user' },
    });
    assert.deepEqual((parse({ pools: [{ pool: 'a', weight: 1 }], sticky: 'client-ip' }) as { sticky: unknown }).sticky, 'client-ip');
  });

  it('exactly one of pool or pools; sticky only with pools', () => {
    assert.deepEqual(issues({}), [': expected exactly one of "pool" or "pools", found neither']);
    assert.deepEqual(issues({ pool: 'a', pools: [{ pool: 'b', weight: 1 }] }), [': expected exactly one of "pool" or "pools", found both']);
    assert.deepEqual(issues({ pool: 'a', sticky: 'client-ip' }), ['sticky: expected "sticky" only with "pools" (a split), found it with "pool"']);
  });

  it('weights are integers 0..1000, required, not all 0; each pool once; names checked', () => {
    assert.deepEqual(issues({ pools: [{ pool: 'a', weight: 1001 }, { pool: 'b', weight: 2.5 }, { pool: 'c' }] }), [
      'pools[0].weight: expected an integer 0..1000, found 1001',
      'pools[1].weight: expected an integer 0..1000, found 2.5',
      'pools[2].weight: missing required key "weight": expected an integer 0..1000',
    ]);
    assert.deepEqual(issues({ pools: [{ pool: 'a', weight: 0 }, { pool: 'b', weight: 0 }] }), [
      'pools: expected at least one pool with a weight above 0, found every weight 0',
    ]);
    assert.deepEqual(issues({ pools: [{ pool: 'a', weight: 1 }, { pool: 'b', weight: 1 }, { pool: 'a', weight: 1 }] }), [
      'pools[2].pool: expected each pool once in a split, found "a" again (first at pools[0])',
    ]);
    assert.deepEqual(issues({ pools: [{ pool: 'Web', weight: 1 }] }), ['pools[0].pool: expected the name of a pool like "web", found "Web"']);
    assert.deepEqual(issues({ pools: [] }), ['pools: expected a list of at least 1 item, found an empty list']);
  });

  it('a bad sticky key says which forms are accepted', () => {
    assert.deepEqual(issues({ pools: [{ pool: 'a', weight: 1 }], sticky: 'ip' }), [
      'sticky: expected "client-ip", "path", "path-query", { header: NAME }, { cookie: NAME } or { query: NAME }, found "ip"',
    ]);
    assert.deepEqual(issues({ pools: [{ pool: 'a', weight: 1 }], sticky: { header: 'x user' } }), [
      'sticky.header: expected an HTTP header name like "x-user", found "x user"',
    ]);
  });
});

describe('Split without a key: smooth weighted round robin', () => {
  it('a 5% canary gets exactly 5 of every 100 requests: 500 of 10,000', () => {
    const s = split({ stable: 95, canary: 5 }, null);
    let canary = 0;
    for (let cycle = 0; cycle < 100; cycle++) {
      let inCycle = 0;
      for (let i = 0; i < 100; i++) if (s.pick(anyRequest) === 'canary') inCycle++;
      assert.equal(inCycle, 5, `cycle ${cycle}`);
      canary += inCycle;
    }
    assert.equal(canary, 500);
    assert.ok(Math.abs(canary / 10_000 - 0.05) <= 0.01);
  });

  it('interleaves: {5,1,1} gives a,a,b,a,c,a,a and repeats', () => {
    const s = split({ a: 5, b: 1, c: 1 }, null);
    const picks = Array.from({ length: 14 }, () => s.pick(anyRequest));
    assert.deepEqual(picks, ['a', 'a', 'b', 'a', 'c', 'a', 'a', 'a', 'a', 'b', 'a', 'c', 'a', 'a']);
  });

  it('the canary picks are spread out, not bunched', () => {
    const s = split({ stable: 90, canary: 10 }, null);
    const at: number[] = [];
    for (let i = 0; i < 100; i++) if (s.pick(anyRequest) === 'canary') at.push(i);
    const gaps = at.slice(1).map((p, i) => p - at[i]);
    assert.deepEqual(gaps, [10, 10, 10, 10, 10, 10, 10, 10, 10]);
  });

  it('blue-green 100/0: the 0-weight target is never picked', () => {
    const s = split({ blue: 100, green: 0 }, null);
    for (let i = 0; i < 1000; i++) assert.equal(s.pick(anyRequest), 'blue');
    const first = split({ green: 0, blue: 3 }, null);
    for (let i = 0; i < 30; i++) assert.equal(first.pick(anyRequest), 'blue');
  });

  it('exposes the targets as configured; refuses a total of 0', () => {
    const s = split({ blue: 100, green: 0 }, null);
    assert.deepEqual(s.targets, [{ target: 'blue', weight: 100 }, { target: 'green', weight: 0 }]);
    assert.equal(s.totalWeight, 100);
    assert.throws(() => split({ a: 0 }, null), RangeError);
    assert.throws(() => split({ a: -1, b: 2 }, null), RangeError);
  });
});

describe('Split with a sticky key', () => {
  const users = randomUsers(20_000, 7);

  it('the same key always gets the same target, across instances (a fleet agrees)', () => {
    const a = split({ stable: 95, canary: 5 });
    const b = split({ stable: 95, canary: 5 });
    for (const user of users.slice(0, 2000)) {
      const first = a.pick(userRequest(user));
      assert.equal(a.pick(userRequest(user)), first);
      assert.equal(b.pick(userRequest(user)), first);
    }
  });

  it('the share of distinct keys per target is within ±1.5% of its weight', () => {
    const s = split({ a: 60, b: 30, c: 10 });
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (const user of users) counts[s.pick(userRequest(user))]++;
    for (const [target, weight] of [['a', 60], ['b', 30], ['c', 10]] as const) {
      const share = counts[target] / users.length;
      assert.ok(Math.abs(share - weight / 100) <= 0.015, `${target}: ${share}`);
    }
    const canary = split({ stable: 95, canary: 5 });
    const inCanary = users.filter((u) => canary.pick(userRequest(u)) === 'canary').length;
    assert.ok(Math.abs(inCanary / users.length - 0.05) <= 0.015, `canary: ${inCanary}`);
  });

  it('95/5 → 90/10 moves only keys from the big pool to the canary, about 5% of them', () => {
    const before = split({ stable: 95, canary: 5 });
    const after = split({ stable: 90, canary: 10 });
    let moved = 0;
    for (const user of users) {
      const was = before.pick(userRequest(user));
      const is = after.pick(userRequest(user));
      if (was === is) continue;
      assert.deepEqual([was, is], ['stable', 'canary'], user);
      moved++;
    }
    assert.ok(Math.abs(moved / users.length - 0.05) <= 0.015, `moved: ${moved}`);
  });

  it('a weight-0 target gets no key', () => {
    const s = split({ blue: 100, green: 0 });
    for (const user of users.slice(0, 5000)) assert.equal(s.pick(userRequest(user)), 'blue');
    const middle = split({ a: 1, off: 0, b: 1 });
    for (const user of users.slice(0, 5000)) assert.notEqual(middle.pick(userRequest(user)), 'off');
  });

  it('a request without the key falls back to weighted round robin', () => {
    const s = split({ stable: 3, canary: 1 });
    const picks = Array.from({ length: 8 }, () => s.pick(anyRequest));
    assert.deepEqual(picks, ['stable', 'stable', 'canary', 'stable', 'stable', 'stable', 'canary', 'stable']);
  });

  it('compileSplit resolves pool names and compiles the key', () => {
    const cfg = parse({ pools: [{ pool: 'v1', weight: 1 }, { pool: 'v2', weight: 1 }], sticky: { cookie: 'uid' } });
    assert.ok('pools' in cfg);
    const s = compileSplit(cfg, (name) => name.toUpperCase());
    assert.deepEqual(s.targets.map((t) => t.target), ['V1', 'V2']);
    const req = routeRequest({ headers: [['cookie', 'uid=alice']] });
    const first = s.pick(req);
    for (let i = 0; i < 10; i++) assert.equal(s.pick(req), first);
  });
});
