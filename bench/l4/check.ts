// One echo and one short upload through a target before it is loaded, so a target that does not pass bytes
// both ways (or drops a half-close) is reported as failed instead of timed.
import net from 'node:net';
import { HOST } from '../net.ts';

/** Sends `request`, half-closes, and resolves with everything that came back before the peer's FIN. */
function exchange(port: number, request: Buffer, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no FIN within ${timeoutMs} ms`)));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      socket.destroy();
      resolve(Buffer.concat(chunks));
    });
    socket.on('error', reject);
    socket.on('connect', () => socket.end(request));
  });
}

export async function checkThrough(port: number): Promise<void> {
  const echoed = await exchange(port, Buffer.from('Eping'));
  if (echoed.toString() !== 'ping') throw new Error(`echo answered "${echoed.toString().slice(0, 40)}", want "ping"`);
  const bytes = 100_000;
  const counted = await exchange(port, Buffer.concat([Buffer.from('S'), Buffer.alloc(bytes, 'x')]));
  if (counted.length !== 8 || Number(counted.readBigUInt64BE()) !== bytes) {
    throw new Error(`the sink counted ${counted.length === 8 ? counted.readBigUInt64BE() : '?'} of ${bytes} bytes`);
  }
}
