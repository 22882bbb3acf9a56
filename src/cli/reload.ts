// `fulcrum reload`: ask a running balancer to reload its config file — through its admin listener (the
// address from CONFIG's admin section, or --admin, default 127.0.0.1:9900; the token from --token,
// $FULCRUM_ADMIN_TOKEN or CONFIG's admin.token), or with --pid by SIGHUP, which needs no token.
import { adminRequest, adminTarget, adminToken, errorsOf, takeAdminOptions, type CliOutput } from './admin-client.ts';
import { ExitCode } from './exit-codes.ts';

const usage = 'usage: fulcrum reload [CONFIG] [--admin HOST:PORT] [--token TOKEN] [--pid PID]\n';

export async function reload(argv: string[], out: CliOutput = process): Promise<number> {
  let pid: number | null = null;
  const taken = takeAdminOptions(argv);
  if (typeof taken === 'string') {
    out.stderr.write(`fulcrum reload: ${taken}\n${usage}`);
    return ExitCode.usage;
  }
  const { options, rest } = taken;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '--pid') pid = Number(rest[++i]);
    else if (!a.startsWith('-') && options.config === null) options.config = a;
    else {
      out.stderr.write(usage);
      return ExitCode.usage;
    }
  }
  if (pid !== null) {
    if (!Number.isInteger(pid) || pid <= 0) {
      out.stderr.write('fulcrum reload: --pid expects a process id\n');
      return ExitCode.usage;
    }
    try {
      process.kill(pid, 'SIGHUP');
    } catch (err) {
      out.stderr.write(`fulcrum reload: cannot signal ${pid}: ${(err as Error).message}\n`);
      return ExitCode.unreachable;
    }
    out.stdout.write(`sent SIGHUP to ${pid}\n`);
    return ExitCode.ok;
  }
  const target = adminTarget(options);
  if (typeof target === 'string') {
    out.stderr.write(`fulcrum reload: ${target}\n`);
    return ExitCode.usage;
  }
  let res;
  try {
    res = await adminRequest(target, 'POST', '/reload', adminToken(options));
  } catch (err) {
    out.stderr.write(`fulcrum reload: cannot reach the admin listener at ${target.text}: ${(err as Error).message}\n`);
    return ExitCode.unreachable;
  }
  const result = (res.json ?? {}) as { ok?: boolean; generation?: number };
  if (res.status === 200 && result.ok === true) {
    out.stdout.write(`reloaded: generation ${result.generation}\n`);
    return ExitCode.ok;
  }
  for (const e of errorsOf(res)) out.stderr.write(e + '\n');
  if (res.status === 401) {
    out.stderr.write('fulcrum reload: refused by the admin API (401); `fulcrum reload --pid PID` reloads by SIGHUP without a token\n');
    return ExitCode.unauthorized;
  }
  out.stderr.write(`reload rejected; generation ${result.generation ?? '?'} keeps running\n`);
  return ExitCode.invalidConfig;
}
