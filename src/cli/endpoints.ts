// `fulcrum endpoints drain|enable|disable POOL ADDRESS`: operator verbs on one endpoint of a running
// balancer, through its admin listener (--admin, or CONFIG's admin section, default 127.0.0.1:9900).
import { request } from 'node:http';
import { parseAddress } from '../core/address.ts';
import { ExitCode } from './exit-codes.ts';
import { adminAddressOf } from './reload.ts';

const usage = 'usage: fulcrum endpoints drain|enable|disable POOL ADDRESS [--admin HOST:PORT | --config CONFIG]\n';

export async function endpoints(argv: string[]): Promise<number> {
  let admin: string | null = null;
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--admin') admin = argv[++i] ?? '';
    else if (argv[i] === '--config') admin = adminAddressOf(argv[++i] ?? '') ?? admin;
    else args.push(argv[i]);
  }
  const [verb, pool, address] = args;
  if (args.length !== 3 || (verb !== 'drain' && verb !== 'enable' && verb !== 'disable')) {
    process.stderr.write(usage);
    return ExitCode.usage;
  }
  const target = parseAddress(admin ?? '127.0.0.1:9900');
  if (target === undefined) {
    process.stderr.write(`fulcrum endpoints: --admin expects host:port, found ${JSON.stringify(admin)}\n`);
    return ExitCode.usage;
  }
  const path = `/pools/${encodeURIComponent(pool)}/endpoints/${encodeURIComponent(address)}/${verb}`;
  return new Promise((resolve) => {
    const req = request({ host: target.host, port: target.port, method: 'POST', path, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        if (res.statusCode === 200) {
          process.stdout.write(`${pool} ${address}: ${verb === 'enable' ? 'enabled' : verb === 'drain' ? 'draining' : 'disabled'}\n`);
          resolve(ExitCode.ok);
          return;
        }
        let errors: string[] = [body];
        try {
          errors = (JSON.parse(body) as { errors?: string[] }).errors ?? errors;
        } catch {
          // keep the raw body
        }
        for (const e of errors) process.stderr.write(`fulcrum endpoints: ${e}\n`);
        resolve(ExitCode.invalidConfig);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => {
      process.stderr.write(`fulcrum endpoints: cannot reach the admin listener at ${target.text}: ${err.message}\n`);
      resolve(ExitCode.unreachable);
    });
    req.end();
  });
}
