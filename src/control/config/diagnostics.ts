// Config errors as an operator reads them: `fulcrum.yaml:12:7: pools[2].endpoints[0].address: expected host:port
// like "10.0.0.1:8080", found "10.0.0.1"`. Zod issues become ConfigIssues here (one per unknown key, missing
// keys named as such, every message saying what was expected and what was found); load.ts then gives each
// issue its line and column. Every error of a config is reported at once, sorted by position.
import type { z } from 'zod';
import { describeFound } from '../../core/units.ts';

/** One error, located: file, 1-based line and column (0 when the input had no text), config path, message. */
export interface Diagnostic {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** `pools[2].endpoints[0].address`; empty for the whole document. */
  readonly path: string;
  /** What was expected and what was found. */
  readonly message: string;
}

/** An error before it has a position: where in the config tree, and which node of it to point at. */
export interface ConfigIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  /** `value`: the node at `path`; `key`: the key naming it (unknown keys); `parent`: the object missing it. */
  readonly at: 'value' | 'key' | 'parent';
}

export class ConfigError extends Error {
  readonly diagnostics: readonly Diagnostic[];

  constructor(diagnostics: readonly Diagnostic[]) {
    const count = diagnostics.length === 1 ? '1 configuration error' : `${diagnostics.length} configuration errors`;
    super(`${count}:\n${diagnostics.map(formatDiagnostic).join('\n')}`);
    this.name = 'ConfigError';
    this.diagnostics = diagnostics;
  }
}

/** `file:line:column: path: message`; the position is left out when unknown (line 0), the path when empty. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.column}` : d.file;
  return d.path === '' ? `${where}: ${d.message}` : `${where}: ${d.path}: ${d.message}`;
}

/** `['pools', 2, 'endpoints', 0, 'address']` → `pools[2].endpoints[0].address`; odd keys are quoted. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(segment)) {
      text += text === '' ? segment : `.${segment}`;
    } else text += `[${JSON.stringify(String(segment))}]`;
  }
  return text;
}

/** Sorted by position (stable for equal positions), identical diagnostics once. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  const unique = diagnostics.filter((d) => {
    const key = formatDiagnostic(d);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique.sort((a, b) => a.line - b.line || a.column - b.column);
}

// ---- suggestions ------------------------------------------------------------------------------------------------

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps cost 1. */
function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    d.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        d[0].push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2][j - 2] + 1);
      d[i].push(best);
    }
  }
  return d[a.length][b.length];
}

/** The candidate closest to `word` (ignoring case) if it is close enough to be a typo of it. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** ` (did you mean "timeouts"?)` or, with no close candidate, the list of valid ones. */
export function suggestion(word: string, candidates: readonly string[]): string {
  const match = closest(word, candidates);
  if (match !== undefined) return ` (did you mean "${match}"?)`;
  return candidates.length === 0 ? '' : ` (expected one of ${candidates.map((c) => JSON.stringify(c)).join(', ')})`;
}

// ---- zod issues -------------------------------------------------------------------------------------------------

function typeName(expected: string): string {
  const names: Record<string, string> = {
    object: 'an object',
    array: 'a list',
    string: 'a string',
    number: 'a number',
    int: 'an integer',
    boolean: 'true or false',
  };
  return names[expected] ?? `a ${expected}`;
}

const emptyHints: Record<string, string> = { array: ' (write [] for none)', object: ' (write {} for the defaults)' };

function quoteAll(values: readonly unknown[]): string {
  const quoted = values.map((v) => (typeof v === 'string' ? JSON.stringify(v) : String(v)));
  return quoted.length === 1 ? quoted[0] : `one of ${quoted.join(', ')}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Messages for zod's built-in checks, in the same "expected …, found …" form as Fulcrum's own. Schema-level
 * messages (units, addresses, names) take precedence over this map.
 */
export const configErrorMap: z.core.$ZodErrorMap = (issue) => {
  const found = describeFound(issue.input);
  switch (issue.code) {
    case 'invalid_type': {
      // `endpoints:` with nothing after it is null in YAML, not an empty list.
      const hint = issue.input !== null ? '' : (emptyHints[issue.expected] ?? '');
      return `expected ${typeName(issue.expected)}, found ${found}${hint}`;
    }
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const bound = small ? issue.minimum : issue.maximum;
      const strict = issue.inclusive === false;
      const relation = small ? (strict ? 'more than' : 'at least') : strict ? 'fewer than' : 'at most';
      if (issue.origin === 'array') {
        return `expected a list of ${relation} ${bound} ${bound === 1 ? 'item' : 'items'}, found ${found}`;
      }
      if (issue.origin === 'string') return `expected ${relation} ${bound} characters, found ${found}`;
      return `expected ${relation} ${bound}, found ${found}`;
    }
    case 'invalid_value':
      return `expected ${quoteAll(issue.values)}, found ${found}`;
    case 'invalid_union': {
      const discriminator = issue.discriminator;
      if (discriminator !== undefined && isRecord(issue.input) && 'options' in issue && Array.isArray(issue.options)) {
        return `expected ${quoteAll(issue.options)}, found ${describeFound(issue.input[discriminator])}`;
      }
      return `expected one of the accepted forms, found ${found}`;
    }
    case 'unrecognized_keys':
      return `unknown ${issue.keys.length === 1 ? 'key' : 'keys'} ${quoteAll(issue.keys).replace(/^one of /, '')}`;
    case 'invalid_format':
      return `expected ${issue.format} format, found ${found}`;
    default:
      return undefined;
  }
};

interface SchemaDef {
  readonly type: string;
  readonly shape?: Record<string, z.core.$ZodType>;
  readonly element?: z.core.$ZodType;
  readonly innerType?: z.core.$ZodType;
  readonly in?: z.core.$ZodType;
  readonly out?: z.core.$ZodType;
  readonly options?: readonly z.core.$ZodType[];
  readonly discriminator?: string;
}

function defOf(schema: z.core.$ZodType): SchemaDef {
  return schema._zod.def as unknown as SchemaDef;
}

/** Looks through wrappers (optional, default, pipe, …) to the object or list beneath; picks a union's option. */
function unwrap(schema: z.core.$ZodType, value: unknown): z.core.$ZodType {
  for (;;) {
    const def = defOf(schema);
    if (def.innerType !== undefined) schema = def.innerType;
    // a preprocess is a pipe from a transform: the schema that checks is its `out`
    else if (def.type === 'pipe' && def.in !== undefined) schema = defOf(def.in).type === 'transform' && def.out !== undefined ? def.out : def.in;
    else if (def.type === 'union' && def.options !== undefined) {
      const disc = def.discriminator;
      const tag = disc !== undefined && isRecord(value) ? value[disc] : undefined;
      const option =
        def.options.find((o) => disc !== undefined && o._zod.propValues?.[disc]?.has(tag as never)) ??
        def.options.find((o) => defOf(unwrap(o, value)).type === 'object');
      if (option === undefined) return schema;
      schema = option;
    } else return schema;
  }
}

/** The keys the object schema at `path` accepts (for "did you mean"). */
export function knownKeysAt(schema: z.core.$ZodType, path: readonly PropertyKey[], raw: unknown): string[] {
  let node = unwrap(schema, raw);
  let value = raw;
  for (const segment of path) {
    const def = defOf(node);
    const next = def.type === 'object' ? def.shape?.[String(segment)] : def.type === 'array' ? def.element : undefined;
    if (next === undefined) return [];
    value = isRecord(value) || Array.isArray(value) ? (value as Record<PropertyKey, unknown>)[segment] : undefined;
    node = unwrap(next, value);
  }
  const def = defOf(node);
  return def.type === 'object' && def.shape !== undefined ? Object.keys(def.shape) : [];
}

/** The raw value at `path`, and whether its last key is absent from an object parent. */
function isMissingKey(raw: unknown, path: readonly PropertyKey[]): boolean {
  if (path.length === 0) return false;
  let parent = raw;
  for (let i = 0; i < path.length - 1; i++) {
    if (!isRecord(parent) && !Array.isArray(parent)) return false;
    parent = (parent as Record<PropertyKey, unknown>)[path[i]];
  }
  const key = path[path.length - 1];
  return isRecord(parent) && typeof key === 'string' && !Object.hasOwn(parent, key);
}

/**
 * Zod issues → ConfigIssues: one per unknown key (pointing at the key, with a suggestion), missing keys
 * reported as such at their parent object, everything else at the value.
 */
export function issuesFromZod(
  issues: readonly z.core.$ZodIssue[],
  schema: z.core.$ZodType,
  raw: unknown,
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = issue.path;
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(schema, path, raw);
      for (const key of issue.keys) {
        const message = `unknown key ${JSON.stringify(key)}${suggestion(key, known)}`;
        out.push({ path: [...path, key], message, at: 'key' });
      }
    } else if (isMissingKey(raw, path)) {
      const expected = /^(expected .*), found nothing$/.exec(issue.message);
      const key = JSON.stringify(String(path[path.length - 1]));
      const message = `missing required key ${key}${expected === null ? '' : `: ${expected[1]}`}`;
      out.push({ path, message, at: 'parent' });
    } else {
      out.push({ path, message: issue.message, at: 'value' });
    }
  }
  return out;
}
