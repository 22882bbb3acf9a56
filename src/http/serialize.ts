// Writes message heads as one buffer each (hot path rule 3): runs of received header lines are copied
// as bytes, skipping the ids in a 32-bit mask, and the proxy's own lines are appended as one latin1 string.
import type { Fields } from './parse/head.ts';
import '../core/latin1.ts';

/**
 * Builds `prefix + kept header lines of src + suffix`. `prefix` is given either as a range of `src`
 * (prefixEnd > prefixStart) or as a string; `suffix` must end with the head's final CRLF.
 */
export function buildHead(
  src: Buffer,
  prefixStart: number,
  prefixEnd: number,
  prefixText: string,
  fields: Fields,
  skipMask: number,
  suffix: string,
  extra: Buffer | null,
  extraStart: number,
  extraEnd: number,
): Buffer {
  const count = fields.count;
  const ids = fields.ids;
  const nameStart = fields.nameStart;
  // A header line runs from nameStart to the next line's nameStart (its CRLF included); the last to its CRLF.
  let size = prefixEnd > prefixStart ? prefixEnd - prefixStart : prefixText.length;
  for (let i = 0; i < count; i++) {
    if (((skipMask >>> ids[i]) & 1) === 0) size += lineEnd(src, fields, i) - nameStart[i];
  }
  const extraBytes = extra === null ? 0 : extraEnd - extraStart;
  size += suffix.length + extraBytes;
  const out = Buffer.allocUnsafe(size);
  let at: number;
  if (prefixEnd > prefixStart) at = src.copy(out, 0, prefixStart, prefixEnd);
  else at = out.latin1Write(prefixText, 0);
  // copy maximal runs of consecutive kept lines in one call each
  let runStart = -1;
  let runEnd = 0;
  for (let i = 0; i < count; i++) {
    const keep = ((skipMask >>> ids[i]) & 1) === 0;
    if (keep) {
      if (runStart < 0) runStart = nameStart[i];
      runEnd = lineEnd(src, fields, i);
    } else if (runStart >= 0) {
      at += src.copy(out, at, runStart, runEnd);
      runStart = -1;
    }
  }
  if (runStart >= 0) at += src.copy(out, at, runStart, runEnd);
  at += out.latin1Write(suffix, at);
  if (extraBytes > 0) at += extra!.copy(out, at, extraStart, extraEnd);
  if (at !== size) throw new Error(`head size mismatch: wrote ${at} of ${size} bytes`);
  return out;
}

/** Offset just past header i's CRLF. */
function lineEnd(src: Buffer, fields: Fields, i: number): number {
  if (i + 1 < fields.count) return fields.nameStart[i + 1];
  // the last line: scan from the value end to its CRLF (trailing OWS may sit between)
  let p = fields.valueEnd[i];
  while (src[p] !== 13) p++;
  return p + 2;
}

/** Bit mask of header ids. */
export function mask(...ids: number[]): number {
  let m = 0;
  for (const id of ids) m |= 1 << id;
  return m;
}
