// The backend of `npm run bench:l4`: one Node.js process on the load cores. The first byte a connection sends
// chooses what it is, so every target forwards to one port:
//   S  sink: counts every byte up to the client's FIN, then answers the count (8 bytes, big-endian) and ends
//   G  source: followed by a length (8 bytes, big-endian); sends that many bytes in 1 MiB writes, then ends
//   E  echo: sends back every byte it gets
//   I  idle: answers one byte `i`, then holds the connection until the client closes it
// Usage: node bench/l4/peer.ts PORT. Exits when the harness that started it is gone.
import net from 'node:net';
import { exitWithParent } from './orphan.ts';

const CHUNK = Buffer.alloc(1 << 20, 'x');
const IDLE_ACK = Buffer.from('i');

interface PeerSocket extends net.Socket {
  /** The command byte once read; '' before. */
  role: string;
  /** Bytes the sink has counted. */
  counted: number;
  /** Source: bytes still to send. */
  remaining: number;
  /** Bytes read before the command was complete. */
  head: Buffer;
}

function onSinkData(this: PeerSocket, chunk: Buffer): void {
  this.counted += chunk.length;
}

/** The client's FIN: the sink answers its count; every other role (or none yet) closes its side too. */
function onEnd(this: PeerSocket): void {
  if (this.role !== 'S') {
    this.end();
    return;
  }
  const count = Buffer.alloc(8);
  count.writeBigUInt64BE(BigInt(this.counted));
  this.end(count);
}

function onEchoData(this: PeerSocket, chunk: Buffer): void {
  this.write(chunk);
}

function pumpSource(this: PeerSocket): void {
  while (this.remaining > 0) {
    const size = Math.min(CHUNK.length, this.remaining);
    this.remaining -= size;
    if (!this.write(size === CHUNK.length ? CHUNK : CHUNK.subarray(0, size))) return; // 'drain' calls again
  }
  this.removeListener('drain', pumpSource);
  this.end();
}

/** Reads the command, then hands the socket to its role (bytes after the command count as the role's). */
function onFirstData(this: PeerSocket, chunk: Buffer): void {
  const head = this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
  const command = String.fromCharCode(head[0]);
  if (command === 'G' && head.length < 9) {
    this.head = head;
    return;
  }
  this.removeListener('data', onFirstData);
  this.head = Buffer.alloc(0);
  this.role = command;
  switch (command) {
    case 'S':
      this.on('data', onSinkData);
      this.counted = head.length - 1;
      break;
    case 'G':
      this.remaining = Number(head.readBigUInt64BE(1));
      this.on('drain', pumpSource);
      pumpSource.call(this);
      break;
    case 'E':
      this.on('data', onEchoData);
      if (head.length > 1) this.write(head.subarray(1));
      break;
    case 'I':
      this.write(IDLE_ACK);
      break;
    default:
      this.destroy();
  }
}

function onError(): void {
  // a client reset: the socket closes on its own
}

const server = net.createServer({ allowHalfOpen: true, noDelay: true, highWaterMark: 1 << 20 }, (client) => {
  const socket = client as PeerSocket;
  socket.role = '';
  socket.counted = 0;
  socket.remaining = 0;
  socket.head = Buffer.alloc(0);
  socket.on('error', onError);
  socket.on('data', onFirstData);
  socket.on('end', onEnd);
});
server.listen({ host: '127.0.0.1', port: Number(process.argv[2]), backlog: 4096 });
exitWithParent();
