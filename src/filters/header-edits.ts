// Header edits of a route (`requestHeaders`, `responseHeaders`), like Envoy's `request_headers_to_add` /
// `…_to_remove` and Traefik's `headers` middleware: `remove` drops every line of a name, `set` replaces every
// line of a name with one, `add` appends a line and keeps the others. Compiled once per generation for the data
// plane, which drops the lines named in `removeNames` while copying the head and appends `lines(vars)`.
// Framing and hop-by-hop headers are refused: Fulcrum writes those itself (Host has `rewrite.host`).
import { z } from 'zod';
import { describeFound } from '../core/units.ts';
import { compileTemplate, templateSchema, unsafeInFieldValue, type Getter, type Template } from './variables.ts';

/** Values the data plane fills per exchange (one reusable object) for templated header values. */
export interface HeaderVariables {
  /** `${client_ip}`: after trusted-proxy resolution. */
  clientAddress: string;
  /** `${request_id}` */
  requestId: string;
  /** `${host}`: lowercase, without the port. */
  host: string;
  /** `${method}` */
  method: string;
  /** `${path}`: without the query, as received (before any rewrite). */
  path: string;
  /** `${scheme}`: `http` or `https`, as the client reached the listener. */
  scheme: string;
  /** `${pool}`: the pool the route forwards to (the one a split picked); '' for redirect/respond routes. */
  pool: string;
  /** `${endpoint}`: the endpoint's `host:port` for response edits; '' for request edits (retries may move it). */
  endpoint: string;
}

const getters: Readonly<Record<string, Getter<HeaderVariables>>> = {
  client_ip: (v) => v.clientAddress,
  request_id: (v) => v.requestId,
  host: (v) => v.host,
  method: (v) => v.method,
  path: (v) => v.path,
  scheme: (v) => v.scheme,
  pool: (v) => v.pool,
  endpoint: (v) => v.endpoint,
};

/** Every variable a header value may use; `route` is the route's name, fixed at compile time. */
export const headerVariableNames: readonly string[] = [...Object.keys(getters), 'route'];

/**
 * Names Fulcrum writes itself, with why: framing (RFC 9112 §6) and hop-by-hop fields (RFC 9110 §7.6.1) are
 * produced per connection, so an edit could desynchronise the message or the connection.
 */
export const protectedHeaders: ReadonlyMap<string, string> = new Map([
  ['content-length', 'it frames the message; Fulcrum writes it'],
  ['transfer-encoding', 'it frames the message; Fulcrum writes it'],
  ['connection', 'it is hop-by-hop; Fulcrum writes it'],
  ['keep-alive', 'it is hop-by-hop; Fulcrum writes it'],
  ['te', 'it is hop-by-hop; Fulcrum writes it'],
  ['upgrade', 'it is hop-by-hop; Fulcrum writes it'],
  ['proxy-connection', 'it is hop-by-hop; Fulcrum writes it'],
]);
const editProtected: ReadonlyMap<string, string> = new Map([
  ...protectedHeaders,
  ['host', 'set the upstream Host with rewrite.host'],
]);

const tokenPattern = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/i;

/** A header name, lowercased, or the error for it; `refused` maps names that may not be used to why. */
function readHeaderName(value: unknown, refused: ReadonlyMap<string, string>): string | { error: string } {
  if (typeof value !== 'string' || !tokenPattern.test(value)) {
    return { error: `expected an HTTP header name like "x-request-id", found ${describeFound(value)}` };
  }
  const name = value.toLowerCase();
  const why = refused.get(name);
  if (why !== undefined) {
    return { error: `expected a header name other than a framing or hop-by-hop one, found ${describeFound(value)} (${why})` };
  }
  return name;
}

/** One header line: lowercase name, value as written. */
export type HeaderLine = readonly [name: string, value: string];

/**
 * A map of header name → value written as a YAML mapping; names checked against `refused` and lowercased
 * (two keys differing only in case are an error), values checked by `value`. Config order is kept.
 */
export function headerMapSchema(value: z.ZodType<string, unknown>, refused: ReadonlyMap<string, string>) {
  return z.unknown().transform((input, ctx): HeaderLine[] => {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      const message = `expected a mapping of header names to values like { x-env: prod }, found ${describeFound(input)}`;
      ctx.issues.push({ code: 'custom', message, input });
      return z.NEVER;
    }
    const lines: HeaderLine[] = [];
    const seen = new Map<string, string>();
    for (const [key, raw] of Object.entries(input)) {
      const name = readHeaderName(key, refused);
      if (typeof name !== 'string') {
        ctx.issues.push({ code: 'custom', message: name.error, input: key, path: [key] });
        continue;
      }
      const first = seen.get(name);
      if (first !== undefined) {
        const message = `expected each header name once, found ${describeFound(key)} (also written ${describeFound(first)})`;
        ctx.issues.push({ code: 'custom', message, input: key, path: [key] });
        continue;
      }
      seen.set(name, key);
      const parsed = value.safeParse(raw);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          ctx.issues.push({ code: 'custom', message: issue.message, input: raw, path: [key, ...issue.path] });
        }
        continue;
      }
      lines.push([name, parsed.data]);
    }
    return lines;
  });
}

const fieldValueText = /^[\t\x20-\x7e\x80-\xff]*$/;
const valueExpected = 'expected a header value without CR, LF, NUL or other control characters (latin1 text)';

/** A header edit value: text that may use `${variables}`. */
const editValueSchema = templateSchema(valueExpected, fieldValueText, headerVariableNames);
const editMapSchema = headerMapSchema(editValueSchema, editProtected);

const removeNameSchema = z.unknown().transform((value, ctx): string => {
  const name = readHeaderName(value, editProtected);
  if (typeof name === 'string') return name;
  ctx.issues.push({ code: 'custom', message: name.error, input: value });
  return z.NEVER;
});

export interface HeaderEditsConfig {
  /** Replace every line of each name with one line. Default none. */
  readonly set: readonly HeaderLine[];
  /** Append a line, keeping existing ones. Default none. */
  readonly add: readonly HeaderLine[];
  /** Drop every line of each name (lowercased, each once). Default none. */
  readonly remove: readonly string[];
}

/** `{ set?: {name: value}, add?: {name: value}, remove?: [name] }`; a name may not be both removed and set/added. */
export const headerEditsSchema = z
  .strictObject({
    set: editMapSchema.optional(),
    add: editMapSchema.optional(),
    remove: z.array(removeNameSchema).optional(),
  })
  .transform((edits, ctx): HeaderEditsConfig => {
    const set = edits.set ?? [];
    const add = edits.add ?? [];
    const remove: string[] = [];
    (edits.remove ?? []).forEach((name, i) => {
      if (set.some(([n]) => n === name) || add.some(([n]) => n === name)) {
        const where = set.some(([n]) => n === name) ? 'set' : 'add';
        const why = where === 'set' ? 'set already replaces its lines' : 'to replace its lines, use set';
        const message = `expected a header name not also in "${where}", found "${name}" (${why})`;
        ctx.issues.push({ code: 'custom', message, input: name, path: ['remove', i] });
      } else if (!remove.includes(name)) remove.push(name);
    });
    return { set, add, remove };
  });

/** What the data plane applies to one message head. */
export interface HeaderEdits {
  /** Existing lines with these names are dropped: `remove` ∪ the names of `set`. */
  readonly removeNames: ReadonlySet<string>;
  /** The lines to append when no value uses a per-request variable; null otherwise (call `lines`). */
  readonly constant: string | null;
  /** The `name: value\r\n` lines to append, `set` then `add` in config order; a line whose value expands to ''
   *  is left out (Envoy's `keep_empty_value: false`), so `set: { server: "" }` only removes. */
  lines(vars: HeaderVariables): string;
}

class CompiledHeaderEdits implements HeaderEdits {
  readonly removeNames: ReadonlySet<string>;
  readonly constant: string | null;
  /** `name: ` of each line, parallel to `values`. */
  private readonly prefixes: readonly string[];
  private readonly values: readonly Template<HeaderVariables>[];

  constructor(removeNames: ReadonlySet<string>, prefixes: readonly string[], values: readonly Template<HeaderVariables>[]) {
    this.removeNames = removeNames;
    this.prefixes = prefixes;
    this.values = values;
    let constant: string | null = '';
    for (let i = 0; i < values.length && constant !== null; i++) {
      const value = values[i].constant;
      if (value === null) constant = null;
      else if (value !== '') constant += `${prefixes[i]}${value}\r\n`;
    }
    this.constant = constant;
  }

  // HOT PATH: per exchange with templated values; one concatenation per line.
  lines(vars: HeaderVariables): string {
    if (this.constant !== null) return this.constant;
    const values = this.values;
    let out = '';
    for (let i = 0; i < values.length; i++) {
      const value = values[i].expand(vars);
      if (value !== '') out += this.prefixes[i] + value + '\r\n';
    }
    return out;
  }
}

/** Compiles one route's edits (`route` fills `${route}`); null when there is nothing to do. */
export function compileHeaderEdits(cfg: HeaderEditsConfig | undefined, route: string): HeaderEdits | null {
  if (cfg === undefined || cfg.set.length + cfg.add.length + cfg.remove.length === 0) return null;
  const values = { ...getters, route };
  const removeNames = new Set<string>([...cfg.remove, ...cfg.set.map(([name]) => name)]);
  const lines = [...cfg.set, ...cfg.add];
  return new CompiledHeaderEdits(
    removeNames,
    lines.map(([name]) => `${name}: `),
    lines.map(([, value]) => compileTemplate(value, values, unsafeInFieldValue)),
  );
}
