// Every runnable config in examples/ loads without errors, so the examples the docs point to never rot.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { loadConfigFile } from '../../src/control/config/load.ts';

const dir = new URL('../../examples/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml') || f.endsWith('.json'));

test('there are examples to check', () => {
  assert.ok(files.length >= 3, `found ${files.join(', ')}`);
});

for (const file of files) {
  test(`examples/${file} is a valid config`, async () => {
    const config = await loadConfigFile(new URL(file, dir).pathname);
    assert.ok(config.listeners.length > 0);
  });
}
