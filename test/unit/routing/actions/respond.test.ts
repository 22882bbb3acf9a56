// The `respond` action: exact reply bytes for each variant (HEAD, close, HTTP/1.0 keep-alive), UTF-8 body
// lengths, no-content statuses, and config errors at their path.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configErrorMap, formatPath, issuesFromZod } from '../../../../src/control/config/diagnostics.ts';
import { compileRespond, reasonPhrase, respondSchema, type Respond } from '../../../../src/routing/actions/respond.ts';

function respond(raw: unknown): Respond {
  const r = respondSchema.safeParse(raw, { error: configErrorMap, reportInput: true });
  if (!r.success) assert.fail(r.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('\n'));
  return compileRespond(r.data);
}

function issues(raw: unknown): string[] {
  const r = respondSchema.safeParse(raw, { error: configErrorMap, reportInput: true });
  assert.equal(r.success, false, 'expected the respond action to be rejected');
  return r.success ? [] : issuesFromZod(r.error.issues, respondSchema, raw).map((i) => `${formatPath(i.path)}: ${i.message}`);
}

const plain = { close: false, head: false, keepAlive10: false };

describe('respond', () => {
  it('defaults: 200, empty body, no content-type', () => {
    assert.equal(respond({}).reply(plain).toString('latin1'), 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
  });

  it('a body gets text/plain and its UTF-8 byte length; headers follow in order', () => {
    const r = respond({ status: 503, body: 'Maintenance — back soon\n', headers: { 'Retry-After': '120', 'cache-control': 'no-store' } });
    const body = 'Maintenance — back soon\n';
    const head =
      'HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 26\r\n' +
      'retry-after: 120\r\ncache-control: no-store\r\n';
    assert.equal(Buffer.byteLength(body), 26);
    assert.deepEqual(r.reply(plain), Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), Buffer.from(body, 'utf8')]));
    assert.deepEqual(r.reply({ close: true, head: false, keepAlive10: false }), Buffer.concat([Buffer.from(`${head}connection: close\r\n\r\n`, 'latin1'), Buffer.from(body)]));
    assert.deepEqual(r.reply({ close: false, head: false, keepAlive10: true }), Buffer.concat([Buffer.from(`${head}connection: keep-alive\r\n\r\n`, 'latin1'), Buffer.from(body)]));
    // HEAD: same head (same content-length), no body
    assert.equal(r.reply({ close: false, head: true, keepAlive10: false }).toString('latin1'), `${head}\r\n`);
    assert.equal(r.reply({ close: true, head: true, keepAlive10: true }).toString('latin1'), `${head}connection: close\r\n\r\n`);
  });

  it('returns the same prebuilt buffer for every request', () => {
    const r = respond({ body: 'ok' });
    assert.equal(r.reply(plain), r.reply(plain));
  });

  it('contentType replaces the default', () => {
    const r = respond({ status: 404, body: '{"error":"not_found"}', contentType: 'application/json' });
    assert.equal(
      r.reply(plain).toString(),
      'HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 21\r\n\r\n{"error":"not_found"}',
    );
  });

  it('204 has no content-length, 304 neither, 205 says 0; unknown codes have an empty reason', () => {
    assert.equal(respond({ status: 204 }).reply(plain).toString(), 'HTTP/1.1 204 No Content\r\n\r\n');
    assert.equal(respond({ status: 304, headers: { etag: '"v1"' } }).reply(plain).toString(), 'HTTP/1.1 304 Not Modified\r\netag: "v1"\r\n\r\n');
    assert.equal(respond({ status: 205 }).reply(plain).toString(), 'HTTP/1.1 205 Reset Content\r\ncontent-length: 0\r\n\r\n');
    assert.equal(respond({ status: 299 }).reply(plain).toString(), 'HTTP/1.1 299 \r\ncontent-length: 0\r\n\r\n');
    assert.equal(reasonPhrase(429), 'Too Many Requests');
  });
});

describe('respondSchema errors', () => {
  it('a body or content type with a no-content status', () => {
    assert.deepEqual(issues({ status: 204, body: 'x', contentType: 'text/html' }), [
      'body: expected no body with status 204 (it carries no content), found "x"',
      'contentType: expected no contentType with status 204 (it carries no content), found "text/html"',
    ]);
    assert.deepEqual(issues({ status: 304, body: 'x' }), ['body: expected no body with status 304 (it carries no content), found "x"']);
  });

  it('status range, refused header names, control characters in values', () => {
    assert.deepEqual(issues({ status: 101 }), ['status: expected an integer 200..599, found 101']);
    assert.deepEqual(issues({ status: '200' }), ['status: expected an integer 200..599, found "200"']);
    assert.deepEqual(issues({ headers: { 'Content-Length': '5', 'content-type': 'x', 'x-a': 'a\nb' } }), [
      'headers["Content-Length"]: expected a header name other than a framing or hop-by-hop one, found "Content-Length" (it frames the message; Fulcrum writes it)',
      'headers["content-type"]: expected a header name other than a framing or hop-by-hop one, found "content-type" (use contentType)',
      'headers["x-a"]: expected a header value without CR, LF, NUL or other control characters (latin1 text), found "a\\nb"',
    ]);
    assert.deepEqual(issues({ contentType: 'text/html\r\nx: 1' }), [
      'contentType: expected a media type like "application/json", found "text/html\\r\\nx: 1"',
    ]);
    assert.deepEqual(issues({ code: 200 }), ['code: unknown key "code" (expected one of "status", "headers", "body", "contentType")']);
  });
});
