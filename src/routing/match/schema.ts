// The `match` object of a route: conditions on host, path, method, headers, query parameters, cookies and the
// client address, combined with `not` and `any`; all present conditions must hold. Parsed once per config
// load into plain data (hosts lowercased, header names lowercased, CIDRs precomputed, patterns checked);
// compile.ts turns it into a Matcher. Every error says what was expected and what was found, at its path.
import { z } from 'zod';
import { cidrSchema, type Cidr } from '../../core/address.ts';
import { checked, headerNameSchema } from '../../core/schema-helpers.ts';
import { describeFound } from '../../core/units.ts';
import { parseHostPattern } from './host.ts';
import { maxPatternLength, regexError } from './pattern.ts';

/** A condition on one header, query parameter or cookie. A bare string in the config is `exact`. */
export type ValueCondition =
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'regex'; readonly value: string }
  | { readonly kind: 'present' }
  | { readonly kind: 'absent' };

export interface PathCondition {
  readonly kind: 'exact' | 'prefix' | 'regex' | 'glob';
  readonly value: string;
}

export interface MatchConfig {
  /** Lowercased patterns: exact names, "*.suffix" wildcards, IPv4 or "[IPv6]" literals. */
  readonly host?: readonly string[];
  readonly path?: PathCondition;
  /** Method tokens, compared exactly. */
  readonly method?: readonly string[];
  /** By lowercase header name. */
  readonly headers?: Readonly<Record<string, ValueCondition>>;
  /** By parameter name as sent; values are compared undecoded. */
  readonly query?: Readonly<Record<string, ValueCondition>>;
  readonly cookies?: Readonly<Record<string, ValueCondition>>;
  /** The client address (after trusted proxies) is in one of them. */
  readonly source?: readonly Cidr[];
  readonly not?: MatchConfig;
  /** Non-empty. */
  readonly any?: readonly MatchConfig[];
}

// ---- one value or a non-empty list -------------------------------------------------------------------------------

/**
 * A single item or a non-empty list of them, always parsed to a list without duplicates. `parseItem` returns
 * the item or the message for a bad one; a bad list item is reported at its index.
 */
function oneOrList<T>(expectedList: string, parseItem: (value: unknown) => T | { error: string }, key: (item: T) => string) {
  return z.unknown().transform((value, ctx): T[] => {
    const list = Array.isArray(value) ? (value.length > 0 ? value : undefined) : value === null || typeof value === 'object' ? undefined : [value];
    if (list === undefined) {
      ctx.issues.push({ code: 'custom', message: `${expectedList}, found ${describeFound(value)}`, input: value });
      return z.NEVER;
    }
    const items: T[] = [];
    const seen = new Set<string>();
    list.forEach((raw: unknown, i) => {
      const item = parseItem(raw);
      if (typeof item === 'object' && item !== null && 'error' in item) {
        ctx.issues.push({ code: 'custom', message: item.error, input: raw, path: Array.isArray(value) ? [i] : [] });
      } else if (!seen.has(key(item))) {
        seen.add(key(item));
        items.push(item);
      }
    });
    return items;
  });
}

const hostExpected = 'expected a host like "api.example.com" or "*.example.com"';
const hostSchema = oneOrList(
  `${hostExpected} or a non-empty list of them`,
  (v) => parseHostPattern(v) ?? { error: `${hostExpected}, found ${describeFound(v)}` },
  (h) => h,
);

const methodToken = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const methodSchema = oneOrList(
  'expected a method like "GET" or a non-empty list of them',
  (v) => (typeof v === 'string' && methodToken.test(v) ? v : { error: `expected a method like "GET", found ${describeFound(v)}` }),
  (m) => m,
);

const sourceSchema = oneOrList(
  'expected a CIDR like "10.0.0.0/8" or "fd00::/8" or a non-empty list of them',
  (v): Cidr | { error: string } => {
    const parsed = cidrSchema.safeParse(v);
    return parsed.success ? parsed.data : { error: parsed.error.issues[0].message };
  },
  (c) => c.text,
);

// ---- patterns ----------------------------------------------------------------------------------------------------

const regexSchema = z.unknown().transform((value, ctx): string => {
  let message: string | null;
  if (typeof value !== 'string' || value === '') {
    message = `expected a regular expression like "^v[0-9]+$", found ${describeFound(value)}`;
  } else if (value.length > maxPatternLength) {
    message = `expected a regular expression of at most ${maxPatternLength} characters, found ${value.length} characters`;
  } else {
    const error = regexError(value);
    message = error === null ? null : `invalid regular expression: ${error}`;
  }
  if (message !== null) {
    ctx.issues.push({ code: 'custom', message, input: value });
    return z.NEVER;
  }
  return value as string;
});

const urlPath = checked('expected a path starting with "/" (no spaces, "?" or "#")', (v) =>
  typeof v === 'string' && /^\/[^\s?#\x00-\x1f\x7f]*$/.test(v) ? v : undefined,
);

const globPath = checked(`expected a glob starting with "/" like "/static/**.css" (no spaces or "#", at most ${maxPatternLength} characters)`, (v) =>
  typeof v === 'string' && v.length <= maxPatternLength && /^\/[^\s#\x00-\x1f\x7f]*$/.test(v) ? v : undefined,
);

/** The keys that were given, quoted and joined: `"prefix" and "exact"`, or `none`. */
function givenKeys(object: Record<string, unknown>, keys: readonly string[]): string {
  const given = keys.filter((k) => object[k] !== undefined).map((k) => `"${k}"`);
  if (given.length === 0) return 'none';
  return given.length === 1 ? given[0] : `${given.slice(0, -1).join(', ')} and ${given[given.length - 1]}`;
}

const pathKinds = ['exact', 'prefix', 'regex', 'glob'] as const;
const pathSchema = z
  .strictObject(
    { exact: urlPath.optional(), prefix: urlPath.optional(), regex: regexSchema.optional(), glob: globPath.optional() },
    {
      error: (issue) =>
        issue.code === 'invalid_type'
          ? `expected a path condition like { prefix: "/api" } or { exact: "/health" }, found ${describeFound(issue.input)}`
          : undefined,
    },
  )
  .transform((p, ctx): PathCondition => {
    const given = pathKinds.filter((k) => p[k] !== undefined);
    if (given.length === 1) return { kind: given[0], value: p[given[0]] as string };
    if (given.length === 0 && ctx.issues.some((i) => i.code === 'unrecognized_keys')) return z.NEVER;
    const message = `expected exactly one of "exact", "prefix", "regex" or "glob", found ${givenKeys(p, pathKinds)}`;
    ctx.issues.push({ code: 'custom', message, input: p });
    return z.NEVER;
  });

// ---- header, query and cookie conditions -------------------------------------------------------------------------

/** YAML reads `x-canary: true` as a boolean; say how to write the string. */
function quoteHint(value: unknown): string {
  return typeof value === 'number' || typeof value === 'boolean' ? ` (quote it: "${String(value)}")` : '';
}

const conditionKinds = ['exact', 'regex', 'present', 'absent'] as const;
const conditionObject = z
  .strictObject(
    {
      exact: checked('expected a string', (v) => (typeof v === 'string' ? v : undefined)).optional(),
      regex: regexSchema.optional(),
      present: checked('expected true (for "must be missing" write absent: true)', (v) => (v === true ? true : undefined)).optional(),
      absent: checked('expected true (for "must be there" write present: true)', (v) => (v === true ? true : undefined)).optional(),
    },
    {
      error: (issue) =>
        issue.code === 'invalid_type'
          ? `expected a string or a condition like { regex: "^v[0-9]+$" } or { present: true }, found ${describeFound(issue.input)}${quoteHint(issue.input)}`
          : undefined,
    },
  )
  .transform((c, ctx): ValueCondition => {
    const given = conditionKinds.filter((k) => c[k] !== undefined);
    if (given.length === 1) {
      const kind = given[0];
      return kind === 'exact' || kind === 'regex' ? { kind, value: c[kind] as string } : { kind };
    }
    // `{ exakt: "1" }` is reported as an unknown key; "found none" would only repeat it.
    if (given.length === 0 && ctx.issues.some((i) => i.code === 'unrecognized_keys')) return z.NEVER;
    const message = `expected exactly one of "exact", "regex", "present" or "absent", found ${givenKeys(c, conditionKinds)}`;
    ctx.issues.push({ code: 'custom', message, input: c });
    return z.NEVER;
  });

/** A bare string is an exact value. */
const conditionSchema = z.preprocess((v) => (typeof v === 'string' ? { exact: v } : v), conditionObject);

const tokenPattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A record key checked by a name schema (the key is renamed by the transform below, not here). */
function keyChecked(name: z.ZodType<string>) {
  return z.string().check((ctx) => {
    const parsed = name.safeParse(ctx.value);
    if (!parsed.success) ctx.issues.push({ code: 'custom', message: parsed.error.issues[0].message, input: ctx.value });
  });
}

/**
 * A map of name → condition. Names are checked by `name` and take its output (a header name is lowercased);
 * two names that are the same once lowercased are an error.
 */
function conditionMap(what: string, example: string, name: z.ZodType<string>) {
  return z
    .record(keyChecked(name), conditionSchema, {
      error: (issue) => {
        if (issue.code === 'invalid_key') return issue.issues[0]?.message;
        if (issue.code === 'invalid_type') return `expected a map of ${what} to condition like { ${example} }, found ${describeFound(issue.input)}`;
        return undefined;
      },
    })
    .transform((map, ctx): Record<string, ValueCondition> => {
      const out: Record<string, ValueCondition> = {};
      for (const [key, condition] of Object.entries(map)) {
        const renamed = name.parse(key);
        if (Object.hasOwn(out, renamed)) {
          const message = `duplicate ${what.replace(/s$/, '')} ${JSON.stringify(renamed)} (names are compared without case)`;
          ctx.issues.push({ code: 'custom', message, input: key, path: [key] });
        } else {
          out[renamed] = condition;
        }
      }
      return out;
    });
}

const cookieName = checked('expected a cookie name like "session"', (v) => (typeof v === 'string' && tokenPattern.test(v) ? v : undefined));
const queryName = checked('expected a query parameter name like "version" (no "&", "=", "#" or spaces)', (v) =>
  typeof v === 'string' && /^[^&=#\s\x00-\x1f\x7f]+$/.test(v) ? v : undefined,
);

// ---- the match object --------------------------------------------------------------------------------------------

const matchObjectExpected = 'expected a match object like { host: "api.example.com", path: { prefix: "/api" } }';

/** A route's `match`: all present conditions must hold; `{}` matches every request. */
export const matchSchema: z.ZodType<MatchConfig> = z.strictObject(
  {
    host: hostSchema.optional(),
    path: pathSchema.optional(),
    method: methodSchema.optional(),
    headers: conditionMap('header names', 'x-canary: "true"', headerNameSchema).optional(),
    query: conditionMap('query parameters', 'version: "2"', queryName).optional(),
    cookies: conditionMap('cookie names', 'beta: "1"', cookieName).optional(),
    source: sourceSchema.optional(),
    /** Holds when the inner match does not. */
    get not() {
      return matchSchema.optional();
    },
    /** Holds when at least one of the inner matches holds. */
    get any() {
      return z
        .array(matchSchema, {
          error: (issue) =>
            issue.code === 'invalid_type' ? `expected a non-empty list of match objects, found ${describeFound(issue.input)}` : undefined,
        })
        .min(1, { error: (issue) => `expected a non-empty list of match objects, found ${describeFound(issue.input)}` })
        .optional();
    },
  },
  { error: (issue) => (issue.code === 'invalid_type' ? `${matchObjectExpected}, found ${describeFound(issue.input)}` : undefined) },
);
