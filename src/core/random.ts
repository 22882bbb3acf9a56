// A fast seedable PRNG for balancer picks: xoshiro128** (Blackman & Vigna, "Scrambled linear pseudorandom
// number generators", 2021; https://prng.di.unimi.it/xoshiro128starstar.c), state seeded by splitmix32.
// Not for secrets. Hand-written because picks must be allocation-free and tests need fixed seeds; the
// default seed comes from crypto once per generator.
import { randomBytes } from 'node:crypto';

export class Random {
  private readonly s: Uint32Array;

  /** `seed` fixes the sequence (tests); omitted, 32 random bits from crypto. */
  constructor(seed?: number) {
    this.s = new Uint32Array(4);
    let x = (seed ?? randomBytes(4).readUInt32LE(0)) >>> 0;
    // splitmix32 spreads any seed (including 0) over the 128-bit state; it is never all zero.
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  // HOT PATH: a few integer ops on a typed array; no allocation.
  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n) for 0 < n ≤ 2^32 (bias below n/2^32, negligible for endpoint counts). */
  below(n: number): number {
    return Math.floor(this.nextFloat() * n);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
