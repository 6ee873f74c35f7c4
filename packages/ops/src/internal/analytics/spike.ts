/**
 * Spike detection on an error rate: a robust z-score of the latest interval's failure rate
 * against the median and MAD of the intervals before it.
 *
 * Why median/MAD rather than mean/standard deviation: a baseline that already holds one bad
 * interval would inflate a standard deviation and hide the next spike; the median and MAD ignore
 * up to half of the baseline being odd. Why the binomial floor on the spread: a clean baseline
 * (every interval 0% errors) has MAD 0, and then any failure would be "infinitely" unusual; the
 * binomial standard deviation of the rate at the interval's volume says how much a rate moves by
 * chance alone. Why the volume guards: 1 failure of 2 calls is a 50% rate and no evidence of
 * anything.
 *
 * Plain TypeScript, no `effect`.
 *
 * @internal
 */
import { mad, madToSigma, median } from "./stats.js"

/** @internal */
export interface SpikeOptions {
  /** How many intervals before the evaluated one form the baseline. */
  readonly window: number
  /** The fewest baseline intervals (with calls) needed to say anything. */
  readonly minBaseline: number
  /** The robust z-score at or above which the interval is a spike. */
  readonly threshold: number
  /** The fewest calls in the evaluated interval. */
  readonly minCalls: number
  /** The fewest failures in the evaluated interval. */
  readonly minFailures: number
  /** The smallest rise of the rate over the baseline median (absolute, 0.05 = 5 points). */
  readonly minIncrease: number
  /**
   * How many of the latest baseline intervals the rate must also stand out from (same z and
   * rise, against their median): a rate that climbed there step by step is a trend, not a spike.
   */
  readonly recent: number
}

/** @internal */
export const defaultSpikeOptions: SpikeOptions = {
  window: 30,
  minBaseline: 15,
  threshold: 5,
  minCalls: 20,
  minFailures: 5,
  minIncrease: 0.05,
  recent: 5
}

/** @internal */
export interface Spike {
  readonly index: number
  readonly rate: number
  readonly calls: number
  readonly failures: number
  readonly baselineMedian: number
  readonly baselineMad: number
  readonly sigma: number
  readonly z: number
  /** The median rate of the latest `recent` intervals, and the z-score against it. */
  readonly recentMedian: number
  readonly recentZ: number
}

/**
 * Whether interval `index` of the series (calls and failures per interval, aligned) is a spike
 * against the `window` intervals before it.
 */
export const spikeAt = (
  calls: ReadonlyArray<number>,
  failures: ReadonlyArray<number>,
  index: number,
  options: SpikeOptions = defaultSpikeOptions
): Spike | undefined => {
  const n = calls[index] ?? 0
  const f = failures[index] ?? 0
  if (n < options.minCalls || f < options.minFailures || n <= 0) return undefined
  const rates: Array<number> = []
  let baseCalls = 0
  let baseFailures = 0
  for (let i = Math.max(0, index - options.window); i < index; i++) {
    const c = calls[i] ?? 0
    if (c <= 0) continue
    const x = failures[i] ?? 0
    rates.push(x / c)
    baseCalls += c
    baseFailures += x
  }
  if (rates.length < options.minBaseline) return undefined
  const rate = f / n
  const center = median(rates)
  const spread = mad(rates, center)
  // the chance movement of a rate at this volume, from the pooled baseline rate (Laplace-smoothed)
  const p0 = (baseFailures + 1) / (baseCalls + 2)
  const binomial = Math.sqrt((p0 * (1 - p0)) / n)
  const sigma = Math.max(madToSigma * spread, binomial)
  const z = (rate - center) / sigma
  if (rate - center < options.minIncrease || z < options.threshold) return undefined
  const recentMedian = median(rates.slice(Math.max(0, rates.length - options.recent)))
  const recentZ = (rate - recentMedian) / sigma
  if (rate - recentMedian < options.minIncrease || recentZ < options.threshold) return undefined
  return {
    index,
    rate,
    calls: n,
    failures: f,
    baselineMedian: center,
    baselineMad: spread,
    sigma,
    z,
    recentMedian,
    recentZ
  }
}

/** Every spike of a series, each interval judged against the ones before it (as a live run would). */
export const scanSpikes = (
  calls: ReadonlyArray<number>,
  failures: ReadonlyArray<number>,
  options: SpikeOptions = defaultSpikeOptions
): Array<Spike> => {
  const out: Array<Spike> = []
  for (let i = 0; i < calls.length; i++) {
    const s = spikeAt(calls, failures, i, options)
    if (s !== undefined) out.push(s)
  }
  return out
}
