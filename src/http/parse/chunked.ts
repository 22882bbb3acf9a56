// Chunked transfer coding (RFC 9112 §7.1) as a resumable state machine over raw bytes. It validates and
// locates: the proxy forwards the validated bytes as they are (pass-through) or only the data spans
// (de-chunking for HTTP/1.0 clients). Chunk sizes are 1-16 hex digits with no sign, prefix or whitespace
// and stay below 2^53; extensions follow RFC 9112 §7.1.1 (`;name[=token|quoted-string]`, its BWS allowed
// except between the size and the first `;`); every line ends in CRLF. Trailer fields follow the header
// rules of head.ts.
import { CR, HEX, HTAB, LF, SP, TOKEN, FIELD_VALUE } from './chars.ts';

const SEMI = 0x3b;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

const S = {
  size: 0,
  sizeLf: 1,
  data: 2,
  dataCr: 3,
  dataLf: 4,
  trailerStart: 5,
  trailerLine: 6,
  trailerLf: 7,
  endLf: 8,
  done: 9,
  error: 10,
  // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), ext-val = token / quoted-string
  extBeforeName: 11,
  extName: 12,
  extAfterName: 13,
  extBeforeValue: 14,
  extToken: 15,
  extQuoted: 16,
  extEscape: 17,
  extValueEnd: 18,
  extAfterValue: 19,
} as const;

const MAX_SIZE_DIGITS = 16;
/** Bound on one chunk's extensions and on one trailer line (bytes). */
const MAX_LINE = 4096;

export class ChunkedDecoder {
  private state: number;
  private remaining: number;
  private digits: number;
  private lineBytes: number;
  private trailerBytes: number;
  private lineStartedToken: boolean;
  /** Cap on the whole trailer section. */
  maxTrailerBytes: number;
  /** Set by `execute` when it stops after a data span: buf[spanStart, spanEnd). */
  spanStart: number;
  spanEnd: number;

  constructor(maxTrailerBytes: number) {
    this.state = S.size;
    this.remaining = 0;
    this.digits = 0;
    this.lineBytes = 0;
    this.trailerBytes = 0;
    this.lineStartedToken = false;
    this.maxTrailerBytes = maxTrailerBytes;
    this.spanStart = 0;
    this.spanEnd = 0;
  }

  reset(): void {
    this.state = S.size;
    this.remaining = 0;
    this.digits = 0;
    this.lineBytes = 0;
    this.trailerBytes = 0;
    this.lineStartedToken = false;
    this.spanStart = 0;
    this.spanEnd = 0;
  }

  get done(): boolean {
    return this.state === S.done;
  }

  get failed(): boolean {
    return this.state === S.error;
  }

  /**
   * Consumes buf[pos, end) and returns the position it stopped at: `end`, the position after the final CRLF
   * (then `done`), or after a data span (spanEnd > spanStart; call again to continue). Sets `failed` on a
   * framing error.
   */
  // HOT PATH: data bytes are skipped in one step; only framing bytes are looked at one by one.
  execute(buf: Uint8Array, pos: number, end: number): number {
    this.spanStart = this.spanEnd = pos;
    while (pos < end) {
      const c = buf[pos];
      switch (this.state) {
        case S.size: {
          const h = HEX[c];
          if (h !== 0) {
            if (++this.digits > MAX_SIZE_DIGITS) return this.fail(pos);
            this.remaining = this.remaining * 16 + (h - 1);
            if (this.remaining > Number.MAX_SAFE_INTEGER) return this.fail(pos);
            pos++;
            continue;
          }
          if (this.digits === 0) return this.fail(pos);
          if (c === CR) this.state = S.sizeLf;
          else if (c === SEMI) {
            this.state = S.extBeforeName;
            this.lineBytes = 0;
          } else return this.fail(pos);
          pos++;
          continue;
        }
        case S.sizeLf: {
          if (c !== LF) return this.fail(pos);
          pos++;
          this.digits = 0;
          if (this.remaining === 0) {
            this.state = S.trailerStart;
            this.trailerBytes = 0;
          } else this.state = S.data;
          continue;
        }
        case S.data: {
          const take = end - pos < this.remaining ? end - pos : this.remaining;
          this.spanStart = pos;
          this.spanEnd = pos + take;
          pos += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = S.dataCr;
          return pos;
        }
        case S.dataCr:
          if (c !== CR) return this.fail(pos);
          this.state = S.dataLf;
          pos++;
          continue;
        case S.dataLf:
          if (c !== LF) return this.fail(pos);
          this.state = S.size;
          this.remaining = 0;
          pos++;
          continue;
        case S.trailerStart:
          if (c === CR) {
            this.state = S.endLf;
            pos++;
            continue;
          }
          // a trailer field: token ":" value CRLF
          if (TOKEN[c] !== 1) return this.fail(pos);
          this.state = S.trailerLine;
          this.lineBytes = 0;
          this.lineStartedToken = true;
          continue;
        case S.trailerLine: {
          if (++this.lineBytes > MAX_LINE || ++this.trailerBytes > this.maxTrailerBytes) return this.fail(pos);
          if (this.lineStartedToken) {
            if (c === 0x3a) this.lineStartedToken = false;
            else if (TOKEN[c] !== 1) return this.fail(pos);
          } else if (c === CR) this.state = S.trailerLf;
          else if (FIELD_VALUE[c] !== 1) return this.fail(pos);
          pos++;
          continue;
        }
        case S.trailerLf:
          if (c !== LF) return this.fail(pos);
          this.state = S.trailerStart;
          pos++;
          continue;
        case S.endLf:
          if (c !== LF) return this.fail(pos);
          this.state = S.done;
          return pos + 1;
        case S.extBeforeName:
        case S.extName:
        case S.extAfterName:
        case S.extBeforeValue:
        case S.extToken:
        case S.extQuoted:
        case S.extEscape:
        case S.extValueEnd:
        case S.extAfterValue: {
          // extensions are rare: one byte at a time, bounded
          if (++this.lineBytes > MAX_LINE) return this.fail(pos);
          const next = extNext(this.state, c);
          if (next === S.error) return this.fail(pos);
          this.state = next;
          pos++;
          continue;
        }
        default:
          // done or error: consume nothing more
          return pos;
      }
    }
    return pos;
  }

  private fail(pos: number): number {
    this.state = S.error;
    return pos;
  }
}

/** One byte of a chunk extension: the next state, `sizeLf` at the line's CR, or `error`. */
function extNext(state: number, c: number): number {
  const ws = c === SP || c === HTAB;
  switch (state) {
    case S.extBeforeName:
      return ws ? state : TOKEN[c] === 1 ? S.extName : S.error;
    case S.extName:
      if (TOKEN[c] === 1) return state;
      return c === EQUALS ? S.extBeforeValue : c === SEMI ? S.extBeforeName : c === CR ? S.sizeLf : ws ? S.extAfterName : S.error;
    case S.extAfterName:
      return ws ? state : c === EQUALS ? S.extBeforeValue : c === SEMI ? S.extBeforeName : S.error;
    case S.extBeforeValue:
      return ws ? state : TOKEN[c] === 1 ? S.extToken : c === DQUOTE ? S.extQuoted : S.error;
    case S.extToken:
      if (TOKEN[c] === 1) return state;
      return c === SEMI ? S.extBeforeName : c === CR ? S.sizeLf : ws ? S.extAfterValue : S.error;
    case S.extQuoted:
      // qdtext = HTAB / SP / VCHAR except DQUOTE and "\" / obs-text
      return c === DQUOTE ? S.extValueEnd : c === BACKSLASH ? S.extEscape : FIELD_VALUE[c] === 1 ? state : S.error;
    case S.extEscape:
      // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
      return FIELD_VALUE[c] === 1 ? S.extQuoted : S.error;
    case S.extValueEnd:
      return c === SEMI ? S.extBeforeName : c === CR ? S.sizeLf : ws ? S.extAfterValue : S.error;
    default:
      // extAfterValue
      return ws ? state : c === SEMI ? S.extBeforeName : S.error;
  }
}
