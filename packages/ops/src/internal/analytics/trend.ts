/**
 * Trend detection on an error rate: the least-squares slope of the failure rate over the last
 * `window` intervals, significant by its t-statistic AND by the Mann-Kendall test, and large
 * enough to matter.
 *
 * Why two tests: the t-statistic of an ordinary least-squares slope assumes independent normal
 * residuals; one bad interval at the end of the window has high leverage and can make a flat
 * series look like a slope. Mann-Kendall counts ordered pairs, so one outlier moves it by at
 * most `n - 1` of `n(n-1)/2` pairs. Requiring both keeps the slope's size (for the evidence and
 * the rise guard) and the rank test's robustness. Why the rise guard: with enough traffic a rise
 * from 0.1% to 0.2% is significant and not worth anyone's attention.
 *
 * Plain TypeScript, no `effect`.
 *
 * @internal
 */
import { linearFit, mannKendall } from "./stats.js"

/** @internal */
export interface TrendOptions {
  /** How many of the latest intervals the slope is fitted over. */
  readonly window: number
  /** The fewest intervals with calls in the window. */
  readonly minPoints: number
  /** The t-statistic of the slope at or above which it is significant. */
  readonly minT: number
  /** The Mann-Kendall normal score at or above which the rise is significant. */
  readonly minMannKendallZ: number
  /** The smallest rise of the fitted rate over the window (absolute, 0.05 = 5 points). */
  readonly minRise: number
  /** The fewest failures in the window. */
  readonly minFailures: number
}

/** @internal */
export const defaultTrendOptions: TrendOptions = {
  window: 30,
  minPoints: 20,
  minT: 3,
  minMannKendallZ: 3,
  minRise: 0.05,
  minFailures: 10
}

/** @internal */
export interface Trend {
  /** The index of the last interval of the window. */
  readonly index: number
  /** The fitted change of the rate per interval. */
  readonly slope: number
  readonly t: number
  readonly mannKendallZ: number
  /** The fitted rate at the window's start and end. */
  readonly fromRate: number
  readonly toRate: number
  readonly points: number
}

/** Whether the failure rate rises over the `window` intervals that end at `index` (inclusive). */
export const trendAt = (
  calls: ReadonlyArray<number>,
  failures: ReadonlyArray<number>,
  index: number,
  options: TrendOptions = defaultTrendOptions
): Trend | undefined => {
  const rates: Array<number> = []
  let total = 0
  for (let i = Math.max(0, index - options.window + 1); i <= index; i++) {
    const c = calls[i] ?? 0
    if (c <= 0) continue
    const f = failures[i] ?? 0
    rates.push(f / c)
    total += f
  }
  if (rates.length < options.minPoints || total < options.minFailures) return undefined
  const fit = linearFit(rates)
  if (!(fit.slope > 0) || fit.t < options.minT) return undefined
  const fromRate = fit.intercept
  const toRate = fit.intercept + fit.slope * (rates.length - 1)
  if (toRate - fromRate < options.minRise) return undefined
  const mk = mannKendall(rates)
  if (mk.z < options.minMannKendallZ) return undefined
  return { index, slope: fit.slope, t: fit.t, mannKendallZ: mk.z, fromRate, toRate, points: rates.length }
}

/** Every interval at which a live run would have seen a rising trend. */
export const scanTrends = (
  calls: ReadonlyArray<number>,
  failures: ReadonlyArray<number>,
  options: TrendOptions = defaultTrendOptions
): Array<Trend> => {
  const out: Array<Trend> = []
  for (let i = 0; i < calls.length; i++) {
    const t = trendAt(calls, failures, i, options)
    if (t !== undefined) out.push(t)
  }
  return out
}
