/**
 * The facade's call path: the strategy walk, the breaker, the bulkhead, the attempt timeout, the
 * retry decision, the backoff and the retry budget, all from the plain decision cores. No `effect`
 * here: a call allocates a Promise, the walk's tickets and (with a timeout) one timer per attempt.
 *
 * @internal
 */
import * as Cores from "@effect-resilience/core/Cores"
import {
  AttemptTimeoutError,
  BulkheadRejectedError,
  CircuitOpenError,
  DeadlineExceededError,
  RetriesExhaustedError,
  RetryBudgetExhaustedError
} from "../Errors.js"
import type { RetrySettings, Settings } from "./settings.js"

type Classification = Cores.Classify.PlainClassification
type Admitted = Cores.Strategy.Admitted

/** How a failure is classified (the default: `Cores.Classify.makeClassify`). */
export type Classify = (failure: unknown) => Classification

const timers: Cores.Strategy.Timers = {
  now: Date.now,
  arm: (ms, onFire) => {
    const handle = setTimeout(onFire, ms)
    return () => clearTimeout(handle)
  }
}

/** The signal of an operation that takes none: never aborted (one for every call). */
const neverAborted: AbortSignal = new AbortController().signal

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** The backoff of the `n`th retry (from 0), before Retry-After; `previous` for decorrelated jitter. */
const backoffDelay = (r: RetrySettings, category: string, n: number, previous: number, random: number): number => {
  const base = category === "throttled" ? r.throttledInitialMillis : r.initialMillis
  switch (r.backoff) {
    case "decorrelated":
      return Cores.Backoff.decorrelatedDelay(base, r.maxDelayMillis, previous, random)
    case "exponential":
      return jittered(r, Cores.Backoff.exponentialDelay(base, r.factor, n), random)
    case "linear":
      return jittered(r, Cores.Backoff.linearDelay(base, n), random)
    case "constant":
      return jittered(r, base, random)
    case "fibonacci": {
      let state = Cores.Backoff.fibonacciStart(base)
      for (let i = 0; i < n; i++) state = Cores.Backoff.fibonacciStep(state)[1]
      return jittered(r, Cores.Backoff.fibonacciStep(state)[0], random)
    }
  }
}

const jittered = (r: RetrySettings, millis: number, random: number): number =>
  Cores.Backoff.applyJitter(r.jitter, Cores.Backoff.capDelay(millis, r.maxDelayMillis), random)

/** A retry about to wait `delayMillis` after attempt `attempt` failed with a failure of `category`. */
export interface RetryScheduled {
  readonly operation: string
  readonly attempt: number
  readonly delayMillis: number
  readonly category: string
}

/** One executor per policy: its breaker and bulkhead are shared by every call it runs. */
export class Engine {
  private readonly strategies: ReadonlyArray<Cores.Strategy.AdmissionStrategy>

  constructor(
    readonly settings: Settings,
    private readonly classify: Classify,
    private readonly random: () => number = Math.random,
    private readonly onRetry: ((retry: RetryScheduled) => void) | undefined = undefined
  ) {
    const strategies: Array<Cores.Strategy.AdmissionStrategy> = []
    const breaker = settings.breaker
    if (breaker !== undefined) {
      strategies.push({
        component: "breaker",
        name: breaker.name,
        admit: (now, random) => breaker.admit(now, random),
        stateAt: (now) => breaker.stateAt(now)
      })
    }
    const bulkhead = settings.bulkhead
    if (bulkhead !== undefined) {
      strategies.push({ component: "bulkhead", name: bulkhead.name, admit: () => bulkhead.core.admit(0) })
    }
    this.strategies = strategies
  }

  /** The breaker's state now (undefined without a breaker). */
  breakerState(): string | undefined {
    return this.settings.breaker?.stateAt(Date.now())
  }

  private refusal(index: number, rejected: Cores.Strategy.Rejected): Error {
    const strategy = this.strategies[index] as Cores.Strategy.AdmissionStrategy
    return strategy.component === "breaker"
      ? new CircuitOpenError(this.settings.operation, strategy.name, rejected.retryAfterMillis)
      : new BulkheadRejectedError(this.settings.operation, strategy.name, rejected.reason)
  }

  /**
   * Admission: the tickets, or the refusal's error, at once when no strategy makes the call wait
   * (the common case: no Promise, no microtask); a Promise of them when one does.
   */
  private admit(
    deadlineAt: number | undefined
  ): ReadonlyArray<Admitted> | Error | Promise<ReadonlyArray<Admitted> | Error> {
    const walked = Cores.Strategy.walk(this.strategies, 0, undefined, Date.now(), this.random)
    if (Cores.Strategy.isAdmitted(walked)) return walked
    if (walked._tag === "Rejected") return this.refusal(walked.index, walked.rejected)
    return this.admitWaiting(walked, deadlineAt)
  }

  /** Admission that waits (a bulkhead's queue): the tickets, or the refusal's error. */
  private async admitWaiting(
    first: Cores.Strategy.Walk,
    deadlineAt: number | undefined
  ): Promise<ReadonlyArray<Admitted> | Error> {
    let walked = first
    while (!Cores.Strategy.isAdmitted(walked)) {
      if (walked._tag === "Rejected") return this.refusal(walked.index, walked.rejected)
      const stop = walked
      const maxWait = deadlineAt === undefined ? undefined : Math.max(0, deadlineAt - Date.now())
      const decision = await new Promise<Admitted | Cores.Strategy.Rejected>((resolve) => {
        stop.wait.start(timers, maxWait, resolve)
      })
      if (decision._tag === "Rejected") {
        Cores.Strategy.release(stop.tickets, Date.now())
        return this.refusal(stop.index, decision)
      }
      stop.tickets.push(decision)
      walked = Cores.Strategy.walk(this.strategies, stop.index + 1, stop.tickets, Date.now(), this.random)
    }
    return walked
  }

  /**
   * One attempt under its timer; the signal is aborted with the timeout's error. Without
   * `withSignal` (an operation that takes no signal) no AbortController is made: making one
   * costs more than the rest of a call, and nothing would read it.
   */
  private attempt<A>(
    evaluate: (signal: AbortSignal) => PromiseLike<A>,
    attempt: number,
    deadlineAt: number | undefined,
    withSignal: boolean
  ): Promise<A> {
    const started = Date.now()
    const timer = Cores.Timeout.timerFor(started, deadlineAt, this.settings.attemptTimeoutMillis)
    const controller = withSignal ? new AbortController() : undefined
    const signal = controller === undefined ? neverAborted : controller.signal
    if (timer === undefined) return Promise.resolve().then(() => evaluate(signal))
    return new Promise<A>((resolve, reject) => {
      const handle = setTimeout(() => {
        const error =
          timer.kind === "deadline"
            ? new DeadlineExceededError(this.settings.operation, this.settings.deadlineMillis ?? timer.millis)
            : new AttemptTimeoutError(this.settings.operation, attempt, timer.millis)
        controller?.abort(error)
        reject(error)
      }, timer.millis)
      // started at once, as a direct call would be (admission did not wait): a throw is a rejection
      let result: PromiseLike<A>
      try {
        result = evaluate(signal)
      } catch (error) {
        clearTimeout(handle)
        reject(error)
        return
      }
      Promise.resolve(result).then(
        (value) => {
          clearTimeout(handle)
          resolve(value)
        },
        (error: unknown) => {
          clearTimeout(handle)
          reject(error)
        }
      )
    })
  }

  private classifyFailure(error: unknown): Classification {
    if (error instanceof AttemptTimeoutError) return Cores.Classify.runtime.attemptTimeout
    if (error instanceof DeadlineExceededError) return Cores.Classify.runtime.deadlineExceeded
    if (error instanceof CircuitOpenError) {
      const base = Cores.Classify.runtime.circuitOpen
      return error.retryAfterMillis > 0 ? { ...base, retryAfterMillis: error.retryAfterMillis } : base
    }
    if (error instanceof BulkheadRejectedError) return Cores.Classify.runtime.bulkheadRejected
    return this.classify(error)
  }

  /**
   * Runs a call: attempts until one succeeds or the retry decision stops. `withSignal: false` for
   * an operation that ignores its signal (`resilient(fn)`): it gets one that never aborts.
   */
  async execute<A>(evaluate: (signal: AbortSignal) => PromiseLike<A>, withSignal = true): Promise<A> {
    const settings = this.settings
    const retry = settings.retry
    const budget = settings.budget
    const start = Date.now()
    const deadlineAt = settings.deadlineMillis === undefined ? undefined : start + settings.deadlineMillis
    budget?.onRequest(start)
    let made = 0
    let reached = 0
    let previousDelay = retry?.initialMillis ?? 0
    let lastRetry: Classification | undefined
    for (;;) {
      made += 1
      const admission = this.admit(deadlineAt)
      const admitted = admission instanceof Promise ? await admission : admission
      let error: unknown
      let classification: Classification
      if (admitted instanceof Error) {
        error = admitted
        classification = this.classifyFailure(error)
      } else {
        reached += 1
        const attemptStart = Date.now()
        try {
          const value = await this.attempt(evaluate, made, deadlineAt, withSignal)
          const now = Date.now()
          Cores.Strategy.settleAll(admitted, Cores.Strategy.success, now - attemptStart, now)
          budget?.onSuccess(made === 1, lastRetry)
          return value
        } catch (failure) {
          error = failure
        }
        const now = Date.now()
        classification = this.classifyFailure(error)
        Cores.Strategy.settleAll(admitted, Cores.Strategy.failure(classification), now - attemptStart, now)
      }
      if (retry === undefined) throw error
      const refused = error instanceof CircuitOpenError
      const stopped = Cores.Retry.stopBeforeSchedule(classification, reached, retry.maxAttempts)
      if (stopped === "not-retryable") throw error
      if (stopped === "exhausted")
        throw new RetriesExhaustedError(settings.operation, made, "exhausted", classification.category, error)
      const backoff = backoffDelay(retry, classification.category, reached - 1, previousDelay, this.random())
      previousDelay = backoff
      const delay = Cores.Retry.retryDelay(
        backoff,
        classification.retryAfterMillis,
        retry.retryAfterExtraMillis,
        refused
      )
      const now = Date.now()
      if (
        retry.maxElapsedMillis !== undefined &&
        Cores.Backoff.exceedsElapsed(start, now + delay, retry.maxElapsedMillis)
      ) {
        throw new RetriesExhaustedError(settings.operation, made, "exhausted", classification.category, error)
      }
      const timeStop = Cores.Retry.stopForTime(delay, deadlineAt === undefined ? undefined : deadlineAt - now, refused)
      if (timeStop === "breaker-open") throw error
      if (timeStop === "deadline")
        throw new RetriesExhaustedError(settings.operation, made, "deadline", classification.category, error)
      if (budget !== undefined && !refused && !budget.tryWithdraw(classification, now)) {
        throw new RetryBudgetExhaustedError(settings.operation, made, error)
      }
      lastRetry = classification
      this.onRetry?.({
        operation: settings.operation,
        attempt: made,
        delayMillis: delay,
        category: classification.category
      })
      await sleep(delay)
    }
  }
}
