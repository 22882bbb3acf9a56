import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { check } from '../../../src/cli/check.ts';

function capture() {
  const out = { stdout: '', stderr: '' };
  const streams = {
    stdout: { write: (text: string) => (out.stdout += text) },
    stderr: { write: (text: string) => (out.stderr += text) },
  };
  return { out, streams };
}

async function run(argv: string[]) {
  const { out, streams } = capture();
  const status = await check(argv, streams);
  return { status, ...out };
}

describe('fulcrum check', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fulcrum-check-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reports a valid file with its counts and exits 0', async () => {
    const file = join(dir, 'ok.yaml');
    await writeFile(
      file,
      `listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { path: { prefix: /api/ } }
        forward: { pool: api }
      - forward: { pool: web }
  - name: internal
    address: 127.0.0.1:8081
    routes:
      - forward: { pool: web }
pools:
  - name: api
    endpoints: [{ address: 127.0.0.1:9001 }, { address: 127.0.0.1:9002 }]
  - name: web
    endpoints: [{ address: 127.0.0.1:9003 }]
`,
    );
    assert.deepEqual(await run([file]), {
      status: 0,
      stdout: `${file}: configuration is valid (2 listeners, 3 routes, 2 pools, 3 endpoints)\n`,
      stderr: '',
    });
  });

  it('checks examples/basic.yaml', async () => {
    const file = new URL('../../../examples/basic.yaml', import.meta.url).pathname;
    const result = await run([file]);
    assert.equal(result.status, 0);
    assert.equal(result.stdout, `${file}: configuration is valid (1 listener, 1 route, 1 pool, 2 endpoints)\n`);
  });

  it('prints every diagnostic on its own line, then a count, and exits 1', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(
      file,
      `listeners:
  - name: web
    address: 127.0.0.1
    routes:
      - forward: { pool: nope }
pools:
  - name: web
    endpoints: []
    maxTries: 0
`,
    );
    assert.deepEqual(await run([file]), {
      status: 1,
      stdout: '',
      stderr:
        `${file}:3:14: listeners[0].address: expected host:port like "10.0.0.1:8080", found "127.0.0.1" (no port)\n` +
        `${file}:5:26: listeners[0].routes[0].forward.pool: expected the name of a pool, found "nope" (expected one of "web")\n` +
        `${file}:9:15: pools[0].maxTries: expected an integer 1..10, found 0\n` +
        `${file}: configuration is invalid (3 errors)\n`,
    });
  });

  it('counts a single error in the singular', async () => {
    const file = join(dir, 'one.yaml');
    await writeFile(file, 'listeners: []\npools: [{ name: web, endpoints: [] }]\n');
    const result = await run([file]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /: configuration is invalid \(1 error\)\n$/);
  });

  it('exits 2 when the file cannot be read', async () => {
    const missing = join(dir, 'missing.yaml');
    assert.deepEqual(await run([missing]), {
      status: 2,
      stdout: '',
      stderr: `${missing}: cannot read the configuration: no such file\n`,
    });
    const result = await run([dir]);
    assert.equal(result.status, 2);
    assert.equal(result.stderr, `${dir}: cannot read the configuration: is a directory\n`);
  });

  it('exits 2 with usage when misused, 0 for --help', async () => {
    assert.deepEqual(await run([]), { status: 2, stdout: '', stderr: 'usage: fulcrum check FILE\n' });
    assert.deepEqual(await run(['a.yaml', 'b.yaml']), { status: 2, stdout: '', stderr: 'usage: fulcrum check FILE\n' });
    assert.deepEqual(await run(['--verbose']), { status: 2, stdout: '', stderr: 'usage: fulcrum check FILE\n' });
    assert.deepEqual(await run(['--help']), { status: 0, stdout: 'usage: fulcrum check FILE\n', stderr: '' });
  });
});
