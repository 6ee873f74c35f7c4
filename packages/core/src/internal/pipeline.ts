/**
 * The pipeline: one protected call through deadline, retry (with its budget), hedging, the
 * admission strategies the policy names (walked as a list: the pipeline knows none of them), the
 * attempt timeout and the operation, with one Classification per failure.
 *
 * The success path is kept to what it must do: read the clock, walk the strategies synchronously,
 * run the operation (one `Effect.async` for a Promise operation), settle the tickets and update
 * pre-resolved metric hooks. No fiber, no retry driver, no span unless a tracer other than Effect's
 * default is installed.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
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
import { AttemptTimeout, DeadlineExceeded, type RetriesExhausted, type RetryBudgetExhausted } from "../Errors.js"
import * as Events from "../Events.js"
import * as Log from "../Log.js"
import * as LogLevel from "effect/LogLevel"
import * as Hedging from "../Hedging.js"
import type * as Recovery from "../Recovery.js"
import type * as Resilience from "../Resilience.js"
import * as RetryBudget from "../RetryBudget.js"
import * as RetryPolicy from "../RetryPolicy.js"
import * as Admission from "./admission.js"
import { effectWithTimer, type PromiseAttempt, promiseWithTimer, startPromise } from "./attempt.js"
import * as Metrics from "./metrics.js"
import {
  type Hooks,
  type Retrying,
  RetryRun,
  retryAfter,
  retryWith,
  spanEvent,
  stepsWithoutEffect,
  unobserved
} from "./retryPolicy/retry.js"
import * as binding from "./strategy/binding.js"
import * as core from "./strategy/core.js"
import * as TimeoutCore from "./timeout/core.js"
import { unsafeConstruct } from "./construct.js"

type Classify = (failure: unknown) => Classification

/** Classifies each failure once, however many strategies ask (objects are remembered weakly). */
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

/**
 * What one call knows: when it started and its deadline (inherited or its own).
 *
 * The objects made per call are instances of classes, not object literals: V8 may decide to
 * allocate a literal's objects in the old generation (allocation-site pretenuring) after a few of
 * them survived a scavenge, and a pretenured per-call object costs every call an old-space
 * allocation and the garbage a mark-compact must sweep (about a third of a call, measured).
 */
class CallState {
  constructor(
    readonly start: number,
    readonly startNanos: bigint,
    readonly deadline: Option.Option<number>
  ) {}
}

/** Settles one attempt of a call (the pipeline's `settle`). */
type Settle = (
  exit: Exit.Exit<unknown, unknown> | undefined,
  tickets: ReadonlyArray<core.Admitted>,
  start: number,
  callStart: number
) => void

/** One attempt of a Promise operation, as `startPromise` runs it (a class: see {@link CallState}). */
class PromiseAttemptOf<A, E> implements PromiseAttempt<A, E, AttemptTimeout | DeadlineExceeded> {
  readonly wantsSignal: boolean
  constructor(
    readonly evaluate: (signal: AbortSignal) => PromiseLike<A>,
    readonly onError: (error: unknown) => E,
    readonly timers: core.Timers,
    readonly millis: number | undefined,
    readonly onTimeout: () => AttemptTimeout | DeadlineExceeded,
    private readonly settleWith: Settle,
    private readonly tickets: ReadonlyArray<core.Admitted>,
    readonly startMillis: number,
    private readonly callStart: number
  ) {
    this.wantsSignal = evaluate.length > 0
  }
  settle(exit: Exit.Exit<A, E | AttemptTimeout | DeadlineExceeded> | undefined): void {
    this.settleWith(exit, this.tickets, this.startMillis, this.callStart)
  }
}

/**
 * Where a call retried outside the Effect run loop ends (its value, a failure the Effect loop
 * would not retry, or the Effect loop itself from a decision on), and where each of its steps
 * runs.
 */
interface Sink<A, E> {
  readonly failCause: (cause: Cause.Cause<E>) => void
  readonly handOver: (effect: Effect.Effect<A, E | RetriesExhausted | RetryBudgetExhausted>) => void
  /** The attempt after retry `decided` succeeded with `a`: the run is told, the call ends. */
  readonly succeeded: (run: RetryRun<A, E, never, never>, decided: Retrying, a: A) => void
  /**
   * Runs `step` (the decision on a failed attempt, and the start of the next one) where the
   * Effect loop would run it. `step` returns the canceller of the attempt it started, when that
   * attempt takes the signal and is still under way.
   */
  readonly next: (step: () => (() => void) | undefined) => void
}

/**
 * A `runPromise` call's end: its Promise; the Effect loop it hands over to runs in a fiber of the
 * pipeline's runtime. Nothing can interrupt the call, so its steps run at once.
 */
class PromiseSink<A> implements Sink<A, unknown> {
  constructor(
    private readonly resolve: (a: A) => void,
    private readonly reject: (error: unknown) => void,
    private readonly toPromise: (effect: Effect.Effect<A, unknown>) => Promise<A>
  ) {}
  failCause(cause: Cause.Cause<unknown>): void {
    this.reject(Cause.squash(cause))
  }
  handOver(effect: Effect.Effect<A, unknown>): void {
    this.toPromise(effect).then(this.resolve, this.reject)
  }
  succeeded(run: RetryRun<A, unknown, never, never>, decided: Retrying, a: A): void {
    run.succeeded(decided)
    this.resolve(a)
  }
  next(step: () => (() => void) | undefined): void {
    step()
  }
}

/**
 * A `tryPromise` call's end: its fiber, resumed. Each step runs in the fiber (in an
 * `Effect.async` the fiber is resumed with), as the Effect loop's would: an interruption the
 * fiber saw first leaves it unrun, and the attempt it starts is cancelled by an interruption when
 * it takes the signal (else the fiber goes on without it, as with `promiseWithTimer`).
 */
class FiberSink<A, E> implements Sink<A, E> {
  constructor(private resume: (effect: Effect.Effect<A, E | RetriesExhausted | RetryBudgetExhausted>) => void) {}
  failCause(cause: Cause.Cause<E>): void {
    this.resume(Exit.failCause(cause))
  }
  handOver(effect: Effect.Effect<A, E | RetriesExhausted | RetryBudgetExhausted>): void {
    this.resume(effect)
  }
  succeeded(run: RetryRun<A, E, never, never>, decided: Retrying, a: A): void {
    // told in the fiber (an interruption it saw first means no success to count), when it counts
    this.resume(
      run.countsSuccesses
        ? Effect.sync(() => {
            run.succeeded(decided)
            return a
          })
        : Exit.succeed(a)
    )
  }
  next(step: () => (() => void) | undefined): void {
    this.resume(this.stepIn(step))
  }
  /** `step` run in the fiber, which goes on with what the step resumes it with. */
  stepIn(step: () => (() => void) | undefined): Effect.Effect<A, E | RetriesExhausted | RetryBudgetExhausted> {
    return Effect.async((resume) => {
      this.resume = resume
      const cancel = step()
      return cancel === undefined ? undefined : Effect.sync(cancel)
    })
  }
}

/** A call retried outside the Effect run loop: its retrying, its end, its operation and what it read once. */
class Outside<A, E> {
  constructor(
    readonly run: RetryRun<A, E, never, never>,
    readonly sink: Sink<A, E>,
    readonly evaluate: (signal: AbortSignal) => PromiseLike<A>,
    readonly onError: (error: unknown) => E,
    readonly state: CallState,
    /** The deadline the Effect loop would read from the fiber. */
    readonly deadline: Option.Option<number>,
    /** Whether nobody would see a retry's announcement (see `unobserved`). */
    readonly quiet: boolean
  ) {}
}

/** @internal */
export const make = <X>(
  policy: Resilience.Policy,
  extra: ReadonlyArray<binding.Strategy<X>>,
  recovery?: Recovery.Recovery | undefined
): Effect.Effect<Resilience.Pipeline<X>, ParseResult.ParseError, Classifier | Scope.Scope> =>
  Effect.gen(function* () {
    type Refusal = Resilience.AdmissionError | X
    const operation = policy.operation
    const classifier = yield* Classifier
    const classify = memoize(classifier.classify)
    const memoClassifier: Context.Tag.Service<Classifier> = { classify }
    const clock: Clock.Clock = yield* Effect.clock
    const timers = binding.timersFor(clock)
    const tracer = yield* Effect.tracer
    // spans made for the default tracer are read by nobody, and a span costs more than the call
    const tracing = tracer !== Context.get(binding.defaultServices(), Tracer.Tracer)
    const random = core.seededRandom(yield* Effect.randomWith((r) => r.nextIntBetween(0, 2 ** 31)))
    const metrics = Metrics.forOperation(operation)
    const hub = yield* Events.ResilienceEvents
    const log = Log.unsafeMakeEmitter()

    const builtIn = yield* Admission.fromPolicy(policy)
    const strategies: ReadonlyArray<binding.Strategy<Refusal>> = [...builtIn, ...extra]
    const watchedStrategies = strategies.filter((s) => s.stateAt !== undefined)

    const budgetConfig = policy.retryBudget
    const budget =
      budgetConfig === undefined || budgetConfig === false
        ? undefined
        : yield* Effect.flatMap(RetryBudget.Registry, (registry) => {
            const budgetName = budgetConfig.name ?? operation
            return registry.get(budgetName, { ...budgetConfig, name: budgetName })
          })
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
      policy.retry === false ? undefined : RetryPolicy.fromDecoded(operation, policy.retry, { budget })

    const attemptTimeoutMillis = policy.attemptTimeout === false ? undefined : Duration.toMillis(policy.attemptTimeout)
    const deadlineMillis = policy.deadline === undefined ? undefined : Duration.toMillis(policy.deadline)

    /** The timer of one attempt: the attempt timeout or the deadline, whichever comes first. */
    const timerFor = (
      nowMillis: number,
      deadline: Option.Option<number>,
      attempt: number
    ): { readonly millis: number | undefined; readonly onTimeout: () => AttemptTimeout | DeadlineExceeded } => {
      if (Option.isSome(deadline)) {
        // which timer wins is the timeout core's rule, shared with Timeout.protect
        const timer = TimeoutCore.timerFor(nowMillis, deadline.value, attemptTimeoutMillis)
        if (timer !== undefined && timer.kind === "deadline") {
          const left = timer.millis
          return {
            millis: left,
            onTimeout: () => unsafeConstruct(DeadlineExceeded, { operation, deadlineMillis: deadlineMillis ?? left })
          }
        }
      }
      if (attempt === 1) return firstAttemptTimer
      return {
        millis: attemptTimeoutMillis,
        onTimeout: () =>
          unsafeConstruct(AttemptTimeout, { operation, attempt, timeoutMillis: attemptTimeoutMillis ?? 0 })
      }
    }
    /** The first attempt's timer without a deadline: the same for every call, made once. */
    const firstAttemptTimer = {
      millis: attemptTimeoutMillis,
      onTimeout: () =>
        unsafeConstruct(AttemptTimeout, { operation, attempt: 1, timeoutMillis: attemptTimeoutMillis ?? 0 })
    }

    /** A call failed for good: counted by the category of its failure (on the failure path only). */
    const failedWith = (cause: Cause.Cause<unknown>): void => metrics.failure(classify(Cause.squash(cause)).category)
    const gaveUp = (classification: Classification): void => metrics.failure(classification.category)

    /** Settles one attempt synchronously: every strategy's ticket, then the call's metrics. */
    const settle = (
      exit: Exit.Exit<unknown, unknown> | undefined,
      tickets: ReadonlyArray<core.Admitted>,
      start: number,
      callStart: number
    ): void => {
      const end = clock.unsafeCurrentTimeMillis()
      if (tickets.length > 0) core.settleAll(tickets, binding.outcomeOf(exit, classify), end - start, end)
      if (exit !== undefined && Exit.isSuccess(exit)) {
        metrics.success()
        metrics.latency((end - callStart) / 1000)
      }
    }

    /** Settles a successful attempt (no Exit to allocate). */
    const settleSuccess = (tickets: ReadonlyArray<core.Admitted>, start: number, callStart: number): void => {
      const end = clock.unsafeCurrentTimeMillis()
      if (tickets.length > 0) core.settleAll(tickets, core.success, end - start, end)
      metrics.success()
      metrics.latency((end - callStart) / 1000)
    }

    /** A call refused before it ran: counted, published, and an event on the span when traced. */
    const refused = (refusal: binding.Refusal): Effect.Effect<never, Refusal> => {
      const strategy = strategies[refusal.index] as binding.Strategy<Refusal>
      const { component, name } = strategy
      const reason = refusal.rejected.reason
      metrics.rejected(component)
      const published = Effect.zipRight(
        log.emit(
          LogLevel.Info,
          `reject:${component}:${name}:${reason}`,
          `${operation} refused by ${component} ${name}: ${reason}`,
          { operation, component, name, reason }
        ),
        hub.publish(Events.ResilienceEvent.Rejected({ component, name, reason }))
      )
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
      return Effect.zipRight(traced, Effect.fail(strategy.reject(refusal.rejected)))
    }

    /**
     * When traced, an attempt during which a strategy with a state (a breaker) changed it leaves an
     * event on the span (transitions happen synchronously as outcomes are settled).
     */
    const watched = <A, E, R>(attempt: Effect.Effect<A, E, R>, start: number): Effect.Effect<A, E, R> => {
      if (!tracing || watchedStrategies.length === 0) return attempt
      const before = watchedStrategies.map((s) => s.stateAt?.(start))
      return Effect.onExit(attempt, () => {
        const now = clock.unsafeCurrentTimeMillis()
        const events: Array<Effect.Effect<void>> = []
        watchedStrategies.forEach((s, i) => {
          const after = s.stateAt?.(now)
          if (after !== before[i]) {
            events.push(
              spanEvent(`resilience.${s.component}.transition`, {
                [`resilience.${s.component}`]: s.name,
                "resilience.from": before[i] ?? "",
                "resilience.to": after ?? ""
              })
            )
          }
        })
        return events.length === 0 ? Effect.void : Effect.all(events, { discard: true })
      })
    }

    /** Admission through the strategies, then the attempt `run` builds (which settles the tickets). */
    const admitted = <A, E, R>(
      call: CallState,
      run: (tickets: ReadonlyArray<core.Admitted>, start: number, restore: binding.Restore) => Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | Refusal, R> => {
      metrics.attempt()
      return binding.admitThen<A, E | Refusal, R>(
        strategies,
        timers,
        random,
        call.deadline,
        clock.unsafeCurrentTimeMillis(),
        (tickets, start, restore) => watched(run(tickets, start, restore), start),
        refused
      )
    }

    /** An admitted attempt of an Effect operation: under its timer, or settled when it exits. */
    const runEffectAttempt = <A, E, R>(
      self: Effect.Effect<A, E, R>,
      call: CallState,
      attempt: number,
      tickets: ReadonlyArray<core.Admitted>,
      start: number,
      restore: binding.Restore
    ): Effect.Effect<A, E | Resilience.AttemptError, R> => {
      const timer = timerFor(start, call.deadline, attempt)
      if (timer.millis === undefined) {
        return Effect.onExit(restore(self), (exit) => Effect.sync(() => settle(exit, tickets, start, call.start)))
      }
      return restore(
        effectWithTimer(self, timers, timer.millis, timer.onTimeout, (exit) => settle(exit, tickets, start, call.start))
      )
    }

    /** One attempt of an Effect operation. Runs admission at once: call it when the attempt starts. */
    const attemptEffect = <A, E, R>(
      self: Effect.Effect<A, E, R>,
      call: CallState,
      attempt: number
    ): Effect.Effect<A, E | Resilience.AttemptError | X, R> =>
      admitted(call, (tickets, start, restore) => runEffectAttempt(self, call, attempt, tickets, start, restore))

    const promiseAttemptOptions = <A, E>(
      evaluate: (signal: AbortSignal) => PromiseLike<A>,
      onError: (error: unknown) => E,
      call: CallState,
      attempt: number,
      tickets: ReadonlyArray<core.Admitted>,
      start: number
    ): PromiseAttempt<A, E, AttemptTimeout | DeadlineExceeded> => {
      const timer = timerFor(start, call.deadline, attempt)
      return new PromiseAttemptOf(
        evaluate,
        onError,
        timers,
        timer.millis,
        timer.onTimeout,
        settle,
        tickets,
        start,
        call.start
      )
    }

    /** One attempt of a Promise operation. Runs admission at once: call it when the attempt starts. */
    const attemptPromise = <A, E>(
      evaluate: (signal: AbortSignal) => PromiseLike<A>,
      onError: (error: unknown) => E,
      call: CallState,
      attempt: number
    ): Effect.Effect<A, E | Resilience.AttemptError | X> =>
      admitted(call, (tickets, start, restore) =>
        restore(promiseWithTimer(promiseAttemptOptions(evaluate, onError, call, attempt, tickets, start)))
      )

    /**
     * A Promise attempt whose admission did not finish at once (a refusal, a wait): goes on from
     * where the strategies' walk stopped, then runs the attempt as {@link attemptPromise} does.
     */
    const continuePromise = <A, E>(
      evaluate: (signal: AbortSignal) => PromiseLike<A>,
      onError: (error: unknown) => E,
      call: CallState,
      attempt: number,
      walk: core.Walk,
      walkStart: number
    ): Effect.Effect<A, E | Resilience.AttemptError | X> =>
      binding.continueWalk<A, E | Resilience.AttemptError | X, never>(
        walk,
        walkStart,
        strategies,
        timers,
        random,
        call.deadline,
        (tickets, start, restore) =>
          restore(promiseWithTimer(promiseAttemptOptions(evaluate, onError, call, attempt, tickets, start))),
        refused
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

    /** Recovery actions between attempts (Recovery.ts), with one ledger of its budget per call. */
    const recoverFor = (
      call: CallState
    ): Pick<Hooks<unknown, unknown, unknown>, "recover" | "firstStartedAtMillis"> => {
      if (recovery === undefined) return {}
      const run = recovery.forCall()
      return {
        recover: (input) => Effect.map(run(operation, input), (report) => report.verdict),
        firstStartedAtMillis: call.start
      }
    }

    /** A retry was decided: counted (and the budget's gauge sampled, as a withdrawal moved it). */
    const retried = (classification: Classification): void => {
      metrics.retry(classification.category)
      if (budget !== undefined && budgetGauge !== undefined) budgetGauge(budget.available())
    }

    const onRetry = (call: CallState) => (attemptNumber: number, classification: Classification) => {
      retried(classification)
      return tracing && attemptNumber === 1 ? firstAttemptSpan(call.startNanos, classification) : Effect.void
    }

    const hedged = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      policy.hedging === undefined
        ? self
        : Hedging.hedge(self, {
            delay: policy.hedging.delay,
            maxHedges: policy.hedging.maxHedges,
            // latency hedging only: a failed attempt is the retry policy's to answer
            hedgeOnFailure: false,
            operation,
            ...(tracing
              ? {
                  onHedge: (hedge: number) =>
                    spanEvent("resilience.hedge", { "resilience.operation": operation, "resilience.hedge": hedge })
                }
              : {})
          })

    /**
     * Retry (or not) around attempts. `attempt(n)` runs admission when called, so the first is
     * called now (the call is starting) and later ones lazily. Attempt spans only from the second.
     */
    const withRetry = <A, E, R>(
      attempt: (n: number) => Effect.Effect<A, E, R>,
      call: CallState
    ): Effect.Effect<A, E | Resilience.RetryError, R> => {
      const run = policy.hedging === undefined ? attempt : (n: number) => hedged(Effect.suspend(() => attempt(n)))
      if (retryPolicy === undefined)
        return Effect.tapErrorCause(run(1), (cause) => Effect.sync(() => failedWith(cause)))
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
      return retryWith(run(1), retryPolicyE, memoClassifier, {
        next,
        onRetry: onRetry(call),
        onGiveUp: gaveUp,
        ...recoverFor(call)
      })
    }

    /**
     * The fast path (no tracer, no hedging): the first attempt carries what follows it in its own
     * continuation, so that a success passes through no retry frame and no extra Effect. What a
     * failure of the first attempt leads to: the retry loop (as `RetryPolicy.retryWith` would go
     * on after its first attempt), or, without retry, counting the call as failed.
     */
    const afterFirst =
      <A, E, R>(state: CallState, attempt: (n: number) => Effect.Effect<A, E, R>) =>
      (cause: Cause.Cause<E>): Effect.Effect<A, E | Resilience.RetryError, R> => {
        if (retryPolicy === undefined) {
          failedWith(cause)
          return Effect.failCause(cause)
        }
        const retryPolicyE: RetryPolicy.RetryPolicy<E, never> = retryPolicy
        // catchAll's own reading of a cause: defects and interruptions are not retried
        return Effect.catchAll(Effect.failCause(cause), (error) =>
          retryAfter(error, attempt, retryPolicyE, memoClassifier, {
            onRetry: onRetry(state),
            onGiveUp: gaveUp,
            ...recoverFor(state)
          })
        )
      }

    /** Before the first attempt: the budget counts the request (as `retryWith` does). */
    const firstRequest = (): void => {
      if (retryPolicy !== undefined) budget?.onRequest?.()
    }

    /** After a first attempt that succeeded: the budget records it (as `retryWith` does). */
    const firstSuccess = (): void => {
      if (retryPolicy !== undefined && budget !== undefined) budget.onSuccess(true)
    }

    const fast = !tracing && policy.hedging === undefined

    /** Whether every ticket ignores a neutral settlement (then an interruption need not reach them). */
    const holdNothing = (tickets: ReadonlyArray<core.Admitted>): boolean => {
      for (let i = 0; i < tickets.length; i++) if ((tickets[i] as core.Admitted).holdsNothing !== true) return false
      return true
    }

    /** What follows a failed first attempt of a Promise operation (no closure made per call). */
    const afterPromise = <A, E>(
      evaluate: (signal: AbortSignal) => PromiseLike<A>,
      onError: (error: unknown) => E,
      state: CallState,
      cause: Cause.Cause<E | Resilience.AttemptError | X>
    ): Effect.Effect<A, E | Resilience.PipelineError | X> =>
      afterFirst<A, E | Resilience.AttemptError | X, never>(state, (n) => attemptPromise(evaluate, onError, state, n))(
        cause
      )

    /** The first attempt of a Promise operation on the fast path, with what follows a failure. */
    const firstPromise = <A, E>(
      evaluate: (signal: AbortSignal) => PromiseLike<A>,
      onError: (error: unknown) => E,
      state: CallState
    ): Effect.Effect<A, E | Resilience.PipelineError | X> => {
      firstRequest()
      metrics.attempt()
      const walk = core.walk(strategies, 0, undefined, state.start, random)
      if (!core.isAdmitted(walk)) return firstPromiseWalked(evaluate, onError, state, walk)
      return Effect.async<A, E | Resilience.PipelineError | X>((resume) =>
        startFirstPromise(evaluate, onError, state, walk, resume)
      )
    }

    /** A first Promise attempt that the strategies did not admit at once (a refusal, a wait). */
    const firstPromiseWalked = <A, E>(
      evaluate: (signal: AbortSignal) => PromiseLike<A>,
      onError: (error: unknown) => E,
      state: CallState,
      walk: core.Walk
    ): Effect.Effect<A, E | Resilience.PipelineError | X> =>
      Effect.matchCauseEffect(continuePromise(evaluate, onError, state, 1, walk, state.start), {
        onFailure: (cause) => afterPromise(evaluate, onError, state, cause),
        onSuccess: (a) => {
          firstSuccess()
          return Effect.succeed(a)
        }
      })

    /**
     * Starts an admitted first Promise attempt; `resume` gets its success or what follows its
     * failure. What the attempt needs is allocated here, when it starts: allocated earlier and
     * held by a closure, it measurably slowed every call (V8 tends to tenure it).
     */
    const startFirstPromise = <A, E>(
      evaluate: (signal: AbortSignal) => PromiseLike<A>,
      onError: (error: unknown) => E,
      state: CallState,
      tickets: ReadonlyArray<core.Admitted>,
      resume: (effect: Effect.Effect<A, E | Resilience.PipelineError | X>) => void
    ): Effect.Effect<void> | undefined => {
      const cancel = startPromise(promiseAttemptOptions(evaluate, onError, state, 1, tickets, state.start), (exit) => {
        if (Exit.isSuccess(exit)) {
          firstSuccess()
          resume(exit)
        } else
          resume(
            outsideShape
              ? retryIn(evaluate, onError, state, exit.cause)
              : afterPromise(evaluate, onError, state, exit.cause)
          )
      })
      return cancel === undefined ? undefined : Effect.sync(cancel)
    }

    /**
     * What follows a failed first Promise attempt, retried outside the run loop (see
     * {@link failedOutside}) from the call's fiber: each decision runs in an `Effect.async` the
     * fiber is resumed with (see `FiberSink`), so an interruption the fiber saw first stops the
     * call where the Effect loop would. Reads from the fiber what the Effect loop would: its
     * deadline, whether anyone sees a retry's announcement; with a Clock other than the
     * pipeline's, the Effect loop runs instead.
     */
    const retryIn = <A, E>(
      evaluate: (signal: AbortSignal) => PromiseLike<A>,
      onError: (error: unknown) => E,
      state: CallState,
      cause: Cause.Cause<E | Resilience.AttemptError | X>
    ): Effect.Effect<A, E | Resilience.PipelineError | X> =>
      Effect.async<A, E | Resilience.PipelineError | X>((resume) => {
        const fiber = Fiber.getCurrentFiber()
        const failure = Cause.failureOption(cause)
        if (
          retryPolicy === undefined ||
          Option.isNone(fiber) ||
          Option.isNone(failure) ||
          Context.get(fiber.value.currentDefaultServices, Clock.Clock) !== clock
        ) {
          resume(afterPromise(evaluate, onError, state, cause))
          return undefined
        }
        const current = fiber.value
        const cancel = retryOutside(
          retryPolicy,
          failure.value,
          new FiberSink<A, E | Resilience.AttemptError | X>(resume),
          evaluate,
          onError,
          state,
          current.getFiberRef(Deadline.currentDeadline),
          unobserved(
            current.getFiberRef(FiberRef.currentContext),
            current.getFiberRef(FiberRef.currentMinimumLogLevel),
            current.currentSpan
          )
        )
        return cancel === undefined ? undefined : Effect.sync(cancel)
      })

    /**
     * {@link firstPromise} without a pipeline deadline, begun inside the `Effect.async` that runs
     * the attempt: the registration runs synchronously in the fiber's run loop, so the fiber it
     * reads the inherited deadline from is the current one, and the call costs no
     * `withFiberRuntime` step (a primitive, a closure and a turn of the run loop per call).
     * Anything but an admission at once (a refusal, a wait) resumes the fiber with the Effect
     * that goes on from the walk.
     */
    const firstPromiseIn = <A, E>(
      evaluate: (signal: AbortSignal) => PromiseLike<A>,
      onError: (error: unknown) => E,
      resume: (effect: Effect.Effect<A, E | Resilience.PipelineError | X>) => void
    ): Effect.Effect<void> | undefined => {
      const fiber = Fiber.getCurrentFiber()
      const inherited = Option.isSome(fiber) ? fiber.value.getFiberRef(Deadline.currentDeadline) : Option.none()
      const start = clock.unsafeCurrentTimeMillis()
      const state = new CallState(start, 0n, inherited)
      firstRequest()
      metrics.attempt()
      const walk = core.walk(strategies, 0, undefined, start, random)
      if (!core.isAdmitted(walk)) {
        resume(firstPromiseWalked(evaluate, onError, state, walk))
        return undefined
      }
      return startFirstPromise(evaluate, onError, state, walk, resume)
    }

    /** The first attempt of an Effect operation on the fast path, with what follows a failure. */
    const firstEffect = <A, E, R>(
      self: Effect.Effect<A, E, R>,
      state: CallState
    ): Effect.Effect<A, E | Resilience.PipelineError | X, R> => {
      firstRequest()
      metrics.attempt()
      const walk = core.walk(strategies, 0, undefined, state.start, random)
      if (
        core.isAdmitted(walk) &&
        attemptTimeoutMillis === undefined &&
        Option.isNone(state.deadline) &&
        holdNothing(walk)
      ) {
        // no timer and nothing to give back on an interruption: no fiber, no uninterruptible
        // region, and no closure made but the two the match needs
        return Effect.matchCauseEffect(self, {
          onFailure: (cause) => {
            settle(Exit.failCause(cause), walk, state.start, state.start)
            return afterEffect(self, state, cause)
          },
          onSuccess: (a) => {
            settleSuccess(walk, state.start, state.start)
            firstSuccess()
            return Effect.succeed(a)
          }
        })
      }
      const attempt = core.isAdmitted(walk)
        ? runEffectAttempt(self, state, 1, walk, state.start, identity)
        : binding.continueWalk<A, E | Resilience.AttemptError | X, R>(
            walk,
            state.start,
            strategies,
            timers,
            random,
            state.deadline,
            (tickets, start, restore) => runEffectAttempt(self, state, 1, tickets, start, restore),
            refused
          )
      return Effect.matchCauseEffect(attempt, {
        onFailure: (cause) => afterEffect(self, state, cause),
        onSuccess: (a) => {
          firstSuccess()
          return Effect.succeed(a)
        }
      })
    }

    /** What follows a failed first attempt of an Effect operation. */
    const afterEffect = <A, E, R>(
      self: Effect.Effect<A, E, R>,
      state: CallState,
      cause: Cause.Cause<E | Resilience.AttemptError | X>
    ): Effect.Effect<A, E | Resilience.PipelineError | X, R> =>
      afterFirst<A, E | Resilience.AttemptError | X, R>(state, (n) => attemptEffect(self, state, n))(cause)

    const spanAttributes: Record<string, unknown> = { "resilience.operation": operation }
    for (const s of strategies) spanAttributes[`resilience.${s.component}`] = s.name

    /** Starts a call: reads the clock and the deadline once, sets the pipeline's own deadline, opens the span. */
    const call = <A, E, R>(body: (call: CallState) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
      const run = Effect.withFiberRuntime<A, E, R>((fiber) => {
        const start = clock.unsafeCurrentTimeMillis()
        const inherited = fiber.getFiberRef(Deadline.currentDeadline)
        const startNanos = tracing ? clock.unsafeCurrentTimeNanos() : 0n
        if (deadlineMillis === undefined) return body(new CallState(start, startNanos, inherited))
        const own = start + deadlineMillis
        const deadline = Option.some(Option.isSome(inherited) ? Math.min(inherited.value, own) : own)
        return Effect.locally(body(new CallState(start, startNanos, deadline)), Deadline.currentDeadline, deadline)
      })
      return tracing
        ? Effect.withSpan(run, `resilience ${operation}`, {
            attributes: spanAttributes,
            // a stack trace per call costs more than the call; the operation name says where
            captureStackTrace: false
          })
        : run
    }

    /**
     * {@link call} on the fast path (no span, so nothing wraps the call), without a closure of
     * its own per call.
     */
    const fastCall = <A, E, R, P, Q>(
      first: (p: P, q: Q, state: CallState) => Effect.Effect<A, E, R>,
      p: P,
      q: Q
    ): Effect.Effect<A, E, R> =>
      Effect.withFiberRuntime<A, E, R>((fiber) => {
        const start = clock.unsafeCurrentTimeMillis()
        const inherited = fiber.getFiberRef(Deadline.currentDeadline)
        if (deadlineMillis === undefined) return first(p, q, new CallState(start, 0n, inherited))
        const own = start + deadlineMillis
        const deadline = Option.some(Option.isSome(inherited) ? Math.min(inherited.value, own) : own)
        return Effect.locally(first(p, q, new CallState(start, 0n, deadline)), Deadline.currentDeadline, deadline)
      })

    const firstEffectOf = <A, E, R>(self: Effect.Effect<A, E, R>, _: undefined, state: CallState) =>
      firstEffect(self, state)

    const protect = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | Resilience.PipelineError | X, R> =>
      fast
        ? fastCall(firstEffectOf<A, E, R>, self, undefined)
        : call((state) => withRetry((n) => attemptEffect(self, state, n), state))

    const promiseCall = <A, E>(
      evaluate: (signal: AbortSignal) => PromiseLike<A>,
      onError: (error: unknown) => E
    ): Effect.Effect<A, E | Resilience.PipelineError | X> =>
      fast
        ? deadlineMillis === undefined
          ? Effect.async<A, E | Resilience.PipelineError | X>((resume) => firstPromiseIn(evaluate, onError, resume))
          : fastCall(firstPromise<A, E>, evaluate, onError)
        : call((state) => withRetry((n) => attemptPromise(evaluate, onError, state, n), state))

    const unknownException = (error: unknown) => new UnknownException(error)

    function tryPromise<A>(
      evaluate: (signal: AbortSignal) => PromiseLike<A>
    ): Effect.Effect<A, UnknownException | Resilience.PipelineError | X>
    function tryPromise<A, E>(options: {
      readonly try: (signal: AbortSignal) => PromiseLike<A>
      readonly catch: (error: unknown) => E
    }): Effect.Effect<A, E | Resilience.PipelineError | X>
    function tryPromise<A, E>(
      arg:
        | ((signal: AbortSignal) => PromiseLike<A>)
        | { readonly try: (signal: AbortSignal) => PromiseLike<A>; readonly catch: (error: unknown) => E }
    ): Effect.Effect<A, E | UnknownException | Resilience.PipelineError | X> {
      return typeof arg === "function"
        ? promiseCall<A, UnknownException>(arg, unknownException)
        : promiseCall<A, E>(arg.try, arg.catch)
    }

    const runtime = yield* Effect.runtime<never>()
    const runExit = Runtime.runPromiseExit(runtime)
    const toPromise = <A>(effect: Effect.Effect<A, unknown>): Promise<A> =>
      runExit(effect).then((exit) => (Exit.isSuccess(exit) ? exit.value : Promise.reject(Cause.squash(exit.cause))))

    const retryAfterFirst = <A>(
      exit: Exit.Exit<A, unknown>,
      evaluate: (signal: AbortSignal) => PromiseLike<A>,
      state: CallState
    ): Effect.Effect<A, unknown> => {
      if (retryPolicy === undefined) {
        return Effect.zipRight(
          Effect.sync(() => {
            if (Exit.isFailure(exit)) failedWith(exit.cause)
          }),
          exit
        )
      }
      const policy: RetryPolicy.RetryPolicy = retryPolicy
      // the budget saw the request when the first attempt started (firstRequest)
      return Effect.catchAll(exit, (error) =>
        retryAfter(error, (n) => attemptPromise(evaluate, identity, state, n), policy, memoClassifier, {
          onRetry: onRetry(state),
          onGiveUp: gaveUp,
          ...recoverFor(state)
        })
      )
    }

    /**
     * Whether retries may run outside the Effect run loop (see {@link failedOutside}): no tracer, no
     * hedging, no recovery actions, and schedules that step without an Effect (`Backoff`'s own,
     * unjittered).
     */
    const outsideShape =
      retryPolicy !== undefined &&
      recovery === undefined &&
      !tracing &&
      policy.hedging === undefined &&
      stepsWithoutEffect(retryPolicy)
    /**
     * Whether `runPromise` retries outside the Effect runtime: the shape above on its fast path
     * (no deadline of the pipeline's, none inherited by the runtime its retries would run in).
     */
    const retriesOutside =
      outsideShape &&
      deadlineMillis === undefined &&
      Option.isNone(FiberRefs.getOrDefault(runtime.fiberRefs, Deadline.currentDeadline))
    /**
     * Whether a retry's announcement would be seen by anyone in the runtime `runPromise`'s retries
     * would run in (its hub, its minimum log level, its span): what the Effect loop checks in its
     * fiber, fixed here for the runtime's lifetime.
     */
    const quietOutside = unobserved(
      runtime.context,
      FiberRefs.getOrDefault(runtime.fiberRefs, FiberRef.currentMinimumLogLevel),
      Option.getOrUndefined(Context.getOption(runtime.context, Tracer.ParentSpan))
    )

    /**
     * The retry loop outside the Effect run loop: after attempt `attempt` failed with `error`, the
     * same {@link RetryRun} the Effect loop drives decides synchronously (the schedule stepped
     * without an Effect), and while a retry needs nothing an Effect does (no delay to sleep on the
     * Clock, nobody to see its announcement, every strategy admitting at once) the next attempt
     * starts here, as the first did. Anything else (a stop, a delay, a hub, a Debug log level, a
     * wait or a refusal) goes on in the Effect loop from that very decision, so every event, log
     * line, metric, error and budget move is the Effect loop's own.
     */
    const failedOutside = <A, E>(
      call: Outside<A, E | Resilience.AttemptError | X>,
      error: E | Resilience.AttemptError | X,
      attempt: number,
      made: number
    ): (() => void) | undefined => {
      const { run, sink } = call
      const now = clock.unsafeCurrentTimeMillis()
      const remaining = Option.isNone(call.deadline) ? undefined : Math.max(0, call.deadline.value - now)
      const decided = run.decideNow(error, attempt, made, now, remaining)
      if (decided === undefined) {
        sink.handOver(run.onFailure(error, attempt, made))
        return undefined
      }
      if (decided._tag === "Stopping") {
        sink.handOver(run.stop(decided))
        return undefined
      }
      if (!call.quiet || decided.delay > 0) {
        sink.handOver(run.proceed(decided, call.quiet))
        return undefined
      }
      retried(decided.classification)
      return nextOutside(call, decided)
    }

    /**
     * Starts the attempt after retry `decided`, admitted as `attemptPromise` admits it; returns
     * its canceller while it is under way (when it takes the signal).
     */
    const nextOutside = <A, E>(
      call: Outside<A, E | Resilience.AttemptError | X>,
      decided: Retrying
    ): (() => void) | undefined => {
      const { run, sink, evaluate, onError, state } = call
      const n = decided.attempt + 1
      metrics.attempt()
      const start = clock.unsafeCurrentTimeMillis()
      const walk = core.walk(strategies, 0, undefined, start, random)
      if (!core.isAdmitted(walk)) {
        sink.handOver(run.afterAttempt(decided, continuePromise(evaluate, onError, state, n, walk, start)))
        return undefined
      }
      let settled = false
      const cancel = startPromise(promiseAttemptOptions(evaluate, onError, state, n, walk, start), (exit) => {
        settled = true
        if (Exit.isSuccess(exit)) {
          sink.succeeded(run, decided, exit.value)
          return
        }
        // what the Effect loop's `matchEffect` retries: a failure (never a defect or an interruption)
        const failure = Cause.failureOption(exit.cause)
        if (Option.isNone(failure)) {
          sink.failCause(exit.cause)
          return
        }
        const error = failure.value
        sink.next(() => failedOutside(call, error, n, decided.reached + 1))
      })
      return settled ? undefined : cancel
    }

    /** The hooks of a call without a tracer (made once: they read nothing of the call). */
    const untracedHooks: Omit<Hooks<unknown, unknown, never>, "next"> = {
      onRetry: (_attempt, classification) => {
        retried(classification)
        return Effect.void
      },
      onGiveUp: gaveUp
    }

    /** The first failure of a call retried outside the Effect run loop. */
    const retryOutside = <A, E>(
      policy: RetryPolicy.RetryPolicy<E | Resilience.AttemptError | X>,
      error: E | Resilience.AttemptError | X,
      sink: Sink<A, E | Resilience.AttemptError | X>,
      evaluate: (signal: AbortSignal) => PromiseLike<A>,
      onError: (error: unknown) => E,
      state: CallState,
      deadline: Option.Option<number>,
      quiet: boolean
    ): (() => void) | undefined => {
      const run = new RetryRun<A, E | Resilience.AttemptError | X, never, never>(
        (n) => attemptPromise(evaluate, onError, state, n),
        policy,
        memoClassifier,
        untracedHooks
      )
      return failedOutside(new Outside(run, sink, evaluate, onError, state, deadline, quiet), error, 1, 1)
    }

    /**
     * For callers outside Effect. The first attempt runs without a fiber when nothing needs one
     * (no tracer, no hedging, no deadline, every strategy admits at once); anything else (a
     * refusal, a wait, a retry) goes on in the pipeline's Effect runtime.
     */
    const runPromise = <A>(evaluate: (signal: AbortSignal) => PromiseLike<A>): Promise<A> => {
      if (tracing || policy.hedging !== undefined || deadlineMillis !== undefined) {
        return toPromise(promiseCall(evaluate, identity))
      }
      const start = clock.unsafeCurrentTimeMillis()
      const walk = core.walk(strategies, 0, undefined, start, random)
      if (!core.isAdmitted(walk)) {
        const state = new CallState(start, 0n, Option.none())
        firstRequest()
        metrics.attempt()
        if (walk._tag === "Rejected") {
          // refused before it ran: that refusal is the first attempt's failure (running the call
          // again from the start would admit it a second time, taking a second token)
          return toPromise(
            Effect.catchAllCause(refused(walk), (cause) =>
              retryAfterFirst(Exit.failCause<unknown>(cause), evaluate, state)
            )
          )
        }
        // a wait: go on from where the walk stopped, in the Effect runtime
        const first = continuePromise(evaluate, identity, state, 1, walk, start)
        return toPromise(
          Effect.matchCauseEffect(first, {
            onFailure: (cause) => retryAfterFirst(Exit.failCause(cause), evaluate, state),
            onSuccess: (a) => {
              firstSuccess()
              return Effect.succeed(a)
            }
          })
        )
      }
      firstRequest()
      metrics.attempt()
      const state = new CallState(start, 0n, Option.none())
      return new Promise<A>((resolve, reject) => {
        startPromise(promiseAttemptOptions(evaluate, identity, state, 1, walk, start), (exit) => {
          if (Exit.isSuccess(exit)) {
            firstSuccess()
            return resolve(exit.value)
          }
          if (retryPolicy === undefined) {
            failedWith(exit.cause)
            return reject(Cause.squash(exit.cause))
          }
          if (retriesOutside) {
            // the budget saw the request when the first attempt started (firstRequest)
            const failure = Cause.failureOption(exit.cause)
            if (Option.isSome(failure)) {
              const sink = new PromiseSink(resolve, reject, toPromise)
              return retryOutside(
                retryPolicy,
                failure.value,
                sink,
                evaluate,
                identity,
                state,
                Option.none(),
                quietOutside
              )
            }
          }
          toPromise(retryAfterFirst(Exit.mapError(exit, identity), evaluate, state)).then(resolve, reject)
        })
      })
    }

    const breaker = strategies.find(CircuitBreaker.isCircuitBreaker)
    const bulkhead = strategies.find(Bulkhead.isBulkhead)

    return {
      operation,
      policy,
      strategies,
      breaker,
      bulkhead,
      protect,
      tryPromise,
      runPromise
    }
  })
