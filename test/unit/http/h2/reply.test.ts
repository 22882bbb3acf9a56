// HTTP/1.1 replies and field lines as HTTP/2 header lists: status, lowercase names, connection-specific fields
// dropped (RFC 9113 §8.2.2), Set-Cookie kept apart and other repeats joined; trailers of a chunked body found
// after its last chunk, without the fields trailers may not carry.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OutgoingHttpHeaders } from 'node:http2';
import { addField, addLines, toH2Reply, trailersOf } from '../../../../src/http/h2/reply.ts';
import { localReply } from '../../../../src/http/local-reply.ts';

test('a local reply keeps its status, reason header and body, and loses Connection', () => {
  const r = toH2Reply(localReply(502, 'upstream_connect_failed', 'rid-1', true, false, false, '', 'trace-1'));
  assert.equal(r.status, 502);
  assert.equal(r.headers[':status'], 502);
  assert.equal(r.headers['x-fulcrum-reason'], 'upstream_connect_failed');
  assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(r.headers.connection, undefined);
  assert.equal(r.body.toString(), '502 Bad Gateway\nreason: upstream_connect_failed\nrequest-id: rid-1\ntrace-id: trace-1\n');
  assert.equal(r.headers['content-length'], String(r.body.length));
});

test('a head-only reply has an empty body', () => {
  const r = toH2Reply(Buffer.from('HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n', 'latin1'));
  assert.equal(r.status, 204);
  assert.equal(r.headers['x-a'], '1');
  assert.equal(r.body.length, 0);
});

test('repeated fields: Set-Cookie stays separate, others are joined with ", "', () => {
  const h: OutgoingHttpHeaders = {};
  addField(h, 'set-cookie', 'a=1');
  addField(h, 'set-cookie', 'b=2');
  addField(h, 'set-cookie', 'c=3');
  addField(h, 'vary', 'accept');
  addField(h, 'vary', 'origin');
  assert.deepEqual(h['set-cookie'], ['a=1', 'b=2', 'c=3']);
  assert.equal(h.vary, 'accept, origin');
});

test('field lines: names lowercased, values trimmed, connection-specific ones dropped', () => {
  const h: OutgoingHttpHeaders = {};
  addLines(h, 'Strict-Transport-Security: max-age=600 \r\nConnection: close\r\nKeep-Alive: timeout=5\r\nX-Edit:\tv\r\n');
  assert.deepEqual(h, { 'strict-transport-security': 'max-age=600', 'x-edit': 'v' });
});

test('trailers after the last chunk; none when the section is empty; forbidden fields dropped', () => {
  assert.deepEqual(trailersOf('\r\n0\r\nX-Checksum: abc\r\nGrpc-Status: 0\r\n\r\n'), { 'x-checksum': 'abc', 'grpc-status': '0' });
  assert.equal(trailersOf('\r\n0\r\n\r\n'), null);
  assert.equal(trailersOf('0\r\n\r\n'), null, 'an empty body');
  assert.equal(trailersOf('\r\n0;ext=1\r\n\r\n'), null);
  assert.deepEqual(trailersOf('\r\n000\r\ncontent-length: 5\r\nhost: x\r\ntrailer: a\r\nx-ok: 1\r\n\r\n'), { 'x-ok': '1' });
});
