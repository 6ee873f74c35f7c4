/**
 * The adaptive concurrency limit's decision core: at most `limit` admitted at once (no queue);
 * each settled call feeds its latency, and whether it was a drop, to the algorithm that moves the
 * limit: AIMD or Gradient2, both after Netflix concurrency-limits. A drop is a failure whose
 * category is one of `dropCategories`; a neutral settle frees the slot without a sample.
 *
 * Plain TypeScript: imports nothing from `effect`.
 *
 * @internal
 */
import type { Admitted, Decision, Outcome, Rejected } from "../strategy/core.js"

/** AIMD's parameters. @internal */
export interface AimdOptions {
  readonly minLimit: number
  readonly maxLimit: number
  readonly backoffRatio: number
  readonly latencyThresholdMillis: number
}

/** Gradient2's parameters. @internal */
export interface Gradient2Options {
  readonly minLimit: number
  readonly maxLimit: number
  readonly initialLimit: number
  readonly smoothing: number
  readonly rttTolerance: number
  readonly longWindow: number
  readonly queueSize: number
}

/** @internal */
export interface Options extends AimdOptions, Gradient2Options {
  readonly algorithm: "aimd" | "gradient2"
  /** Categories of the failures that mean overload. */
  readonly dropCategories: ReadonlyArray<string>
}

/** Netflix concurrency-limits' AIMD step, bounded by [min, max]. @internal */
export const aimd = (
  options: AimdOptions,
  limit: number,
  inflight: number,
  latencyMillis: number,
  dropped: boolean
): number => {
  if (dropped || latencyMillis > options.latencyThresholdMillis) {
    return Math.max(options.minLimit, Math.min(options.maxLimit, Math.floor(limit * options.backoffRatio)))
  }
  // grow only when the limit is in use: an idle client must not grow without evidence
  if (inflight * 2 >= limit) return Math.min(options.maxLimit, limit + 1)
  return limit
}

/**
 * Netflix concurrency-limits' Gradient2: compares the latest round-trip time with a long-term
 * exponential average and moves the (real-valued) limit towards `limit * gradient + queueSize`,
 * smoothed. A drop is taken as the strongest slow-down the algorithm allows (gradient 0.5).
 *
 * @internal
 */
export class Gradient2 {
  /** the long-term RTT average (ExpAvgMeasurement: a plain mean during the first 10 samples) */
  private longRtt = 0
  private samples = 0
  private readonly factor: number
  estimated: number

  constructor(private readonly options: Gradient2Options) {
    this.factor = 2 / (options.longWindow + 1)
    this.estimated = Math.max(options.minLimit, Math.min(options.maxLimit, options.initialLimit))
  }

  update(inflight: number, latencyMillis: number, dropped: boolean): number {
    const { options } = this
    // a call measured at 0 ms (same clock tick) must not divide by zero
    const shortRtt = Math.max(latencyMillis, 0.001)
    this.samples++
    this.longRtt =
      this.samples <= 10
        ? this.longRtt + (shortRtt - this.longRtt) / this.samples
        : this.longRtt * (1 - this.factor) + shortRtt * this.factor
    // after a long overload, pull the long average down faster than the smoothing would
    if (this.longRtt / shortRtt > 2) this.longRtt *= 0.95
    // an application that does not use its limit gives no evidence to grow it
    if (!dropped && inflight < this.estimated / 2) return this.estimated
    const gradient = dropped ? 0.5 : Math.max(0.5, Math.min(1, (options.rttTolerance * this.longRtt) / shortRtt))
    const target = this.estimated * gradient + options.queueSize
    const next = this.estimated * (1 - options.smoothing) + target * options.smoothing
    this.estimated = Math.max(options.minLimit, Math.min(options.maxLimit, next))
    return this.estimated
  }
}

/** Over the limit. @internal */
export const overLimit: Rejected = { _tag: "Rejected", reason: "limit", retryAfterMillis: 0 }

/** @internal */
export interface Core {
  /** The current limit. */
  readonly limit: () => number
  /** Calls admitted and not yet settled. */
  readonly inflight: () => number
  /** A slot when fewer than `limit` calls run, else `limit`. */
  readonly admit: () => Decision
  /** Frees a slot and feeds one sample to the algorithm. */
  readonly complete: (latencyMillis: number, dropped: boolean) => void
  /** Frees a slot without a sample. */
  readonly cancel: () => void
}

/** @internal */
export const make = (options: Options): Core => {
  let limit = Math.max(options.minLimit, Math.min(options.maxLimit, options.initialLimit))
  let inflight = 0
  const drops = new Set<string>(options.dropCategories)
  const gradient2 = options.algorithm === "gradient2" ? new Gradient2(options) : undefined

  const complete = (latencyMillis: number, dropped: boolean): void => {
    limit =
      gradient2 === undefined
        ? aimd(options, limit, inflight, latencyMillis, dropped)
        : Math.floor(gradient2.update(inflight, latencyMillis, dropped))
    if (inflight > 0) inflight--
  }

  const cancel = (): void => {
    if (inflight > 0) inflight--
  }

  const settle = (outcome: Outcome, durationMillis: number): void => {
    if (outcome._tag === "Neutral") cancel()
    else complete(durationMillis, outcome._tag === "Failure" && drops.has(outcome.classification.category))
  }
  // the ticket carries no per-call state: the duration comes with the settle
  const ticket: Admitted = { _tag: "Admitted", settle }

  const admit = (): Decision => {
    if (inflight < limit) {
      inflight++
      return ticket
    }
    return overLimit
  }

  return { limit: () => limit, inflight: () => inflight, admit, complete, cancel }
}
