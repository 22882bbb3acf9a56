// Strict parsers for the units config text is written in: durations (`250ms`, `5s`, `1.5s`, `2m`, `1h`; `0` = off)
// become integer milliseconds, sizes (`512b`, `64kb`, `1mb`, `1gb`; binary multiples) become bytes. Anything else is
// rejected — no bare numbers, no whitespace, no uppercase, no exponents — so a typo never becomes a silent default.
// Runs only while a config is loaded, never per request.
import { z } from 'zod';

const durationUnitsMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
const sizeUnitsBytes = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 } as const;

/** Node's timers clamp anything above 2^31-1 ms (~24.8 days) to 1 ms, so a longer duration would fire at once. */
export const maxDurationMs = 2 ** 31 - 1;

const durationPattern = /^(0|[1-9][0-9]{0,14})(?:\.([0-9]{1,9}))?(ms|s|m|h)$/;
const sizePattern = /^(0|[1-9][0-9]{0,14})(?:\.([0-9]{1,9}))?(b|kb|mb|gb)$/;

/**
 * `whole.fraction × unit` computed exactly (no `1.1 * 1000 = 1100.0000000000002`); undefined when the result
 * is not a whole number of base units or not a safe integer.
 */
function scale(whole: string, fraction: string | undefined, unit: number): number | undefined {
  let value = Number(whole) * unit;
  if (fraction !== undefined) {
    const denominator = 10 ** fraction.length;
    const numerator = Number(fraction) * unit;
    if (numerator % denominator !== 0) return undefined;
    value += numerator / denominator;
  }
  return Number.isSafeInteger(value) ? value : undefined;
}

/** `"250ms"` → 250, `"1.5s"` → 1500, `"0"` → 0; undefined for anything that is not a duration Fulcrum accepts. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const m = durationPattern.exec(text);
  if (m === null) return undefined;
  const ms = scale(m[1], m[2], durationUnitsMs[m[3] as keyof typeof durationUnitsMs]);
  return ms !== undefined && ms <= maxDurationMs ? ms : undefined;
}

/** `"64kb"` → 65536; undefined for anything that is not a size Fulcrum accepts. */
export function parseSize(text: string): number | undefined {
  const m = sizePattern.exec(text);
  if (m === null) return undefined;
  return scale(m[1], m[2], sizeUnitsBytes[m[3] as keyof typeof sizeUnitsBytes]);
}

/** The largest unit that divides `ms` exactly: 1500 → "1500ms", 60000 → "1m", 0 → "0". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  for (const unit of ['h', 'm', 's'] as const) {
    if (ms % durationUnitsMs[unit] === 0) return `${ms / durationUnitsMs[unit]}${unit}`;
  }
  return `${ms}ms`;
}

/** The largest unit that divides `bytes` exactly: 65536 → "64kb", 1000 → "1000b". */
export function formatSize(bytes: number): string {
  for (const unit of ['gb', 'mb', 'kb'] as const) {
    if (bytes !== 0 && bytes % sizeUnitsBytes[unit] === 0) return `${bytes / sizeUnitsBytes[unit]}${unit}`;
  }
  return `${bytes}b`;
}

/**
 * How a config value reads in an error message's "found …" part: strings quoted (and shortened), numbers and
 * booleans as written, lists and objects by kind.
 */
export function describeFound(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  }
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function durationHint(value: unknown): string {
  if (typeof value === 'number' && Number.isFinite(value)) return ` (a number needs a unit: "${value}ms")`;
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    if (lower !== value && parseDuration(lower) !== undefined) return ` (units are lowercase: "${lower}")`;
    if (durationPattern.test(value) && parseDuration(value) === undefined) {
      return ' (at most 596h, the timer limit, in whole milliseconds)';
    }
  }
  return '';
}

function sizeHint(value: unknown): string {
  if (typeof value === 'number' && Number.isFinite(value)) return ` (a number needs a unit: "${value}b")`;
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    if (lower !== value && parseSize(lower) !== undefined) return ` (units are lowercase: "${lower}")`;
  }
  return '';
}

export function durationMessage(value: unknown): string {
  return `expected a duration like "5s" or "250ms", found ${describeFound(value)}${durationHint(value)}`;
}

export function sizeMessage(value: unknown): string {
  return `expected a size like "64kb" or "1mb", found ${describeFound(value)}${sizeHint(value)}`;
}

/** A duration written as text (`"5s"`), or the number 0 (off); parses to integer milliseconds. */
export const durationSchema = z.unknown().transform((value, ctx): number => {
  const ms = typeof value === 'string' ? parseDuration(value) : value === 0 ? 0 : undefined;
  if (ms === undefined) {
    ctx.issues.push({ code: 'custom', message: durationMessage(value), input: value });
    return z.NEVER;
  }
  return ms;
});

/** A size written as text (`"64kb"`); parses to bytes. */
export const sizeSchema = z.unknown().transform((value, ctx): number => {
  const bytes = typeof value === 'string' ? parseSize(value) : undefined;
  if (bytes === undefined) {
    ctx.issues.push({ code: 'custom', message: sizeMessage(value), input: value });
    return z.NEVER;
  }
  return bytes;
});
