// Chunked transfer coding (RFC 9112 §7.1) as a resumable state machine over raw bytes. It validates and
// locates: the proxy forwards the validated bytes as they are (pass-through) or only the data spans
// (de-chunking for HTTP/1.0 clients). Chunk sizes are hex with no sign, prefix or whitespace and must stay
// below 2^53; extensions must be `;token[=token|quoted-string]`; every line ends in CRLF. Trailer fields
// follow the header rules of head.ts.
import { CR, HEX, HTAB, LF, SP, TOKEN, FIELD_VALUE } from './chars.ts';

const S = {
  size: 0,
  ext: 1,
  sizeLf: 2,
  data: 3,
  dataCr: 4,
  dataLf: 5,
  trailerStart: 6,
  trailerLine: 7,
  trailerLf: 8,
  endLf: 9,
  done: 10,
  error: 11,
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
  private inQuote: boolean;
  private escaped: boolean;
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
    this.inQuote = false;
    this.escaped = false;
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
    this.inQuote = false;
    this.escaped = false;
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
          else if (c === 0x3b /* ; */) {
            this.state = S.ext;
            this.lineBytes = 0;
            this.inQuote = false;
            this.escaped = false;
          } else return this.fail(pos);
          pos++;
          continue;
        }
        case S.ext: {
          // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ); checked loosely for shape but
          // strictly for the bytes that matter: no CTL, no bare CR/LF, bounded length.
          if (++this.lineBytes > MAX_LINE) return this.fail(pos);
          if (this.inQuote) {
            // quoted-string: a quoted-pair escapes any visible char or SP/HTAB
            if (FIELD_VALUE[c] !== 1) return this.fail(pos);
            if (this.escaped) this.escaped = false;
            else if (c === 0x5c) this.escaped = true;
            else if (c === 0x22) this.inQuote = false;
          } else if (c === CR) this.state = S.sizeLf;
          else if (c === 0x22) this.inQuote = true;
          else if (TOKEN[c] !== 1 && c !== 0x3b && c !== 0x3d && c !== SP && c !== HTAB) return this.fail(pos);
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
