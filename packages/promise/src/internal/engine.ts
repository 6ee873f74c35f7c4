/**
 * The facade's call path: the strategy walk (breaker, rate limit, adaptive throttle, adaptive
 * concurrency, bulkhead), the attempt timeout, the retry decision, the backoff and the retry
 * budget, all from the plain decision cores. No `effect`
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
  RateLimitedError,
  RetriesExhaustedError,
  RetryBudgetExhaustedError
} from "../Errors.js"
import type { RetrySettings, Settings } from "./settings.js"

type Classification = Cores.Classify.PlainClassification
type Admitted = Cores.Strategy.Admitted

/** How a failure is classified (the default: `Cores.Classify.makeClassify`). */
export type Classify = (failure: unknown) => Classification

/** The signal of an operation that takes none: never aborted (one for every call). */
const neverAborted: AbortSignal = new AbortController().signal

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A backoff that ends early when the caller's signal aborts (the call then stops). */
const sleepUnlessAborted = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const onAbort = () => {
      clearTimeout(handle)
      resolve()
    }
    const handle = setTimeout(() => {
      signal.removeEventListener("abort", onAbort)
      resolve()
    }, ms)
    signal.addEventListener("abort", onAbort, { once: true })
  })

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
  /**
   * This engine's timers: attempt timeouts of one duration fall due in the order they are armed,
   * so they wait in one queue behind one Node timer (the core's, as the Effect pipeline's), where a
   * `setTimeout` + `clearTimeout` per attempt cost a quarter of a call.
   */
  private readonly timers: Cores.Strategy.Timers = Cores.Strategy.liveTimers(Date.now)
  private readonly strategies: ReadonlyArray<Cores.Strategy.AdmissionStrategy>
  /** The error of each strategy's refusal, by index (made only when a call is refused). */
  private readonly refusals: ReadonlyArray<(rejected: Cores.Strategy.Rejected) => Error>

  constructor(
    readonly settings: Settings,
    private readonly classify: Classify,
    private readonly random: () => number = Math.random,
    private readonly onRetry: ((retry: RetryScheduled) => void) | undefined = undefined
  ) {
    const strategies: Array<Cores.Strategy.AdmissionStrategy> = []
    const refusals: Array<(rejected: Cores.Strategy.Rejected) => Error> = []
    const operation = settings.operation
    const breaker = settings.breaker
    if (breaker !== undefined) {
      strategies.push({
        component: "breaker",
        name: breaker.name,
        admit: (now, random) => breaker.admit(now, random),
        stateAt: (now) => breaker.stateAt(now)
      })
      refusals.push((rejected) => new CircuitOpenError(operation, breaker.name, rejected.retryAfterMillis))
    }
    // the Effect pipeline's order: breaker, rate limit, adaptive throttle, adaptive concurrency, bulkhead
    for (const { strategy, refuse } of settings.admission) {
      strategies.push(strategy)
      refusals.push((rejected) => refuse(operation, rejected))
    }
    const bulkhead = settings.bulkhead
    if (bulkhead !== undefined) {
      strategies.push({ component: "bulkhead", name: bulkhead.name, admit: () => bulkhead.core.admit(0) })
      refusals.push((rejected) => new BulkheadRejectedError(operation, bulkhead.name, rejected.reason))
    }
    this.strategies = strategies
    this.refusals = refusals
  }

  /** The breaker's state now (undefined without a breaker). */
  breakerState(): string | undefined {
    return this.settings.breaker?.stateAt(Date.now())
  }

  private refusal(index: number, rejected: Cores.Strategy.Rejected): Error {
    return (this.refusals[index] as (rejected: Cores.Strategy.Rejected) => Error)(rejected)
  }

  /**
   * Admission: the tickets, or the refusal's error, at once when no strategy makes the call wait
   * (the common case: no Promise, no microtask); a Promise of them when one does.
   */
  private admit(
    deadlineAt: number | undefined,
    caller: AbortSignal | undefined
  ): ReadonlyArray<Admitted> | Error | Promise<ReadonlyArray<Admitted> | Error> {
    const walked = Cores.Strategy.walk(this.strategies, 0, undefined, Date.now(), this.random)
    if (Cores.Strategy.isAdmitted(walked)) return walked
    if (walked._tag === "Rejected") return this.refusal(walked.index, walked.rejected)
    return this.admitWaiting(walked, deadlineAt, caller)
  }

  /**
   * Admission that waits (a bulkhead's queue, a rate limit's token), at most what the deadline
   * leaves: the tickets, or the refusal's error. When the caller's signal aborts meanwhile, the
   * wait is cancelled (a reserved token or a queue place is given back), the tickets held are
   * released, and this rejects with the signal's reason.
   */
  private async admitWaiting(
    first: Cores.Strategy.Walk,
    deadlineAt: number | undefined,
    caller: AbortSignal | undefined
  ): Promise<ReadonlyArray<Admitted> | Error> {
    let walked = first
    while (!Cores.Strategy.isAdmitted(walked)) {
      if (walked._tag === "Rejected") return this.refusal(walked.index, walked.rejected)
      const stop = walked
      const maxWait = deadlineAt === undefined ? undefined : Math.max(0, deadlineAt - Date.now())
      const decision = await new Promise<Admitted | Cores.Strategy.Rejected | undefined>((resolve) => {
        let done = false
        let onAbort: (() => void) | undefined
        const cancel = stop.wait.start(this.timers, maxWait, (decided) => {
          done = true
          if (onAbort !== undefined) caller?.removeEventListener("abort", onAbort)
          resolve(decided)
        })
        if (done || caller === undefined) return
        onAbort = () => {
          done = true
          cancel()
          resolve(undefined)
        }
        if (caller.aborted) onAbort()
        else caller.addEventListener("abort", onAbort, { once: true })
      })
      if (decision === undefined) {
        Cores.Strategy.release(stop.tickets, Date.now())
        throw caller?.reason
      }
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
    withSignal: boolean,
    caller: AbortSignal | undefined
  ): Promise<A> {
    const started = Date.now()
    const timer = Cores.Timeout.timerFor(started, deadlineAt, this.settings.attemptTimeoutMillis)
    const controller = withSignal ? new AbortController() : undefined
    const signal = controller === undefined ? neverAborted : controller.signal
    if (timer === undefined && caller === undefined) return Promise.resolve().then(() => evaluate(signal))
    return new Promise<A>((resolve, reject) => {
      let cancelTimer: (() => void) | undefined
      let onAbort: (() => void) | undefined
      /** Ends the attempt's watch: its timer, and its listener on the caller's signal. */
      const finish = (): void => {
        if (cancelTimer !== undefined) cancelTimer()
        if (onAbort !== undefined) caller?.removeEventListener("abort", onAbort)
      }
      if (caller !== undefined) {
        // the caller gave up: the attempt's signal is aborted with the caller's reason, and the
        // attempt ends at once (execute settles it neutral, as an interrupted attempt)
        onAbort = () => {
          finish()
          controller?.abort(caller.reason)
          reject(caller.reason)
        }
        if (caller.aborted) {
          reject(caller.reason)
          return
        }
        caller.addEventListener("abort", onAbort, { once: true })
      }
      if (timer !== undefined) {
        cancelTimer = this.timers.arm(timer.millis, () => {
          cancelTimer = undefined
          finish()
          const error =
            timer.kind === "deadline"
              ? new DeadlineExceededError(this.settings.operation, this.settings.deadlineMillis ?? timer.millis)
              : new AttemptTimeoutError(this.settings.operation, attempt, timer.millis)
          controller?.abort(error)
          reject(error)
        })
      }
      // started at once, as a direct call would be (admission did not wait): a throw is a rejection
      let result: PromiseLike<A>
      try {
        result = evaluate(signal)
      } catch (error) {
        finish()
        reject(error)
        return
      }
      Promise.resolve(result).then(
        (value) => {
          finish()
          resolve(value)
        },
        (error: unknown) => {
          finish()
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
    if (error instanceof RateLimitedError && this.settings.rateLimited !== undefined) {
      const base = this.settings.rateLimited
      return error.retryAfterMillis > 0 ? { ...base, retryAfterMillis: error.retryAfterMillis } : base
    }
    return this.classify(error)
  }

  /**
   * Runs a call: attempts until one succeeds or the retry decision stops. `withSignal: false` for
   * an operation that ignores its signal (`resilient(fn)`): it gets one that never aborts.
   */
  async execute<A>(
    evaluate: (signal: AbortSignal) => PromiseLike<A>,
    withSignal = true,
    caller?: AbortSignal | undefined
  ): Promise<A> {
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
      // the caller gave up (during a backoff, say): nothing more starts
      if (caller?.aborted) throw caller.reason
      made += 1
      const admission = this.admit(deadlineAt, caller)
      const admitted = admission instanceof Promise ? await admission : admission
      let error: unknown
      let classification: Classification
      if (admitted instanceof Error) {
        error = admitted
        classification = this.classifyFailure(error)
        // as in the Effect pipeline (Retry.reachedAttempts), a refusal counts against maxAttempts
        // unless an open breaker made it: waiting for the breaker's probe is bounded by the deadline
        if (!(error instanceof CircuitOpenError)) reached += 1
      } else {
        reached += 1
        const attemptStart = Date.now()
        try {
          const value = await this.attempt(evaluate, made, deadlineAt, withSignal, caller)
          const now = Date.now()
          Cores.Strategy.settleAll(admitted, Cores.Strategy.success, now - attemptStart, now)
          budget?.onSuccess(made === 1, lastRetry)
          return value
        } catch (failure) {
          error = failure
        }
        const now = Date.now()
        if (caller?.aborted) {
          // an attempt the caller gave up says nothing about the dependency: neutral, as an
          // interrupted attempt on the Effect side (a slot is freed, nothing is counted)
          Cores.Strategy.release(admitted, now)
          throw error
        }
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
      await (caller === undefined ? sleep(delay) : sleepUnlessAborted(delay, caller))
    }
  }
}
