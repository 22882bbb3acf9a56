// The Redis server variant (c) counts in: a real redis-server on a free loopback port, no persistence
// (`--save "" --appendonly no`), started through `launch` so the harness stops it by its PID at exit. It runs
// on the load side's cores: in a deployment Redis is another machine, not a neighbour of the proxy's core.
import { execFileSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, HOST, waitForListening } from '../net.ts';
import { launch, type Launched } from '../processes.ts';

export interface RunningRedis {
  readonly url: string;
  readonly launched: Launched;
  readonly version: string;
}

/** True once the server answers PING with +PONG (it accepts connections a little before it serves them). */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

export async function startRedis(binary: string, dir: string, cpus: string | undefined): Promise<RunningRedis> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'];
  const launched = launch('redis', binary, args, `${dir}/redis.log`, cpus);
  await waitForListening(port, launched, 10_000);
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} does not answer PING`);
    await sleep(20);
  }
  // "Redis server v=7.0.15 sha=… malloc=…"
  const banner = execFileSync(binary, ['--version'], { encoding: 'utf8' });
  return { url: `redis://${HOST}:${port}`, launched, version: /v=(\S+)/.exec(banner)?.[1] ?? '?' };
}
