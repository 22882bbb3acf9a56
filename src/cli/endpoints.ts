// `fulcrum endpoints drain|enable|disable POOL ADDRESS` and `fulcrum endpoints weight POOL ADDRESS N`:
// operator verbs on one endpoint of a running balancer, through its admin listener (admin-client.ts says
// where it is and which token is sent).
import { adminRequest, adminTarget, adminToken, errorsOf, takeAdminOptions, type CliOutput } from './admin-client.ts';
import { ExitCode } from './exit-codes.ts';

const usage = [
  'usage: fulcrum endpoints drain|enable|disable POOL ADDRESS [--admin HOST:PORT | --config CONFIG] [--token TOKEN]',
  '       fulcrum endpoints weight POOL ADDRESS N [--admin HOST:PORT | --config CONFIG] [--token TOKEN]',
  '',
].join('\n');

const done = { drain: 'draining', enable: 'enabled', disable: 'disabled' } as const;

export async function endpoints(argv: string[], out: CliOutput = process): Promise<number> {
  const taken = takeAdminOptions(argv);
  if (typeof taken === 'string') {
    out.stderr.write(`fulcrum endpoints: ${taken}\n${usage}`);
    return ExitCode.usage;
  }
  const { options, rest } = taken;
  const [verb, pool, address, weightText] = rest;
  const isState = verb === 'drain' || verb === 'enable' || verb === 'disable';
  if (!(isState && rest.length === 3) && !(verb === 'weight' && rest.length === 4)) {
    out.stderr.write(usage);
    return ExitCode.usage;
  }
  if (verb === 'weight' && !/^[0-9]{1,3}$/.test(weightText)) {
    out.stderr.write(`fulcrum endpoints weight: N is an integer 0..256, found ${JSON.stringify(weightText)}\n`);
    return ExitCode.usage;
  }
  const target = adminTarget(options);
  if (typeof target === 'string') {
    out.stderr.write(`fulcrum endpoints: ${target}\n`);
    return ExitCode.usage;
  }
  const base = `/pools/${encodeURIComponent(pool)}/endpoints/${encodeURIComponent(address)}`;
  let res;
  try {
    res = isState
      ? await adminRequest(target, 'POST', `${base}/${verb}`, adminToken(options), undefined, 10_000)
      : await adminRequest(target, 'PUT', `${base}/weight`, adminToken(options), { weight: Number(weightText) }, 10_000);
  } catch (err) {
    out.stderr.write(`fulcrum endpoints: cannot reach the admin listener at ${target.text}: ${(err as Error).message}\n`);
    return ExitCode.unreachable;
  }
  if (res.status === 200) {
    out.stdout.write(`${pool} ${address}: ${isState ? done[verb] : `weight ${weightText}`}\n`);
    return ExitCode.ok;
  }
  for (const e of errorsOf(res)) out.stderr.write(`fulcrum endpoints: ${e}\n`);
  return res.status === 401 ? ExitCode.unauthorized : ExitCode.invalidConfig;
}
