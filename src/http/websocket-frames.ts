// Frame boundaries of one direction of a WebSocket tunnel (RFC 6455 §5.2), tracked as bytes pass without
// buffering them: Fulcrum relays frames untouched, but to close a tunnel politely (1001 Going Away, §7.4.1) it
// may only insert its own close frame between two frames. Per chunk the cost is one header read per frame.

export class FrameBoundary {
  /** Header bytes of the frame being read (at most 14: 2 + 8 length + 4 mask). */
  private readonly header: Uint8Array;
  private headerLength: number;
  private payloadLeft: number;

  constructor() {
    this.header = new Uint8Array(14);
    this.headerLength = 0;
    this.payloadLeft = 0;
  }

  /** Between two frames: a frame may be inserted here. */
  get atBoundary(): boolean {
    return this.headerLength === 0 && this.payloadLeft === 0;
  }

  feed(buf: Uint8Array, start: number, end: number): void {
    let p = start;
    while (p < end) {
      if (this.payloadLeft > 0) {
        const take = end - p < this.payloadLeft ? end - p : this.payloadLeft;
        this.payloadLeft -= take;
        p += take;
        continue;
      }
      const h = this.header;
      h[this.headerLength++] = buf[p++];
      if (this.headerLength < 2) continue;
      const len7 = h[1] & 0x7f;
      const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
      if (this.headerLength < 2 + extra + ((h[1] & 0x80) !== 0 ? 4 : 0)) continue;
      // 64-bit lengths beyond 2^53 are not representable; no peer sends them (§5.2 caps the top bit at 0)
      this.payloadLeft = extra === 0 ? len7 : extra === 2 ? (h[2] << 8) | h[3] : (h[2] * 2 ** 24 + (h[3] << 16) + (h[4] << 8) + h[5]) * 2 ** 32 + h[6] * 2 ** 24 + (h[7] << 16) + (h[8] << 8) + h[9];
      this.headerLength = 0;
    }
  }

  reset(): void {
    this.headerLength = 0;
    this.payloadLeft = 0;
  }
}

/** A close frame with `code` as a server sends it (unmasked, §5.1). */
export function serverCloseFrame(code: number): Buffer {
  return Buffer.from([0x88, 0x02, code >> 8, code & 0xff]);
}

/** A close frame with `code` as a client sends it: masked with a fresh key (§5.3). */
export function clientCloseFrame(code: number, mask: Uint8Array): Buffer {
  return Buffer.from([0x88, 0x82, mask[0], mask[1], mask[2], mask[3], (code >> 8) ^ mask[0], (code & 0xff) ^ mask[1]]);
}

/** 1001: the endpoint is going away (drained) or the tunnel idled out. */
export const GOING_AWAY = 1001;
