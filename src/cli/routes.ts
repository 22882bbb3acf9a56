// `fulcrum routes` lists the routes of a running balancer; `fulcrum routes split ROUTE POOL=WEIGHT…`
// re-weights a weighted forward (a canary step, a blue-green flip) until the next reload.
import { adminRequest, adminTarget, adminToken, errorsOf, takeAdminOptions, type CliOutput } from './admin-client.ts';
import { ExitCode } from './exit-codes.ts';

const usage = [
  'usage: fulcrum routes [--admin HOST:PORT | --config CONFIG]',
  '       fulcrum routes split ROUTE POOL=WEIGHT… [--admin HOST:PORT | --config CONFIG] [--token TOKEN]',
  '',
].join('\n');

interface RouteInfo {
  listener: string;
  name: string;
  action: string;
  pool: string | null;
  split: { pool: string; weight: number }[] | null;
}

export async function routes(argv: string[], out: CliOutput = process): Promise<number> {
  const taken = takeAdminOptions(argv);
  if (typeof taken === 'string') {
    out.stderr.write(`fulcrum routes: ${taken}\n${usage}`);
    return ExitCode.usage;
  }
  const { options, rest } = taken;
  const split = rest[0] === 'split';
  if ((split && rest.length < 3) || (!split && rest.length !== 0)) {
    out.stderr.write(usage);
    return ExitCode.usage;
  }
  const weights: { pool: string; weight: number }[] = [];
  for (const pair of split ? rest.slice(2) : []) {
    const m = /^([a-z0-9][a-z0-9_-]*)=([0-9]{1,4})$/.exec(pair);
    if (m === null) {
      out.stderr.write(`fulcrum routes split: expected POOL=WEIGHT like blue=95, found ${JSON.stringify(pair)}\n`);
      return ExitCode.usage;
    }
    weights.push({ pool: m[1], weight: Number(m[2]) });
  }
  const target = adminTarget(options);
  if (typeof target === 'string') {
    out.stderr.write(`fulcrum routes: ${target}\n`);
    return ExitCode.usage;
  }
  let res;
  try {
    res = split
      ? await adminRequest(target, 'PUT', `/routes/${encodeURIComponent(rest[1])}/split`, adminToken(options), { pools: weights }, 10_000)
      : await adminRequest(target, 'GET', '/routes', adminToken(options), undefined, 10_000);
  } catch (err) {
    out.stderr.write(`fulcrum routes: cannot reach the admin listener at ${target.text}: ${(err as Error).message}\n`);
    return ExitCode.unreachable;
  }
  if (res.status !== 200) {
    for (const e of errorsOf(res)) out.stderr.write(`fulcrum routes: ${e}\n`);
    return res.status === 401 ? ExitCode.unauthorized : ExitCode.invalidConfig;
  }
  if (split) {
    out.stdout.write(`${rest[1]}: ${weights.map((w) => `${w.pool}=${w.weight}`).join(' ')}\n`);
    return ExitCode.ok;
  }
  for (const r of (res.json as { routes: RouteInfo[] }).routes) {
    const to = r.split !== null ? r.split.map((s) => `${s.pool}=${s.weight}`).join(' ') : (r.pool ?? '');
    out.stdout.write(`${r.listener.padEnd(12)} ${r.name.padEnd(20)} ${r.action.padEnd(9)} ${to}\n`);
  }
  return ExitCode.ok;
}
