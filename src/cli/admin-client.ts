// What every `fulcrum` command that talks to a running balancer shares: where its admin listener is
// (--admin HOST:PORT, else the admin section of --config CONFIG, else 127.0.0.1:9900), the token to send
// (--token, else $FULCRUM_ADMIN_TOKEN, else admin.token of the config), and one JSON request over HTTP.
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseAddress, type Address } from '../core/address.ts';

/** Where a command writes (process by default; tests capture it). */
export interface CliOutput {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

export const defaultAdminAddress = '127.0.0.1:9900';
export const tokenEnv = 'FULCRUM_ADMIN_TOKEN';

export interface AdminOptions {
  /** --admin HOST:PORT */
  admin: string | null;
  /** --config CONFIG (or a command's CONFIG argument): where the admin address and token are read from. */
  config: string | null;
  /** --token TOKEN */
  token: string | null;
}

/**
 * Takes --admin, --config and --token (each followed by its value) out of `argv`; returns the options and
 * the remaining arguments, or an error message when one of them has no value.
 */
export function takeAdminOptions(argv: readonly string[]): { options: AdminOptions; rest: string[] } | string {
  const options: AdminOptions = { admin: null, config: null, token: null };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--admin' || a === '--config' || a === '--token') {
      const value = argv[++i];
      if (value === undefined || value === '') return `${a} expects a value`;
      options[a.slice(2) as keyof AdminOptions] = value;
    } else {
      rest.push(a);
    }
  }
  return { options, rest };
}

/**
 * The admin section of a config file, read leniently: the file may be the broken one being reloaded, and the
 * running balancer is the one to report its errors. Null when the file cannot be read or has no admin section.
 */
export function adminSectionOf(file: string): { address: string; token: string | null } | null {
  try {
    const doc = parse(readFileSync(file, 'utf8')) as { admin?: { address?: unknown; token?: unknown } | null } | null;
    const admin = doc?.admin;
    if (admin === undefined || admin === null) return null;
    return {
      address: typeof admin.address === 'string' ? admin.address : defaultAdminAddress,
      token: typeof admin.token === 'string' ? admin.token : null,
    };
  } catch {
    return null;
  }
}

/** The admin address a config file names (null: none found). */
export function adminAddressOf(file: string): string | null {
  return adminSectionOf(file)?.address ?? null;
}

/** Where to send the request, or an error message. */
export function adminTarget(options: AdminOptions): Address | string {
  const text = options.admin ?? (options.config !== null ? adminAddressOf(options.config) : null) ?? defaultAdminAddress;
  return parseAddress(text) ?? `--admin expects host:port, found ${JSON.stringify(text)}`;
}

/** The token to send: --token, else $FULCRUM_ADMIN_TOKEN, else admin.token of the config; null when none. */
export function adminToken(options: AdminOptions, env: NodeJS.ProcessEnv = process.env): string | null {
  if (options.token !== null) return options.token;
  const fromEnv = env[tokenEnv];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return options.config !== null ? (adminSectionOf(options.config)?.token ?? null) : null;
}

export interface AdminResponse {
  readonly status: number;
  readonly text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
}

/** One request to the admin API; rejects only when the listener cannot be reached or does not answer. */
export function adminRequest(
  target: Address,
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
  timeoutMs = 30_000,
): Promise<AdminResponse> {
  const payload = body === undefined ? null : JSON.stringify(body);
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (payload !== null) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = request({ host: target.host, port: target.port, method, path, headers, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs / 1000}s`)));
    req.on('error', reject);
    req.end(payload ?? undefined);
  });
}

/** The `errors` of an admin API reply, or its raw body. */
export function errorsOf(res: AdminResponse): string[] {
  const errors = (res.json as { errors?: unknown } | undefined)?.errors;
  return Array.isArray(errors) ? errors.map(String) : [res.text.trim() || `status ${res.status}`];
}
