/**
 * Periodic failures: the autocorrelation of failure counts per sample (after removing a linear
 * trend) and its dominant peak. A cron job that fails every 10 minutes, sampled every 10 seconds,
 * shows a peak at lag 60; sampled every minute, at lag 10.
 *
 * A lag is reported when it is a local maximum of the autocorrelation, stands above the white
 * noise band (`noiseZ / sqrt(n)`) and above `minCorrelation`, rises by `minProminence` above the
 * lowest correlation at a shorter lag (a smooth decay, as a trend or slow drift leaves, has no
 * such dip), the series holds `minCycles` periods, and failures came in at least `minCycles`
 * separate samples. When half the lag is nearly as correlated, the half is the period (the
 * peak at twice the period is a harmonic).
 *
 * Plain TypeScript, no `effect`.
 *
 * @internal
 */
import { autocorrelation, linearFit } from "./stats.js"

/** @internal */
export interface PeriodicOptions {
  /** The shortest period looked for, in samples. */
  readonly minLag: number
  /** How many whole periods the series must hold (the longest lag looked at is n / minCycles). */
  readonly minCycles: number
  readonly minCorrelation: number
  readonly noiseZ: number
  readonly minProminence: number
  /** The fewest failures in the series. */
  readonly minFailures: number
}

/** @internal */
export const defaultPeriodicOptions: PeriodicOptions = {
  minLag: 3,
  minCycles: 3,
  minCorrelation: 0.3,
  noiseZ: 4,
  minProminence: 0.25,
  minFailures: 6
}

/** @internal */
export interface Periodic {
  /** The period in samples. */
  readonly lag: number
  /** The period in milliseconds (`lag` times the sample length). */
  readonly periodMillis: number
  readonly correlation: number
  readonly prominence: number
  readonly cycles: number
  readonly failures: number
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
  let nonZero = 0
  for (const c of counts) {
    failures += c
    if (c > 0) nonZero += 1
  }
  if (failures < options.minFailures || nonZero < options.minCycles) return undefined
  const fit = linearFit(counts)
  const residuals = counts.map((c, i) => c - (fit.intercept + fit.slope * i))
  const acf = autocorrelation(residuals, maxLag + 1)
  const floor = Math.max(options.minCorrelation, options.noiseZ / Math.sqrt(n))
  let best: { lag: number; correlation: number; prominence: number } | undefined
  let lowest = 1
  for (let k = 1; k <= maxLag; k++) {
    const r = acf[k] as number
    if (k >= options.minLag && r >= floor && r > (acf[k - 1] as number) && r >= (acf[k + 1] as number)) {
      const prominence = r - lowest
      if (prominence >= options.minProminence && (best === undefined || r > best.correlation)) {
        best = { lag: k, correlation: r, prominence }
      }
    }
    lowest = Math.min(lowest, r)
  }
  if (best === undefined) return undefined
  // a harmonic: half the lag (within one sample) nearly as correlated is the true period
  const half = Math.round(best.lag / 2)
  if (half >= options.minLag) {
    for (const k of [half - 1, half, half + 1]) {
      const r = acf[k] ?? 0
      if (r >= 0.8 * best.correlation && r >= floor) {
        best = { lag: k, correlation: r, prominence: best.prominence }
        break
      }
    }
  }
  return {
    lag: best.lag,
    periodMillis: best.lag * sampleMillis,
    correlation: best.correlation,
    prominence: best.prominence,
    cycles: n / best.lag,
    failures
  }
}
