// Statistics for balancer distribution tests: Pearson's chi-square statistic and its critical value.

/** Σ (observed − expected)² / expected over the categories. */
export function chiSquare(observed: readonly number[], expected: readonly number[]): number {
  let x = 0;
  for (let i = 0; i < observed.length; i++) x += (observed[i] - expected[i]) ** 2 / expected[i];
  return x;
}

/**
 * The chi-square value exceeded with probability 0.001 for `df` degrees of freedom, by the Wilson–Hilferty
 * cube approximation (z = 3.0902, the 0.999 normal quantile). It errs high by under 3% for df ≥ 1
 * (df = 1: 11.2 for the exact 10.83), i.e. a slightly more lenient test, never a stricter one.
 */
export function chiSquareCritical001(df: number): number {
  const z = 3.090232;
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}
