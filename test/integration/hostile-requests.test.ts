// docs/http.md "Refused requests", case by case over raw sockets: each malformed request gets its documented
// status, the connection is closed, and the origin sees nothing — not even the valid request pipelined
// behind it. The legal spellings next to each refused one (OWS around values, limits exactly met) pass.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simpleConfig, startFulcrum, type RunningFulcrum } from '../helpers/fulcrum.ts';
import { rawRequest } from '../helpers/origins.ts';
import { splitResponses, startRecordingOrigin, type RecordingOrigin } from '../helpers/raw-http.ts';

/** A value as it appears in a test name: control and non-ASCII bytes escaped. */
const show = (value: string) => `"${value.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}"`;

const reasons: Record<number, string> = {
  400: 'bad_request',
  414: 'uri_too_long',
  417: 'expectation_failed',
  431: 'headers_too_large',
  501: 'not_implemented',
  505: 'version_not_supported',
};

/** Pipelined behind every refused request: it must never reach the origin. */
const follow = 'GET /after HTTP/1.1\r\nHost: x\r\n\r\n';
/** Pipelined behind every accepted request: it must, and it ends the connection. */
const followClose = 'GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

describe('refused requests', () => {
  let origin: RecordingOrigin;
  let lb: RunningFulcrum;

  before(async () => {
    origin = await startRecordingOrigin();
    lb = await startFulcrum(simpleConfig([origin.address], { listener: { limits: { maxRequestLine: '1kb', maxHeaderSize: '4kb', maxHeaders: 20 } } }));
  });
  after(async () => {
    await lb.stop();
    await origin.close();
  });

  /**
   * Sends `request` with a valid request pipelined behind it: one local reply with `status`, then the end
   * of the connection; the origin gets no byte (or, for a malformed body, no complete request).
   */
  async function refused(request: string, status: number, options: { body?: boolean } = {}): Promise<void> {
    const receivedBefore = origin.received.length;
    const rawBefore = origin.raw.length;
    const r = await rawRequest(lb.port(), Buffer.from(request + follow, 'latin1'), { timeoutMs: 1000 });
    const { responses, rest } = splitResponses(r.response);
    assert.equal(responses.length, 1, `one response, got: ${JSON.stringify(r.response)}`);
    assert.equal(rest, '', 'nothing after the reply');
    assert.equal(responses[0].status, status, JSON.stringify(r.response));
    assert.equal(responses[0].headers['x-fulcrum-reason'], reasons[status]);
    assert.equal(responses[0].headers['connection'], 'close');
    assert.equal(r.closed, true, 'Fulcrum closed the connection');
    assert.equal(origin.received.length, receivedBefore, 'the origin saw no request');
    if (options.body === true) assert.ok(!origin.raw.slice(rawBefore).includes('/after'), 'the pipelined request never went upstream');
    else assert.equal(origin.raw.length, rawBefore, 'the origin was sent no byte');
  }

  /** Sends `request` and then a request that closes: both answered 200 by the origin, which saw `target` (and `body`). */
  async function accepted(request: string, target: string, body?: string): Promise<void> {
    const receivedBefore = origin.received.length;
    const r = await rawRequest(lb.port(), Buffer.from(request + followClose, 'latin1'), { timeoutMs: 1000 });
    const { responses, rest } = splitResponses(r.response);
    assert.deepEqual(responses.map((x) => x.status), [200, 200], JSON.stringify(r.response));
    assert.equal(rest, '');
    assert.equal(r.closed, true);
    const seen = origin.received.slice(receivedBefore);
    assert.deepEqual(seen.map((x) => x.target), [target, '/after']);
    if (body !== undefined) assert.equal(seen[0].body, body);
  }

  const post = (fields: string, body = '') => `POST /p HTTP/1.1\r\nHost: x\r\n${fields}\r\n${body}`;

  describe('Content-Length and Transfer-Encoding together, repeated or invalid Content-Length: 400', () => {
    it('refuses both Content-Length and Transfer-Encoding, in either order', async () => {
      await refused(post('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), 400);
      await refused(post('Transfer-Encoding: chunked\r\nContent-Length: 5\r\n', '0\r\n\r\n'), 400);
      await refused(post('Content-Length: 0\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), 400);
    });

    it('refuses two Content-Length fields, equal or different', async () => {
      await refused(post('Content-Length: 5\r\nContent-Length: 5\r\n', 'hello'), 400);
      await refused(post('Content-Length: 5\r\nContent-Length: 6\r\n', 'hello!'), 400);
      await refused(post('Content-Length: 5\r\ncontent-length: 5\r\n', 'hello'), 400);
    });

    for (const value of ['+5', '0x5', '5,5', '5, 5', '-1', '5 5', '5\t5', '5.0', '5e0', '05a', '', '99999999999999999999']) {
      it(`refuses Content-Length: ${show(value)}`, async () => {
        await refused(post(`Content-Length: ${value}\r\n`, 'hello'), 400);
      });
    }

    it('accepts a Content-Length with OWS around it (not part of the value)', async () => {
      await accepted(post('Content-Length: 5 \r\n', 'hello'), '/p', 'hello');
      await accepted(post('Content-Length:\t5\t\r\n', 'hello'), '/p', 'hello');
      await accepted(post('Content-Length:005\r\n', 'hello'), '/p', 'hello');
    });
  });

  describe('Transfer-Encoding other than exactly chunked: 400 (501 for known codings before chunked)', () => {
    const te = (value: string) => post(`Transfer-Encoding: ${value}\r\n`, '5\r\nhello\r\n0\r\n\r\n');
    for (const value of ['chunked, identity', 'identity', 'xchunked', 'chunkedx', 'chunked, chunked', 'chunked,', '"chunked"', 'chunked;q=1', 'chunked\xa0', '\xa0chunked']) {
      it(`refuses Transfer-Encoding: ${show(value)}`, async () => {
        await refused(te(value), 400);
      });
    }

    it('refuses two Transfer-Encoding fields', async () => {
      await refused(post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), 400);
      await refused(post('Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n', '0\r\n\r\n'), 400);
    });

    it('answers 501 for gzip before chunked', async () => {
      await refused(te('gzip, chunked'), 501);
    });

    it('refuses whitespace before the colon and a vertical tab or form feed as whitespace', async () => {
      await refused(post('Transfer-Encoding : chunked\r\n', '0\r\n\r\n'), 400);
      await refused(post('Transfer-Encoding\t: chunked\r\n', '0\r\n\r\n'), 400);
      await refused(post('Transfer-Encoding:\x0bchunked\r\n', '0\r\n\r\n'), 400);
      await refused(post('Transfer-Encoding:\x0cchunked\r\n', '0\r\n\r\n'), 400);
      await refused(post('Transfer-Encoding: chunked\x0b\r\n', '0\r\n\r\n'), 400);
    });

    it('accepts chunked with legal OWS (spaces and tabs) and in any case', async () => {
      for (const spelled of ['Transfer-Encoding:chunked', 'Transfer-Encoding: chunked ', 'Transfer-Encoding:\tchunked\t', 'Transfer-Encoding: \t chunked \t ', 'transfer-encoding: CHUNKED']) {
        await accepted(post(`${spelled}\r\n`, '5\r\nhello\r\n0\r\n\r\n'), '/p', 'hello');
      }
    });

    it('refuses Transfer-Encoding in an HTTP/1.0 request', async () => {
      await refused('POST /p HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', 400);
      await refused('POST /p HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400);
    });
  });

  describe('obs-fold, whitespace before a colon, bare CR or LF, control characters: 400', () => {
    const cases: [string, string][] = [
      ['obs-fold (a field continued with a space)', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n'],
      ['obs-fold (a field continued with a tab)', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n'],
      ['a folded Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n'],
      ['whitespace before the first field line', 'GET / HTTP/1.1\r\n Host: x\r\n\r\n'],
      ['whitespace before a colon', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n'],
      ['bare LF line endings throughout', 'GET / HTTP/1.1\nHost: x\n\n'],
      ['a bare LF ending one field line', 'GET / HTTP/1.1\r\nHost: x\nX-A: a\r\n\r\n'],
      ['a bare LF ending the head', 'GET / HTTP/1.1\r\nHost: x\r\n\n'],
      ['a bare LF ending the request line', 'GET / HTTP/1.1\nHost: x\r\n\r\n'],
      ['a bare CR ending the request line', 'GET / HTTP/1.1\rHost: x\r\n\r\n'],
      ['a bare CR inside a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n'],
      ['a bare CR ending a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\r\n\r\n'],
      ['NUL in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n'],
      ['DEL in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n'],
      ['ESC in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: \x1b[31m\r\n\r\n'],
      ['a control character in a name', 'GET / HTTP/1.1\r\nHost: x\r\nX\x01A: a\r\n\r\n'],
      ['a space inside a name', 'GET / HTTP/1.1\r\nHost: x\r\nX A: a\r\n\r\n'],
      ['a non-ASCII name', 'GET / HTTP/1.1\r\nHost: x\r\nX-\xe9: a\r\n\r\n'],
      ['an empty name', 'GET / HTTP/1.1\r\nHost: x\r\n: a\r\n\r\n'],
      ['a field line without a colon', 'GET / HTTP/1.1\r\nHost: x\r\nX-A\r\n\r\n'],
    ];
    for (const [name, request] of cases) {
      it(`refuses ${name}`, async () => {
        await refused(request, 400);
      });
    }
  });

  describe('invalid characters in the method or target, non-ASCII targets: 400', () => {
    const cases: [string, string][] = [
      ['a parenthesis in the method', 'G(ET / HTTP/1.1'],
      ['a quote in the method', 'GE"T / HTTP/1.1'],
      ['NUL in the method', 'GE\x00T / HTTP/1.1'],
      ['a non-ASCII method', 'G\xc9T / HTTP/1.1'],
      ['a tab after the method', 'GET\t/ HTTP/1.1'],
      ['two spaces after the method', 'GET  / HTTP/1.1'],
      ['a leading space', ' GET / HTTP/1.1'],
      ['a space inside the target', 'GET /a b HTTP/1.1'],
      ['a tab inside the target', 'GET /a\tb HTTP/1.1'],
      ['a control character in the target', 'GET /a\x01b HTTP/1.1'],
      ['NUL in the target', 'GET /a\x00 HTTP/1.1'],
      ['DEL in the target', 'GET /a\x7f HTTP/1.1'],
      ['UTF-8 in the target', 'GET /caf\xc3\xa9 HTTP/1.1'],
      ['a raw 0xFF byte in the target', 'GET /\xff HTTP/1.1'],
      ['no target', 'GET HTTP/1.1'],
      ['no version', 'GET /'],
      ['a space after the version', 'GET / HTTP/1.1 '],
      ['HTTP/1.1x', 'GET / HTTP/1.1x'],
      ['a lowercase http/1.1', 'GET / http/1.1'],
      ['HTTP/1.10', 'GET / HTTP/1.10'],
      ['HTTP/11', 'GET / HTTP/11'],
    ];
    for (const [name, line] of cases) {
      it(`refuses ${name}`, async () => {
        await refused(`${line}\r\nHost: x\r\n\r\n`, 400);
      });
    }
  });

  describe('an HTTP version other than 1.0 and 1.1: 505', () => {
    for (const version of ['HTTP/2.0', 'HTTP/1.2', 'HTTP/0.9', 'HTTP/3.0']) {
      it(`answers 505 to ${version}`, async () => {
        await refused(`GET / ${version}\r\nHost: x\r\n\r\n`, 505);
      });
    }
  });

  describe('limits: 414 for the request line, 431 for the head and the field count', () => {
    const line = (length: number) => `GET /${'a'.repeat(length - 'GET / HTTP/1.1'.length)} HTTP/1.1`;
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-F${i}: v\r\n`).join('');

    it('answers 414 to a request line over maxRequestLine and accepts one of exactly 1kb', async () => {
      await refused(`${line(1025)}\r\nHost: x\r\n\r\n`, 414);
      await refused(`${line(8000)}\r\nHost: x\r\n\r\n`, 414);
      await accepted(`${line(1024)}\r\nHost: x\r\n\r\n`, line(1024).split(' ')[1]);
    });

    it('answers 431 to a head over maxHeaderSize', async () => {
      await refused(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`, 431);
      await refused(`GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 10 }, (_, i) => `X-${i}: ${'b'.repeat(400)}\r\n`).join('')}\r\n`, 431);
      const head = (size: number) => {
        const start = 'GET /exact HTTP/1.1\r\nHost: x\r\nX-Pad: ';
        return start + 'c'.repeat(size - start.length - 4) + '\r\n\r\n';
      };
      assert.equal(head(4096).length, 4096);
      await accepted(head(4096), '/exact');
      await refused(head(4097), 431);
    });

    it('answers 431 to more than maxHeaders fields and accepts exactly maxHeaders', async () => {
      await refused(`GET / HTTP/1.1\r\nHost: x\r\n${fields(20)}\r\n`, 431);
      await refused(`GET / HTTP/1.1\r\nHost: x\r\n${fields(200)}\r\n`, 431);
      await accepted(`GET /twenty HTTP/1.1\r\nHost: x\r\n${fields(19)}\r\n`, '/twenty');
    });
  });

  describe('Host: 400 without one (HTTP/1.1) or with several', () => {
    const cases: [string, string][] = [
      ['no Host', 'GET / HTTP/1.1\r\nX-A: a\r\n\r\n'],
      ['two equal Hosts', 'GET / HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n'],
      ['two different Hosts', 'GET / HTTP/1.1\r\nHost: x\r\nhost: y\r\n\r\n'],
      ['an empty Host', 'GET / HTTP/1.1\r\nHost: \r\n\r\n'],
      ['a space inside Host', 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n'],
      ['a slash in Host', 'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n'],
      ['userinfo in Host', 'GET / HTTP/1.1\r\nHost: u@a\r\n\r\n'],
    ];
    for (const [name, request] of cases) {
      it(`refuses ${name}`, async () => {
        await refused(request, 400);
      });
    }

    it('accepts HTTP/1.0 without Host', async () => {
      await accepted('GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', '/old');
    });
  });

  describe('malformed chunk size or extension, missing CRLF after chunk data: 400', () => {
    const cases: [string, string][] = [
      ['a non-hex size', 'g\r\nhello\r\n0\r\n\r\n'],
      ['a negative size', '-1\r\nhello\r\n0\r\n\r\n'],
      ['a 0x-prefixed size', '0x5\r\nhello\r\n0\r\n\r\n'],
      ['a size of 17 hex digits', '00000000000000005\r\nhello\r\n0\r\n\r\n'],
      ['a size over 2^53', 'ffffffffffffffff\r\nhello\r\n0\r\n\r\n'],
      ['a space after the size', '5 \r\nhello\r\n0\r\n\r\n'],
      ['a space before the size', ' 5\r\nhello\r\n0\r\n\r\n'],
      ['an empty size line', '\r\nhello\r\n0\r\n\r\n'],
      ['data longer than the size', '5\r\nhello!\r\n0\r\n\r\n'],
      ['no CRLF after the data', '5\r\nhello0\r\n\r\n'],
      ['a bare LF after the data', '5\r\nhello\n0\r\n\r\n'],
      ['a bare LF after the size', '5\nhello\r\n0\r\n\r\n'],
      ['a chunk extension ended by a bare LF', '5;ext=1\nhello\r\n0\r\n\r\n'],
      ['an empty chunk extension', '5;\r\nhello\r\n0\r\n\r\n'],
      ['an unterminated quoted extension', '5;a="b\r\nhello\r\n0\r\n\r\n'],
      ['a control character in an extension', '5;a=\x01\r\nhello\r\n0\r\n\r\n'],
      ['a bare LF ending the body', '5\r\nhello\r\n0\r\n\n'],
      ['a folded trailer', '5\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n'],
      ['a trailer with a bare LF', '5\r\nhello\r\n0\r\nX: a\n\r\n'],
    ];
    for (const [name, body] of cases) {
      it(`refuses ${name}`, async () => {
        await refused(post('Transfer-Encoding: chunked\r\n', body), 400, { body: true });
      });
    }

    it('accepts chunk extensions and trailers', async () => {
      await accepted(post('Transfer-Encoding: chunked\r\n', '5;a=b;c="d e"\r\nhello\r\n6\r\n world\r\n0\r\nX-T: v\r\n\r\n'), '/p', 'hello world');
    });
  });

  describe('CONNECT: 501; Expect other than 100-continue: 417', () => {
    it('answers 501 to CONNECT', async () => {
      await refused('CONNECT origin.example:443 HTTP/1.1\r\nHost: origin.example:443\r\n\r\n', 501);
    });

    it('answers 417 to Expect: foo and closes the connection', async () => {
      await refused('GET / HTTP/1.1\r\nHost: x\r\nExpect: foo\r\n\r\n', 417);
    });

    it('answers 417 to Expect: foo on a request with a body', async () => {
      await refused(post('Expect: foo\r\nContent-Length: 5\r\n', 'hello'), 417);
    });

    it('answers 417 to two Expect fields', async () => {
      await refused(post('Expect: 100-continue\r\nExpect: 100-continue\r\nContent-Length: 5\r\n', 'hello'), 417);
    });
  });
});
