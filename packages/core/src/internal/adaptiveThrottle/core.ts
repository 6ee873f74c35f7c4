/**
 * The adaptive throttle's decision core (Google SRE book, "Handling Overload"): over a sliding
 * window it counts the `requests` attempted and the `accepts` the backend did not refuse, and
 * rejects a new request locally with probability `max(0, (requests - k * accepts) / (requests + 1))`.
 * A local rejection counts as a request; an admitted request is counted when it is settled, as an
 * accept unless its failure's category is one of `rejectionCategories`; a neutral settle (an
 * interrupted or cancelled call) is not counted.
 *
 * Plain TypeScript: imports nothing from `effect`.
 *
 * @internal
 */
import type { Admitted, Decision, Outcome, Rejected } from "../strategy/core.js"
import { SlidingCounts } from "../window/slidingCounts.js"

/** @internal */
export interface Options {
  readonly k: number
  readonly windowMillis: number
  readonly buckets: number
  /** Categories of the failures that mean the backend refused the request. */
  readonly rejectionCategories: ReadonlyArray<string>
}

/** A local rejection. @internal */
export const throttled: Rejected = { _tag: "Rejected", reason: "throttled", retryAfterMillis: 0 }

/** @internal */
export interface Core {
  /** The local rejection probability at `nowMillis`. */
  readonly probability: (nowMillis: number) => number
  /** Requests in the window at `nowMillis`. */
  readonly requests: (nowMillis: number) => number
  /** Accepts in the window at `nowMillis`. */
  readonly accepts: (nowMillis: number) => number
  /** Decides one request; draws from `random` only when the probability is above zero. */
  readonly admit: (nowMillis: number, random: () => number) => Decision
}

/** @internal */
export const make = (options: Options): Core => {
  const { k } = options
  // counter A: requests, counter B: accepts
  const window = new SlidingCounts(options.windowMillis, options.buckets)
  const refusals = new Set<string>(options.rejectionCategories)

  const probability = (now: number): number => {
    window.advance(now)
    const requests = window.sumA
    return Math.max(0, (requests - k * window.sumB) / (requests + 1))
  }

  const settle = (outcome: Outcome, _durationMillis: number, now: number): void => {
    if (outcome._tag === "Neutral") return
    window.advance(now)
    window.addA(1)
    if (outcome._tag === "Success" || !refusals.has(outcome.classification.category)) window.addB(1)
  }
  // a throttle's ticket carries no per-call state: one shared ticket records the outcome
  const ticket: Admitted = { _tag: "Admitted", settle }

  const admit = (now: number, random: () => number): Decision => {
    const p = probability(now)
    // healthy: no random draw, no rejection possible
    if (p === 0 || random() >= p) return ticket
    window.addA(1)
    return throttled
  }

  return {
    probability,
    requests: (now) => {
      window.advance(now)
      return window.sumA
    },
    accepts: (now) => {
      window.advance(now)
      return window.sumB
    },
    admit
  }
}
