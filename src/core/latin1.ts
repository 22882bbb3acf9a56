// Fast latin1 views of Buffers. Node's Buffer has had `latin1Slice` (the method behind
// `toString('latin1', …)`, minus the encoding dispatch) since v0.x; it is not in @types/node.
declare global {
  interface Buffer {
    latin1Slice(start: number, end: number): string;
    latin1Write(text: string, offset: number, length?: number): number;
  }
}

export function latin1(buf: Buffer, start: number, end: number): string {
  return buf.latin1Slice(start, end);
}
