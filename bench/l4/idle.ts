// Scenario c: a proxy's memory for idle connections. The harness itself opens the client sockets (each sends
// `I` and waits for the peer's `i`, so every pair is open end to end), and reads the proxy's VmRSS and open
// descriptors in /proc before, while they are held, and after they are closed.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { HOST } from '../net.ts';
import { currentRssKiB } from '../processes.ts';

/** Connects in flight at once while opening: well under every listen backlog involved. */
const OPENING_AT_ONCE = 200;
/** Time for the proxy to settle (finish its handlers, grow its heap) before its RSS is read. */
const SETTLE_MS = 1000;

export interface IdleMemory {
  readonly beforeKiB: number;
  readonly heldKiB: number;
  readonly closedKiB: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One connection through to the peer: connected, `I` sent, `i` back within 10 s. */
function openOne(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    const fail = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(10_000, () => fail(new Error('no answer within 10 s')));
    socket.once('error', fail);
    socket.once('close', () => fail(new Error('closed before the peer answered')));
    socket.once('connect', () => socket.write('I'));
    socket.once('data', () => {
      socket.setTimeout(0);
      socket.removeAllListeners('close');
      socket.removeListener('error', fail);
      socket.on('error', () => socket.destroy());
      resolve(socket);
    });
  });
}

/** `count` connections to `port`, each answered by the peer; throws when that takes longer than `timeoutMs`. */
async function openIdle(port: number, count: number, timeoutMs: number): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  const deadline = Date.now() + timeoutMs;
  let next = 0;
  let failure: Error | undefined;
  const worker = async (): Promise<void> => {
    while (next < count && failure === undefined) {
      if (Date.now() > deadline) {
        failure = new Error(`only ${sockets.length} of ${count} were up within ${timeoutMs} ms`);
        return;
      }
      next++;
      try {
        sockets.push(await openOne(port));
      } catch (error) {
        failure ??= error as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(OPENING_AT_ONCE, count) }, worker));
  if (failure !== undefined) {
    for (const socket of sockets) socket.destroy();
    throw new Error(`opening ${count} idle connections, ${sockets.length} up: ${failure.message}`);
  }
  return sockets;
}

function openDescriptors(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function rss(pid: number): number {
  const kib = currentRssKiB(pid);
  if (kib === undefined) throw new Error(`process ${pid} is gone`);
  return kib;
}

/** Holds `count` idle connections through the proxy `pid` listening on `port`; its RSS before, held, closed. */
export async function measureIdle(pid: number, port: number, count: number): Promise<IdleMemory> {
  await sleep(SETTLE_MS);
  const beforeKiB = rss(pid);
  const descriptors = openDescriptors(pid);
  const sockets = await openIdle(port, count, 30_000 + count * 10);
  await sleep(SETTLE_MS);
  const heldKiB = rss(pid);
  const held = openDescriptors(pid) - descriptors;
  for (const socket of sockets) socket.destroy();
  if (held < 2 * count) throw new Error(`the proxy held ${held} sockets for ${count} idle connections, want ${2 * count}`);
  // Closed: once the proxy has let go of both sockets of every pair (at most 10 s).
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && openDescriptors(pid) > descriptors + count / 100) await sleep(100);
  await sleep(SETTLE_MS);
  return { beforeKiB, heldKiB, closedKiB: rss(pid) };
}

function openFilesLimit(): number {
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'latin1'));
  return match === null || match[1] === 'unlimited' ? Infinity : Number(match[1]);
}

/** Connections a proxy may accept beyond the idle ones (checks, strays). */
export const IDLE_HEADROOM = 50;
/** Descriptors a process needs besides its sockets (HAProxy asks for 2 × maxconn + 14; Node.js a few dozen). */
const SPARE_FILES = 100;

const filesFor = (idleConnections: number): number => 2 * (idleConnections + IDLE_HEADROOM) + SPARE_FILES;

/**
 * A proxy holds two sockets per idle connection (the harness and the peer one each). Raises this process's
 * open-files limit with prlimit before the proxies and the peer are started, so they inherit it. Raising the
 * hard limit needs CAP_SYS_RESOURCE; without it, returns the count of idle connections that fits the limit.
 */
export function fitOpenFiles(idleConnections: number, prlimit: string): number {
  const wanted = filesFor(idleConnections);
  if (openFilesLimit() >= wanted) return idleConnections;
  try {
    execFileSync(prlimit, ['--pid', String(process.pid), `--nofile=${wanted}:${wanted}`], { stdio: 'pipe' });
    return idleConnections;
  } catch {
    const limit = openFilesLimit();
    return Math.max(0, Math.floor((limit - SPARE_FILES) / 2) - IDLE_HEADROOM);
  }
}
