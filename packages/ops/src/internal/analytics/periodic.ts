/**
 * Periodic failures: the autocorrelation of failure bursts per sample and its dominant peak. A
 * cron job that fails every 10 minutes, sampled every 10 seconds, shows a peak at lag 60;
 * sampled every minute, at lag 10.
 *
 * The autocorrelation is taken on burst samples, not on raw counts: a sample is a burst when its
 * count is unlikely under the background rate (Poisson tail below `burstAlpha`, the background
 * being the mean of the lowest 80% of counts). On raw counts a steady background of failures
 * dominates the variance, and six short bursts in an hour (a cron every 10 minutes) barely move
 * the correlation; on burst samples they are all there is. A moving sum over `smooth` samples
 * lets bursts one sample early or late still line up; a linear fit is removed (a rising count
 * would otherwise correlate at every lag).
 *
 * A lag is reported when it is a local maximum of the autocorrelation, at least
 * `minCorrelation` and above the white-noise band (`noiseZ / sqrt(n)`), rises by `minProminence`
 * above the lowest correlation at a shorter lag (a smooth decay, as a single long burst or a
 * drift leaves, has no such dip), and the series holds `minCycles` periods and as many separate
 * bursts. When half the lag is nearly as correlated, the half is the period (the peak at twice
 * the period is a harmonic).
 *
 * Plain TypeScript, no `effect`.
 *
 * @internal
 */
import { autocorrelation, linearFit, median } from "./stats.js"

/** @internal */
export interface PeriodicOptions {
  /** The shortest period looked for, in samples. */
  readonly minLag: number
  /** How many whole periods (and separate bursts) the series must hold (the longest lag looked at is n / minCycles). */
  readonly minCycles: number
  readonly minCorrelation: number
  readonly noiseZ: number
  readonly minProminence: number
  /** The fewest failures in the series. */
  readonly minFailures: number
  /** The width of the moving sum, in samples (absorbs a jitter of a sample either way). */
  readonly smooth: number
  /** A fraction of the best lag whose correlation is at least this share of the best's is the period instead. */
  readonly harmonic: number
  /** A sample is a burst when a count at least as high has this probability or less under the background rate. */
  readonly burstAlpha: number
}

/** @internal */
export const defaultPeriodicOptions: PeriodicOptions = {
  minLag: 3,
  minCycles: 3,
  minCorrelation: 0.35,
  noiseZ: 4,
  minProminence: 0.3,
  minFailures: 6,
  smooth: 3,
  burstAlpha: 0.001,
  harmonic: 0.5
}

/** @internal */
export interface Periodic {
  /** The period in samples. */
  readonly lag: number
  /** The period in milliseconds (`lag` times the sample length). */
  readonly periodMillis: number
  readonly correlation: number
  readonly prominence: number
  /** Separate bursts seen. */
  readonly bursts: number
  /** The count at or above which a sample is a burst. */
  readonly burstThreshold: number
  /** The background rate of failures per sample. */
  readonly background: number
  readonly failures: number
}

/** The smallest count whose Poisson upper tail under `mean` is at most `alpha` (at least 1). */
export const poissonThreshold = (mean: number, alpha: number): number => {
  if (mean <= 0) return 1
  // P(X >= k) = 1 - sum_{i<k} p(i)
  let p = Math.exp(-mean)
  let cdf = 0
  for (let k = 0; k < 10_000; k++) {
    if (1 - cdf <= alpha) return Math.max(1, k)
    cdf += p
    p = (p * mean) / (k + 1)
  }
  return 10_000
}

/**
 * A background level that bursts do not raise: starting from the median (or, when failures are
 * sparse and the median is 0, the Poisson rate that leaves as many samples at 0 as there are),
 * the mean of the samples under the burst threshold of the current estimate, three times over.
 */
const background = (xs: ReadonlyArray<number>, alpha: number): number => {
  let zeros = 0
  for (const x of xs) if (x === 0) zeros += 1
  const fromZeros = zeros === 0 ? 0 : -Math.log(zeros / xs.length)
  let level = Math.max(median(xs), fromZeros)
  for (let round = 0; round < 3; round++) {
    const threshold = poissonThreshold(level, alpha)
    let s = 0
    let n = 0
    for (const x of xs) {
      if (x < threshold) {
        s += x
        n += 1
      }
    }
    if (n === 0) break
    level = Math.max(s / n, fromZeros)
  }
  return level
}

interface Peak {
  readonly lag: number
  readonly correlation: number
  readonly prominence: number
}

/** The strongest qualifying peak of the autocorrelation of `xs` (smoothed, detrended), reduced to its fundamental. */
const dominantPeak = (xs: ReadonlyArray<number>, options: PeriodicOptions): Peak | undefined => {
  const n = xs.length
  const maxLag = Math.floor(n / options.minCycles)
  const smoothed = xs.map((_, i) => {
    let s = 0
    for (let j = i; j < i + options.smooth && j < n; j++) s += xs[j] ?? 0
    return s
  })
  const fit = linearFit(smoothed)
  const residuals = smoothed.map((c, i) => c - (fit.intercept + fit.slope * i))
  const acf = autocorrelation(residuals, maxLag + 1)
  const floor = Math.max(options.minCorrelation, options.noiseZ / Math.sqrt(n))
  let best: Peak | undefined
  let lowest = 1
  for (let k = 1; k <= maxLag; k++) {
    const r = acf[k] ?? 0
    if (k >= options.minLag && r >= floor && r > (acf[k - 1] ?? 0) && r >= (acf[k + 1] ?? 0)) {
      const prominence = r - lowest
      if (prominence >= options.minProminence && (best === undefined || r > best.correlation)) {
        best = { lag: k, correlation: r, prominence }
      }
    }
    lowest = Math.min(lowest, r)
  }
  if (best === undefined) return undefined
  // a harmonic: a fraction of the lag (1/2, 1/3, ...) nearly as correlated is the true period;
  // the shortest such lag wins (bursts that drift by a sample can make 2 or 3 periods line up
  // better than one)
  for (let m = Math.floor(best.lag / options.minLag); m >= 2; m--) {
    const center = Math.round(best.lag / m)
    let found: { lag: number; correlation: number } | undefined
    for (const k of [center, center - 1, center + 1]) {
      const r = acf[k] ?? 0
      if (
        k >= options.minLag &&
        r >= options.harmonic * best.correlation &&
        (found === undefined || r > found.correlation)
      ) {
        found = { lag: k, correlation: r }
      }
    }
    if (found !== undefined) return { lag: found.lag, correlation: found.correlation, prominence: best.prominence }
  }
  return best
}

/** The dominant period of failure counts sampled every `sampleMillis`, if there is one. */
export const periodic = (
  counts: ReadonlyArray<number>,
  sampleMillis: number,
  options: PeriodicOptions = defaultPeriodicOptions
): Periodic | undefined => {
  const n = counts.length
  const maxLag = Math.floor(n / options.minCycles)
  if (maxLag < options.minLag + 1) return undefined
  let failures = 0
  for (const c of counts) failures += c
  if (failures < options.minFailures) return undefined
  const level = background(counts, options.burstAlpha)
  const threshold = poissonThreshold(level, options.burstAlpha)
  const bursty = counts.map((c) => (c >= threshold ? 1 : 0))
  let bursts = 0
  for (let i = 0; i < n; i++) if (bursty[i] === 1 && (i === 0 || bursty[i - 1] === 0)) bursts += 1
  if (bursts < options.minCycles) return undefined
  // bursts over a background, or a pattern that fills most samples (3 minutes failing of 5): the
  // burst samples see the first, the counts themselves (square roots: a steadier variance) the second
  const fromBursts = dominantPeak(bursty, options)
  const fromCounts = dominantPeak(counts.map(Math.sqrt), options)
  const best =
    fromBursts === undefined
      ? fromCounts
      : fromCounts === undefined || fromBursts.correlation >= fromCounts.correlation
        ? fromBursts
        : fromCounts
  if (best === undefined) return undefined
  return {
    lag: best.lag,
    periodMillis: best.lag * sampleMillis,
    correlation: best.correlation,
    prominence: best.prominence,
    bursts,
    burstThreshold: threshold,
    background: level,
    failures
  }
}
