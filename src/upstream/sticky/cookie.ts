// Cookie stickiness (HAProxy `cookie NAME insert`, NGINX Plus `sticky cookie`): the first response carries a
// cookie naming the endpoint that served it; later requests with that cookie go back to that endpoint while
// it is eligible. The value is an opaque id — an HMAC of the pool and endpoint address under a secret — so
// it neither reveals addresses nor can be forged to pick an endpoint. A tampered, unknown or stale cookie
// is ignored and re-set; a pinned endpoint that is unhealthy, draining or weight 0 is left at once (a
// session must not wait on a dead server).
import { createHmac, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { durationSchema } from '../../core/units.ts';
import type { Endpoint } from '../endpoint.ts';
import { appCookieSchema } from './app-cookie.ts';

const cookieName = z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'expected a cookie name (letters, digits and !#$%&\'*+-.^_`|~)');
const cookieAttribute = z.string().regex(/^[\x21-\x3a\x3c-\x7e]+$/, 'expected a value without spaces, ";" or control characters');

export const stickyCookieSchema = z.strictObject({
  /** HAProxy users often say SERVERID; ours names the product. */
  name: cookieName.default('FULCRUM_STICKY'),
  /** 0 = a session cookie (no Max-Age): it ends with the browser session. */
  maxAge: durationSchema.prefault('0'),
  path: cookieAttribute.default('/'),
  domain: cookieAttribute.optional(),
  secure: z.boolean().default(false),
  httpOnly: z.boolean().default(true),
  sameSite: z.enum(['Strict', 'Lax', 'None']).default('Lax'),
  /** Signs endpoint ids. Set it when several Fulcrum processes serve one pool, or to keep sessions across
   *  restarts; otherwise one is generated per process (kept across reloads). */
  secret: z.string().min(16, 'expected a secret of at least 16 characters').optional(),
});
/** Exactly one mode: `cookie` (Fulcrum inserts its own cookie) or `appCookie` (learn the endpoint's). */
export const stickySchema = z
  .strictObject({ cookie: stickyCookieSchema.optional(), appCookie: appCookieSchema.optional() })
  .refine((s) => (s.cookie === undefined) !== (s.appCookie === undefined), {
    error: 'expected exactly one of "cookie" or "appCookie"',
  });
export type StickyConfig = z.output<typeof stickySchema>;
export type StickyCookieConfig = NonNullable<StickyConfig['cookie']>;

const processSecret = randomBytes(32);

export class StickyCookies {
  readonly name: string;
  private readonly byId: Map<string, Endpoint>;
  private readonly lines: Map<Endpoint, string>;

  constructor(c: StickyCookieConfig, pool: string, endpoints: readonly Endpoint[]) {
    this.name = c.name;
    this.byId = new Map();
    this.lines = new Map();
    const secret = c.secret ?? processSecret;
    let attributes = `; Path=${c.path}`;
    if (c.domain !== undefined) attributes += `; Domain=${c.domain}`;
    if (c.maxAge > 0) attributes += `; Max-Age=${Math.floor(c.maxAge / 1000)}`;
    if (c.secure || c.sameSite === 'None') attributes += '; Secure'; // browsers reject SameSite=None without Secure
    if (c.httpOnly) attributes += '; HttpOnly';
    attributes += `; SameSite=${c.sameSite}`;
    for (const e of endpoints) {
      const id = createHmac('sha256', secret).update(pool + '\0' + e.key).digest('base64url').slice(0, 22);
      this.byId.set(id, e);
      // built once per generation: the response path appends a ready string
      this.lines.set(e, `set-cookie: ${c.name}=${id}${attributes}\r\n`);
    }
  }

  /** The endpoint a cookie value pins, if it names one of this pool's endpoints. */
  resolve(value: string | null): Endpoint | undefined {
    return value === null ? undefined : this.byId.get(value);
  }

  /** The Set-Cookie header line (with CRLF) that pins `endpoint`. */
  setCookieLine(endpoint: Endpoint): string {
    return this.lines.get(endpoint) ?? '';
  }
}
