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
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { UnknownException } from "effect/Cause"
import * as Bulkhead from "../Bulkhead.js"
import * as CircuitBreaker from "../CircuitBreaker.js"
import type { Classification } from "../Classification.js"
import { Classifier } from "../Classifier.js"
import * as Deadline from "../Deadline.js"
import { AttemptTimeout, BulkheadRejected, DeadlineExceeded } from "../Errors.js"
import * as Events from "../Events.js"
import * as Hedging from "../Hedging.js"
import type * as Resilience from "../Resilience.js"
import * as RetryPolicy from "../RetryPolicy.js"
import * as RetryBudget from "../RetryBudget.js"
import { effectWithTimer, promiseWithTimer } from "./attempt.js"
import * as Metrics from "./metrics.js"

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
      const gauges = Metrics.breakerGauges(breakerName)
      gauges.state(Metrics.breakerStateValue.closed ?? 0)
      yield* Effect.forkScoped(
        Stream.runForEach(breaker.transitions, (t) =>
          Effect.sync(() => {
            gauges.state(Metrics.breakerStateValue[t.to] ?? -1)
            gauges.transition(t.from, t.to)
          })
        )
      )
    }

    const bulkhead: Bulkhead.BulkheadService | undefined =
      policy.bulkhead === false
        ? undefined
        : yield* Bulkhead.make({ ...policy.bulkhead, name: policy.bulkhead.name ?? operation })

    const budgetService = yield* Effect.serviceOption(RetryBudget.RetryBudget)
    const budget = Option.getOrUndefined(budgetService)

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

    const rejectedByBulkhead = (permit: CircuitBreaker.Permit | undefined, reason: "full" | "queue-timeout") => {
      if (breaker !== undefined && permit !== undefined) breaker.onNeutral(permit)
      metrics.rejected("bulkhead")
      return Events.publish(
        Events.ResilienceEvent.Rejected({ component: "bulkhead", name: bulkhead?.name ?? operation, reason })
      ).pipe(Effect.zipRight(Effect.fail(new BulkheadRejected({ bulkhead: bulkhead?.name ?? operation, reason }))))
    }

    /**
     * Admission common to both kinds of operation: the breaker, then the bulkhead. Returns the
     * run of the attempt, or a rejection.
     */
    const admit = <A, E, R>(
      run: (
        permit: CircuitBreaker.Permit | undefined,
        holdsSlot: boolean,
        start: number
      ) => Effect.Effect<A, E | AttemptTimeout | DeadlineExceeded, R>
    ): Effect.Effect<A, E | Resilience.AttemptError, R> => {
      metrics.attempt()
      const start = clock.unsafeCurrentTimeMillis()
      let permit: CircuitBreaker.Permit | undefined
      if (breaker !== undefined) {
        const decision = breaker.tryAcquire(start)
        if (decision._tag === "Rejection") {
          metrics.rejected("breaker")
          return Effect.fail(breaker.rejectionError(decision))
        }
        permit = decision
      }
      if (bulkhead === undefined || bulkhead.tryAcquire()) return run(permit, bulkhead !== undefined, start)
      if (bulkhead.maxQueue === 0) return rejectedByBulkhead(permit, "full")
      // Wait in the bulkhead's queue; the slot it hands over is released by withPermit.
      return Effect.catchIf(
        bulkhead.withPermit(Effect.suspend(() => run(permit, false, clock.unsafeCurrentTimeMillis()))),
        (e): e is BulkheadRejected => e instanceof BulkheadRejected,
        (e) => rejectedByBulkhead(permit, e.reason === "full" ? "full" : "queue-timeout")
      )
    }

    const attemptEffect = <A, E, R>(
      self: Effect.Effect<A, E, R>,
      callStart: number,
      attempt: number
    ): Effect.Effect<A, E | Resilience.AttemptError, R> =>
      Effect.withFiberRuntime((fiber) =>
        admit<A, E, R>((permit, holdsSlot, start) => {
          const deadline = fiber.getFiberRef(Deadline.currentDeadline)
          const timer = timerFor(start, deadline, attempt)
          const timed = timer.millis === undefined ? self : effectWithTimer(self, clock, timer.millis, timer.onTimeout)
          return Effect.onExit(timed, (exit) => Effect.sync(() => settle(exit, permit, holdsSlot, start, callStart)))
        })
      )

    const attemptPromise = <A, E>(
      evaluate: (signal: AbortSignal) => PromiseLike<A>,
      onError: (error: unknown) => E,
      callStart: number,
      attempt: number
    ): Effect.Effect<A, E | Resilience.AttemptError> =>
      Effect.withFiberRuntime((fiber) =>
        admit<A, E, never>((permit, holdsSlot, start) => {
          const deadline = fiber.getFiberRef(Deadline.currentDeadline)
          const timer = timerFor(start, deadline, attempt)
          return promiseWithTimer<A, E, AttemptTimeout | DeadlineExceeded>({
            evaluate,
            wantsSignal: evaluate.length > 0,
            onError,
            clock,
            millis: timer.millis,
            onTimeout: timer.onTimeout,
            settle: (exit) => settle(exit, permit, holdsSlot, start, callStart)
          })
        })
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

    /** Retry (or not) around attempts; attempt spans only once a second attempt is needed. */
    const withRetry = <A, E, R>(
      attempt: (n: number) => Effect.Effect<A, E, R>,
      callStartNanos: bigint
    ): Effect.Effect<A, E | Resilience.RetryError, R> => {
      const counted = <E2>(effect: Effect.Effect<A, E2, R>) =>
        Effect.tapErrorCause(effect, () => Effect.sync(metrics.failure))
      if (retryPolicy === undefined) return counted(attempt(1))
      let n = 1
      const next = Effect.suspend(() => {
        n += 1
        const run = attempt(n)
        return tracing
          ? Effect.withSpan(run, `resilience.attempt ${operation}`, {
              attributes: { "resilience.operation": operation, "resilience.attempt": n }
            })
          : run
      })
      const policy: RetryPolicy.RetryPolicy<E, never> = retryPolicy
      return counted(
        RetryPolicy.retryWith(attempt(1), policy, memoClassifier, {
          next,
          onRetry: (attemptNumber, classification) => {
            metrics.retry(classification.category)
            return tracing && attemptNumber === 1 ? firstAttemptSpan(callStartNanos, classification) : Effect.void
          }
        })
      )
    }

    const hedged = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      policy.hedging === undefined
        ? self
        : Hedging.hedge(self, { delay: policy.hedging.delayMillis, maxHedges: policy.hedging.maxHedges })

    /** Wraps the whole call: deadline, span. */
    const call = <A, E, R>(body: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
      let wrapped = body
      if (deadlineMillis !== undefined) wrapped = Deadline.propagate(wrapped, deadlineMillis)
      if (tracing) {
        wrapped = Effect.withSpan(wrapped, `resilience ${operation}`, {
          attributes: {
            "resilience.operation": operation,
            ...(breaker === undefined ? {} : { "resilience.breaker": breaker.name })
          }
        })
      }
      return wrapped
    }

    const protect = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | Resilience.PipelineError, R> =>
      Effect.suspend(() => {
        const callStart = clock.unsafeCurrentTimeMillis()
        const callStartNanos = tracing ? clock.unsafeCurrentTimeNanos() : 0n
        return call(withRetry((n) => hedged(attemptEffect(self, callStart, n)), callStartNanos))
      })

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
      const evaluate = typeof arg === "function" ? arg : arg.try
      const onError: (error: unknown) => E | UnknownException =
        typeof arg === "function" ? (error) => new UnknownException(error) : arg.catch
      return Effect.suspend(() => {
        const callStart = clock.unsafeCurrentTimeMillis()
        const callStartNanos = tracing ? clock.unsafeCurrentTimeNanos() : 0n
        return call(
          withRetry(
            (n) => hedged(attemptPromise<A, E | UnknownException>(evaluate, onError, callStart, n)),
            callStartNanos
          )
        )
      })
    }

    return {
      operation,
      policy,
      breaker,
      bulkhead,
      protect,
      tryPromise
    }
  })
