// What a client sees: the 429's exact bytes (status, Retry-After rounded up, the draft's RateLimit-Policy and
// RateLimit fields, x-fulcrum-reason, the local-reply body), HEAD and connection variants, and the header lines
// of allowed responses (only with `headers: true`; none for requests no policy counted).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allowedHeaderLines, rejectReply } from '../../../src/ratelimit/reply.ts';
import { notLimited } from '../../../src/ratelimit/types.ts';
import { policy, take } from './helpers.ts';

const keep = { close: false, head: false, keepAlive10: false };

describe('429 reply', () => {
  it('is exact', () => {
    const p = policy({ name: 'default', limit: '100/min', algorithm: 'fixed-window' });
    for (let i = 0; i < 100; i++) take(p, 'k', 30_000);
    const d = take(p, 'k', 30_400);
    assert.equal(d.allowed, false);
    const body = '429 Too Many Requests\nreason: rate_limited\npolicy: default\nrequest-id: req-7\n';
    assert.equal(
      rejectReply(d, 'req-7', keep).toString('latin1'),
      'HTTP/1.1 429 Too Many Requests\r\n' +
        'content-type: text/plain; charset=utf-8\r\n' +
        `content-length: ${body.length}\r\n` +
        'x-fulcrum-reason: rate_limited\r\n' +
        'retry-after: 30\r\n' + // 29.6 s, rounded up
        'ratelimit-policy: "default";q=100;w=60\r\n' +
        'ratelimit: "default";r=0;t=30\r\n' +
        '\r\n' +
        body,
    );
  });

  it('has no body for HEAD and says how the connection goes', () => {
    const p = policy({ limit: '1/s', algorithm: 'token-bucket' });
    take(p, 'k', 0);
    const d = take(p, 'k', 1);
    const head = rejectReply(d, 'r', { close: true, head: true, keepAlive10: false }).toString('latin1');
    assert.ok(head.endsWith('ratelimit: "1-per-s";r=0;t=1\r\nconnection: close\r\n\r\n'), head);
    assert.match(head, /content-length: \d+\r\n/);
    assert.match(head, /retry-after: 1\r\n/);
    const ka = rejectReply(d, 'r', { close: false, head: false, keepAlive10: true }).toString('latin1');
    assert.match(ka, /\r\nconnection: keep-alive\r\n\r\n429 Too Many Requests\n/);
  });

  it('never says Retry-After: 0', () => {
    const p = policy({ limit: '1000/s', algorithm: 'token-bucket', burst: 1 });
    take(p, 'k', 0);
    const d = take(p, 'k', 0);
    assert.equal(d.retryAfterMs, 1);
    assert.match(rejectReply(d, 'r', keep).toString('latin1'), /\r\nretry-after: 1\r\n/);
  });
});

describe('allowed responses', () => {
  it('carry the fields when the policy asks for them', () => {
    const p = policy({ limit: '10/min', headers: true });
    assert.equal(allowedHeaderLines(take(p, 'k', 15_000)), 'ratelimit-policy: "10-per-min";q=10;w=60\r\nratelimit: "10-per-min";r=9;t=105\r\n');
  });

  it('carry nothing by default, nor for requests no policy counted', () => {
    const p = policy({ limit: '10/min' });
    assert.equal(allowedHeaderLines(take(p, 'k', 0)), '');
    assert.equal(allowedHeaderLines(notLimited), '');
  });
});
