/**
 * The strategy interface's decision core: plain TypeScript that imports nothing from `effect`, so
 * that the Effect binding, the Promise facade and a later Effect 4 binding share it.
 *
 * An admission strategy (breaker, rate limiter, adaptive throttle, adaptive concurrency, bulkhead,
 * or one of a user's) decides synchronously, on the hot path, whether an attempt may start:
 *
 * - `Admitted`: it may; the ticket is settled exactly once when the attempt ends (success, a
 *   classified failure, or neutral: interrupted, cancelled, or never run because a later strategy
 *   refused it).
 * - `Rejected`: it may not; the data says why (the binding turns it into a typed error).
 * - `Wait`: it may after a wait (a reserved rate-limit token, a place in a bulkhead's queue);
 *   `start` begins the wait on the timers it is given and calls `done` exactly once, unless the
 *   wait is cancelled first.
 *
 * @internal
 */

/** What a decision core reads of a failure's Classification (a `Classification` satisfies it). */
export interface ClassificationView {
  readonly category: string
  readonly retryable: boolean
  readonly countsForBreaker: boolean
}

/** How an admitted attempt ended. */
export type Outcome =
  | { readonly _tag: "Success" }
  | { readonly _tag: "Failure"; readonly classification: ClassificationView }
  | { readonly _tag: "Neutral" }

/** The outcome of a successful attempt (shared: outcomes carry no per-call data but failures). */
export const success: Outcome = { _tag: "Success" }

/** The outcome of an attempt that was interrupted, cancelled, or never ran. */
export const neutral: Outcome = { _tag: "Neutral" }

/** A failure's outcome. */
export const failure = (classification: ClassificationView): Outcome => ({ _tag: "Failure", classification })

/** Permission to run one attempt, to be settled exactly once. */
export interface Admitted {
  readonly _tag: "Admitted"
  readonly settle: (outcome: Outcome, durationMillis: number, nowMillis: number) => void
  /**
   * True when settling this ticket neutral does nothing (it holds no slot, no probe, no token):
   * an attempt holding only such tickets need not be told of an interruption, which spares the
   * binding an uninterruptible region per attempt.
   */
  readonly holdsNothing?: boolean | undefined
}

/** A refusal: `reason` is short and stable (`open`, `full`, `exceeded`, `queue-timeout`, ...). */
export interface Rejected {
  readonly _tag: "Rejected"
  readonly reason: string
  /** When it is worth asking again, if the strategy knows (0 when it does not). */
  readonly retryAfterMillis: number
}

/** Timers on the caller's clock (a `TestClock` in tests). `arm` returns the timer's canceller. */
export interface Timers {
  readonly now: () => number
  readonly arm: (millis: number, onFire: () => void) => () => void
}

/** Admission after a wait. */
export interface Wait {
  readonly _tag: "Wait"
  /**
   * Starts waiting. `maxWaitMillis` is what the call's deadline leaves (undefined: no deadline).
   * Calls `done` exactly once with the admission or a refusal, unless the returned canceller runs
   * first (then `done` is never called and nothing is held).
   */
  readonly start: (
    timers: Timers,
    maxWaitMillis: number | undefined,
    done: (decision: Admitted | Rejected) => void
  ) => () => void
}

/** A strategy's decision. */
export type Decision = Admitted | Rejected | Wait

/** An admission strategy, as the pipeline walks it. */
export interface AdmissionStrategy {
  /** The kind of strategy: `breaker`, `rate-limit`, `adaptive-throttle`, `adaptive-concurrency`, `bulkhead`, ... */
  readonly component: string
  /** The instance's name (shared instances share it). */
  readonly name: string
  /** Decides synchronously. `random` returns a number in [0, 1) from the caller's seeded source. */
  readonly admit: (nowMillis: number, random: () => number) => Decision
  /** The state a trace should show transitions of (a breaker's `closed`/`open`/...), if it has one. */
  readonly stateAt?: ((nowMillis: number) => string) | undefined
}

/** An admission that holds nothing (for strategies with nothing to give back). */
export const admittedFree: Admitted = { _tag: "Admitted", settle: () => {}, holdsNothing: true }

/**
 * Where a walk through a list of strategies stopped: a refusal, or a wait, at `index`. A walk
 * that did not stop is the array of tickets itself (no wrapper to allocate on the hot path).
 */
export type Stop =
  | { readonly _tag: "Rejected"; readonly index: number; readonly rejected: Rejected }
  | { readonly _tag: "Wait"; readonly index: number; readonly wait: Wait; readonly tickets: Array<Admitted> }

/** Walking a list of strategies: every ticket when all admitted, else where it stopped. */
export type Walk = ReadonlyArray<Admitted> | Stop

/** Whether a walk admitted everything. */
export const isAdmitted = (walk: Walk): walk is ReadonlyArray<Admitted> => Array.isArray(walk)

const noTickets: ReadonlyArray<Admitted> = []

/**
 * Asks the strategies from `from` on, in order, adding to `tickets`. On a refusal the tickets
 * already held are settled neutral (a half-open probe slot or a bulkhead place is never kept by a
 * call that does not run).
 */
export const walk = (
  strategies: ReadonlyArray<AdmissionStrategy>,
  from: number,
  tickets: Array<Admitted> | undefined,
  nowMillis: number,
  random: () => number
): Walk => {
  let held = tickets
  for (let i = from; i < strategies.length; i++) {
    const decision = (strategies[i] as AdmissionStrategy).admit(nowMillis, random)
    switch (decision._tag) {
      case "Admitted": {
        // a literal of one element, not `[]` then push: the empty literal grows a backing store
        // on the first push, and measurably slowed every call of the pipeline
        if (held === undefined) held = [decision]
        else held.push(decision)
        break
      }
      case "Rejected": {
        if (held !== undefined) release(held, nowMillis)
        return { _tag: "Rejected", index: i, rejected: decision }
      }
      case "Wait": {
        return { _tag: "Wait", index: i, wait: decision, tickets: held ?? [] }
      }
    }
  }
  return held ?? noTickets
}

/** Settles every ticket with one outcome, innermost first. */
export const settleAll = (
  tickets: ReadonlyArray<Admitted>,
  outcome: Outcome,
  durationMillis: number,
  nowMillis: number
): void => {
  for (let i = tickets.length - 1; i >= 0; i--) (tickets[i] as Admitted).settle(outcome, durationMillis, nowMillis)
}

/** Gives every ticket back (neutral). */
export const release = (tickets: ReadonlyArray<Admitted>, nowMillis: number): void =>
  settleAll(tickets, neutral, 0, nowMillis)

/**
 * A small seeded pseudo-random source (mulberry32), for decision cores that need a number in
 * [0, 1) synchronously. The Effect binding seeds it from Effect's `Random`, so a seeded test is
 * deterministic.
 */
export const seededRandom = (seed: number): (() => number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
