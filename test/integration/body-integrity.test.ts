// Bodies arrive byte-exact, not just with the right length: upstream reads reuse a buffer, so a view still
// queued for a slow client must never be overwritten by the next read. A deterministic pseudo-random body
// is streamed through Fulcrum to a client that reads in bursts with pauses (so writes stay queued), and
// both sides compare SHA-256 digests.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { simpleConfig, startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';

const BODY_BYTES = 24 * 1024 * 1024;

/** xorshift32 stream: the same bytes for the same seed, cheap to make. */
function pattern(seed: number, bytes: number): Buffer[] {
  const chunks: Buffer[] = [];
  let x = seed >>> 0 || 1;
  for (let left = bytes; left > 0; ) {
    const size = Math.min(left, 7919 + ((x >>> 0) % 50000)); // odd sizes so reads and writes never line up
    const chunk = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      chunk[i] = x & 0xff;
    }
    chunks.push(chunk);
    left -= size;
  }
  return chunks;
}

const chunks = pattern(12345, BODY_BYTES);
const expected = createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
const TRICKLE_BODY = Buffer.concat(pattern(777, 6 * 1024 * 1024));
const trickleExpected = createHash('sha256').update(TRICKLE_BODY).digest('hex');

let origin: http.Server;
let lb: RunningFulcrum;

before(async () => {
  origin = http.createServer((req, res) => {
    if (req.method === 'POST') {
      const hash = createHash('sha256');
      req.on('data', (c: Buffer) => hash.update(c));
      req.on('end', () => res.end(hash.digest('hex')));
      return;
    }
    if (req.url === '/trickle') {
      // small writes, one per turn of the event loop, so Fulcrum's upstream reads are small too and a
      // queued write smaller than the high-water mark is followed by another read at once
      res.writeHead(200, { 'content-length': TRICKLE_BODY.length });
      let at = 0;
      const step = () => {
        if (at >= TRICKLE_BODY.length) return void res.end();
        const next = Math.min(at + 3001, TRICKLE_BODY.length);
        const ok = res.write(TRICKLE_BODY.subarray(at, next));
        at = next;
        if (ok) setImmediate(step);
        else res.once('drain', step);
      };
      step();
      return;
    }
    const chunked = req.url === '/chunked';
    res.writeHead(200, chunked ? {} : { 'content-length': BODY_BYTES });
    let i = 0;
    const pump = () => {
      while (i < chunks.length) if (!res.write(chunks[i++])) return void res.once('drain', pump);
      res.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  lb = await startFulcrum(simpleConfig([`127.0.0.1:${(origin.address() as AddressInfo).port}`]));
});
after(async () => {
  await lb.stop();
  origin.closeAllConnections();
  await new Promise<void>((resolve) => origin.close(() => resolve()));
});

async function slowDownload(path: string, pauseEveryBytes = 2 * 1024 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: lb.port(), path }, (res) => {
      const hash = createHash('sha256');
      let received = 0;
      res.on('data', (c: Buffer) => {
        hash.update(c);
        received += c.length;
        // pause every ~2 MB so Fulcrum's writes to this client stay queued while upstream reads go on
        if (received % pauseEveryBytes < c.length) {
          res.pause();
          void sleep(30).then(() => res.resume());
        }
      });
      res.on('end', () => resolve(hash.digest('hex')));
      res.on('error', reject);
    }).on('error', reject);
  });
}

test('a sized body reaches a slow client byte-exact', async () => {
  assert.equal(await slowDownload('/sized'), expected);
});

test('a chunked body reaches a slow client byte-exact', async () => {
  assert.equal(await slowDownload('/chunked'), expected);
});

test('a body read from upstream in small pieces reaches a stalling client byte-exact', async () => {
  assert.equal(await slowDownload('/trickle', 64 * 1024), trickleExpected);
});

test('two slow clients at once both get byte-exact bodies', async () => {
  const [a, b] = await Promise.all([slowDownload('/sized'), slowDownload('/chunked')]);
  assert.equal(a, expected);
  assert.equal(b, expected);
});

test('an upload reaches the upstream byte-exact', async () => {
  const digest = await new Promise<string>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: lb.port(), path: '/up', method: 'POST', headers: { 'content-length': BODY_BYTES } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    let i = 0;
    const pump = () => {
      while (i < chunks.length) if (!req.write(chunks[i++])) return void req.once('drain', pump);
      req.end();
    };
    pump();
  });
  assert.equal(digest, expected);
});
