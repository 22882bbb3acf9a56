// Request smuggling (CL.TE, TE.CL, TE.TE, CL.CL, chunk-size overflow, bare-LF chunk lines, a request hidden
// in a body) over raw sockets, with an origin that frames what it receives strictly and records every
// request: the smuggled request never reaches it, and the client gets a 400 and a closed connection.
// Positive controls: a body that merely looks like a request is delivered as a body, and requests
// pipelined after a correct chunked body are each forwarded once.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { simpleConfig, startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { rawRequest, type RawResult } from '../helpers/origins.ts';
import { splitResponses, startRecordingOrigin, type RecordingOrigin } from '../helpers/raw-http.ts';

const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
const hex = (n: number) => n.toString(16);
const latin1 = (text: string) => Buffer.from(text, 'latin1');

/** Writes `first`, waits for `between`, writes `second`, and collects the reply until close (at most 2s). */
function sendInTwo(port: number, first: string, second: string, between: () => Promise<void>): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let done = false;
    const socket = net.connect({ port, host: '127.0.0.1' });
    const finish = (closed: boolean, reset: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ response: Buffer.concat(chunks).toString('latin1'), closed, reset });
    };
    const timer = setTimeout(() => finish(false, false), 2000);
    socket.on('connect', () => {
      socket.write(latin1(first));
      between().then(
        () => {
          if (!done) socket.write(latin1(second));
        },
        (err: unknown) => {
          finish(false, false);
          reject(err);
        },
      );
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish(true, false));
    socket.on('close', () => finish(true, false));
    socket.on('error', (err: NodeJS.ErrnoException) => finish(true, err.code === 'ECONNRESET' || err.code === 'EPIPE'));
  });
}

describe('request smuggling', () => {
  let origin: RecordingOrigin;
  let lb: RunningFulcrum;

  before(async () => {
    origin = await startRecordingOrigin();
    lb = await startFulcrum(simpleConfig([origin.address]));
  });
  after(async () => {
    await lb.stop();
    await origin.close();
  });

  /** Waits (bounded) until the origin has received more than `length` bytes. */
  async function originReceivedMoreThan(length: number): Promise<void> {
    for (let i = 0; i < 200 && origin.raw.length <= length; i++) await sleep(5);
    assert.ok(origin.raw.length > length, 'the head reached the origin');
  }

  /** The client's reply is one 400 and the end of the connection; the origin saw no request and no smuggled byte. */
  function assertRefused(r: RawResult, receivedBefore: number, rawBefore: number): void {
    const { responses, rest } = splitResponses(r.response);
    assert.equal(responses.length, 1, `one response, got ${JSON.stringify(r.response)}`);
    assert.equal(rest, '');
    assert.equal(responses[0].status, 400, JSON.stringify(r.response));
    assert.equal(responses[0].headers['connection'], 'close');
    assert.equal(r.closed, true, 'Fulcrum closed the connection');
    const seen = origin.received.slice(receivedBefore);
    assert.deepEqual(seen.map((x) => `${x.method} ${x.target}`), [], 'the origin received no request');
    assert.ok(!origin.raw.slice(rawBefore).includes('/smuggled'), 'no smuggled byte went upstream');
    assert.deepEqual(origin.errors, [], 'the origin never saw framing it could not split');
  }

  async function refused(request: string): Promise<void> {
    const receivedBefore = origin.received.length;
    const rawBefore = origin.raw.length;
    const r = await rawRequest(lb.port(), latin1(request), { timeoutMs: 1000 });
    assertRefused(r, receivedBefore, rawBefore);
  }

  /** Sends `request`; the origin must see exactly `expected` (method, target, body), and the client as many 200s. */
  async function delivered(request: string, expected: { method: string; target: string; body: string }[]): Promise<void> {
    const receivedBefore = origin.received.length;
    const r = await rawRequest(lb.port(), latin1(request), { timeoutMs: 1000 });
    const { responses, rest } = splitResponses(r.response);
    assert.deepEqual(responses.map((x) => x.status), expected.map(() => 200), JSON.stringify(r.response));
    assert.deepEqual(responses.map((x) => x.body), expected.map((x) => `seen ${x.method} ${x.target}`));
    assert.equal(rest, '');
    assert.equal(r.closed, true);
    const seen = origin.received.slice(receivedBefore).map((x) => ({ method: x.method, target: x.target, body: x.body }));
    assert.deepEqual(seen, expected);
    assert.deepEqual(origin.errors, []);
  }

  it('CL.TE: Content-Length covering a smuggled request after the last chunk', async () => {
    const body = `0\r\n\r\n${smuggled}`;
    await refused(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
  });

  it('TE.CL: a chunk holding a smuggled request behind a short Content-Length', async () => {
    await refused(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n${hex(smuggled.length)}\r\n${smuggled}\r\n0\r\n\r\n`);
  });

  describe('TE.TE: obfuscated Transfer-Encoding', () => {
    const obfuscations: [string, string][] = [
      ['xchunked', 'Transfer-Encoding: xchunked\r\n'],
      ['space before the colon', 'Transfer-Encoding : chunked\r\n'],
      ['tab before the colon', 'Transfer-Encoding\t: chunked\r\n'],
      ['a second Transfer-Encoding: x', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n'],
      ['a second Transfer-Encoding: cow', 'Transfer-Encoding: chunked\r\nTransfer-encoding: cow\r\n'],
      ['chunked, identity', 'Transfer-Encoding: chunked, identity\r\n'],
      ['identity, chunked', 'Transfer-Encoding: identity, chunked\r\n'],
      ['quoted "chunked"', 'Transfer-Encoding: "chunked"\r\n'],
      ['vertical tab before the value', 'Transfer-Encoding:\x0bchunked\r\n'],
      ['form feed before the value', 'Transfer-Encoding:\x0cchunked\r\n'],
      ['NUL after the value', 'Transfer-Encoding: chunked\x00\r\n'],
      ['folded onto a continuation line', 'Transfer-Encoding:\r\n chunked\r\n'],
      ['a leading space on the field line', 'X: y\r\n Transfer-Encoding: chunked\r\n'],
      ['a bare LF before the field line', 'X: y\nTransfer-Encoding: chunked\r\n'],
      ['a bare LF before the colon', 'Transfer-Encoding\n: chunked\r\n'],
      ['a bare CR before the field line', 'X: y\rTransfer-Encoding: chunked\r\n'],
    ];
    for (const [name, te] of obfuscations) {
      it(`TE.TE with ${name}, alongside Content-Length`, async () => {
        const body = `0\r\n\r\n${smuggled}`;
        await refused(`POST / HTTP/1.1\r\nHost: x\r\n${te}Content-Length: ${body.length}\r\n\r\n${body}`);
      });
      it(`TE.TE with ${name}, alone`, async () => {
        await refused(`POST / HTTP/1.1\r\nHost: x\r\n${te}\r\n${hex(smuggled.length)}\r\n${smuggled}\r\n0\r\n\r\n${smuggled}`);
      });
    }
  });

  describe('CL.CL', () => {
    it('CL.CL: two different Content-Length fields, the short one first', async () => {
      await refused(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`);
    });
    it('CL.CL: two different Content-Length fields, the long one first', async () => {
      await refused(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${smuggled.length}\r\nContent-Length: 0\r\n\r\n${smuggled}`);
    });
    it('CL.CL: a list of two lengths in one field', async () => {
      await refused(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0, ${smuggled.length}\r\n\r\n${smuggled}`);
    });
    it('CL.CL: a Content-Length with a space before the colon', async () => {
      await refused(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length : ${smuggled.length}\r\n\r\n${smuggled}`);
    });
  });

  describe('chunk-size overflow', () => {
    // each size wraps to a small number in a parser that keeps only 64 bits, so the smuggled request would
    // follow what such a parser takes for the end of the body
    for (const size of ['10000000000000005', '100000000000000000000000000000005', 'ffffffffffffffff', '0000000000000000005']) {
      it(`chunk-size overflow: ${size}`, async () => {
        await refused(`POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\nhello\r\n0\r\n\r\n${smuggled}`);
      });
    }
  });

  describe('bare-LF chunk terminators', () => {
    const bodies: [string, string][] = [
      ['every chunk line ended by a bare LF', `5\nhello\n0\n\n${smuggled}`],
      ['a bare LF after the chunk size', `5\nhello\r\n0\r\n\r\n${smuggled}`],
      ['a bare LF after the chunk data', `5\r\nhello\n0\r\n\r\n${smuggled}`],
      ['a bare LF after the last chunk', `5\r\nhello\r\n0\n\r\n${smuggled}`],
      ['a bare LF ending the body', `5\r\nhello\r\n0\r\n\n${smuggled}`],
      ['a bare LF ending a chunk extension', `5;a=b\nhello\r\n0\r\n\r\n${smuggled}`],
      ['a bare CR after the chunk size', `5\rhello\r\n0\r\n\r\n${smuggled}`],
      ['CRLF hidden in a quoted chunk extension', `5;a="\r\n0\r\n\r\n${smuggled}"\r\nhello\r\n0\r\n\r\n`],
    ];
    for (const [name, body] of bodies) {
      it(`bare-LF chunk terminators: ${name}`, async () => {
        await refused(`POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
      });
    }

    it('bare-LF request line and fields hiding a second request', async () => {
      await refused(`GET / HTTP/1.1\nHost: x\n\n${smuggled}`);
    });
  });

  it('a malformed chunk arriving after the head went upstream: the upstream request is abandoned', async () => {
    const receivedBefore = origin.received.length;
    const rawBefore = origin.raw.length;
    const r = await sendInTwo(
      lb.port(),
      'POST /partial HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n',
      `5\nworld\r\n0\r\n\r\n${smuggled}`,
      () => originReceivedMoreThan(rawBefore),
    );
    assertRefused(r, receivedBefore, rawBefore);
  });

  describe('a pipelined request hidden in a body', () => {
    it('a request inside a Content-Length body is delivered as that body', async () => {
      await delivered(`POST /carrier HTTP/1.1\r\nHost: x\r\nContent-Length: ${smuggled.length}\r\nConnection: close\r\n\r\n${smuggled}`, [
        { method: 'POST', target: '/carrier', body: smuggled },
      ]);
    });

    it('a request inside chunk data is delivered as that data', async () => {
      await delivered(`POST /carrier HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${hex(smuggled.length)}\r\n${smuggled}\r\n0\r\n\r\n`, [
        { method: 'POST', target: '/carrier', body: smuggled },
      ]);
    });

    it('a GET with a Content-Length body keeps the body (CL.0)', async () => {
      await delivered(`GET /carrier HTTP/1.1\r\nHost: x\r\nContent-Length: ${smuggled.length}\r\nConnection: close\r\n\r\n${smuggled}`, [
        { method: 'GET', target: '/carrier', body: smuggled },
      ]);
    });
  });

  describe('positive control', () => {
    it('requests pipelined after a correct chunked body are each forwarded once, in order', async () => {
      await delivered(
        'POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n' +
          'POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc' +
          'GET /third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        [
          { method: 'POST', target: '/first', body: 'hello world' },
          { method: 'POST', target: '/second', body: 'abc' },
          { method: 'GET', target: '/third', body: '' },
        ],
      );
    });

    it('a chunked body arriving after the head went upstream, then a pipelined request', async () => {
      const receivedBefore = origin.received.length;
      const rawBefore = origin.raw.length;
      const r = await sendInTwo(
        lb.port(),
        'POST /late HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel',
        'lo\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        () => originReceivedMoreThan(rawBefore),
      );
      const { responses, rest } = splitResponses(r.response);
      assert.deepEqual(responses.map((x) => x.status), [200, 200], r.response);
      assert.equal(rest, '');
      assert.equal(r.closed, true);
      const seen = origin.received.slice(receivedBefore).map((x) => `${x.method} ${x.target} ${x.body}`);
      assert.deepEqual(seen, ['POST /late hello', 'GET /next ']);
    });
  });
});

describe('pipelining behind a reply Fulcrum makes itself', () => {
  let origin: RecordingOrigin;
  let lb: RunningFulcrum;

  before(async () => {
    origin = await startRecordingOrigin();
    lb = await startFulcrum(simpleConfig([origin.address], { listener: { routes: [{ match: { path: { prefix: '/api/' } }, forward: { pool: 'app' } }] } }));
  });
  after(async () => {
    await lb.stop();
    await origin.close();
  });

  it('a request pipelined behind a 404 (no route) is still served, in order', async () => {
    const r = await rawRequest(lb.port(), latin1('GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\nGET /api/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), { timeoutMs: 1000 });
    const { responses, rest } = splitResponses(r.response);
    assert.deepEqual(responses.map((x) => x.status), [404, 200], JSON.stringify(r.response));
    assert.equal(rest, '');
    assert.equal(r.closed, true);
    assert.deepEqual(origin.received.map((x) => x.target), ['/api/next']);
  });
});
