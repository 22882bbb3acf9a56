// The `fulcrum` command: dispatches to one module per verb in cli/.
import { readFileSync } from 'node:fs';
import { ExitCode } from './cli/exit-codes.ts';

const usage = `fulcrum — a load balancer and reverse proxy

usage:
  fulcrum run CONFIG          run the balancer described by CONFIG (YAML or JSON)
  fulcrum check CONFIG        validate CONFIG and exit (like nginx -t / haproxy -c)
  fulcrum demo [--port N]     three demo backends and a balancer on :8080
  fulcrum reload [CONFIG] [--admin HOST:PORT] [--token TOKEN] [--pid PID]
                              make a running balancer reload its config file (--pid: by SIGHUP)
  fulcrum status [--admin HOST:PORT | --config CONFIG] [--json]
                              pools and endpoints of a running balancer: state, weight, counters
  fulcrum endpoints drain|enable|disable POOL ADDRESS [--admin HOST:PORT | --config CONFIG] [--token TOKEN]
                              take an endpoint out of rotation (in-flight requests finish) or back in
  fulcrum endpoints weight POOL ADDRESS N [--admin HOST:PORT | --config CONFIG] [--token TOKEN]
                              set an endpoint's weight (0..256) until the next reload
  fulcrum endpoints add POOL ADDRESS [N] | remove POOL ADDRESS [--admin …] [--token TOKEN]
                              add or remove an endpoint until the config file is reloaded
  fulcrum routes [split ROUTE POOL=WEIGHT…] [--admin …] [--token TOKEN]
                              list routes; re-weight a weighted forward (canary step, blue-green flip)
  fulcrum --help | --version

talking to a running balancer (reload, status, endpoints):
  admin listener  --admin HOST:PORT, else the admin address in CONFIG, else 127.0.0.1:9900
  admin token     --token TOKEN, else $FULCRUM_ADMIN_TOKEN, else admin.token in CONFIG
                  (required for actions; reads from this host need none)

exit codes: 0 ok · 1 invalid config, or reload or change rejected · 2 usage or unreadable file
            3 could not start (e.g. address in use) · 4 running balancer unreachable
            5 the admin API refused the token (401)
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case undefined:
    case 'demo':
      return (await import('./cli/demo.ts')).demo(rest);
    case 'run':
      return (await import('./cli/run.ts')).run(rest);
    case 'check':
      return (await import('./cli/check.ts')).check(rest);
    case 'reload':
      return (await import('./cli/reload.ts')).reload(rest);
    case 'endpoints':
      return (await import('./cli/endpoints.ts')).endpoints(rest);
    case 'routes':
      return (await import('./cli/routes.ts')).routes(rest);
    case 'status':
      return (await import('./cli/status.ts')).statusCommand(rest);
    case '--version':
    case '-v':
      process.stdout.write(`fulcrum ${version()}\n`);
      return ExitCode.ok;
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(usage);
      return ExitCode.ok;
    default:
      process.stderr.write(`fulcrum: unknown command ${JSON.stringify(verb)}\n\n${usage}`);
      return ExitCode.usage;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`fulcrum: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 70;
  },
);
