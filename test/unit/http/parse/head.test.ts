// HTTP/1.1 head parsing (src/http/parse/head.ts): HeadScanner gives the same answer however the bytes are
// split, limits map to 414/431, parseRequestHead yields exact offsets and rejects what RFC 9112 lets a
// recipient reject. Property tests (fixed seeds) run random and mutated heads through scanner and parser.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FIELD_VALUE, TOKEN } from '../../../../src/http/parse/chars.ts';
import { H } from '../../../../src/http/parse/header-ids.ts';
import {
  HeadScanner,
  Method,
  ParseError,
  parseRequestHead,
  parseResponseHead,
  RequestHead,
  ResponseHead,
  type HeadLimits,
} from '../../../../src/http/parse/head.ts';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
const roomy: HeadLimits = { maxStartLine: 8192, maxHeadSize: 32768, maxHeaders: 100 };
const requestIdName = bytes('x-request-id');

/** A scan result as one number: the head end, -1 (need more), or minus the error status. */
function scanResult(scanner: HeadScanner, r: number): number {
  return r === -2 ? -scanner.error : r;
}

/** Scans `buf` as one piece. */
function scanWhole(buf: Buffer, limits: HeadLimits = roomy, isRequest = true): number {
  const scanner = new HeadScanner();
  return scanResult(scanner, scanner.scan(buf, buf.length, limits, isRequest));
}

/**
 * Scans `buf` as it would arrive cut at `cuts` (ascending): each call sees a fresh copy of the bytes so far,
 * as the downstream's merged buffer, so nothing past `end` is there to be read.
 */
function scanCut(buf: Buffer, cuts: readonly number[], limits: HeadLimits = roomy, isRequest = true): number {
  const scanner = new HeadScanner();
  for (const end of [...cuts, buf.length]) {
    if (end === 0) continue;
    const r = scanner.scan(Buffer.from(buf.subarray(0, end)), end, limits, isRequest);
    if (r !== -1) return scanResult(scanner, r);
  }
  return -1;
}

function scanBytewise(buf: Buffer, limits: HeadLimits = roomy, isRequest = true): number {
  const cuts: number[] = [];
  for (let i = 1; i < buf.length; i++) cuts.push(i);
  return scanCut(buf, cuts, limits, isRequest);
}

/** What the downstream would do with these bytes: 0 when a head parsed, -1 when more are needed, else the status. */
function outcome(buf: Buffer, head = new RequestHead(roomy.maxHeaders), limits: HeadLimits = roomy): number {
  const end = scanWhole(buf, limits);
  if (end === -1) return -1;
  if (end < 0) return -end;
  return parseRequestHead(buf, end, head, requestIdName);
}

function parsed(text: string, maxHeaders = roomy.maxHeaders): RequestHead {
  const head = new RequestHead(maxHeaders);
  const status = outcome(bytes(text), head);
  assert.equal(status, 0, `expected ${JSON.stringify(text)} to parse`);
  return head;
}

function fieldText(head: RequestHead | ResponseHead, i: number): [string, string] {
  const f = head.fields;
  return [head.buf.latin1Slice(f.nameStart[i], f.nameEnd[i]), head.buf.latin1Slice(f.valueStart[i], f.valueEnd[i])];
}

const simple = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';

describe('HeadScanner', () => {
  it('returns the index just past the final CRLF, leaving body bytes alone', () => {
    const text = 'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n';
    assert.equal(scanWhole(bytes(text + 'body')), text.length);
    assert.equal(scanWhole(bytes('GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n')), 18, 'a head with no fields; the next request is not scanned');
  });

  it('asks for more bytes while the head is incomplete, also when it ends in a CR', () => {
    for (const partial of ['G', 'GET / HTTP/1.1', 'GET / HTTP/1.1\r', 'GET / HTTP/1.1\r\n', 'GET / HTTP/1.1\r\nHost: a\r\n', 'GET / HTTP/1.1\r\nHost: a\r\n\r']) {
      assert.equal(scanWhole(bytes(partial)), -1, JSON.stringify(partial));
    }
  });

  it('remembers how far it got, so a trickling head is scanned once', () => {
    const buf = bytes(simple);
    const scanner = new HeadScanner();
    assert.equal(scanner.scan(buf, 20, roomy, true), -1);
    assert.equal(scanner.scanned, 16, 'resumes after the last complete line');
    assert.equal(scanner.lines, 1);
    assert.equal(scanner.scan(buf, buf.length, roomy, true), buf.length);
    scanner.reset();
    assert.deepEqual([scanner.scanned, scanner.lines, scanner.error], [0, 0, 0]);
  });

  it('refuses a bare LF anywhere, and an empty start line', () => {
    const cases = [
      '\n',
      'GET / HTTP/1.1\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\n\n',
      'GET / HTTP/1.1\nHost: a\n\n',
      'GET / HTTP/1.1\r\nX: a\nb\r\n\r\n',
      '\r\nGET / HTTP/1.1\r\n\r\n',
    ];
    for (const text of cases) assert.equal(scanWhole(bytes(text)), -400, JSON.stringify(text));
  });

  it('answers 414 for a request line over maxStartLine (431 for a status line) and accepts one at the limit', () => {
    const limits = { maxStartLine: 64, maxHeadSize: 1024, maxHeaders: 10 };
    const line = (n: number) => 'GET /' + 'a'.repeat(n - 'GET / HTTP/1.1'.length) + ' HTTP/1.1';
    assert.equal(line(64).length, 64);
    assert.equal(scanWhole(bytes(line(64) + '\r\nHost: a\r\n\r\n'), limits), 64 + 13);
    assert.equal(scanWhole(bytes(line(65) + '\r\nHost: a\r\n\r\n'), limits), -414);
    assert.equal(scanWhole(bytes(line(200)), limits), -414, 'without waiting for the end of the line');
    assert.equal(scanWhole(bytes('HTTP/1.1 200 ' + 'x'.repeat(100) + '\r\n\r\n'), limits, false), -431);
  });

  it('answers 431 for a head over maxHeadSize and accepts one of exactly maxHeadSize', () => {
    const limits = { maxStartLine: 64, maxHeadSize: 100, maxHeaders: 10 };
    const head = (size: number) => {
      const start = 'GET / HTTP/1.1\r\nX: ';
      return start + 'v'.repeat(size - start.length - 4) + '\r\n\r\n';
    };
    assert.equal(scanWhole(bytes(head(100)), limits), 100);
    assert.equal(scanWhole(bytes(head(101)), limits), -431);
    assert.equal(scanWhole(bytes(head(500).slice(0, 300)), limits), -431, 'an incomplete head already too large');
  });

  it('answers 431 for more than maxHeaders fields and accepts exactly maxHeaders', () => {
    const limits = { maxStartLine: 64, maxHeadSize: 4096, maxHeaders: 5 };
    const head = (n: number) => 'GET / HTTP/1.1\r\n' + Array.from({ length: n }, (_, i) => `X-${i}: v\r\n`).join('') + '\r\n';
    assert.equal(scanWhole(bytes(head(5)), limits), head(5).length);
    assert.equal(scanWhole(bytes(head(6)), limits), -431);
  });

  it('gives the same answer byte by byte, at every split point and whole', () => {
    const limits = { maxStartLine: 40, maxHeadSize: 120, maxHeaders: 4 };
    const samples = [
      simple + 'trailing body',
      'GET /' + 'a'.repeat(60) + ' HTTP/1.1\r\n\r\n', // 414
      'GET / HTTP/1.1\r\nX: ' + 'a'.repeat(150) + '\nY\r\n\r\n', // 431 before the bare LF
      'GET /' + 'a'.repeat(60) + '\n', // 414 before the bare LF
      'GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n', // 431, too many fields
      'GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n',
      'GET / HTTP/1.1\r\nA: 1\n\r\n', // 400
      'GET / HTTP/1.1\r\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\n',
    ];
    // the second set caps the whole head below the start line's cap: then 431 comes first
    for (const lim of [limits, { maxStartLine: 100, maxHeadSize: 50, maxHeaders: 4 }]) {
      for (const text of samples) {
        const buf = bytes(text);
        const whole = scanWhole(buf, lim);
        assert.equal(scanBytewise(buf, lim), whole, `byte by byte: ${JSON.stringify(text)}`);
        for (let cut = 1; cut < buf.length; cut++) assert.equal(scanCut(buf, [cut], lim), whole, `cut at ${cut}: ${JSON.stringify(text)}`);
      }
    }
    assert.equal(scanWhole(bytes('GET /' + 'a'.repeat(60) + ' HTTP/1.1\r\n\r\n'), { maxStartLine: 100, maxHeadSize: 50, maxHeaders: 4 }), -431);
  });

  it('never looks past `end`', () => {
    const buf = bytes('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    for (let end = 1; end < buf.length; end++) {
      const scanner = new HeadScanner();
      assert.equal(scanner.scan(buf, end, roomy, true), -1, `end ${end}`);
    }
  });
});

describe('parseRequestHead', () => {
  it('records the method, target, version and field offsets', () => {
    const text = 'POST /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nX-Empty:\r\nX-Pad: \t v a l \t\r\ncontent-LENGTH:4\r\n\r\nbody';
    const head = parsed(text);
    assert.equal(head.method, 'POST');
    assert.equal(head.methodCode, Method.POST);
    assert.equal(head.buf.latin1Slice(head.targetStart, head.targetEnd), '/a/b?c=d');
    assert.deepEqual([head.targetStart, head.targetEnd], [5, 13]);
    assert.equal(head.version, 11);
    assert.equal(head.fieldsStart, 24);
    assert.equal(head.headEnd, text.length - 4);
    assert.equal(head.fields.count, 4);
    assert.deepEqual(fieldText(head, 0), ['Host', 'example.com']);
    assert.deepEqual(fieldText(head, 1), ['X-Empty', '']);
    assert.deepEqual(fieldText(head, 2), ['X-Pad', 'v a l'], 'leading and trailing OWS are not part of the value');
    assert.deepEqual(fieldText(head, 3), ['content-LENGTH', '4']);
    assert.deepEqual([...head.fields.ids.subarray(0, 4)], [H.host, H.other, H.other, H.contentLength]);
    assert.equal(head.fields.find(H.contentLength), 3);
    assert.equal(head.fields.find(H.transferEncoding), -1);
    assert.equal(head.fields.countOf(H.host), 1);
  });

  it('recognises the common methods and keeps any other token as written', () => {
    const known: [string, number][] = [
      ['GET', Method.GET], ['HEAD', Method.HEAD], ['POST', Method.POST], ['PUT', Method.PUT], ['DELETE', Method.DELETE],
      ['OPTIONS', Method.OPTIONS], ['PATCH', Method.PATCH], ['CONNECT', Method.CONNECT], ['TRACE', Method.TRACE],
    ];
    for (const [name, code] of known) {
      const head = parsed(`${name} / HTTP/1.1\r\nHost: a\r\n\r\n`);
      assert.deepEqual([head.method, head.methodCode], [name, code]);
    }
    for (const name of ['get', 'PROPFIND', 'M-SEARCH', 'GETS', 'GE', 'X', "!#$%&'*+-.^_`|~"]) {
      const head = parsed(`${name} / HTTP/1.1\r\nHost: a\r\n\r\n`);
      assert.deepEqual([head.method, head.methodCode], [name, Method.other]);
    }
  });

  it('accepts HTTP/1.0 and HTTP/1.1, answers 505 for other versions and 400 for malformed ones', () => {
    assert.equal(parsed('GET / HTTP/1.0\r\n\r\n').version, 10);
    assert.equal(parsed('GET / HTTP/1.1\r\nHost: a\r\n\r\n').version, 11);
    for (const v of ['HTTP/2.0', 'HTTP/1.2', 'HTTP/0.9', 'HTTP/9.9', 'HTTP/3.0']) {
      assert.equal(outcome(bytes(`GET / ${v}\r\nHost: a\r\n\r\n`)), 505, v);
    }
    for (const v of ['HTTP/1.1x', 'http/1.1', 'HTTP/1.10', 'HTTP/11', 'HTTP/1', 'HTTP/', 'HTTP/1.a', 'HTTP/a.1', 'HTTP/1,1', 'HTTPS/1.1', 'HTTP/1.1 ', ' HTTP/1.1', 'HTTP/2', '']) {
      assert.equal(outcome(bytes(`GET / ${v}\r\nHost: a\r\n\r\n`)), 400, JSON.stringify(v));
    }
  });

  it('refuses malformed request lines with 400', () => {
    const lines = [
      ' GET / HTTP/1.1', 'GET  / HTTP/1.1', 'GET /  HTTP/1.1', 'GET\t/ HTTP/1.1', 'GET /\tHTTP/1.1', 'GET / HTTP/1.1 ',
      'G(ET / HTTP/1.1', 'GE"T / HTTP/1.1', 'GE\x00T / HTTP/1.1', 'GET/ HTTP/1.1', 'GET HTTP/1.1', 'GET /', 'GET',
      'GET /a b HTTP/1.1', 'GET /a\x01b HTTP/1.1', 'GET /a\x7fb HTTP/1.1', 'GET /caf\xc3\xa9 HTTP/1.1', 'GET /\xff HTTP/1.1',
      'GET /a\rb HTTP/1.1', 'GET / HTTP/1.1\r',
    ];
    for (const line of lines) assert.equal(outcome(bytes(line + '\r\nHost: a\r\n\r\n')), 400, JSON.stringify(line));
  });

  it('refuses malformed field lines with 400', () => {
    const lines = [
      'Host : a', 'Host\t: a', ' Host: a', '\tHost: a', ': a', 'Host', 'Ho st: a', 'Ho"st: a', 'Ho\x00st: a', 'H\xe9: a',
      'X: a\rb', 'X: a\x00b', 'X: \x00', 'X: a\x7f', 'X: a\x01', 'X: \x0bchunked', 'X: a\x1f', 'X: a\r',
    ];
    for (const line of lines) assert.equal(outcome(bytes(`GET / HTTP/1.1\r\nHost: a\r\n${line}\r\n\r\n`)), 400, JSON.stringify(line));
    // obs-fold: a field line continued on the next
    assert.equal(outcome(bytes('GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n')), 400);
    assert.equal(outcome(bytes('GET / HTTP/1.1\r\nX: a\r\n\tb\r\nHost: a\r\n\r\n')), 400);
  });

  it('accepts obs-text and inner whitespace in values', () => {
    const head = parsed('GET / HTTP/1.1\r\nHost: a\r\nX: caf\xe9 \x80\xff\ta\r\n\r\n');
    assert.deepEqual(fieldText(head, 1), ['X', 'caf\xe9 \x80\xff\ta']);
  });

  it('recognises the framing and forwarding header names in any case, and the listener request-id header', () => {
    const head = parsed(
      'GET / HTTP/1.1\r\nHOST: a\r\ncontent-length: 0\r\nTransfer-Encoding: chunked\r\nConnection: x\r\nX-Request-ID: r\r\nX-Requestid: no\r\n\r\n',
    );
    assert.deepEqual([...head.fields.ids.subarray(0, 6)], [H.host, H.contentLength, H.transferEncoding, H.connection, H.requestId, H.other]);
    assert.equal(head.fields.seen, (1 << H.host) | (1 << H.contentLength) | (1 << H.transferEncoding) | (1 << H.connection) | (1 << H.requestId) | 1);
    assert.equal(head.fields.countOf(H.other), 1);
  });

  it('answers 431 when the fields outnumber the parser', () => {
    const head = new RequestHead(2);
    assert.equal(outcome(bytes('GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\n\r\n'), head), 0);
    assert.equal(outcome(bytes('GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n'), head), 431);
  });

  it('is reused from one message to the next without leftovers', () => {
    const head = new RequestHead(10);
    assert.equal(outcome(bytes('GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX: 1\r\n\r\n'), head), 0);
    assert.equal(outcome(bytes('PURGE /x HTTP/1.0\r\n\r\n'), head), 0);
    assert.deepEqual([head.method, head.version, head.fields.count, head.fields.seen], ['PURGE', 10, 0, 0]);
    assert.equal(head.fields.find(H.transferEncoding), -1);
  });
});

describe('parseResponseHead', () => {
  function response(text: string): { status: number; head: ResponseHead } {
    const buf = bytes(text);
    const end = scanWhole(buf, roomy, false);
    const head = new ResponseHead(10);
    return { status: end < 0 ? -end : parseResponseHead(buf, end, head), head };
  }

  it('reads the status with or without a reason phrase', () => {
    const { status, head } = response('HTTP/1.1 204 No Content\r\nX: y\r\n\r\n');
    assert.equal(status, 0);
    assert.deepEqual([head.status, head.version, head.statusStart, head.fieldsStart], [204, 11, 9, 25]);
    assert.deepEqual(fieldText(head, 0), ['X', 'y']);
    assert.equal(response('HTTP/1.0 200\r\n\r\n').head.status, 200);
    assert.equal(response('HTTP/1.1 599 \r\n\r\n').head.status, 599);
  });

  it('refuses malformed status lines', () => {
    for (const line of ['HTTP/1.1 20 OK', 'HTTP/1.1 2000 OK', 'HTTP/1.1 099 OK', 'HTTP/1.1 600 OK', 'HTTP/1.1  200 OK', 'HTTP/1.1 200 O\x00K', 'HTTP/2.0 200 OK', 'http/1.1 200 OK', 'HTTP/1.1 2x0 OK']) {
      assert.notEqual(response(line + '\r\n\r\n').status, 0, JSON.stringify(line));
    }
  });
});

// ---- properties ----------------------------------------------------------------------------------------------

const seed = { seed: 7, numRuns: 2000 };
const tchars = [...Array(256).keys()].filter((c) => TOKEN[c] === 1).map((c) => String.fromCharCode(c));
const targetChars = [...Array(256).keys()].filter((c) => c >= 0x21 && c <= 0x7e).map((c) => String.fromCharCode(c));
const valueChars = [...Array(256).keys()].filter((c) => FIELD_VALUE[c] === 1).map((c) => String.fromCharCode(c));

const tokenArb = fc.string({ unit: fc.constantFrom(...tchars), minLength: 1, maxLength: 12 });
const methodArb = fc.oneof(fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE'), tokenArb);
const targetArb = fc.string({ unit: fc.constantFrom(...targetChars), maxLength: 40 }).map((s) => '/' + s);
const owsArb = fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 3 });
const valueArb = fc.string({ unit: fc.constantFrom(...valueChars), maxLength: 30 }).map((s) => s.replace(/^[ \t]+|[ \t]+$/g, ''));
const nameArb = fc.oneof(tokenArb, fc.constantFrom('Host', 'content-length', 'Transfer-Encoding', 'CONNECTION', 'x-request-id', 'Expect', 'TE'));
const fieldArb = fc.record({ name: nameArb, lead: owsArb, value: valueArb, trail: owsArb });
const requestArb = fc.record({
  method: methodArb,
  target: targetArb,
  version: fc.constantFrom('HTTP/1.0', 'HTTP/1.1'),
  fields: fc.array(fieldArb, { maxLength: 20 }),
  body: fc.string({ maxLength: 20 }),
});
type GeneratedRequest = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

function render(r: GeneratedRequest): { head: string; text: string } {
  const head = `${r.method} ${r.target} ${r.version}\r\n` + r.fields.map((f) => `${f.name}:${f.lead}${f.value}${f.trail}\r\n`).join('') + '\r\n';
  return { head, text: head + r.body };
}

const knownIds = new Map<string, number>(Object.entries({
  host: H.host, 'content-length': H.contentLength, 'transfer-encoding': H.transferEncoding, connection: H.connection,
  'keep-alive': H.keepAlive, 'proxy-connection': H.proxyConnection, te: H.te, upgrade: H.upgrade, expect: H.expect,
  'x-forwarded-for': H.xForwardedFor, 'x-forwarded-proto': H.xForwardedProto, 'x-forwarded-host': H.xForwardedHost,
  forwarded: H.forwarded, via: H.via, trailer: H.trailer, 'x-request-id': H.requestId,
}));

/** Bytes that steer a head parser, for building and mutating inputs. */
const pieces = ['GET', 'POST', ' ', '/', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', '\r\n', '\r', '\n', ':', 'Host', 'a', '\t', '\x00', '\x0b', '\x7f', '\x80', '\xff', '"', ';', '0', '\r\n\r\n'];
const structuredArb = fc.array(fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 4 })), { maxLength: 40 }).map((a) => bytes(a.join('')));
const randomBytesArb = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
const mutationArb = fc.record({ at: fc.nat(), kind: fc.constantFrom('insert', 'delete', 'replace'), piece: fc.constantFrom(...pieces, ' ', '\r\n') });
const mutatedArb = fc.tuple(requestArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 })).map(([r, ms]) => {
  let text = render(r).text;
  for (const m of ms) {
    const at = m.at % (text.length + 1);
    if (m.kind === 'insert') text = text.slice(0, at) + m.piece + text.slice(at);
    else if (m.kind === 'delete') text = text.slice(0, at) + text.slice(at + 1);
    else text = text.slice(0, at) + m.piece + text.slice(at + m.piece.length);
  }
  return bytes(text);
});

const smallLimits: HeadLimits = { maxStartLine: 60, maxHeadSize: 200, maxHeaders: 6 };

/** Scanner and parser on arbitrary bytes: no throw, a documented outcome, and the same one however they are split. */
function checkArbitrary(buf: Buffer, cut: number, limits: HeadLimits): void {
  const whole = scanWhole(buf, limits);
  assert.ok(whole === -1 || whole === -400 || whole === -414 || whole === -431 || (whole > 0 && whole <= buf.length), `scan: ${whole}`);
  assert.equal(scanCut(buf, [cut % (buf.length + 1)], limits), whole, 'split in two');
  assert.equal(scanBytewise(buf, limits), whole, 'byte by byte');
  if (whole <= 0) return;
  const head = new RequestHead(limits.maxHeaders);
  const status = parseRequestHead(buf, whole, head, requestIdName);
  assert.ok(([ParseError.ok, ParseError.badRequest, ParseError.headersTooLarge, ParseError.versionNotSupported] as number[]).includes(status), `parse: ${status}`);
  // The head alone gives the same answer as the head followed by anything: nothing past headEnd is read.
  const alone = Buffer.from(buf.subarray(0, whole));
  const other = new RequestHead(limits.maxHeaders);
  assert.equal(parseRequestHead(alone, whole, other, requestIdName), status, 'same outcome without the bytes after the head');
  if (status !== 0) return;
  assert.ok(head.targetStart > 1 && head.targetEnd > head.targetStart && head.fieldsStart === head.targetEnd + 11 && head.fieldsStart <= whole - 2);
  assert.ok(head.version === 10 || head.version === 11);
  const f = head.fields;
  const ows = (from: number, to: number) => {
    for (let p = from; p < to; p++) assert.ok(buf[p] === 0x20 || buf[p] === 0x09, `OWS at ${p}`);
  };
  let prev = head.fieldsStart;
  for (let i = 0; i < f.count; i++) {
    // each field is one line: name ":" OWS value OWS CRLF, with no gap between lines
    assert.equal(f.nameStart[i], prev);
    assert.ok(f.nameEnd[i] > f.nameStart[i] && f.valueStart[i] > f.nameEnd[i] && f.valueEnd[i] >= f.valueStart[i]);
    for (let p = f.nameStart[i]; p < f.nameEnd[i]; p++) assert.equal(TOKEN[buf[p]], 1);
    assert.equal(buf[f.nameEnd[i]], 0x3a);
    ows(f.nameEnd[i] + 1, f.valueStart[i]);
    for (let p = f.valueStart[i]; p < f.valueEnd[i]; p++) assert.equal(FIELD_VALUE[buf[p]], 1);
    const lineEnd = buf.indexOf('\r\n', f.valueEnd[i]);
    ows(f.valueEnd[i], lineEnd);
    prev = lineEnd + 2;
    const o = other.fields;
    assert.deepEqual([f.nameStart[i], f.nameEnd[i], f.valueStart[i], f.valueEnd[i], f.ids[i]], [o.nameStart[i], o.nameEnd[i], o.valueStart[i], o.valueEnd[i], o.ids[i]]);
  }
  assert.equal(prev, whole - 2, 'the fields cover the head up to its final CRLF');
}

describe('head parsing properties', () => {
  it('random bytes never throw and get the same answer however they are split', () => {
    fc.assert(fc.property(fc.oneof(randomBytesArb, structuredArb), fc.nat(), (buf, cut) => checkArbitrary(buf, cut, smallLimits)), seed);
  });

  it('mutated valid requests never throw and either parse or are refused with a documented status', () => {
    fc.assert(
      fc.property(mutatedArb, fc.nat(), (buf, cut) => {
        checkArbitrary(buf, cut, roomy);
        checkArbitrary(buf, cut, smallLimits);
      }),
      seed,
    );
  });

  it('valid requests always parse, with the offsets they were built with', () => {
    fc.assert(
      fc.property(requestArb, fc.nat(), (r, cut) => {
        const { head: headText, text } = render(r);
        const buf = bytes(text);
        assert.equal(scanWhole(buf), headText.length);
        assert.equal(scanCut(buf, [cut % (buf.length + 1)]), headText.length);
        const head = new RequestHead(roomy.maxHeaders);
        assert.equal(parseRequestHead(buf, headText.length, head, requestIdName), 0);
        assert.equal(head.method, r.method);
        assert.equal(head.targetStart, r.method.length + 1);
        assert.equal(head.targetEnd, head.targetStart + r.target.length);
        assert.equal(head.version, r.version === 'HTTP/1.1' ? 11 : 10);
        assert.equal(head.fieldsStart, head.targetEnd + 11);
        assert.equal(head.headEnd, headText.length);
        assert.equal(head.fields.count, r.fields.length);
        let pos = head.fieldsStart;
        let seen = 0;
        r.fields.forEach((field, i) => {
          // an empty value sits after all the whitespace
          const valueStart = pos + field.name.length + 1 + field.lead.length + (field.value === '' ? field.trail.length : 0);
          assert.deepEqual(
            [head.fields.nameStart[i], head.fields.nameEnd[i], head.fields.valueStart[i], head.fields.valueEnd[i]],
            [pos, pos + field.name.length, valueStart, valueStart + field.value.length],
          );
          const id = knownIds.get(field.name.toLowerCase()) ?? H.other;
          assert.equal(head.fields.ids[i], id);
          seen |= 1 << id;
          pos += field.name.length + 1 + field.lead.length + field.value.length + field.trail.length + 2;
        });
        assert.equal(head.fields.seen, seen);
      }),
      seed,
    );
  });
});
