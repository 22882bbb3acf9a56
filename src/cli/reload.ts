// `fulcrum reload`: ask a running balancer to reload its config file — through its admin listener (the
// address from CONFIG's admin section, or --admin, default 127.0.0.1:9900), or with --pid by SIGHUP.
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseAddress } from '../core/address.ts';
import { ExitCode } from './exit-codes.ts';

export async function reload(argv: string[]): Promise<number> {
  let admin: string | null = null;
  let pid: number | null = null;
  let file: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--admin') admin = argv[++i] ?? '';
    else if (a === '--pid') pid = Number(argv[++i]);
    else if (!a.startsWith('-') && file === null) file = a;
    else {
      process.stderr.write('usage: fulcrum reload [CONFIG] [--admin HOST:PORT] [--pid PID]\n');
      return ExitCode.usage;
    }
  }
  if (pid !== null) {
    if (!Number.isInteger(pid) || pid <= 0) {
      process.stderr.write('fulcrum reload: --pid expects a process id\n');
      return ExitCode.usage;
    }
    try {
      process.kill(pid, 'SIGHUP');
    } catch (err) {
      process.stderr.write(`fulcrum reload: cannot signal ${pid}: ${(err as Error).message}\n`);
      return ExitCode.unreachable;
    }
    process.stdout.write(`sent SIGHUP to ${pid}\n`);
    return ExitCode.ok;
  }
  if (admin === null && file !== null) admin = adminAddressOf(file);
  const target = parseAddress(admin ?? '127.0.0.1:9900');
  if (target === undefined) {
    process.stderr.write(`fulcrum reload: --admin expects host:port, found ${JSON.stringify(admin)}\n`);
    return ExitCode.usage;
  }
  return new Promise((resolve) => {
    const req = request({ host: target.host, port: target.port, method: 'POST', path: '/reload', timeout: 30000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        let result: { ok?: boolean; generation?: number; errors?: string[] } = {};
        try {
          result = JSON.parse(body);
        } catch {
          // fall through with an empty result
        }
        if (res.statusCode === 200 && result.ok === true) {
          process.stdout.write(`reloaded: generation ${result.generation}\n`);
          resolve(ExitCode.ok);
        } else {
          for (const e of result.errors ?? [body]) process.stderr.write(e + '\n');
          process.stderr.write(`reload rejected; generation ${result.generation ?? '?'} keeps running\n`);
          resolve(ExitCode.invalidConfig);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => {
      process.stderr.write(`fulcrum reload: cannot reach the admin listener at ${target.text}: ${err.message}\n`);
      resolve(ExitCode.unreachable);
    });
    req.end();
  });
}

/**
 * The admin address a config file names, read leniently: the file may be the broken one being reloaded,
 * and the running balancer is the one to report its errors.
 */
export function adminAddressOf(file: string): string | null {
  try {
    const doc = parse(readFileSync(file, 'utf8')) as { admin?: { address?: unknown } | null } | null;
    if (doc?.admin === undefined || doc.admin === null) return null;
    return typeof doc.admin.address === 'string' ? doc.admin.address : '127.0.0.1:9900';
  } catch {
    return null;
  }
}
