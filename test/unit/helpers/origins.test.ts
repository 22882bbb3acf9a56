// The integration-test origins behave as documented, checked with real clients (node:http, undici, net).
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import {
  freePort,
  rawRequest,
  startCloseMidBodyOrigin,
  startEchoOrigin,
  startGarbageOrigin,
  startHangOrigin,
  startRawOrigin,
  startResetOrigin,
  startSinkOrigin,
  type EchoReply,
} from '../../helpers/origins.ts';

const dispatcher = new Agent({ keepAliveTimeout: 1000 });
after(() => dispatcher.close());

/** node:http request that resolves with status, headers and the body byte count (body not kept). */
function httpGet(port: number, path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

describe('startEchoOrigin', () => {
  it('answers JSON describing the request, counting body bytes', async () => {
    const origin = await startEchoOrigin({ name: 'a' });
    try {
      assert.equal(origin.address, `127.0.0.1:${origin.port}`);
      const res = await request(`http://${origin.address}/path?q=1`, {
        method: 'POST',
        headers: { 'x-test': 'yes' },
        body: Buffer.alloc(12345, 1),
        dispatcher,
      });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['x-origin'], 'a');
      const reply = (await res.body.json()) as EchoReply;
      assert.equal(reply.name, 'a');
      assert.equal(reply.method, 'POST');
      assert.equal(reply.url, '/path?q=1');
      assert.equal(reply.httpVersion, '1.1');
      assert.equal(reply.headers['x-test'], 'yes');
      assert.equal(reply.bodyBytes, 12345);
      assert.equal(origin.requests, 1);
    } finally {
      await origin.close();
    }
  });

  it('honours ?status, ?delay and ?close', async () => {
    const origin = await startEchoOrigin({ name: 'b' });
    try {
      const started = performance.now();
      const res = await httpGet(origin.port, '/?status=503&delay=150&close=1');
      assert.equal(res.status, 503);
      assert.equal(res.headers.connection, 'close');
      assert.ok(performance.now() - started >= 140, 'the reply waited for ?delay');
    } finally {
      await origin.close();
    }
  });

  it('streams ?bytes=N with Content-Length, or chunked with &chunked=1', async () => {
    const origin = await startEchoOrigin({ name: 'c' });
    try {
      const n = 5 * 64 * 1024 + 7;
      const sized = await httpGet(origin.port, `/?bytes=${n}`);
      assert.equal(sized.headers['content-length'], String(n));
      assert.equal(sized.bytes, n);
      const chunked = await httpGet(origin.port, `/?bytes=${n}&chunked=1`);
      assert.equal(chunked.headers['transfer-encoding'], 'chunked');
      assert.equal(chunked.headers['content-length'], undefined);
      assert.equal(chunked.bytes, n);
      assert.equal(origin.requests, 2);
    } finally {
      await origin.close();
    }
  });

  it('close() destroys open keep-alive sockets', async () => {
    const origin = await startEchoOrigin({ name: 'd' });
    const socket = net.connect(origin.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => socket.once('data', resolve));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    await origin.close();
    await closed;
  });
});

describe('startSinkOrigin', () => {
  it('counts a streamed upload and replies with the count', async () => {
    const origin = await startSinkOrigin();
    try {
      const total = 8 * 1024 * 1024 + 3;
      const req = http.request({ host: '127.0.0.1', port: origin.port, method: 'PUT', path: '/', agent: false });
      const response = new Promise<string>((resolve, reject) => {
        req.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (s: string) => {
            text += s;
          });
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
      });
      const chunk = Buffer.alloc(64 * 1024, 7);
      let left = total;
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          await new Promise((resolve) => req.once('drain', resolve));
        }
      }
      req.end();
      assert.equal(await response, String(total));
      assert.equal(origin.bytes, total);
      assert.equal(origin.requests, 1);
    } finally {
      await origin.close();
    }
  });
});

describe('raw origins', () => {
  it('startRawOrigin hands over the socket for a hand-written reply', async () => {
    const origin = await startRawOrigin((socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 204 No Content\r\n\r\n'));
    });
    try {
      const result = await rawRequest(origin.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 2000 });
      assert.equal(result.response, 'HTTP/1.1 204 No Content\r\n\r\n');
      assert.equal(result.closed, true);
      assert.equal(origin.requests, 1);
    } finally {
      await origin.close();
    }
  });

  it('startResetOrigin resets on the first bytes', async () => {
    const origin = await startResetOrigin();
    try {
      const result = await rawRequest(origin.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 2000 });
      assert.equal(result.response, '');
      assert.equal(result.closed, true);
      assert.equal(result.reset, true);
      await assert.rejects(request(`http://${origin.address}/`, { dispatcher }));
    } finally {
      await origin.close();
    }
  });

  it('startGarbageOrigin writes non-HTTP bytes and closes', async () => {
    const origin = await startGarbageOrigin();
    try {
      const result = await rawRequest(origin.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 2000 });
      assert.ok(result.response.length > 0);
      assert.ok(!result.response.startsWith('HTTP/'));
      assert.equal(result.closed, true);
      await assert.rejects(httpGet(origin.port, '/'));
    } finally {
      await origin.close();
    }
  });

  it('startHangOrigin never answers; rawRequest gives up at its timeout', async () => {
    const origin = await startHangOrigin();
    try {
      const started = performance.now();
      const result = await rawRequest(origin.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 200 });
      assert.equal(result.response, '');
      assert.equal(result.closed, false);
      assert.ok(performance.now() - started >= 190);
    } finally {
      await origin.close();
    }
  });

  it('startHangOrigin close() ends the hanging connections', async () => {
    const origin = await startHangOrigin();
    const pending = rawRequest(origin.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 5000 });
    while (origin.requests === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await origin.close();
    const result = await pending;
    assert.equal(result.closed, true);
  });

  it('startCloseMidBodyOrigin promises 1000 bytes, sends 10 and closes', async () => {
    const origin = await startCloseMidBodyOrigin();
    try {
      const result = await rawRequest(origin.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 2000 });
      assert.match(result.response, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(result.response, /\r\nContent-Length: 1000\r\n/);
      assert.ok(result.response.endsWith('\r\n\r\n0123456789'));
      assert.equal(result.closed, true);
      const res = await request(`http://${origin.address}/`, { dispatcher });
      await assert.rejects(res.body.arrayBuffer());
    } finally {
      await origin.close();
    }
  });
});

describe('rawRequest and freePort', () => {
  it('rawRequest rejects when nothing listens; freePort returns a port nobody holds', async () => {
    const port = await freePort();
    assert.ok(port > 0 && port < 65536);
    await assert.rejects(rawRequest(port, 'x', { timeoutMs: 500 }), { code: 'ECONNREFUSED' });
  });

  it('rawRequest keeps bytes as latin1, one char per byte', async () => {
    const origin = await startRawOrigin((socket) => {
      socket.once('data', (chunk: Buffer) => socket.end(chunk));
    });
    try {
      const bytes = Buffer.from([0, 1, 0x7f, 0x80, 0xff]);
      const result = await rawRequest(origin.port, bytes, { timeoutMs: 2000 });
      assert.deepEqual(Buffer.from(result.response, 'latin1'), bytes);
    } finally {
      await origin.close();
    }
  });
});
