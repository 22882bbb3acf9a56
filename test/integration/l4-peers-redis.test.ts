// Redis through a `tcp` listener of a `fulcrum run` process: redis-cli's PING, SET and GET, a `--pipe` batch of
// 1,000 commands; ioredis doing 1,000 concurrent INCRs on several connections (every reply 1..1000 exactly once,
// the count exact on the server itself), a MULTI/EXEC transaction, and 1 MiB values of random bytes written by
// one client and read back byte-exact by the other.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { runFulcrum, runProgram, type FulcrumProcess } from '../helpers/l4-peers.ts';
import { startRedis, type RedisServer } from '../helpers/redis.ts';

let redis: RedisServer;
let lb: FulcrumProcess;
/** Straight to redis-server, to check what went through the proxy. */
let direct: Redis;
const clients: Redis[] = [];

before(async () => {
  redis = await startRedis();
  lb = await runFulcrum(
    [
      'listeners:',
      '  - name: redis',
      '    protocol: tcp',
      '    address: 127.0.0.1:0',
      '    pool: redis',
      '    timeouts: { connect: 2s, idle: 30s }',
      'pools:',
      '  - name: redis',
      `    endpoints: [{ address: 127.0.0.1:${redis.port} }]`,
    ].join('\n'),
  );
  direct = new Redis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: 1 });
});

after(async () => {
  for (const c of [...clients, direct]) c.disconnect();
  await lb?.stop();
  await redis?.stop();
});

/** An ioredis client through Fulcrum; it fails fast instead of reconnecting. */
function proxied(): Redis {
  const c = new Redis({ host: '127.0.0.1', port: lb.port('redis'), maxRetriesPerRequest: 1, retryStrategy: () => null });
  clients.push(c);
  return c;
}

async function cli(args: readonly string[], input?: string | Buffer): Promise<string> {
  const r = await runProgram('redis-cli', ['-h', '127.0.0.1', '-p', String(lb.port('redis')), ...args], { input, timeoutMs: 5000 });
  assert.equal(r.code, 0, `redis-cli ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

test('redis-cli PING, SET and GET through the tcp listener', async () => {
  assert.equal(await cli(['PING']), 'PONG\n');
  assert.equal(await cli(['SET', 'greeting', 'hello through fulcrum']), 'OK\n');
  assert.equal(await cli(['GET', 'greeting']), 'hello through fulcrum\n');
  assert.equal(await direct.get('greeting'), 'hello through fulcrum', 'the value reached the real server');
});

test('a redis-cli --pipe batch of 1,000 commands: every reply arrives and every key is set', async () => {
  const n = 1000;
  const resp = (...words: string[]) => `*${words.length}\r\n` + words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('');
  let input = '';
  for (let i = 0; i < n; i++) input += resp('SET', `pipe:${i}`, `value-${i}`);
  const out = await cli(['--pipe'], input);
  assert.match(out, new RegExp(`errors: 0, replies: ${n}\\b`));
  const values = await direct.mget(Array.from({ length: n }, (_, i) => `pipe:${i}`));
  assert.deepEqual(values, Array.from({ length: n }, (_, i) => `value-${i}`));
});

test('ioredis: 1,000 concurrent INCRs over 4 proxied connections give each count once and exactly 1,000', async () => {
  await direct.del('counter');
  const conns = [proxied(), proxied(), proxied(), proxied()];
  const replies = await Promise.all(Array.from({ length: 1000 }, (_, i) => conns[i % conns.length].incr('counter')));
  assert.deepEqual(
    replies.toSorted((x, y) => x - y),
    Array.from({ length: 1000 }, (_, i) => i + 1),
    'each INCR got its own reply: none lost, duplicated or crossed between connections',
  );
  assert.equal(await direct.get('counter'), '1000');
});

test('ioredis: MULTI/EXEC runs as one transaction through the proxy', async () => {
  const c = proxied();
  await c.del('tx:list', 'tx:n');
  const result = await c.multi().rpush('tx:list', 'a', 'b').incrby('tx:n', 41).incr('tx:n').lrange('tx:list', 0, -1).exec();
  assert.deepEqual(result, [
    [null, 2],
    [null, 41],
    [null, 42],
    [null, ['a', 'b']],
  ]);
  assert.equal(await direct.get('tx:n'), '42');
});

test('1 MiB values of random bytes round-trip byte-exact both ways (redis-cli -x and ioredis)', async () => {
  const size = 1024 * 1024;
  const c = proxied();

  const viaCli = randomBytes(size);
  assert.equal(await cli(['-x', 'SET', 'big:cli'], viaCli), 'OK\n');
  assert.equal(await cli(['STRLEN', 'big:cli']), `${size}\n`);
  assert.ok((await c.getBuffer('big:cli'))?.equals(viaCli), 'written by redis-cli, read by ioredis: same bytes');

  const viaIoredis = randomBytes(size);
  assert.equal(await c.set('big:ioredis', viaIoredis), 'OK');
  assert.ok((await c.getBuffer('big:ioredis'))?.equals(viaIoredis), 'read back through the proxy: same bytes');
  assert.ok((await direct.getBuffer('big:ioredis'))?.equals(viaIoredis), 'on the server: same bytes');
});
