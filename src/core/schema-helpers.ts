// Small zod building blocks shared by every config schema (control/config/schema.ts and the plugins' own
// schemas), so each field reports `expected …, found …` the same way.
import { z } from 'zod';
import { describeFound } from './units.ts';

/** A field that accepts any input and either parses it or reports `expected …, found …`. */
export function checked<T>(expected: string, parse: (value: unknown) => T | undefined) {
  return z.unknown().transform((value, ctx): T => {
    const result = parse(value);
    if (result === undefined) {
      ctx.issues.push({ code: 'custom', message: `${expected}, found ${describeFound(value)}`, input: value });
      return z.NEVER;
    }
    return result;
  });
}

export function integerIn(min: number, max: number) {
  return checked(`expected an integer ${min}..${max}`, (v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : undefined,
  );
}

const tokenPattern = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/i;
/** An HTTP field name (RFC 9110 §5.1 token), lowercased. */
export const headerNameSchema = checked('expected an HTTP header name like "x-request-id"', (v) =>
  typeof v === 'string' && tokenPattern.test(v) ? v.toLowerCase() : undefined,
);
