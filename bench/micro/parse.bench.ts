// Request and response head parsing, and chunked decoding: the per-request work of http/parse.
import { ChunkedDecoder } from '../../src/http/parse/chunked.ts';
import { findHeadEnd, HeadScanner, parseRequestHead, parseResponseHead, RequestHead, ResponseHead } from '../../src/http/parse/head.ts';
import { measure } from './harness.ts';

const request = Buffer.from(
  'GET /api/v1/items?page=2 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n' +
    'Accept: application/json\r\nAccept-Encoding: gzip, br\r\nAccept-Language: en-US,en;q=0.9\r\n' +
    'Cookie: session=abcdef0123456789; theme=dark\r\nX-Request-ID: 4f1c7e9a\r\nConnection: keep-alive\r\n\r\n',
  'latin1',
);
const response = Buffer.from(
  'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Wed, 25 Nov 2026 12:00:00 GMT\r\nContent-Type: application/json\r\n' +
    'Content-Length: 13\r\nConnection: keep-alive\r\nCache-Control: no-cache\r\n\r\n',
  'latin1',
);
const chunked = Buffer.from('400\r\n' + 'x'.repeat(1024) + '\r\n400;ext=1\r\n' + 'y'.repeat(1024) + '\r\n0\r\nTrailer: a\r\n\r\n', 'latin1');

const limits = { maxStartLine: 8192, maxHeadSize: 32768, maxHeaders: 100 };
const scanner = new HeadScanner();
const rq = new RequestHead(100);
const rs = new ResponseHead(100);
const rid = Buffer.from('x-request-id');
const decoder = new ChunkedDecoder(32768);

measure('find end + parse a 9-field request head (fast path)', () => {
  const end = findHeadEnd(request, 0, request.length);
  if (parseRequestHead(request, end, rq, rid) !== 0) throw new Error('parse failed');
});
measure('find end + parse a 6-field response head (fast path)', () => {
  const end = findHeadEnd(response, 0, response.length);
  if (parseResponseHead(response, end, rs) !== 0) throw new Error('parse failed');
});
measure('scan + parse a 9-field request head (line by line)', () => {
  scanner.reset();
  const end = scanner.scan(request, request.length, limits, true);
  if (parseRequestHead(request, end, rq, rid) !== 0) throw new Error('parse failed');
});
measure('scan + parse a 6-field response head (line by line)', () => {
  scanner.reset();
  const end = scanner.scan(response, response.length, limits, false);
  if (parseResponseHead(response, end, rs) !== 0) throw new Error('parse failed');
});
measure('decode a 2 KiB chunked body with trailer', () => {
  decoder.reset();
  let p = 0;
  while (p < chunked.length && !decoder.done) p = decoder.execute(chunked, p, chunked.length);
  if (!decoder.done) throw new Error('decode failed');
});
