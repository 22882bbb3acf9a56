// Variables in config text — `${client_ip}`, `${host}`, … with `$$` for a literal `$` — as header edit values
// and redirect paths and queries use them. Config validation parses the text (an unknown variable or a stray
// `$` is an error naming it); compiling splits it once per generation into literal text and value slots, and
// expanding is one concatenation per slot. A value unsafe where it lands (control characters; for URLs also
// spaces) expands to '' — dropped, never injected.
import { z } from 'zod';
import { describeFound } from '../core/units.ts';

/** Reads one variable's value from the per-request source (a RouteRequest, HeaderVariables, …). */
export type Getter<S> = (source: S) => string;

/** Header values: HTAB, visible ASCII and obs-text (RFC 9110 §5.5); CR, LF, NUL and other controls are not. */
export const unsafeInFieldValue = /[^\t\x20-\x7e\x80-\xff]/;
/** URLs (redirect paths and queries): no whitespace or control characters either. */
export const unsafeInUrl = /[^\x21-\x7e\x80-\xff]/;

/** A template split at its variables: `literals.length === variables.length + 1`, `$$` already a `$`. */
export interface ParsedTemplate {
  readonly literals: readonly string[];
  readonly variables: readonly string[];
}

function listed(known: readonly string[]): string {
  return known.map((name) => `\${${name}}`).join(', ');
}

/** Splits `text` at its variables; a string result is the error (`expected …, found …`). */
export function parseTemplate(text: string, known: readonly string[]): ParsedTemplate | string {
  const literals: string[] = [];
  const variables: string[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf('$', i);
    if (dollar < 0) {
      literal += text.slice(i);
      break;
    }
    literal += text.slice(i, dollar);
    const next = text[dollar + 1];
    if (next === '$') {
      literal += '$';
      i = dollar + 2;
      continue;
    }
    if (next !== '{') {
      const found = JSON.stringify(text.slice(dollar, dollar + 2));
      return `expected "\${name}" for a variable or "$$" for a literal "$", found ${found} at character ${dollar + 1}`;
    }
    const close = text.indexOf('}', dollar + 2);
    if (close < 0) {
      return `expected "}" closing ${JSON.stringify(text.slice(dollar, dollar + 20))}, found the end of the text`;
    }
    const name = text.slice(dollar + 2, close);
    if (!known.includes(name)) {
      return `expected a known variable (${listed(known)}), found ${JSON.stringify(`\${${name}}`)}`;
    }
    literals.push(literal);
    variables.push(name);
    literal = '';
    i = close + 1;
  }
  literals.push(literal);
  return { literals, variables };
}

/**
 * Config text that may hold variables: a string whose characters all match `allowed` (tested on the raw
 * text) and whose variables are all `known`. The output is the text as written; compile it per generation.
 */
export function templateSchema(expected: string, allowed: RegExp, known: readonly string[]) {
  return z.unknown().transform((value, ctx): string => {
    if (typeof value !== 'string' || !allowed.test(value)) {
      ctx.issues.push({ code: 'custom', message: `${expected}, found ${describeFound(value)}`, input: value });
      return z.NEVER;
    }
    const parsed = parseTemplate(value, known);
    if (typeof parsed === 'string') {
      ctx.issues.push({ code: 'custom', message: parsed, input: value });
      return z.NEVER;
    }
    return value;
  });
}

/**
 * A compiled template. `constant` is the text when it uses no per-request variable (values given as strings
 * at compile time, such as the route name, are folded in); `expand` works either way.
 */
export class Template<S> {
  readonly constant: string | null;
  private readonly literals: readonly string[];
  private readonly getters: readonly Getter<S>[];
  private readonly unsafe: RegExp;

  constructor(literals: readonly string[], getters: readonly Getter<S>[], unsafe: RegExp) {
    this.literals = literals;
    this.getters = getters;
    this.unsafe = unsafe;
    this.constant = getters.length === 0 ? literals[0] : null;
  }

  // HOT PATH: per request, once per templated value; one concatenation per slot, no arrays.
  expand(source: S): string {
    if (this.constant !== null) return this.constant;
    const literals = this.literals;
    const getters = this.getters;
    let out = literals[0];
    for (let i = 0; i < getters.length; i++) {
      const value = getters[i](source);
      if (!this.unsafe.test(value)) out += value;
      out += literals[i + 1];
    }
    return out;
  }
}

/**
 * Compiles validated template text. `values` names every known variable: a getter reads it per request, a
 * string is folded in now (config values, trusted). Throws on text the schema would have refused.
 */
export function compileTemplate<S>(
  text: string,
  values: Readonly<Record<string, string | Getter<S>>>,
  unsafe: RegExp,
): Template<S> {
  const parsed = parseTemplate(text, Object.keys(values));
  if (typeof parsed === 'string') throw new Error(`invalid template ${JSON.stringify(text)}: ${parsed}`);
  const literals: string[] = [parsed.literals[0]];
  const getters: Getter<S>[] = [];
  for (let i = 0; i < parsed.variables.length; i++) {
    const value = values[parsed.variables[i]];
    if (typeof value === 'string') literals[literals.length - 1] += value + parsed.literals[i + 1];
    else {
      getters.push(value);
      literals.push(parsed.literals[i + 1]);
    }
  }
  return new Template(literals, getters, unsafe);
}
