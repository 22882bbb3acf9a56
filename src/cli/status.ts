// `fulcrum status`: the running balancer's pools and endpoints as a table (GET /status of its admin
// listener), or the raw JSON with --json. A read: from this host it needs no token; one is sent when known.
import { adminRequest, adminTarget, adminToken, errorsOf, takeAdminOptions, type CliOutput } from './admin-client.ts';
import { ExitCode } from './exit-codes.ts';

const usage = 'usage: fulcrum status [--admin HOST:PORT | --config CONFIG] [--token TOKEN] [--json]\n';

interface EndpointStatus {
  address: string;
  state: string;
  weight: number;
  inFlight: number;
  requests: number;
  failures: number;
}
interface PoolStatus {
  name: string;
  algorithm?: string;
  panic: boolean;
  totals?: { endpoints: number; eligible: number; inFlight: number; requests: number; failures: number };
  endpoints: EndpointStatus[];
}
interface Status {
  generation: number;
  listeners: { name: string; address: string; connections?: number }[];
  pools: PoolStatus[];
}

/** Columns padded to their widest cell; a column whose cells are numbers is right-aligned, header included. */
function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  const right = header.map((_, i) => rows.length > 0 && typeof rows[0][i] === 'number');
  return all.map((r) =>
    r
      .map((cell, i) => (right[i] ? String(cell).padStart(widths[i]) : String(cell).padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

/** The readable form of GET /status. */
export function formatStatus(s: Status): string {
  const lines = [`generation ${s.generation}`];
  for (const l of s.listeners) lines.push(`listener ${l.name}  ${l.address}${l.connections === undefined ? '' : `  ${l.connections} connections`}`);
  for (const p of s.pools) {
    const t = p.totals;
    const summary = t === undefined ? '' : `  ${t.eligible}/${t.endpoints} eligible · ${t.inFlight} in flight · ${t.requests} requests · ${t.failures} failures`;
    lines.push('', `pool ${p.name}${p.algorithm === undefined ? '' : ` (${p.algorithm})`}${p.panic ? '  PANIC: balancing over all endpoints' : ''}${summary}`);
    const rows = p.endpoints.map((e) => [`  ${e.address}`, e.state, e.weight, e.inFlight, e.requests, e.failures]);
    lines.push(...table(['  ENDPOINT', 'STATE', 'WEIGHT', 'IN-FLIGHT', 'REQUESTS', 'FAILURES'], rows));
  }
  return lines.join('\n') + '\n';
}

export async function statusCommand(argv: string[], out: CliOutput = process): Promise<number> {
  const taken = takeAdminOptions(argv);
  if (typeof taken === 'string') {
    out.stderr.write(`fulcrum status: ${taken}\n${usage}`);
    return ExitCode.usage;
  }
  const { options, rest } = taken;
  const json = rest.length === 1 && rest[0] === '--json';
  if (rest.length > (json ? 1 : 0)) {
    out.stderr.write(usage);
    return ExitCode.usage;
  }
  const target = adminTarget(options);
  if (typeof target === 'string') {
    out.stderr.write(`fulcrum status: ${target}\n`);
    return ExitCode.usage;
  }
  let res;
  try {
    res = await adminRequest(target, 'GET', '/status', adminToken(options), undefined, 10_000);
  } catch (err) {
    out.stderr.write(`fulcrum status: cannot reach the admin listener at ${target.text}: ${(err as Error).message}\n`);
    return ExitCode.unreachable;
  }
  if (res.status !== 200 || res.json === undefined) {
    for (const e of errorsOf(res)) out.stderr.write(`fulcrum status: ${e}\n`);
    return res.status === 401 ? ExitCode.unauthorized : ExitCode.unreachable;
  }
  out.stdout.write(json ? res.text : formatStatus(res.json as Status));
  return ExitCode.ok;
}
