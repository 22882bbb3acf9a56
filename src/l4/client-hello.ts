// Reads the server name (SNI) out of a TLS ClientHello without terminating TLS, so a tls-passthrough listener
// can route on it and replay the bytes untouched. Record layer: RFC 8446 §5.1 (a handshake message may be
// fragmented over several records, none empty, none above 2^14 bytes); ClientHello: RFC 8446 §4.1.2 (the same
// layout as RFC 5246 §7.4.1.2, so TLS 1.0–1.3 hellos parse alike); server_name: RFC 6066 §3. The parser is
// bounded (16 KiB of handshake, 16 KiB + one record header of input) and never throws: the fuzz tests in
// test/unit/l4/client-hello.test.ts feed it random bytes and mutations of a real ClientHello.

export type ClientHelloResult =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'malformed'; readonly reason: string }
  /** `sni` lowercase, without a trailing dot; null when the hello carries no host_name. */
  | { readonly kind: 'ok'; readonly sni: string | null };

const RECORD_HEADER = 5;
const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const NAME_TYPE_HOST_NAME = 0;
/** RFC 8446 §5.1: a TLSPlaintext fragment is at most 2^14 bytes. The whole ClientHello message is held to the same. */
export const MAX_RECORD_PAYLOAD = 16384;
/** Input bytes a listener buffers while waiting for a complete ClientHello: 16 KiB + one record header. */
export const MAX_CLIENT_HELLO_BYTES = MAX_RECORD_PAYLOAD + RECORD_HEADER;

const INCOMPLETE = { kind: 'incomplete' } as const;

function malformed(reason: string): ClientHelloResult {
  return { kind: 'malformed', reason };
}

/** A handshake message spread over several records is reassembled here (one per process: parsing is sync). */
const scratch = Buffer.allocUnsafeSlow(MAX_RECORD_PAYLOAD);

/** Parses the records at buf[start, end) far enough to read the ClientHello's SNI. */
export function parseClientHello(buf: Uint8Array, start: number, end: number): ClientHelloResult {
  if (start < 0 || end > buf.length || start > end) return malformed('bad range');
  const result = readRecords(buf, start, end);
  if (result === INCOMPLETE && end - start >= MAX_CLIENT_HELLO_BYTES) {
    return malformed(`no complete ClientHello within ${MAX_CLIENT_HELLO_BYTES} bytes`);
  }
  return result;
}

function readRecords(buf: Uint8Array, start: number, end: number): ClientHelloResult {
  let pos = start;
  let have = 0; // handshake bytes gathered into `scratch`
  let need = -1; // the whole handshake message: 4 + its length, once the header is known
  for (;;) {
    const avail = end - pos;
    if (avail >= 1 && buf[pos] !== CONTENT_HANDSHAKE) return malformed('not a TLS handshake record');
    if (avail >= 2 && buf[pos + 1] !== 3) return malformed('not a TLS record version');
    if (avail >= 3 && buf[pos + 2] > 4) return malformed('not a TLS record version');
    if (avail < RECORD_HEADER) return INCOMPLETE;
    const length = (buf[pos + 3] << 8) | buf[pos + 4];
    if (length === 0) return malformed('empty handshake record');
    if (length > MAX_RECORD_PAYLOAD) return malformed('record longer than 2^14 bytes');
    const payload = pos + RECORD_HEADER;
    const inRecord = Math.min(length, end - payload);
    // Fast path: the whole message sits in the first record; parse it where it is.
    if (have === 0 && inRecord >= 4) {
      if (buf[payload] !== HANDSHAKE_CLIENT_HELLO) return malformed('first handshake message is not a ClientHello');
      need = 4 + ((buf[payload + 1] << 16) | (buf[payload + 2] << 8) | buf[payload + 3]);
      if (need > MAX_RECORD_PAYLOAD) return malformed('ClientHello larger than 16 KiB');
      if (need <= inRecord) return readHello(buf, payload + 4, payload + need);
    }
    let take = inRecord;
    if (need >= 0 && have + take > need) take = need - have;
    if (have + take > MAX_RECORD_PAYLOAD) return malformed('ClientHello larger than 16 KiB');
    for (let i = 0; i < take; i++) scratch[have + i] = buf[payload + i];
    have += take;
    if (need < 0 && have >= 4) {
      if (scratch[0] !== HANDSHAKE_CLIENT_HELLO) return malformed('first handshake message is not a ClientHello');
      need = 4 + ((scratch[1] << 16) | (scratch[2] << 8) | scratch[3]);
      if (need > MAX_RECORD_PAYLOAD) return malformed('ClientHello larger than 16 KiB');
      if (have > need) have = need; // bytes of a following message in the same record
    }
    if (need >= 0 && have >= need) return readHello(scratch, 4, need);
    if (inRecord < length) return INCOMPLETE;
    pos = payload + length;
  }
}

function u16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

/** The ClientHello body at b[p, end): version, random, session id, cipher suites, compression, extensions. */
function readHello(b: Uint8Array, p: number, end: number): ClientHelloResult {
  if (end - p < 2 + 32 + 1) return malformed('ClientHello too short');
  if (b[p] !== 3) return malformed('ClientHello version is not TLS');
  p += 34;
  const sessionId = b[p];
  if (sessionId > 32) return malformed('session id longer than 32 bytes');
  p += 1 + sessionId;
  if (end - p < 2) return malformed('ClientHello truncated before cipher suites');
  const suites = u16(b, p);
  if (suites < 2 || (suites & 1) !== 0) return malformed('bad cipher suites length');
  p += 2 + suites;
  if (end - p < 1) return malformed('ClientHello truncated before compression methods');
  const compression = b[p];
  if (compression < 1) return malformed('no compression method');
  p += 1 + compression;
  if (p === end) return { kind: 'ok', sni: null }; // no extensions (TLS 1.0 and older clients)
  if (end - p < 2) return malformed('ClientHello truncated in extensions');
  const extensions = u16(b, p);
  p += 2;
  if (p + extensions !== end) return malformed('extensions length does not match the ClientHello');
  let sni: string | null = null;
  let seen = false;
  while (p < end) {
    if (end - p < 4) return malformed('truncated extension header');
    const type = u16(b, p);
    const length = u16(b, p + 2);
    p += 4;
    if (p + length > end) return malformed('extension longer than the ClientHello');
    if (type === EXT_SERVER_NAME) {
      if (seen) return malformed('server_name extension repeated');
      seen = true;
      const name = readServerName(b, p, p + length);
      if (typeof name !== 'string' && name !== null) return name;
      sni = name;
    }
    p += length;
  }
  return { kind: 'ok', sni };
}

/** RFC 6066 §3 ServerNameList at b[p, end): the host_name entry, lowercased; at most one of each type. */
function readServerName(b: Uint8Array, p: number, end: number): string | null | ClientHelloResult {
  if (end - p < 2) return malformed('server_name extension too short');
  const list = u16(b, p);
  p += 2;
  if (list < 1 || p + list !== end) return malformed('server_name list length does not match its extension');
  let host: string | null = null;
  while (p < end) {
    if (end - p < 3) return malformed('truncated server name entry');
    const type = b[p];
    const length = u16(b, p + 1);
    p += 3;
    if (length < 1 || p + length > end) return malformed('bad server name length');
    if (type === NAME_TYPE_HOST_NAME) {
      if (host !== null) return malformed('two host names in server_name');
      host = hostName(b, p, p + length);
      if (host === null) return malformed('server name is not a DNS host name');
    }
    p += length;
  }
  return host;
}

/** Letters, digits, '-', '_' and '.', lowercased; one trailing dot dropped. Null when not such a name. */
function hostName(b: Uint8Array, p: number, end: number): string | null {
  if (b[end - 1] === 0x2e) end--;
  if (end <= p || end - p > 253) return null;
  let s = '';
  for (let i = p; i < end; i++) {
    let c = b[i];
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    else if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x5f)) return null;
    s += String.fromCharCode(c);
  }
  return s;
}
