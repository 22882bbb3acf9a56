// The load side of `npm run bench:l4`, one run per process (as wrk is for `npm run bench`), talking to
// bench/l4/peer.ts directly or through a proxy. Prints one JSON line (a LoadResult, see run-load.ts).
//   upload PORT BYTES     one connection sends BYTES to the sink in 1 MiB writes; timed from connect to the
//                         sink's count, which must equal BYTES
//   download PORT BYTES   one connection reads BYTES from the source into a reused 1 MiB buffer (no copy per
//                         read); timed from connect to the source's FIN
//   echo PORT CONNECTIONS SECONDS MESSAGE_BYTES
//                         each connection sends a message and waits for all of it to come back, again and
//                         again; round trips completed within SECONDS, and their latency (HDR histogram)
import net from 'node:net';
import { createHistogram } from 'node:perf_hooks';
import { exitWithParent } from './orphan.ts';

const HOST = '127.0.0.1';
const CHUNK = Buffer.alloc(1 << 20, 'x');

function connect(port: number, options: Partial<net.TcpNetConnectOpts> = {}): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port, noDelay: true, ...options });
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

async function upload(port: number, bytes: number): Promise<object> {
  const socket = await connect(port, { allowHalfOpen: true });
  const startedMs = performance.now();
  const answer: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => answer.push(chunk));
    socket.on('end', resolve);
    socket.on('error', reject);
  });
  socket.write('S');
  let sent = 0;
  const pump = (): void => {
    while (sent < bytes) {
      const size = Math.min(CHUNK.length, bytes - sent);
      sent += size;
      if (!socket.write(size === CHUNK.length ? CHUNK : CHUNK.subarray(0, size))) return;
    }
    socket.removeListener('drain', pump);
    socket.end();
  };
  socket.on('drain', pump);
  pump();
  await done;
  const seconds = (performance.now() - startedMs) / 1000;
  const count = Buffer.concat(answer);
  socket.destroy();
  if (count.length !== 8 || Number(count.readBigUInt64BE()) !== bytes) {
    throw new Error(`the sink counted ${count.length === 8 ? count.readBigUInt64BE() : '?'} bytes, want ${bytes}`);
  }
  return { kind: 'bulk', bytes, seconds };
}

async function download(port: number, bytes: number): Promise<object> {
  let received = 0;
  const buffer = Buffer.allocUnsafe(1 << 20);
  const socket = await connect(port, {
    onread: {
      buffer,
      callback: (size: number) => {
        received += size;
        return true;
      },
    },
  });
  const startedMs = performance.now();
  const done = new Promise<void>((resolve, reject) => {
    socket.on('end', resolve);
    socket.on('error', reject);
  });
  const command = Buffer.alloc(9);
  command.write('G');
  command.writeBigUInt64BE(BigInt(bytes), 1);
  socket.write(command);
  await done;
  const seconds = (performance.now() - startedMs) / 1000;
  socket.destroy();
  if (received !== bytes) throw new Error(`received ${received} bytes from the source, want ${bytes}`);
  return { kind: 'bulk', bytes, seconds };
}

async function echo(port: number, connections: number, durationS: number, messageBytes: number): Promise<object> {
  const message = Buffer.alloc(messageBytes, 'm');
  const histogram = createHistogram();
  let roundTrips = 0;
  let errors = 0;
  let stopping = false;
  const sockets = await Promise.all(Array.from({ length: connections }, () => connect(port)));
  const closed = sockets.map(
    (socket) =>
      new Promise<void>((resolve) => {
        let pending = 0;
        let sentMs = 0;
        const send = (): void => {
          pending = messageBytes;
          sentMs = performance.now();
          socket.write(message);
        };
        socket.on('data', (chunk: Buffer) => {
          pending -= chunk.length;
          if (pending > 0) return;
          if (stopping) {
            socket.destroy();
            return;
          }
          histogram.record(Math.max(1, Math.round((performance.now() - sentMs) * 1e6)));
          roundTrips++;
          send();
        });
        socket.on('error', () => errors++);
        socket.on('close', () => resolve());
        socket.write('E');
        send();
      }),
  );
  const startedMs = performance.now();
  await new Promise((resolve) => setTimeout(resolve, durationS * 1000));
  stopping = true;
  const seconds = (performance.now() - startedMs) / 1000;
  // Each connection closes on its next answer; one that never answers is cut off.
  const cutOff = setTimeout(() => sockets.forEach((s) => s.destroy()), 5000);
  await Promise.all(closed);
  clearTimeout(cutOff);
  return {
    kind: 'echo',
    roundTrips,
    seconds,
    p50Ms: histogram.percentile(50) / 1e6,
    p99Ms: histogram.percentile(99) / 1e6,
    errors,
  };
}

async function main(argv: readonly string[]): Promise<object> {
  const [mode, ...rest] = argv;
  const numbers = rest.map(Number);
  if (numbers.some((n) => !Number.isFinite(n) || n <= 0)) throw new Error(`bad arguments: ${argv.join(' ')}`);
  if (mode === 'upload' && numbers.length === 2) return upload(numbers[0], numbers[1]);
  if (mode === 'download' && numbers.length === 2) return download(numbers[0], numbers[1]);
  if (mode === 'echo' && numbers.length === 4) return echo(numbers[0], numbers[1], numbers[2], numbers[3]);
  throw new Error('usage: load.ts upload|download PORT BYTES | echo PORT CONNECTIONS SECONDS MESSAGE_BYTES');
}

exitWithParent();
main(process.argv.slice(2)).then(
  (result) => {
    console.log(JSON.stringify(result));
    process.exit(0);
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
