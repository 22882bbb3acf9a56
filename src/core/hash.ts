// 32-bit hashing for balancing keys and tables: MurmurHash3's x86_32 mixing (Appleby, public domain) over
// the UTF-16 code units of a string, with Math.imul so every step stays in int32. Fast, well spread, and
// stable across processes and restarts (a fleet of balancers must map a key to the same endpoint).

/** Hash of a string, as an unsigned 32-bit integer. */
export function hashString(text: string, seed = 0): number {
  let h = seed | 0;
  const n = text.length;
  let i = 0;
  // two UTF-16 units per 32-bit block
  for (; i + 1 < n; i += 2) {
    let k = (text.charCodeAt(i) & 0xffff) | ((text.charCodeAt(i + 1) & 0xffff) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < n) {
    let k = text.charCodeAt(i) & 0xffff;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n * 2;
  return fmix32(h);
}

/** MurmurHash3's finalizer: a bijective avalanche of a 32-bit value (also a cheap integer mixer). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Combines two 32-bit hashes (e.g. a key and an endpoint for rendezvous hashing). */
export function combine32(a: number, b: number): number {
  return fmix32((a ^ Math.imul(b, 0x9e3779b1)) | 0);
}
