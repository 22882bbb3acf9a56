// The admin API's auth rule as a pure function: loopback reads are free; actions, and reads from another
// host, need the configured bearer token — compared in constant time, wrong or missing alike refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authorize, bearerToken, isLoopback } from '../../../../src/control/admin/auth.ts';

const token = 'k3y-of-at-least-16-chars';

describe('isLoopback', () => {
  it('takes 127.0.0.0/8, ::1 and IPv4-mapped loopback', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '127.255.255.255', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '::FFFF:127.9.9.9']) {
      assert.equal(isLoopback(a), true, a);
    }
  });
  it('refuses every other address, and no address at all', () => {
    for (const a of ['10.0.0.1', '128.0.0.1', '126.255.255.255', '0.0.0.0', '::', '::2', 'fe80::1', '::ffff:10.0.0.1', '::127.0.0.1', 'localhost', '', 'garbage']) {
      assert.equal(isLoopback(a), false, a);
    }
    assert.equal(isLoopback(undefined), false);
  });
});

describe('bearerToken', () => {
  it('reads the credentials of the Bearer scheme, case-insensitively', () => {
    assert.equal(bearerToken(`Bearer ${token}`), token);
    assert.equal(bearerToken(`bearer ${token}`), token);
    assert.equal(bearerToken(`BEARER  ${token} `), token);
  });
  it('is null for a missing header, another scheme, or no credentials', () => {
    assert.equal(bearerToken(undefined), null);
    assert.equal(bearerToken(`Basic ${Buffer.from('a:b').toString('base64')}`), null);
    assert.equal(bearerToken('Bearer'), null);
    assert.equal(bearerToken('Bearer '), null);
    assert.equal(bearerToken(`Bearer ${token} extra`), null);
  });
});

describe('authorize', () => {
  const right = `Bearer ${token}`;
  const wrong = `Bearer ${token.slice(0, -1)}X`;

  it('lets reads from loopback through without a token, configured or not', () => {
    for (const method of ['GET', 'HEAD']) {
      assert.deepEqual(authorize(method, '127.0.0.1', undefined, token), { ok: true });
      assert.deepEqual(authorize(method, '::1', undefined, undefined), { ok: true });
      assert.deepEqual(authorize(method, '::ffff:127.0.0.1', wrong, token), { ok: true });
    }
  });

  it('needs the token for reads from a non-loopback peer', () => {
    const missing = authorize('GET', '10.1.2.3', undefined, token);
    assert.equal(missing.ok, false);
    assert.equal(!missing.ok && missing.reason, 'missing_token');
    assert.match(!missing.ok ? missing.error : '', /reads from another host need the admin token/);
    const bad = authorize('GET', '192.168.0.7', wrong, token);
    assert.equal(!bad.ok && bad.reason, 'wrong_token');
    assert.deepEqual(authorize('GET', '10.1.2.3', right, token), { ok: true });
    const none = authorize('GET', '2001:db8::1', right, undefined);
    assert.equal(!none.ok && none.reason, 'no_token_configured');
  });

  it('needs the token for every action, from loopback too', () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      for (const peer of ['127.0.0.1', '::1', '10.0.0.1']) {
        const missing = authorize(method, peer, undefined, token);
        assert.equal(!missing.ok && missing.reason, 'missing_token', `${method} from ${peer}`);
        const bad = authorize(method, peer, wrong, token);
        assert.equal(!bad.ok && bad.reason, 'wrong_token', `${method} from ${peer}`);
        assert.equal(!authorize(method, peer, `Bearer ${token}${token}`, token).ok, true, 'a longer token is wrong too');
        assert.equal(!authorize(method, peer, `Bearer ${token.slice(0, 16)}`, token).ok, true, 'a prefix is wrong too');
        assert.deepEqual(authorize(method, peer, right, token), { ok: true }, `${method} from ${peer}`);
      }
    }
  });

  it('refuses every action when no token is configured, and says how to set one', () => {
    const d = authorize('POST', '127.0.0.1', right, undefined);
    assert.equal(d.ok, false);
    assert.equal(!d.ok && d.reason, 'no_token_configured');
    assert.match(!d.ok ? d.error : '', /config has no admin\.token: set admin\.token/);
    assert.match(!d.ok ? d.error : '', /SIGHUP/);
  });

  it('never echoes the presented token', () => {
    const d = authorize('POST', '127.0.0.1', wrong, token);
    assert.ok(!d.ok && !d.error.includes(wrong.slice(7)) && !d.error.includes(token));
  });
});
