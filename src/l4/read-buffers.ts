// Where piped sockets read (Node's `onread` option). Without it Node allocates a 64 KiB ArrayBuffer per read;
// at bulk rates that is hundreds of MiB/s of external memory, which V8 answers with a major GC every few reads
// (measured: 0.3–0.4× HAProxy's bulk throughput, the difference against a plain forwarder being GC marking and
// malloc). So:
//   - a quiet socket reads into one buffer shared by every piped socket, and what it read is copied out before it
//     is kept or written (reads are small, the copy is cheap, and a connection whose last read was small holds
//     no buffer; one whose last read was large keeps its 64 KiB until its next read, when Node asks again);
//   - a socket whose last read was large reads into a buffer of its own, whose views are written on as they are.
//     A write that has not completed holds its view, so while the writer has bytes queued the next read goes to a
//     fresh buffer; once the queue is empty, every buffer is free again and the current one is reused.
import type net from 'node:net';

/** Reads at least this large make a socket use buffers of its own (a bulk flow); smaller ones, the shared one. */
export const LARGE_READ_BYTES = 16384;

/** Size of the shared buffer and of a socket's own (64 KiB, the size Node reads without `onread`). */
export const READ_BUFFER_BYTES = 65536;

/** The buffer every quiet socket reads into. Reads are handled one at a time and synchronously, so a view of it
 *  is valid only until the read callback returns. */
export const SHARED_READ_BUFFER = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);

export class SocketReads {
  /** Where this socket's bytes are written; null before the pipe (bytes are then copied, never written). */
  writer: net.Socket | null;
  /** Bytes of the last read (set by the read callback). */
  lastRead: number;
  /** The buffer of the next read. */
  private current: Buffer;

  constructor() {
    this.writer = null;
    this.lastRead = 0;
    this.current = SHARED_READ_BUFFER;
  }

  /** Node asks for the buffer of the next read once at start and after every read. */
  next(): Buffer {
    if (this.lastRead < LARGE_READ_BYTES) {
      this.current = SHARED_READ_BUFFER;
      return SHARED_READ_BUFFER;
    }
    const writer = this.writer;
    const held = writer !== null && writer.writableLength > 0;
    if (this.current === SHARED_READ_BUFFER || held) this.current = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
    return this.current;
  }
}

/** The bytes of one read as a Buffer that stays valid after the read callback: views of a socket's own buffer
 *  as they are (see SocketReads.next), bytes of the shared one copied. */
export function readView(buf: Buffer, nread: number): Buffer {
  return buf === SHARED_READ_BUFFER ? Buffer.from(buf.subarray(0, nread)) : buf.subarray(0, nread);
}
