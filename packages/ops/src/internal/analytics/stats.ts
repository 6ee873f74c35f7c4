/**
 * Small statistics over plain arrays of numbers, shared by the detectors. Plain TypeScript: no
 * `effect`, no allocation beyond a sorted copy where a median needs one.
 *
 * @internal
 */

/** The median of `xs` (NaN when empty). */
export const median = (xs: ReadonlyArray<number>): number => {
  const n = xs.length
  if (n === 0) return Number.NaN
  const sorted = xs.slice().sort((a, b) => a - b)
  const mid = n >> 1
  return n % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

/** The median absolute deviation from `center`. */
export const mad = (xs: ReadonlyArray<number>, center: number): number => median(xs.map((x) => Math.abs(x - center)))

/** Scales a MAD to a standard deviation's estimate for normal data. */
export const madToSigma = 1.4826

/** The arithmetic mean (NaN when empty). */
export const mean = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return Number.NaN
  let s = 0
  for (const x of xs) s += x
  return s / xs.length
}

/** The sum. */
export const sum = (xs: ReadonlyArray<number>): number => {
  let s = 0
  for (const x of xs) s += x
  return s
}

/** Least-squares fit of `ys` against their indices 0..n-1. */
export interface LinearFit {
  readonly slope: number
  readonly intercept: number
  /** The slope's standard error (Infinity with fewer than 3 points). */
  readonly slopeStandardError: number
  /** The slope over its standard error; 0 when the series is constant. */
  readonly t: number
}

/** Least-squares fit of `ys` against their indices. */
export const linearFit = (ys: ReadonlyArray<number>): LinearFit => {
  const n = ys.length
  if (n < 3) return { slope: 0, intercept: mean(ys), slopeStandardError: Number.POSITIVE_INFINITY, t: 0 }
  const xBar = (n - 1) / 2
  const yBar = mean(ys)
  let sxx = 0
  let sxy = 0
  for (let i = 0; i < n; i++) {
    const dx = i - xBar
    sxx += dx * dx
    sxy += dx * ((ys[i] ?? 0) - yBar)
  }
  const slope = sxy / sxx
  const intercept = yBar - slope * xBar
  let ssr = 0
  for (let i = 0; i < n; i++) {
    const r = (ys[i] ?? 0) - (intercept + slope * i)
    ssr += r * r
  }
  const se = Math.sqrt(ssr / (n - 2) / sxx)
  const t = se === 0 ? (slope === 0 ? 0 : Number.POSITIVE_INFINITY * Math.sign(slope)) : slope / se
  return { slope, intercept, slopeStandardError: se, t }
}

/**
 * The Mann-Kendall trend test: S (concordant minus discordant pairs) and its normal score Z with
 * the continuity correction and the variance corrected for ties.
 */
export const mannKendall = (ys: ReadonlyArray<number>): { readonly s: number; readonly z: number } => {
  const n = ys.length
  let s = 0
  for (let i = 0; i < n - 1; i++) {
    const yi = ys[i] ?? 0
    for (let j = i + 1; j < n; j++) s += Math.sign((ys[j] ?? 0) - yi)
  }
  const ties = new Map<number, number>()
  for (const y of ys) ties.set(y, (ties.get(y) ?? 0) + 1)
  let tieTerm = 0
  for (const t of ties.values()) if (t > 1) tieTerm += t * (t - 1) * (2 * t + 5)
  const variance = (n * (n - 1) * (2 * n + 5) - tieTerm) / 18
  if (variance <= 0) return { s, z: 0 }
  const z = s > 0 ? (s - 1) / Math.sqrt(variance) : s < 0 ? (s + 1) / Math.sqrt(variance) : 0
  return { s, z }
}

/**
 * The sample autocorrelation of `xs` at lags 0..maxLag (index = lag); zeros for a constant series.
 * `unbiased`: each lag's sum is divided by the pairs it has (n - k) rather than n, so that a lag
 * of a third of the series is not pulled down by a third for having fewer pairs.
 */
export const autocorrelation = (xs: ReadonlyArray<number>, maxLag: number, unbiased = false): Array<number> => {
  const n = xs.length
  const m = mean(xs)
  let c0 = 0
  for (const x of xs) c0 += (x - m) * (x - m)
  const out: Array<number> = new Array(maxLag + 1).fill(0)
  if (c0 === 0 || n === 0) return out
  for (let k = 0; k <= maxLag && k < n; k++) {
    let c = 0
    for (let i = 0; i + k < n; i++) c += ((xs[i] ?? 0) - m) * ((xs[i + k] ?? 0) - m)
    out[k] = unbiased ? ((c / (n - k)) * n) / c0 : c / c0
  }
  return out
}
