// Where `fulcrum reload|status|endpoints` send their request and which token they send: --admin over the
// config's address over 127.0.0.1:9900; --token over $FULCRUM_ADMIN_TOKEN over the config's admin.token.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { adminSectionOf, adminTarget, adminToken, takeAdminOptions } from '../../../src/cli/admin-client.ts';

const dir = mkdtempSync(join(tmpdir(), 'fulcrum-admin-client-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('takeAdminOptions', () => {
  it('takes --admin, --config and --token with their values and keeps the rest in order', () => {
    const r = takeAdminOptions(['weight', '--token', 't', 'app', '--admin', '127.0.0.1:1', '10.0.0.1:80', '--config', 'f.yaml', '3']);
    assert.deepEqual(r, { options: { admin: '127.0.0.1:1', config: 'f.yaml', token: 't' }, rest: ['weight', 'app', '10.0.0.1:80', '3'] });
  });
  it('refuses an option without a value', () => {
    assert.equal(takeAdminOptions(['status', '--token']), '--token expects a value');
    assert.equal(takeAdminOptions(['--admin', '']), '--admin expects a value');
  });
});

describe('adminTarget', () => {
  const withAdmin = file('admin.yaml', 'listeners: []\nadmin:\n  address: 127.0.0.1:9911\n  token: from-the-config-file\n');
  const adminNoAddress = file('admin-default.yaml', 'admin: {}\n');
  const noAdmin = file('plain.yaml', 'listeners: []\n');
  it('prefers --admin, then the config, then 127.0.0.1:9900', () => {
    assert.equal((adminTarget({ admin: '127.0.0.2:1', config: withAdmin, token: null }) as { text: string }).text, '127.0.0.2:1');
    assert.equal((adminTarget({ admin: null, config: withAdmin, token: null }) as { text: string }).text, '127.0.0.1:9911');
    assert.equal((adminTarget({ admin: null, config: adminNoAddress, token: null }) as { text: string }).text, '127.0.0.1:9900');
    assert.equal((adminTarget({ admin: null, config: noAdmin, token: null }) as { text: string }).text, '127.0.0.1:9900');
    assert.equal((adminTarget({ admin: null, config: null, token: null }) as { text: string }).text, '127.0.0.1:9900');
  });
  it('says what is wrong with a bad --admin', () => {
    assert.equal(adminTarget({ admin: 'nowhere', config: null, token: null }), '--admin expects host:port, found "nowhere"');
  });

  it('takes the token from --token, then $FULCRUM_ADMIN_TOKEN, then the config', () => {
    const env = { FULCRUM_ADMIN_TOKEN: 'from-the-environment' };
    assert.equal(adminToken({ admin: null, config: withAdmin, token: 'from-the-flag' }, env), 'from-the-flag');
    assert.equal(adminToken({ admin: null, config: withAdmin, token: null }, env), 'from-the-environment');
    assert.equal(adminToken({ admin: null, config: withAdmin, token: null }, {}), 'from-the-config-file');
    assert.equal(adminToken({ admin: null, config: withAdmin, token: null }, { FULCRUM_ADMIN_TOKEN: '' }), 'from-the-config-file');
    assert.equal(adminToken({ admin: null, config: noAdmin, token: null }, {}), null);
    assert.equal(adminToken({ admin: null, config: null, token: null }, {}), null);
  });

  it('reads a broken or missing file leniently', () => {
    assert.equal(adminSectionOf(file('broken.yaml', 'admin: [\n')), null);
    assert.equal(adminSectionOf(join(dir, 'missing.yaml')), null);
    assert.deepEqual(adminSectionOf(file('odd.yaml', 'admin:\n  token: 42\n')), { address: '127.0.0.1:9900', token: null });
  });
});
