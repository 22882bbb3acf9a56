// Application-cookie stickiness (HAProxy `stick store-response res.cook(NAME)` + `stick on req.cook(NAME)`):
// the endpoint issues its own session cookie (JSESSIONID, PHPSESSID…); Fulcrum learns from each
// response's Set-Cookie which endpoint issued which value, and sends requests carrying that value back
// there. The table is bounded (`maxEntries`, least recently used dropped first) and entries expire
// `timeout` after their last use; it outlives reloads, since sessions do.
import { z } from 'zod';
import { StickTable } from '../../core/stick-table.ts';
import { durationSchema } from '../../core/units.ts';
import type { Endpoint } from '../endpoint.ts';

export const appCookieSchema = z.strictObject({
  name: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'expected a cookie name'),
  /** Bound on remembered sessions; about 200 bytes each. HAProxy stick tables are sized explicitly too. */
  maxEntries: z.number().int().min(1).max(10_000_000).default(100_000),
  /** Forget a session this long after its last request. HAProxy `expire`. */
  timeout: durationSchema.prefault('30m'),
});
export type AppCookieConfig = z.output<typeof appCookieSchema>;

/** Tables by pool name, kept across reloads while their bounds stay the same. */
const tables = new Map<string, StickTable<string>>();

export class AppCookieSticky {
  readonly name: string;
  private readonly table: StickTable<string>;
  private readonly byAddress: Map<string, Endpoint>;

  constructor(config: AppCookieConfig, pool: string, endpoints: readonly Endpoint[]) {
    this.name = config.name;
    let table = tables.get(pool);
    if (table === undefined || table.maxEntries !== config.maxEntries || table.ttlMs !== config.timeout) {
      table = new StickTable<string>(config.maxEntries, config.timeout);
      tables.set(pool, table);
    }
    this.table = table;
    this.byAddress = new Map(endpoints.map((e) => [e.key, e]));
  }

  /** The endpoint that issued this session value, if it is still in the pool. */
  resolve(value: string | null): Endpoint | undefined {
    if (value === null) return undefined;
    const address = this.table.get(value);
    return address === undefined ? undefined : this.byAddress.get(address);
  }

  /** An endpoint issued (or re-issued) a session value. */
  learn(value: string, endpoint: Endpoint): void {
    this.table.set(value, endpoint.key);
  }

  get size(): number {
    return this.table.size;
  }
}
