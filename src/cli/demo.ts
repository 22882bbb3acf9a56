// `fulcrum demo`: three demo backends and a balancer in front of them on :8080, from a config written to a
// temporary file so `fulcrum reload` and SIGHUP work on it like on any other.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoBackend, type DemoBackend } from '../demo/backends.ts';
import { tokenEnv } from './admin-client.ts';
import { serve } from './run.ts';

export function demoConfig(listen: string, ports: readonly number[], admin: string, token: string): string {
  return [
    '# Written by `fulcrum demo`: three demo backends behind one HTTP listener.',
    'listeners:',
    '  - name: demo',
    `    address: ${listen}`,
    '    routes:',
    '      - forward: { pool: demo }',
    'pools:',
    '  - name: demo',
    '    balancer: { algorithm: round-robin }',
    '    endpoints:',
    ...ports.map((p) => `      - address: 127.0.0.1:${p}`),
    'admin:',
    `  address: ${admin}`,
    `  token: ${token}   # random for this demo: actions on the admin API need it`,
    '',
  ].join('\n');
}

export async function demo(argv: string[]): Promise<number> {
  let port = 8080;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--port') port = Number(argv[++i]);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('fulcrum demo: --port expects a port number\n');
    return 2;
  }
  const backends: DemoBackend[] = [];
  for (const [i, name] of ['alpha', 'beta', 'gamma'].entries()) {
    // 9001-9003 when free, any free port otherwise
    backends.push(await startDemoBackend(name, 9001 + i).catch(() => startDemoBackend(name, 0)));
  }
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-demo-'));
  const file = join(dir, 'fulcrum.yaml');
  const token = randomBytes(24).toString('base64url');
  // the file holds the admin token: readable by its owner only
  writeFileSync(file, demoConfig(`127.0.0.1:${port}`, backends.map((b) => b.port), '127.0.0.1:9900', token), { mode: 0o600 });
  return serve(file, {
    onStarted(rt) {
      const { port: bound } = rt.address('demo');
      process.stdout.write(
        [
          '',
          `Fulcrum demo: balancing http://127.0.0.1:${bound} over ${backends.map((b) => `${b.name} (:${b.port})`).join(', ')}`,
          '',
          `  curl http://127.0.0.1:${bound}/            # run it a few times: alpha, beta, gamma in turn`,
          `  curl http://127.0.0.1:9900/status          # endpoints and their counters (admin API)`,
          `  curl http://127.0.0.1:9900/metrics         # the same as Prometheus metrics`,
          `  open http://127.0.0.1:9900/               # the live dashboard (in a browser on this machine)`,
          `  fulcrum status --config ${file}`,
          `  fulcrum endpoints drain demo 127.0.0.1:${backends[0].port} --config ${file}`,
          `  fulcrum reload ${file}   # after editing the config`,
          '',
          `Actions on the admin API need its token (in ${file}; fulcrum reads it from there with --config):`,
          `  export ${tokenEnv}=${token}`,
          `  curl -X POST -H "authorization: Bearer $${tokenEnv}" http://127.0.0.1:9900/reload`,
          '',
          'Ctrl-C stops it.',
          '',
        ].join('\n'),
      );
    },
    async onStopped() {
      await Promise.all(backends.map((b) => b.close()));
    },
  });
}
