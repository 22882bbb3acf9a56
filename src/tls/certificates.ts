// Server certificates of an `https` listener: PEM files loaded into TLS secure contexts and chosen per
// handshake by SNI — an exact name first, then the longest matching `*.` wildcard, else the default (the
// first certificate). Files are polled for changes; a changed pair that loads replaces the old one for new
// handshakes (open connections keep theirs), one that does not is logged and the old one stays.
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import tls from 'node:tls';
import { constants } from 'node:crypto';
import { log } from '../core/log.ts';

/** Mozilla's "intermediate" profile (v5.7): the TLS 1.3 suites, then TLS 1.2 ECDHE/DHE with AES-GCM or
 *  ChaCha20-Poly1305 only — no CBC suites (Lucky13) and nothing without forward secrecy. Node applies the
 *  `TLS_` names to TLS 1.3 and the rest to TLS 1.2. */
export const DEFAULT_CIPHERS =
  'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:' +
  'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:' +
  'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305';

/** No TLS 1.2 renegotiation at all: client-initiated renegotiation is a CPU DoS vector (CVE-2011-1473) and
 *  nothing Fulcrum serves needs it. */
export const SECURE_OPTIONS = constants.SSL_OP_NO_RENEGOTIATION;

export interface CertificateConfig {
  readonly cert: string;
  readonly key: string;
  /** Names served; default: the certificate's DNS subject alternative names. */
  readonly names?: readonly string[];
}

export interface TlsOptions {
  readonly minVersion: tls.SecureVersion;
  readonly ciphers?: string;
  /** PEM bundle path: clients must (`require`) or may (`request`) present a certificate it signed. */
  readonly clientCa?: string;
}

interface Loaded {
  readonly context: tls.SecureContext;
  /** The PEM bytes, for the server's default context (clients without SNI). */
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly names: readonly string[];
  /** mtimes of cert and key when loaded. */
  readonly stamp: string;
}

/** Reads a pair and checks that it loads; throws with a message naming the file on failure. */
export function loadPair(c: CertificateConfig, options: TlsOptions): Loaded {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(c.cert);
  } catch (err) {
    throw new Error(`cannot read certificate ${c.cert}: ${(err as Error).message}`);
  }
  try {
    key = readFileSync(c.key);
  } catch (err) {
    throw new Error(`cannot read key ${c.key}: ${(err as Error).message}`);
  }
  let names = c.names;
  try {
    if (names === undefined) names = dnsNames(new X509Certificate(cert));
  } catch (err) {
    throw new Error(`${c.cert} is not a PEM certificate: ${(err as Error).message}`);
  }
  let context: tls.SecureContext;
  try {
    const ca = options.clientCa === undefined ? undefined : readFileSync(options.clientCa);
    context = tls.createSecureContext({ cert, key, minVersion: options.minVersion, ciphers: options.ciphers ?? DEFAULT_CIPHERS, secureOptions: SECURE_OPTIONS, ca });
  } catch (err) {
    throw new Error(`certificate ${c.cert} with key ${c.key} does not load: ${(err as Error).message}`);
  }
  return { context, cert, key, names: names.map((n) => n.toLowerCase()), stamp: stampOf(c) };
}

function dnsNames(x: X509Certificate): string[] {
  const san = x.subjectAltName ?? '';
  const names = san
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  if (names.length > 0) return names;
  const cn = /CN=([^\n,]+)/.exec(x.subject);
  return cn === null ? [] : [cn[1]];
}

function stampOf(c: CertificateConfig): string {
  try {
    return `${statSync(c.cert).mtimeMs}:${statSync(c.key).mtimeMs}`;
  } catch {
    return 'missing';
  }
}

const POLL_MS = 2000;

export class CertificateStore {
  private readonly configs: readonly CertificateConfig[];
  private readonly options: TlsOptions;
  /** The client CA bundle (mTLS), read once. */
  readonly clientCa: Buffer | undefined;
  private loaded: Loaded[];
  private exact: Map<string, tls.SecureContext>;
  private wildcards: { suffix: string; context: tls.SecureContext }[];
  private timer: NodeJS.Timeout | null;
  /** Certificate reloads applied and refused, for logs and tests. */
  reloads: number;
  failedReloads: number;

  /** Throws (naming the file) when a pair does not load. */
  constructor(configs: readonly CertificateConfig[], options: TlsOptions) {
    this.configs = configs;
    this.options = options;
    this.clientCa = options.clientCa === undefined ? undefined : readFileSync(options.clientCa);
    this.loaded = configs.map((c) => loadPair(c, options));
    this.exact = new Map();
    this.wildcards = [];
    this.reloads = 0;
    this.failedReloads = 0;
    this.index();
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
  }

  private index(): void {
    this.exact = new Map();
    this.wildcards = [];
    for (const l of this.loaded) {
      for (const n of l.names) {
        if (n.startsWith('*.')) this.wildcards.push({ suffix: n.slice(1), context: l.context });
        else if (!this.exact.has(n)) this.exact.set(n, l.context);
      }
    }
    this.wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
  }

  /** The context for a ClientHello's server name ('' without SNI). */
  contextFor(servername: string): tls.SecureContext {
    const name = servername.toLowerCase();
    const hit = this.exact.get(name);
    if (hit !== undefined) return hit;
    for (const w of this.wildcards) {
      // "*.example.com" covers one label: "a.example.com", not "a.b.example.com" (RFC 6125 §6.4.3)
      if (name.endsWith(w.suffix) && name.indexOf('.') === name.length - w.suffix.length) return w.context;
    }
    return this.loaded[0].context;
  }

  /** The first pair: served to clients that send no SNI. Its identity changes when the pair is reloaded. */
  get defaultPair(): { readonly cert: Buffer; readonly key: Buffer } {
    return this.loaded[0];
  }

  /** Re-reads pairs whose files changed. */
  poll(): void {
    let changed = false;
    const next = this.loaded.slice();
    this.configs.forEach((c, i) => {
      if (stampOf(c) === this.loaded[i].stamp) return;
      try {
        next[i] = loadPair(c, this.options);
        changed = true;
        log('info', 'certificate reloaded', { cert: c.cert, names: next[i].names });
      } catch (err) {
        this.failedReloads++;
        log('error', 'certificate reload failed: keeping the previous one', { cert: c.cert, error: (err as Error).message });
        // remember the broken stamp so the error is logged once per change
        next[i] = { ...this.loaded[i], stamp: stampOf(c) };
      }
    });
    this.loaded = next;
    if (changed) {
      this.reloads++;
      this.index();
    }
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

const shared = new Map<string, CertificateStore>();

/**
 * One store per distinct certificate config, shared across reloads: a reload with the same certificates keeps
 * the store (and its polling); a new config gets a new one. Throws when a pair does not load.
 */
export function certificateStore(configs: readonly CertificateConfig[], options: TlsOptions): CertificateStore {
  const key = JSON.stringify([configs, options]);
  let store = shared.get(key);
  if (store === undefined) {
    store = new CertificateStore(configs, options);
    shared.set(key, store);
  }
  return store;
}
