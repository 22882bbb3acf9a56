// Strict HTTP/1.1 message heads (RFC 9112 §2–§5) parsed into offsets of the received bytes: nothing is
// decoded until something needs it (hot path rule 3). One parser instance per connection, reused for
// every message on it. Anything the RFC lets a recipient reject is rejected: bare LF, obs-fold, whitespace
// before the colon, CTLs and DEL in values, invalid tokens (the smuggling vectors need one of those).
import { COLON, CR, FIELD_VALUE, HTAB, LF, SP, TARGET, TOKEN } from './chars.ts';
import { headerId } from './header-ids.ts';
import '../../core/latin1.ts';

/** Parse outcomes. 0 = ok; otherwise the HTTP status to answer with (requests) or any non-zero (responses). */
export const ParseError = {
  ok: 0,
  badRequest: 400,
  uriTooLong: 414,
  headersTooLarge: 431,
  notImplemented: 501,
  versionNotSupported: 505,
} as const;

export interface HeadLimits {
  maxStartLine: number;
  maxHeadSize: number;
  maxHeaders: number;
}

/**
 * Finds the end of a head incrementally: call with the bytes seen so far; `scanned` remembers progress so a
 * head trickling in byte by byte costs O(n) in total, not O(n²) (slowloris). Every LF must follow a CR.
 */
export class HeadScanner {
  scanned: number;
  lines: number;
  /** Why scanning failed: 400 for a bare LF, 414 or 431 for limits. */
  error: number;

  constructor() {
    this.scanned = 0;
    this.lines = 0;
    this.error = 0;
  }

  reset(): void {
    this.scanned = 0;
    this.lines = 0;
    this.error = 0;
  }

  /**
   * Returns the index just past the head's final CRLF, -1 when more bytes are needed, -2 on error. The
   * outcome does not depend on how the bytes were split across calls: a limit is checked on the bytes
   * before each LF, as it would have been had the head arrived one byte at a time.
   */
  scan(buf: Buffer, end: number, limits: HeadLimits, isRequest: boolean): number {
    let from = this.scanned;
    while (true) {
      const lf = buf.indexOf(LF, from);
      if (lf < 0 || lf >= end) break;
      if (lf > limits.maxHeadSize || (this.lines === 0 && lf > limits.maxStartLine + 2)) return this.fail(this.overLimit(lf, limits, isRequest));
      if (lf === 0 || buf[lf - 1] !== CR) return this.fail(ParseError.badRequest);
      if (this.lines === 0) {
        if (lf + 1 > limits.maxStartLine + 2) return this.fail(isRequest ? ParseError.uriTooLong : ParseError.headersTooLarge);
        if (lf === 1) return this.fail(ParseError.badRequest); // empty start line
      } else if (lf >= 3 && buf[lf - 2] === LF) {
        // "\r\n\r\n": the empty line that ends the head
        if (lf + 1 > limits.maxHeadSize) return this.fail(ParseError.headersTooLarge);
        this.scanned = lf + 1;
        return lf + 1;
      }
      this.lines++;
      if (this.lines > limits.maxHeaders + 1) return this.fail(ParseError.headersTooLarge);
      from = lf + 1;
    }
    this.scanned = from;
    const over = this.overLimit(end, limits, isRequest);
    if (over !== 0) return this.fail(over);
    // A CR at the very end may still be followed by its LF; a CR followed by anything else is caught by the parser.
    return -1;
  }

  /** The status owed when `seen` bytes hold no complete head yet, given the lines counted so far; 0 if none. */
  private overLimit(seen: number, limits: HeadLimits, isRequest: boolean): number {
    // Whichever limit a growing head crosses first wins: 414 when the start line's cap comes no later.
    if (this.lines === 0 && seen > limits.maxStartLine + 2 && limits.maxStartLine + 2 <= limits.maxHeadSize) {
      return isRequest ? ParseError.uriTooLong : ParseError.headersTooLarge;
    }
    return seen > limits.maxHeadSize ? ParseError.headersTooLarge : 0;
  }

  private fail(status: number): number {
    this.error = status;
    return -2;
  }
}

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/**
 * The fast path for a head that arrived whole: one native search for its end instead of one per line.
 * Returns the index just past the final CRLF CRLF, or -1. It decides nothing about validity: a head it
 * finds is parsed strictly, and anything the parse or the limits refuse is re-read by HeadScanner, whose
 * answer (which error comes first) is the one given — so the status never depends on how bytes arrived.
 */
export function findHeadEnd(buf: Buffer, from: number, end: number): number {
  const at = buf.indexOf(CRLFCRLF, from > 3 ? from - 3 : 0);
  return at < 0 || at + 4 > end ? -1 : at + 4;
}

/** Whether a head parsed by the fast path is within the limits HeadScanner enforces. */
export function withinLimits(headEnd: number, fieldsStart: number, fieldCount: number, limits: HeadLimits): boolean {
  return headEnd <= limits.maxHeadSize && fieldsStart <= limits.maxStartLine + 2 && fieldCount <= limits.maxHeaders;
}

export const Method = {
  other: 0,
  GET: 1,
  HEAD: 2,
  POST: 3,
  PUT: 4,
  DELETE: 5,
  OPTIONS: 6,
  PATCH: 7,
  CONNECT: 8,
  TRACE: 9,
} as const;
const methodNames = ['', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'];

/** Header offsets shared by request and response heads. */
export class Fields {
  count: number;
  nameStart: Int32Array;
  nameEnd: Int32Array;
  valueStart: Int32Array;
  valueEnd: Int32Array;
  ids: Uint8Array;
  /** Bit i set when a header with id i is present. */
  seen: number;

  constructor(max: number) {
    this.count = 0;
    this.nameStart = new Int32Array(max);
    this.nameEnd = new Int32Array(max);
    this.valueStart = new Int32Array(max);
    this.valueEnd = new Int32Array(max);
    this.ids = new Uint8Array(max);
    this.seen = 0;
  }

  /** Index of the first header with this id, or -1. */
  find(id: number): number {
    if (((this.seen >>> id) & 1) === 0) return -1;
    for (let i = 0; i < this.count; i++) if (this.ids[i] === id) return i;
    return -1;
  }

  countOf(id: number): number {
    if (((this.seen >>> id) & 1) === 0) return 0;
    let n = 0;
    for (let i = 0; i < this.count; i++) if (this.ids[i] === id) n++;
    return n;
  }
}

/**
 * Parses header lines in buf[pos, end) (end is just past the final CRLF CRLF). Returns 0 or a ParseError.
 * Shared by requests, responses and (through the same rules) chunked trailers.
 */
export function parseFields(buf: Buffer, pos: number, end: number, fields: Fields, requestIdName: Uint8Array | null): number {
  let count = 0;
  let seen = 0;
  const max = fields.ids.length;
  while (pos < end - 2) {
    // name = token, then ":" with no whitespace before it (RFC 9112 §5.1), so obs-fold (a line starting
    // with SP/HTAB) fails here too.
    const nameStart = pos;
    while (TOKEN[buf[pos]] === 1) pos++;
    if (pos === nameStart || buf[pos] !== COLON) return ParseError.badRequest;
    const nameEnd = pos;
    pos++;
    while (buf[pos] === SP || buf[pos] === HTAB) pos++;
    const valueStart = pos;
    while (FIELD_VALUE[buf[pos]] === 1) pos++;
    if (buf[pos] !== CR || buf[pos + 1] !== LF) return ParseError.badRequest;
    let valueEnd = pos;
    while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HTAB)) valueEnd--;
    pos += 2;
    if (count === max) return ParseError.headersTooLarge;
    const id = headerId(buf, nameStart, nameEnd, requestIdName);
    fields.nameStart[count] = nameStart;
    fields.nameEnd[count] = nameEnd;
    fields.valueStart[count] = valueStart;
    fields.valueEnd[count] = valueEnd;
    fields.ids[count] = id;
    seen |= 1 << id;
    count++;
  }
  fields.count = count;
  fields.seen = seen;
  return ParseError.ok;
}

export class RequestHead {
  buf: Buffer;
  method: string;
  methodCode: number;
  targetStart: number;
  targetEnd: number;
  /** 10 for HTTP/1.0, 11 for HTTP/1.1 */
  version: number;
  /** Offset just past the request line's CRLF. */
  fieldsStart: number;
  headEnd: number;
  fields: Fields;

  constructor(maxHeaders: number) {
    this.buf = Buffer.alloc(0);
    this.method = '';
    this.methodCode = 0;
    this.targetStart = 0;
    this.targetEnd = 0;
    this.version = 11;
    this.fieldsStart = 0;
    this.headEnd = 0;
    this.fields = new Fields(maxHeaders);
  }
}

function methodCode(buf: Buffer, start: number, end: number): number {
  const len = end - start;
  const c = buf[start];
  if (len === 3 && c === 0x47 && buf[start + 1] === 0x45 && buf[start + 2] === 0x54) return Method.GET;
  for (let m = 2; m < methodNames.length; m++) {
    const name = methodNames[m];
    if (name.length !== len || name.charCodeAt(0) !== c) continue;
    let i = 1;
    while (i < len && name.charCodeAt(i) === buf[start + i]) i++;
    if (i === len) return m;
  }
  return Method.other;
}

/** "HTTP/1.1" → 11, "HTTP/1.0" → 10, another well-formed HTTP/x.y → -505, anything else → -400. */
function parseVersion(buf: Buffer, pos: number): number {
  if (buf[pos] !== 0x48 || buf[pos + 1] !== 0x54 || buf[pos + 2] !== 0x54 || buf[pos + 3] !== 0x50 || buf[pos + 4] !== 0x2f) return -400;
  const major = buf[pos + 5] - 0x30;
  const minor = buf[pos + 7] - 0x30;
  if (major < 0 || major > 9 || buf[pos + 6] !== 0x2e || minor < 0 || minor > 9) return -400;
  if (major === 1 && minor === 1) return 11;
  if (major === 1 && minor === 0) return 10;
  return -505;
}

/** Parses a complete request head buf[0, headEnd). Returns 0 or the status to answer with. */
// HOT PATH: one pass over the head with table lookups; strings only for the method when it is not common.
export function parseRequestHead(buf: Buffer, headEnd: number, head: RequestHead, requestIdName: Uint8Array | null): number {
  head.buf = buf;
  head.headEnd = headEnd;
  let pos = 0;
  while (TOKEN[buf[pos]] === 1) pos++;
  if (pos === 0 || buf[pos] !== SP) return ParseError.badRequest;
  const code = methodCode(buf, 0, pos);
  head.methodCode = code;
  head.method = code === Method.other ? buf.latin1Slice(0, pos) : methodNames[code];
  pos++;
  head.targetStart = pos;
  while (TARGET[buf[pos]] === 1) pos++;
  if (pos === head.targetStart || buf[pos] !== SP) return ParseError.badRequest;
  head.targetEnd = pos;
  pos++;
  const version = parseVersion(buf, pos);
  if (version < 0) return -version;
  head.version = version;
  pos += 8;
  if (buf[pos] !== CR || buf[pos + 1] !== LF) return ParseError.badRequest;
  pos += 2;
  head.fieldsStart = pos;
  return parseFields(buf, pos, headEnd, head.fields, requestIdName);
}

export class ResponseHead {
  buf: Buffer;
  status: number;
  version: number;
  /** Offset of the status code (the downstream status line is "HTTP/1.1 " + buf[statusStart, fieldsStart)). */
  statusStart: number;
  fieldsStart: number;
  headEnd: number;
  fields: Fields;

  constructor(maxHeaders: number) {
    this.buf = Buffer.alloc(0);
    this.status = 0;
    this.version = 11;
    this.statusStart = 0;
    this.fieldsStart = 0;
    this.headEnd = 0;
    this.fields = new Fields(maxHeaders);
  }
}

/** Parses a complete response head buf[0, headEnd). Returns 0 or a non-zero error. */
export function parseResponseHead(buf: Buffer, headEnd: number, head: ResponseHead): number {
  head.buf = buf;
  head.headEnd = headEnd;
  const version = parseVersion(buf, 0);
  if (version < 0) return ParseError.badRequest;
  head.version = version;
  if (buf[8] !== SP) return ParseError.badRequest;
  const d0 = buf[9] - 0x30;
  const d1 = buf[10] - 0x30;
  const d2 = buf[11] - 0x30;
  if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return ParseError.badRequest;
  head.status = d0 * 100 + d1 * 10 + d2;
  head.statusStart = 9;
  let pos = 12;
  if (buf[pos] === SP) {
    pos++;
    while (FIELD_VALUE[buf[pos]] === 1) pos++;
  }
  if (buf[pos] !== CR || buf[pos + 1] !== LF) return ParseError.badRequest;
  pos += 2;
  head.fieldsStart = pos;
  return parseFields(buf, pos, headEnd, head.fields, null);
}
