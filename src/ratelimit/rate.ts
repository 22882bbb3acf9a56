// Rates as config text: `100/s`, `100/min`, `100/h`, or `{ requests: 100, per: 10s }` for other windows.
// The window is a whole number of seconds from 1s to 24h (the RateLimit-Policy `w` parameter is in seconds),
// and requests are 1..1,000,000 so every algorithm's integer arithmetic (requests × window) stays exact.
import { checked, integerIn } from '../core/schema-helpers.ts';
import { formatDuration, parseDuration } from '../core/units.ts';
import type { Rate } from './types.ts';

export const maxRequests = 1_000_000;
export const maxWindowMs = 86_400_000;

const unitsMs: Readonly<Record<string, number>> = { s: 1_000, min: 60_000, h: 3_600_000 };
const ratePattern = /^([1-9][0-9]{0,6})\/(s|min|h)$/;

function validRate(requests: number, perMs: number): Rate | undefined {
  if (!Number.isInteger(requests) || requests < 1 || requests > maxRequests) return undefined;
  if (perMs < 1_000 || perMs > maxWindowMs || perMs % 1_000 !== 0) return undefined;
  return { requests, perMs };
}

/** `"100/min"` → { requests: 100, perMs: 60000 }; undefined when not a rate Fulcrum accepts. */
export function parseRate(value: unknown): Rate | undefined {
  if (typeof value === 'string') {
    const m = ratePattern.exec(value);
    return m === null ? undefined : validRate(Number(m[1]), unitsMs[m[2]]);
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length !== 2 || !keys.includes('requests') || !keys.includes('per')) return undefined;
    const { requests, per } = value as { requests: unknown; per: unknown };
    const perMs = typeof per === 'string' ? parseDuration(per) : undefined;
    return typeof requests === 'number' && perMs !== undefined ? validRate(requests, perMs) : undefined;
  }
  return undefined;
}

/** 100/min → "100/min"; { 5, 10s } → "5/10s". */
export function formatRate(rate: Rate): string {
  for (const unit of ['s', 'min', 'h'] as const) if (rate.perMs === unitsMs[unit]) return `${rate.requests}/${unit}`;
  return `${rate.requests}/${formatDuration(rate.perMs)}`;
}

export const rateSchema = checked(
  'expected a rate like "100/s", "100/min", "100/h" or { requests: 100, per: 10s } (1..1000000 requests, a whole number of seconds 1s..24h)',
  parseRate,
);


/** Bucket capacity (token and leaky bucket): 1..10,000,000 units. */
export const burstSchema = integerIn(1, 10_000_000);
