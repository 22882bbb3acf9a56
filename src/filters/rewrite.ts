// Path and Host rewrite of a forwarded request: `stripPrefix` and `replacePrefix` (segment-aware, like Envoy's
// `prefix_rewrite` on a path-separated prefix and Traefik's StripPrefix), `regex` (Envoy's `regex_rewrite`:
// every match replaced, `$1` references) and `host` (Envoy's `host_rewrite_literal`). Applied after routing,
// to the path only: the query is kept as received. Compiled once per generation; `path()` runs per request.
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { isHostname } from '../core/address.ts';
import { checked } from '../core/schema-helpers.ts';
import { describeFound } from '../core/units.ts';

const prefixPattern = /^\/[\x21-\x22\x24-\x3e\x40-\x7e]*$/;
const prefixExpected = 'expected a path prefix starting with "/" (no spaces, "?", "#" or control characters)';
const prefixSchema = checked(prefixExpected, (v) => (typeof v === 'string' && prefixPattern.test(v) ? v : undefined));

const patternSchema = z.unknown().transform((value, ctx): string => {
  if (typeof value !== 'string' || value === '') {
    ctx.issues.push({ code: 'custom', message: `expected a regular expression, found ${describeFound(value)}`, input: value });
    return z.NEVER;
  }
  try {
    new RegExp(value, 'g');
  } catch (error) {
    const reason = (error as Error).message.replace(/^Invalid regular expression: \/.*\/g: /s, '');
    const message = `expected a valid regular expression, found ${describeFound(value)} (${reason})`;
    ctx.issues.push({ code: 'custom', message, input: value });
    return z.NEVER;
  }
  return value;
});

const replacementSchema = checked(
  'expected a replacement path (no spaces, "?", "#" or control characters; $1 or $<name> for groups)',
  (v) => (typeof v === 'string' && /^[\x21-\x22\x24-\x3e\x40-\x7e]*$/.test(v) ? v : undefined),
);

/** The capture groups a pattern defines: their count and names. */
function groupsOf(pattern: string): { count: number; names: readonly string[] } {
  const m = new RegExp(`${pattern}|`).exec('')!;
  return { count: m.length - 1, names: Object.keys(m.groups ?? {}) };
}

export type PathRewriteConfig =
  | { readonly kind: 'replacePrefix'; readonly from: string; readonly to: string }
  | { readonly kind: 'regex'; readonly pattern: string; readonly replacement: string };

const pathRewriteForms = ['stripPrefix', 'replacePrefix', 'regex'] as const;

/** Exactly one of `stripPrefix`, `replacePrefix` or `regex`; `stripPrefix: P` is `replacePrefix: {from: P, to: /}`. */
export const pathRewriteSchema = z
  .strictObject({
    stripPrefix: prefixSchema.optional(),
    replacePrefix: z.strictObject({ from: prefixSchema, to: prefixSchema }).optional(),
    regex: z
      .strictObject({ pattern: patternSchema, replacement: replacementSchema })
      .superRefine((r, ctx) => {
        const { count, names } = groupsOf(r.pattern);
        for (const m of r.replacement.matchAll(/\$(?:\$|(\d{1,2})|<([^>]*)>)/g)) {
          if (m[0] === '$$') continue;
          const known = m[1] !== undefined ? Number(m[1]) >= 1 && Number(m[1]) <= count : names.includes(m[2]);
          if (!known) {
            const groups = count === 0 ? 'no groups' : `${count} group${count === 1 ? '' : 's'}${names.length > 0 ? ` (${names.join(', ')})` : ''}`;
            const message = `expected references to the pattern's groups (it has ${groups}), found "${m[0]}"`;
            ctx.addIssue({ code: 'custom', message, input: r.replacement, path: ['replacement'] });
          }
        }
      })
      .optional(),
  })
  .transform((p, ctx): PathRewriteConfig => {
    const set = pathRewriteForms.filter((form) => p[form] !== undefined);
    if (set.length !== 1) {
      const found = set.length === 0 ? 'none' : set.map((f) => `"${f}"`).join(' and ');
      const message = `expected exactly one of "stripPrefix", "replacePrefix" or "regex", found ${found}`;
      ctx.issues.push({ code: 'custom', message, input: p });
      return z.NEVER;
    }
    if (p.stripPrefix !== undefined) {
      if (p.stripPrefix === '/') {
        const message = 'expected a prefix longer than "/" (stripping "/" changes nothing), found "/"';
        ctx.issues.push({ code: 'custom', message, input: p.stripPrefix, path: ['stripPrefix'] });
        return z.NEVER;
      }
      return { kind: 'replacePrefix', from: p.stripPrefix, to: '/' };
    }
    if (p.replacePrefix !== undefined) return { kind: 'replacePrefix', ...p.replacePrefix };
    return { kind: 'regex', ...p.regex! };
  });

/** `api.internal`, `10.0.0.1`, `[::1]`, each with an optional `:port`; lowercased. */
function parseHostHeader(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.toLowerCase();
  const m = /^(\[[^\]]*\]|[^:]*)(?::([1-9][0-9]{0,4}))?$/.exec(text);
  if (m === null || (m[2] !== undefined && Number(m[2]) > 65535)) return undefined;
  const host = m[1];
  const ok = host.startsWith('[') ? isIPv6(host.slice(1, -1)) && !host.includes('%') : isIPv4(host) || isHostname(host);
  return ok ? text : undefined;
}

export const rewriteSchema = z.strictObject({
  /** Default: the path is forwarded as received. */
  path: pathRewriteSchema.optional(),
  /** The Host header sent upstream; default the client's. X-Forwarded-Host keeps the original. */
  host: checked('expected a host like "api.internal" or "api.internal:8080"', parseHostHeader).optional(),
});
export type RewriteConfig = z.output<typeof rewriteSchema>;

export interface Rewrite {
  /** Whether `path()` can change anything (the data plane skips decoding the path otherwise). */
  readonly rewritesPath: boolean;
  /** The path without its query → the path to forward; returns `original` itself when unchanged. */
  path(original: string): string;
  /** The Host header to send upstream instead of the client's; null to keep it. */
  readonly host: string | null;
}

/** The last resort of a regex rewrite: a result that would not be a clean path leaves the path as it was. */
const unsafePath = /[^\x21-\x7e]|[?#]/;

/** "/api/" → "/api", "/" → "": the prefix without a trailing "/", so a segment boundary can follow it. */
function trimSlash(prefix: string): string {
  return prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
}

class CompiledRewrite implements Rewrite {
  readonly rewritesPath: boolean;
  readonly host: string | null;
  private readonly from: string | null;
  private readonly to: string;
  private readonly regex: RegExp | null;
  private readonly replacement: string;

  constructor(path: PathRewriteConfig | undefined, host: string | null) {
    this.rewritesPath = path !== undefined;
    this.host = host;
    this.from = path?.kind === 'replacePrefix' ? trimSlash(path.from) : null;
    this.to = path?.kind === 'replacePrefix' ? trimSlash(path.to) : '';
    this.regex = path?.kind === 'regex' ? new RegExp(path.pattern, 'g') : null;
    this.replacement = path?.kind === 'regex' ? path.replacement : '';
  }

  // HOT PATH: per forwarded request of a route with a path rewrite.
  path(original: string): string {
    const from = this.from;
    if (from !== null) {
      // "/v1" matches "/v1" and "/v1/…", never "/v1x"
      if (!original.startsWith(from)) return original;
      if (original.length > from.length && original.charCodeAt(from.length) !== 47 /* / */) return original;
      const rewritten = this.to + original.slice(from.length);
      return rewritten === '' ? '/' : rewritten;
    }
    if (this.regex === null) return original;
    let rewritten = original.replace(this.regex, this.replacement);
    if (rewritten === original) return original;
    if (rewritten.charCodeAt(0) !== 47) rewritten = `/${rewritten}`;
    return unsafePath.test(rewritten) ? original : rewritten;
  }
}

/** Compiles a route's rewrite; null when there is none. */
export function compileRewrite(cfg: RewriteConfig | undefined): Rewrite | null {
  if (cfg === undefined || (cfg.path === undefined && cfg.host === undefined)) return null;
  return new CompiledRewrite(cfg.path, cfg.host ?? null);
}
