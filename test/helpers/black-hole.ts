// A loopback port whose connects never complete, for connect-timeout tests of both data planes.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';

async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export interface BlackHole {
  readonly port: number;
  /** `127.0.0.1:PORT` */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * A loopback port whose connects never complete: a listener (backlog 1) in a worker thread that blocks right
 * after listening, so nothing is accepted; filler connections fill its accept queue and Linux then drops further
 * SYNs. Null when the kernel does not behave that way, so the caller skips rather than fakes a timeout.
 */
export async function startBlackHole(): Promise<BlackHole | null> {
  const flag = new SharedArrayBuffer(4);
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const net = require('node:net');
     const server = net.createServer();
     server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
       parentPort.postMessage(server.address().port);
       Atomics.wait(new Int32Array(workerData), 0, 0, 30000);
       server.close();
     });`,
    { eval: true, workerData: flag },
  );
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const sockets: net.Socket[] = [];
  const open = (): net.Socket => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.on('error', () => {});
    sockets.push(s);
    return s;
  };
  let filled = 0;
  for (let i = 0; i < 4; i++) open().on('connect', () => filled++);
  await waitFor('the accept queue to fill', () => filled >= 2, 2000).catch(() => {});
  const probe = open();
  let probeConnected = false;
  probe.on('connect', () => (probeConnected = true));
  await sleep(400);
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    const view = new Int32Array(flag);
    Atomics.store(view, 0, 1);
    Atomics.notify(view, 0);
    await worker.terminate();
  };
  if (probeConnected) {
    await close();
    return null;
  }
  return { port, address: `127.0.0.1:${port}`, close };
}
