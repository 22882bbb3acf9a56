// HTTP/2 flow control end to end: a client that stops reading an 8 MiB download (its stream window closes)
// makes the proxy pause the upstream socket, so the proxy holds little and the endpoint can write only what
// the kernel buffers take — well below the total; once the client reads, everything arrives byte-exact. And
// the other way: an upload to an endpoint that does not read is held back by the stream window, not buffered.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http2 from 'node:http2';
import type net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { startRawOrigin, type Origin } from '../helpers/origins.ts';

const MiB = 1024 * 1024;
const TOTAL = 8 * MiB;

const payload = Buffer.alloc(TOTAL);
for (let i = 0; i < TOTAL; i += 4) payload.writeUInt32LE(Math.imul(i, 2654435761) >>> 0, i);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Waits until `read()` stays the same for 300 ms (at most 10 s) and returns that value. */
async function settled(read: () => number): Promise<number> {
  let last = read();
  let still = 0;
  for (let i = 0; i < 100 && still < 3; i++) {
    await sleep(100);
    const now = read();
    still = now === last ? still + 1 : 0;
    last = now;
  }
  return last;
}

/** Bytes the endpoint handed to its kernel (write callbacks), per response. */
let flushed = 0;
/** Upload bytes the reading endpoint received; the stalled one reads nothing until told. */
let uploaded = 0;
let releaseUpload: (() => void) | null = null;
let origin: Origin;
let lb: RunningFulcrum;

before(async () => {
  origin = await startRawOrigin((socket: net.Socket) => {
    socket.once('data', (head: Buffer) => {
      if (head.toString('latin1').startsWith('POST')) {
        // read nothing more until released: the proxy must not buffer the client's upload meanwhile
        socket.pause();
        uploaded = head.length;
        let tail = head.subarray(-5).toString('latin1');
        releaseUpload = () => {
          socket.on('data', (d: Buffer) => {
            uploaded += d.length;
            tail = (tail + d.subarray(-5).toString('latin1')).slice(-5);
            if (tail === '0\r\n\r\n') socket.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
          });
          socket.resume();
        };
        return;
      }
      // one response per connection: this origin reads no second request head
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${TOTAL}\r\nconnection: close\r\n\r\n`);
      let at = 0;
      const pump = (): void => {
        while (at < TOTAL) {
          const piece = payload.subarray(at, at + 65536);
          at += piece.length;
          if (!socket.write(piece, () => (flushed += piece.length))) {
            socket.once('drain', pump);
            return;
          }
        }
        socket.end();
      };
      pump();
    });
  });
  lb = await startFulcrum({
    listeners: [{ name: 'edge', address: '127.0.0.1:0', http2: { cleartext: true }, routes: [{ forward: { pool: 'app' } }] }],
    pools: [{ name: 'app', endpoints: [{ address: origin.address }] }],
  });
});

after(async () => {
  await lb.stop(500);
  await origin.close();
});

test('a client that does not read an 8 MiB download pauses the endpoint; then it all arrives byte-exact', async () => {
  const session = http2.connect(`http://127.0.0.1:${lb.port()}`);
  const stats = lb.rt.generation.listeners.get('edge')!.stats;
  try {
    const req = session.request({ ':path': '/download' });
    req.pause();
    await new Promise((r) => req.once('response', r));
    // the transfer runs into the closed window and stops
    const stalledAt = await settled(() => flushed);
    assert.ok(stalledAt < 0.75 * TOTAL, `the endpoint wrote ${stalledAt} of ${TOTAL} bytes (the rest waits in no buffer of ours)`);
    // what the proxy wrote to the stream: the client's window (64 KiB) plus node's queue, nowhere near the total
    assert.ok(stats.bytesOut < 1 * MiB, `proxy forwarded ${stats.bytesOut} bytes while the client was not reading`);

    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.resume();
    await new Promise((r) => req.once('end', r));
    const got = Buffer.concat(chunks);
    assert.equal(got.length, TOTAL);
    assert.equal(sha(got), sha(payload));
    assert.equal(flushed, TOTAL);
  } finally {
    session.close();
  }
});

test('an upload to an endpoint that does not read is held by the stream window, then delivered whole', async () => {
  const session = http2.connect(`http://127.0.0.1:${lb.port()}`);
  try {
    const req = session.request({ ':method': 'POST', ':path': '/upload' });
    req.on('error', () => {});
    // kernel socket buffers between the peers hold several MiB on loopback: the body is well beyond them
    const body = Buffer.concat([payload, payload, payload, payload]);
    let accepted = 0;
    let offset = 0;
    // write until the client's stream is told to wait (flow control from the proxy)
    const writeSome = (): void => {
      while (offset < body.length) {
        const piece = body.subarray(offset, offset + 16384);
        offset += piece.length;
        if (!req.write(piece, () => (accepted += piece.length))) return;
      }
    };
    writeSome();
    req.on('drain', writeSome);
    const stalledAt = await settled(() => accepted);
    assert.ok(stalledAt < 0.75 * body.length, `the client could send only ${stalledAt} of ${body.length} bytes while the endpoint read nothing`);
    const status = new Promise<number>((r) => req.once('response', (h) => r(Number(h[':status']))));
    const ended = new Promise((r) => {
      const finish = (): void => {
        if (offset >= body.length) req.end(r);
        else req.once('drain', finish);
      };
      finish();
    });
    releaseUpload!();
    await ended;
    assert.equal(await status, 200);
    assert.ok(uploaded > body.length, `the endpoint received ${uploaded} bytes (body + chunked framing)`);
  } finally {
    session.close();
  }
});
