/**
 * The pipeline: one protected call through fallback, deadline, retry, hedging, breaker, bulkhead,
 * attempt timeout and the operation, with one Classification per failure.
 *
 * The success path is kept to what it must do: read the clock, ask the breaker and bulkhead
 * synchronously, run the operation (one `Effect.async` for a Promise operation), record the
 * outcome synchronously and update pre-resolved metric hooks. No fiber, no retry driver, no span
 * unless a tracer other than Effect's default is installed.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Duration from "effect/Duration"
import * as Exit from "effect/Exit"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import { UnknownException } from "effect/Cause"
import * as Bulkhead from "../Bulkhead.js"
import * as CircuitBreaker from "../CircuitBreaker.js"
import type { Classification } from "../Classification.js"
import { Classifier } from "../Classifier.js"
import * as Deadline from "../Deadline.js"
import { AttemptTimeout, BulkheadRejected, DeadlineExceeded, RateLimited } from "../Errors.js"
import * as Events from "../Events.js"
import * as Hedging from "../Hedging.js"
import type * as Resilience from "../Resilience.js"
import * as RateLimiter from "../RateLimiter.js"
import * as RetryPolicy from "../RetryPolicy.js"
import * as RetryBudget from "../RetryBudget.js"
import { effectWithTimer, type PromiseAttempt, promiseWithTimer, startPromise } from "./attempt.js"
import * as Metrics from "./metrics.js"
import { spanEvent } from "./retryPolicy.js"

/** The tracer of Effect's default services: spans made for it are read by nobody. */
const defaultTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

type Classify = (failure: unknown) => Classification

/** Classifies each failure once, however many layers ask (objects are remembered weakly). */
const memoize = (classify: Classify): Classify => {
  const seen = new WeakMap<object, Classification>()
  return (failure) => {
    if (typeof failure !== "object" || failure === null) return classify(failure)
    const known = seen.get(failure)
    if (known !== undefined) return known
    const c = classify(failure)
    seen.set(failure, c)
    return c
  }
}

/** Runs an admitted attempt: with the breaker's permit (if any), whether it holds a bulkhead slot, and when it started. */
type RunAttempt<A, E, R> = (
  permit: CircuitBreaker.Permit | undefined,
  holdsSlot: boolean,
  start: number
) => Effect.Effect<A, E | AttemptTimeout | DeadlineExceeded, R>

/** @internal */
export const make = (policy: Resilience.Policy): Effect.Effect<Resilience.Pipeline, never, Classifier | Scope.Scope> =>
  Effect.gen(function* () {
    const operation = policy.operation
    const classifier = yield* Classifier
    const classify = memoize(classifier.classify)
    const memoClassifier: Context.Tag.Service<Classifier> = { classify }
    const clock: Clock.Clock = yield* Effect.clock
    const tracer = yield* Effect.tracer
    const tracing = tracer !== defaultTracer
    const metrics = Metrics.forOperation(operation)

    // breaker: from the registry in context when there is one (shared by name), else our own
    let breaker: CircuitBreaker.CircuitBreaker | undefined
    if (policy.breaker !== false) {
      const { name, ...config } = policy.breaker
      const breakerName = name ?? operation
      const registry = yield* Effect.serviceOption(CircuitBreaker.CircuitBreakerRegistry)
      breaker = Option.isSome(registry)
        ? yield* registry.value.get(breakerName, { ...config, name: breakerName })
        : yield* CircuitBreaker.make({ ...config, name: breakerName })
    }

    const bulkhead: Bulkhead.BulkheadService | undefined =
      policy.bulkhead === false
        ? undefined
        : yield* Bulkhead.make({ ...policy.bulkhead, name: policy.bulkhead.name ?? operation })

    const limiter =
      policy.rateLimit === false
        ? undefined
        : yield* RateLimiter.make({ ...policy.rateLimit, name: policy.rateLimit.name ?? operation })

    const budgetService = yield* Effect.serviceOption(RetryBudget.RetryBudget)
    const budget = Option.getOrUndefined(budgetService)
    const budgetGauge = budget === undefined ? undefined : Metrics.budgetGauge(budget.name)
    if (budget !== undefined && budgetGauge !== undefined) {
      // tokens change on every call (refunds): sample them rather than pay per call
      budgetGauge(budget.available())
      yield* Effect.forkScoped(
        Effect.repeat(
          Effect.sync(() => budgetGauge(budget.available())),
          Schedule.spaced("1 second")
        )
      )
    }

    const retryPolicy: RetryPolicy.RetryPolicy | undefined =
      policy.retry === false ? undefined : RetryPolicy.fromConfig(operation, policy.retry, { budget })

    const attemptTimeoutMillis = policy.attemptTimeoutMillis === false ? undefined : policy.attemptTimeoutMillis
    const deadlineMillis = policy.deadlineMillis

    /** The timer of one attempt: the attempt timeout or the deadline, whichever comes first. */
    const timerFor = (
      nowMillis: number,
      deadline: Option.Option<number>,
      attempt: number
    ): { readonly millis: number | undefined; readonly onTimeout: () => AttemptTimeout | DeadlineExceeded } => {
      const left = Option.isSome(deadline) ? Math.max(0, deadline.value - nowMillis) : undefined
      if (left !== undefined && (attemptTimeoutMillis === undefined || left <= attemptTimeoutMillis)) {
        return {
          millis: left,
          onTimeout: () => new DeadlineExceeded({ operation, deadlineMillis: deadlineMillis ?? left })
        }
      }
      return {
        millis: attemptTimeoutMillis,
        onTimeout: () => new AttemptTimeout({ operation, attempt, timeoutMillis: attemptTimeoutMillis ?? 0 })
      }
    }

    /** Records the outcome of one attempt synchronously. */
    const settle = (
      exit: Exit.Exit<unknown, unknown> | undefined,
      permit: CircuitBreaker.Permit | undefined,
      holdsSlot: boolean,
      start: number,
      callStart: number
    ): void => {
      const end = clock.unsafeCurrentTimeMillis()
      if (holdsSlot && bulkhead !== undefined) bulkhead.release()
      if (exit !== undefined && Exit.isSuccess(exit)) {
        if (breaker !== undefined && permit !== undefined) breaker.onSuccess(permit, end - start, end)
        metrics.success()
        metrics.latency((end - callStart) / 1000)
        return
      }
      if (breaker === undefined || permit === undefined) return
      if (exit === undefined || Cause.isInterruptedOnly(exit.cause)) {
        breaker.onNeutral(permit)
        return
      }
      const failure = Cause.failureOption(exit.cause)
      const classification = classify(Option.isSome(failure) ? failure.value : Cause.squash(exit.cause))
      breaker.onFailure(permit, classification, end - start, end)
    }

    const releasePermit = (permit: CircuitBreaker.Permit | undefined) =>
      Effect.sync(() => {
        if (breaker !== undefined && permit !== undefined) breaker.onNeutral(permit)
      })

    const rejectedByBulkhead = (permit: CircuitBreaker.Permit | undefined, reason: "full" | "queue-timeout") => {
      if (breaker !== undefined && permit !== undefined) breaker.onNeutral(permit)
      const name = bulkhead?.name ?? operation
      return rejected("bulkhead", name, reason, new BulkheadRejected({ bulkhead: name, reason }))
    }

    const rejectedByBreaker = (b: CircuitBreaker.CircuitBreaker, rejection: CircuitBreaker.Rejection) =>
      rejected("breaker", b.name, rejection.state, b.rejectionError(rejection))

    /** A call refused before it ran: counted, published, and an event on the span when traced. */
    const rejected = <E>(component: "breaker" | "bulkhead" | "rate-limit", name: string, reason: string, error: E) => {
      metrics.rejected(component)
      const published = Events.publish(Events.ResilienceEvent.Rejected({ component, name, reason }))
      const traced = tracing
        ? Effect.zipRight(
            published,
            spanEvent("resilience.rejected", {
              "resilience.operation": operation,
              "resilience.component": component,
              "resilience.name": name,
              "resilience.reason": reason
            })
          )
        : published
      return Effect.zipRight(traced, Effect.fail(error))
    }

    /**
     * When traced, an attempt during which the breaker changed state leaves an event on the span
     * (transitions happen synchronously as outcomes are recorded).
     */
    const watched = <A, E, R>(attempt: Effect.Effect<A, E, R>, start: number): Effect.Effect<A, E, R> => {
      if (!tracing || breaker === undefined) return attempt
      const before = breaker.snapshotAt(start).state
      return Effect.onExit(attempt, () => {
        const after = breaker.snapshotAt(clock.unsafeCurrentTimeMillis()).state
        return after === before
          ? Effect.void
          : spanEvent("resilience.breaker.transition", {
              "resilience.breaker": breaker.name,
              "resilience.from": before,
              "resilience.to": after
            })
      })
    }

    /**
     * Admission common to both kinds of operation: the breaker, the rate limit, then the
     * bulkhead. Returns the run of the attempt, or a rejection.
     */
    const admit = <A, E, R>(run: RunAttempt<A, E, R>): Effect.Effect<A, E | Resilience.AttemptError, R> => {
      metrics.attempt()
      const start = clock.unsafeCurrentTimeMillis()
      let permit: CircuitBreaker.Permit | undefined
      if (breaker !== undefined) {
        const decision = breaker.tryAcquire(start)
        if (decision._tag === "Rejection") return rejectedByBreaker(breaker, decision)
        permit = decision
      }
      if (limiter !== undefined) {
        const wait = limiter.tryConsume(operation)
        if (wait < 0) {
          if (breaker !== undefined && permit !== undefined) breaker.onNeutral(permit)
          return rejected(
            "rate-limit",
            limiter.name,
            "exceeded",
            new RateLimited({ limiter: limiter.name, retryAfterMillis: -wait })
          )
        }
        if (wait > 0) {
          // the token is reserved: wait for it, then go on to the bulkhead (an interrupted wait
          // gives the breaker's permit back: a half-open probe slot must never leak)
          return Effect.zipRight(
            Effect.onInterrupt(Effect.sleep(Duration.millis(wait)), () => releasePermit(permit)),
            Effect.suspend(() => afterRateLimit(permit, clock.unsafeCurrentTimeMillis(), run))
          )
        }
      }
      return afterRateLimit(permit, start, run)
    }

    const afterRateLimit = <A, E, R>(
      permit: CircuitBreaker.Permit | undefined,
      start: number,
      run: RunAttempt<A, E, R>
    ): Effect.Effect<A, E | Resilience.AttemptError, R> => {
      if (bulkhead === undefined || bulkhead.tryAcquire())
        return watched(run(permit, bulkhead !== undefined, start), start)
      if (bulkhead.maxQueue === 0) return rejectedByBulkhead(permit, "full")
      // Wait in the bulkhead's queue; the slot it hands over is released by withPermit. Until the
      // attempt starts, a rejection or an interruption gives the breaker's permit back.
      let started = false
      const queued = bulkhead.withPermit(
        Effect.suspend(() => {
          started = true
          return watched(run(permit, false, clock.unsafeCurrentTimeMillis()), start)
        })
      )
      return Effect.catchIf(
        Effect.onInterrupt(queued, () => (started ? Effect.void : releasePermit(permit))),
        (e): e is BulkheadRejected => !started && e instanceof BulkheadRejected,
        (e) => rejectedByBulkhead(permit, e.reason === "full" ? "full" : "queue-timeout")
      )
    }

    /** What one call knows: when it started and its deadline (inherited or its own). */
    interface CallState {
      readonly start: number
      readonly startNanos: bigint
      readonly deadline: Option.Option<number>
    }

    /** One attempt of an Effect operation. Runs admission at once: call it when the attempt starts. */
    const attemptEffect = <A, E, R>(
      self: Effect.Effect<A, E, R>,
      call: CallState,
      attempt: number
    ): Effect.Effect<A, E | Resilience.AttemptError, R> =>
      admit<A, E, R>((permit, holdsSlot, start) => {
        const timer = timerFor(start, call.deadline, attempt)
        if (timer.millis === undefined) {
          return Effect.onExit(self, (exit) => Effect.sync(() => settle(exit, permit, holdsSlot, start, call.start)))
        }
        return effectWithTimer(self, clock, timer.millis, timer.onTimeout, (exit) =>
          settle(exit, permit, holdsSlot, start, call.start)
        )
      })

    const promiseAttemptOptions = <A, E>(
      evaluate: (signal: AbortSignal) => PromiseLike<A>,
      onError: (error: unknown) => E,
      call: CallState,
      attempt: number,
      permit: CircuitBreaker.Permit | undefined,
      holdsSlot: boolean,
      start: number
    ): PromiseAttempt<A, E, AttemptTimeout | DeadlineExceeded> => {
      const timer = timerFor(start, call.deadline, attempt)
      return {
        evaluate,
        wantsSignal: evaluate.length > 0,
        onError,
        clock,
        millis: timer.millis,
        onTimeout: timer.onTimeout,
        settle: (exit) => settle(exit, permit, holdsSlot, start, call.start)
      }
    }

    /** One attempt of a Promise operation. Runs admission at once: call it when the attempt starts. */
    const attemptPromise = <A, E>(
      evaluate: (signal: AbortSignal) => PromiseLike<A>,
      onError: (error: unknown) => E,
      call: CallState,
      attempt: number
    ): Effect.Effect<A, E | Resilience.AttemptError> =>
      admit<A, E, never>((permit, holdsSlot, start) =>
        promiseWithTimer(promiseAttemptOptions(evaluate, onError, call, attempt, permit, holdsSlot, start))
      )

    /** Ends a span for the first attempt after the fact: it was not worth a span until it failed. */
    const firstAttemptSpan = (callStartNanos: bigint, classification: Classification) =>
      Effect.flatMap(Effect.serviceOption(Tracer.ParentSpan), (parent) =>
        Effect.sync(() => {
          const span = tracer.span(
            `resilience.attempt ${operation}`,
            parent,
            Context.empty(),
            [],
            callStartNanos,
            "internal"
          )
          span.attribute("resilience.operation", operation)
          span.attribute("resilience.attempt", 1)
          span.attribute("resilience.category", classification.category)
          span.attribute("resilience.code", classification.code)
          span.end(clock.unsafeCurrentTimeNanos(), Exit.fail(classification.message))
        })
      )

    const onRetry = (call: CallState) => (attemptNumber: number, classification: Classification) => {
      metrics.retry(classification.category)
      if (budget !== undefined && budgetGauge !== undefined) budgetGauge(budget.available())
      return tracing && attemptNumber === 1 ? firstAttemptSpan(call.startNanos, classification) : Effect.void
    }

    /**
     * Retry (or not) around attempts. `attempt(n)` runs admission when called, so the first is
     * called now (the call is starting) and later ones lazily. Attempt spans only from the second.
     */
    const withRetry = <A, E, R>(
      attempt: (n: number) => Effect.Effect<A, E, R>,
      call: CallState
    ): Effect.Effect<A, E | Resilience.RetryError, R> => {
      const run = policy.hedging === undefined ? attempt : (n: number) => hedged(Effect.suspend(() => attempt(n)))
      if (retryPolicy === undefined) return Effect.tapErrorCause(run(1), () => Effect.sync(metrics.failure))
      let n = 1
      const next = Effect.suspend(() => {
        n += 1
        const effect = run(n)
        return tracing
          ? Effect.withSpan(effect, `resilience.attempt ${operation}`, {
              attributes: { "resilience.operation": operation, "resilience.attempt": n },
              captureStackTrace: false
            })
          : effect
      })
      const retryPolicyE: RetryPolicy.RetryPolicy<E, never> = retryPolicy
      return RetryPolicy.retryWith(run(1), retryPolicyE, memoClassifier, {
        next,
        onRetry: onRetry(call),
        onGiveUp: metrics.failure
      })
    }

    const hedged = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      policy.hedging === undefined
        ? self
        : Hedging.hedge(self, {
            delay: policy.hedging.delayMillis,
            maxHedges: policy.hedging.maxHedges,
            operation,
            ...(tracing
              ? {
                  onHedge: (hedge: number) =>
                    spanEvent("resilience.hedge", { "resilience.operation": operation, "resilience.hedge": hedge })
                }
              : {})
          })

    /** Starts a call: reads the clock and the deadline once, sets the pipeline's own deadline, opens the span. */
    const call = <A, E, R>(body: (call: CallState) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
      const run = Effect.withFiberRuntime<A, E, R>((fiber) => {
        const start = clock.unsafeCurrentTimeMillis()
        const inherited = fiber.getFiberRef(Deadline.currentDeadline)
        if (deadlineMillis === undefined) {
          return body({ start, startNanos: tracing ? clock.unsafeCurrentTimeNanos() : 0n, deadline: inherited })
        }
        const own = start + deadlineMillis
        const deadline = Option.some(Option.isSome(inherited) ? Math.min(inherited.value, own) : own)
        return Effect.locally(
          body({ start, startNanos: tracing ? clock.unsafeCurrentTimeNanos() : 0n, deadline }),
          Deadline.currentDeadline,
          deadline
        )
      })
      return tracing
        ? Effect.withSpan(run, `resilience ${operation}`, {
            attributes: spanAttributes,
            // a stack trace per call costs more than the call; the operation name says where
            captureStackTrace: false
          })
        : run
    }

    const spanAttributes: Record<string, unknown> =
      breaker === undefined
        ? { "resilience.operation": operation }
        : { "resilience.operation": operation, "resilience.breaker": breaker.name }

    const protect = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | Resilience.PipelineError, R> =>
      call((state) => withRetry((n) => attemptEffect(self, state, n), state))

    const promiseCall = <A, E>(
      evaluate: (signal: AbortSignal) => PromiseLike<A>,
      onError: (error: unknown) => E
    ): Effect.Effect<A, E | Resilience.PipelineError> =>
      call((state) => withRetry((n) => attemptPromise(evaluate, onError, state, n), state))

    const unknownException = (error: unknown) => new UnknownException(error)

    function tryPromise<A>(
      evaluate: (signal: AbortSignal) => PromiseLike<A>
    ): Effect.Effect<A, UnknownException | Resilience.PipelineError>
    function tryPromise<A, E>(options: {
      readonly try: (signal: AbortSignal) => PromiseLike<A>
      readonly catch: (error: unknown) => E
    }): Effect.Effect<A, E | Resilience.PipelineError>
    function tryPromise<A, E>(
      arg:
        | ((signal: AbortSignal) => PromiseLike<A>)
        | { readonly try: (signal: AbortSignal) => PromiseLike<A>; readonly catch: (error: unknown) => E }
    ): Effect.Effect<A, E | UnknownException | Resilience.PipelineError> {
      return typeof arg === "function"
        ? promiseCall<A, UnknownException>(arg, unknownException)
        : promiseCall<A, E>(arg.try, arg.catch)
    }

    const runtime = yield* Effect.runtime<never>()
    const runExit = Runtime.runPromiseExit(runtime)
    const toPromise = <A>(effect: Effect.Effect<A, unknown>): Promise<A> =>
      runExit(effect).then((exit) => (Exit.isSuccess(exit) ? exit.value : Promise.reject(Cause.squash(exit.cause))))

    /**
     * For callers outside Effect. The first attempt runs without a fiber when nothing needs one
     * (no tracer, no hedging, a free slot, an admitting breaker); anything else (a rejection, a
     * queue wait, a retry) continues in the pipeline's Effect runtime.
     */
    const runPromise = <A>(evaluate: (signal: AbortSignal) => PromiseLike<A>): Promise<A> => {
      if (tracing || policy.hedging !== undefined || deadlineMillis !== undefined || limiter !== undefined) {
        return toPromise(promiseCall(evaluate, identity))
      }
      const start = clock.unsafeCurrentTimeMillis()
      let permit: CircuitBreaker.Permit | undefined
      if (breaker !== undefined) {
        const decision = breaker.tryAcquire(start)
        if (decision._tag === "Rejection") return toPromise(promiseCall(evaluate, identity))
        permit = decision
      }
      if (bulkhead !== undefined && !bulkhead.tryAcquire()) {
        if (breaker !== undefined && permit !== undefined) breaker.onNeutral(permit)
        return toPromise(promiseCall(evaluate, identity))
      }
      metrics.attempt()
      const state: CallState = { start, startNanos: 0n, deadline: Option.none() }
      return new Promise<A>((resolve, reject) => {
        startPromise(
          promiseAttemptOptions(evaluate, identity, state, 1, permit, bulkhead !== undefined, start),
          (exit) => {
            if (Exit.isSuccess(exit)) return resolve(exit.value)
            if (retryPolicy === undefined) {
              metrics.failure()
              return reject(Cause.squash(exit.cause))
            }
            let n = 1
            const next = Effect.suspend(() => {
              n += 1
              return attemptPromise(evaluate, identity, state, n)
            })
            toPromise(
              RetryPolicy.retryWith<A, unknown, never, never>(
                Exit.mapError(exit, identity),
                retryPolicy,
                memoClassifier,
                {
                  next,
                  onRetry: onRetry(state),
                  onGiveUp: metrics.failure
                }
              )
            ).then(resolve, reject)
          }
        )
      })
    }

    return {
      operation,
      policy,
      breaker,
      bulkhead,
      protect,
      tryPromise,
      runPromise
    }
  })
