// `fulcrum endpoints drain|enable|disable POOL ADDRESS`, `fulcrum endpoints weight POOL ADDRESS N` and
// `fulcrum endpoints add|remove POOL ADDRESS [N]`: operator verbs on one endpoint of a running balancer,
// through its admin listener (admin-client.ts says where it is and which token is sent).
import { adminRequest, adminTarget, adminToken, errorsOf, takeAdminOptions, type CliOutput } from './admin-client.ts';
import { ExitCode } from './exit-codes.ts';

const usage = [
  'usage: fulcrum endpoints drain|enable|disable POOL ADDRESS [--admin HOST:PORT | --config CONFIG] [--token TOKEN]',
  '       fulcrum endpoints weight POOL ADDRESS N [--admin HOST:PORT | --config CONFIG] [--token TOKEN]',
  '       fulcrum endpoints add POOL ADDRESS [N] | remove POOL ADDRESS [--admin …] [--token TOKEN]',
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
  const isChange = (verb === 'add' && (rest.length === 3 || rest.length === 4)) || (verb === 'remove' && rest.length === 3);
  if (!(isState && rest.length === 3) && !(verb === 'weight' && rest.length === 4) && !isChange) {
    out.stderr.write(usage);
    return ExitCode.usage;
  }
  if ((verb === 'weight' || (verb === 'add' && weightText !== undefined)) && !/^[0-9]{1,3}$/.test(weightText)) {
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
    const token = adminToken(options);
    if (verb === 'add') res = await adminRequest(target, 'POST', `/pools/${encodeURIComponent(pool)}/endpoints`, token, { address, weight: weightText === undefined ? 1 : Number(weightText) }, 10_000);
    else if (verb === 'remove') res = await adminRequest(target, 'DELETE', base, token, undefined, 10_000);
    else if (isState) res = await adminRequest(target, 'POST', `${base}/${verb}`, token, undefined, 10_000);
    else res = await adminRequest(target, 'PUT', `${base}/weight`, token, { weight: Number(weightText) }, 10_000);
  } catch (err) {
    out.stderr.write(`fulcrum endpoints: cannot reach the admin listener at ${target.text}: ${(err as Error).message}\n`);
    return ExitCode.unreachable;
  }
  if (res.status === 200 || res.status === 201) {
    const what = verb === 'add' ? 'added' : verb === 'remove' ? 'removed (draining)' : isState ? done[verb] : `weight ${weightText}`;
    out.stdout.write(`${pool} ${address}: ${what}\n`);
    return ExitCode.ok;
  }
  for (const e of errorsOf(res)) out.stderr.write(`fulcrum endpoints: ${e}\n`);
  return res.status === 401 ? ExitCode.unauthorized : ExitCode.invalidConfig;
}
