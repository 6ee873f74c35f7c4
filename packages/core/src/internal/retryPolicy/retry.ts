import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import type * as Tracer from "effect/Tracer"
import type { RetryInput } from "../../Backoff.js"
import type { Classification } from "../../Classification.js"
import * as C from "../../Classification.js"
import type { Classifier } from "../../Classifier.js"
import * as Deadline from "../../Deadline.js"
import { type AttemptRecord, type FailureSummary, RetriesExhausted, RetryBudgetExhausted } from "../../Errors.js"
import * as Events from "../../Events.js"
import * as Log from "../../Log.js"
import * as LogLevel from "effect/LogLevel"
import type { RetryPolicy } from "../../RetryPolicy.js"
import * as core from "./core.js"
import { stepperOf } from "../backoff/schedule.js"
import type { Cursor, Stepper } from "../backoff/stepper.js"
import { unsafeConstruct } from "../construct.js"

type StopReason = core.StopReason

/** @internal */
export const summarize = (error: unknown, classification: Classification): FailureSummary => ({
  tag: tagOf(error),
  message: classification.message
})

/** @internal */
export const tagOf = (error: unknown): string => {
  if (typeof error === "object" && error !== null) {
    if ("_tag" in error && typeof error._tag === "string") return error._tag
    const name = error.constructor?.name
    return typeof name === "string" && name.length > 0 ? name : "Object"
  }
  return typeof error
}

/**
 * Adds an event to the current span, if there is a real one (not an external parent).
 *
 * @internal
 */
export const spanEvent = (name: string, attributes: Record<string, unknown>): Effect.Effect<void> =>
  spanEventWith(name, () => attributes)

/**
 * {@link spanEvent} with attributes made only when there is a span to add them to (a retry
 * without a tracer builds none).
 *
 * @internal
 */
export const spanEventWith = (name: string, attributes: () => Record<string, unknown>): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    const span = fiber.currentSpan
    return span !== undefined && span._tag === "Span"
      ? Effect.map(Clock.currentTimeNanos, (now) => span.event(name, now, attributes()))
      : Effect.void
  })

/** @internal */
export interface Hooks<A, E, R> {
  /** What to run for the second and later attempts (default: `self` again). */
  readonly next?: Effect.Effect<A, E, R> | undefined
  /** Called when a retry is scheduled after attempt `attempt` failed. */
  readonly onRetry?: ((attempt: number, classification: Classification) => Effect.Effect<void>) | undefined
  /** Where retries and give-ups are logged (default: the policy's emitter, else one for this call). */
  readonly log?: Log.Emitter | undefined
  /** Called synchronously when the call fails for good (no retry follows), with the last failure's classification. */
  readonly onGiveUp?: ((classification: Classification) => void) | undefined
  /**
   * Runs recovery actions after a failed attempt that may be followed by another (attempts and
   * deadline left; not a refusal by an open breaker), before the retry decision. `recovered`: the
   * failure is retried even if it is not retryable, at once (no backoff); `partial`: it is retried
   * even if not retryable, after the backoff; `none`: the decision is the classification's.
   */
  readonly recover?: ((input: RecoverInput) => Effect.Effect<RecoverVerdict>) | undefined
  /** When the first attempt started (epoch ms of the Clock), for {@link RecoverInput}. */
  readonly firstStartedAtMillis?: number | undefined
}

/** What a recovery hook is told about a failed attempt. @internal */
export interface RecoverInput {
  readonly error: unknown
  readonly classification: Classification
  readonly attempt: number
  /** When the failed attempt started, when known. */
  readonly attemptStartedAtMillis: number | undefined
  readonly failedAtMillis: number
}

/** What recovery did, as the retry decision reads it. @internal */
export type RecoverVerdict = "recovered" | "partial" | "none"

/** @internal */
export const retryWith = <A, E, R, R2>(
  self: Effect.Effect<A, E, R>,
  policy: RetryPolicy<E, R2>,
  classifier: Context.Tag.Service<Classifier>,
  hooks?: Hooks<A, E, R>
): Effect.Effect<A, E | RetriesExhausted | RetryBudgetExhausted, R | R2> => {
  const budget = policy.budget
  const first =
    budget === undefined
      ? self
      : Effect.suspend(() => {
          budget.onRequest?.()
          return Effect.map(self, (a) => {
            budget.onSuccess(true)
            return a
          })
        })
  const next = hooks?.next ?? self
  return Effect.catchAll(first, (error) =>
    Effect.suspend(() => new RetryRun(() => next, policy, classifier, hooks).onFailure(error, 1, 1))
  )
}

/**
 * Retrying once a first attempt, run by the caller, failed with `error`: what {@link retryWith}
 * does after its first attempt. The caller made the budget's request before that attempt and
 * records its success (a pipeline folds the first attempt into its own continuation, so that
 * the success path carries no retry frame). `next(n)` runs attempt `n` (from 2); it is called
 * when that attempt starts.
 *
 * @internal
 */
export const retryAfter = <A, E, R, R2>(
  error: E,
  next: (attempt: number) => Effect.Effect<A, E, R>,
  policy: RetryPolicy<E, R2>,
  classifier: Context.Tag.Service<Classifier>,
  hooks?: Omit<Hooks<A, E, R>, "next">
): Effect.Effect<A, E | RetriesExhausted | RetryBudgetExhausted, R | R2> =>
  Effect.suspend(() => new RetryRun(next, policy, classifier, hooks).onFailure(error, 1, 1))

/**
 * Whether every schedule of `policy` steps without Effect (then {@link RetryRun.decideNow} always
 * decides).
 *
 * @internal
 */
export const stepsWithoutEffect = <E, R>(policy: RetryPolicy<E, R>): boolean => {
  if (stepperOf(policy.schedule) === undefined) return false
  for (const schedule of Object.values(policy.byCategory)) {
    if (schedule !== undefined && stepperOf(schedule) === undefined) return false
  }
  return true
}

/** The hub that publishes nowhere (the default of `ResilienceEvents`, one object for the process). */
const nowhere = Context.get(Context.empty(), Events.ResilienceEvents)

/**
 * Whether announcing a retry (its `RetryScheduled` event, its Debug log line, its span event)
 * would be seen by nobody, given what the fiber that announces it holds: no hub in its context, a
 * minimum log level above Debug (the emitter drops the line before its rate limiter sees it), no
 * span. Then the retry loop skips the announcement, which changes nothing anyone can observe.
 *
 * @internal
 */
export const unobserved = (
  context: Context.Context<never>,
  minimumLogLevel: LogLevel.LogLevel,
  span: Tracer.AnySpan | undefined
): boolean =>
  Context.get(context, Events.ResilienceEvents) === nowhere &&
  LogLevel.greaterThan(minimumLogLevel, LogLevel.Debug) &&
  (span === undefined || span._tag !== "Span")

/**
 * A retry decided after a failed attempt: the next attempt after `delay` ms. `reached` counts
 * the attempts so far that reached the operation.
 *
 * @internal
 */
export class Retrying {
  readonly _tag = "Retrying"
  constructor(
    readonly attempt: number,
    readonly reached: number,
    readonly delay: number,
    readonly classification: Classification,
    readonly verdict: RecoverVerdict
  ) {}
}

/** Retrying stopped after attempt `attempt` failed with `error`. @internal */
export class Stopping<E> {
  readonly _tag = "Stopping"
  constructor(
    readonly reason: StopReason,
    readonly attempt: number,
    readonly classification: Classification,
    readonly error: E
  ) {}
}

/** A failure read and classified, before the schedule is stepped. */
class Prepared<E, R2> {
  readonly _tag = "Prepared"
  constructor(
    readonly error: E,
    readonly attempt: number,
    readonly reached: number,
    readonly verdict: RecoverVerdict,
    readonly classification: Classification,
    readonly refused: boolean,
    readonly atMillis: number,
    readonly schedule: Schedule.Schedule<unknown, RetryInput<E>, R2>
  ) {}
}

/** One failed attempt, recorded; its `AttemptRecord` is made only when retrying stops. */
class Failed {
  constructor(
    readonly attempt: number,
    readonly error: unknown,
    readonly classification: Classification,
    readonly atMillis: number,
    readonly delayMillis: number | undefined,
    readonly previous: Failed | undefined
  ) {}
}

/** The records of the failed attempts up to `last`, oldest first. */
const recordsUpTo = (last: Failed | undefined): Array<AttemptRecord> => {
  const records: Array<AttemptRecord> = []
  for (let f = last; f !== undefined; f = f.previous) {
    const failure = summarize(f.error, f.classification)
    records.push(
      f.delayMillis === undefined
        ? { attempt: f.attempt, failure, classification: f.classification, atMillis: f.atMillis }
        : {
            attempt: f.attempt,
            failure,
            classification: f.classification,
            atMillis: f.atMillis,
            delayMillis: f.delayMillis
          }
    )
  }
  return records.reverse()
}

/**
 * The retrying of one call after its first failure: its attempt history and the state of its
 * schedules. The Effect loop ({@link RetryRun.onFailure}) drives it in a fiber; a caller outside
 * the Effect runtime (the pipeline's `runPromise`) may drive it synchronously with
 * {@link RetryRun.decideNow} while nothing needs an Effect, and hand over to the Effect loop (its
 * `stop`, `proceed` and `afterAttempt`) at any decision: both share every rule and every record.
 *
 * @internal
 */
export class RetryRun<A, E, R, R2> {
  /** The last failed attempt (each holds the one before). */
  private last: Failed | undefined = undefined
  /** Each Effect schedule's state in this call (made when first needed). */
  private states: Map<object, unknown> | undefined = undefined
  /** Each stepper's cursor in this call but the first schedule's (made when first needed). */
  private cursors: Map<object, Cursor> | undefined = undefined
  private firstSchedule: object | undefined = undefined
  private firstCursor: Cursor | undefined = undefined
  private readonly extraMillis: number
  private readonly log: Log.Emitter
  /**
   * When the attempt that failed started (recovery actions read it): the first from the hooks,
   * later ones from the clock as they start.
   */
  private attemptStartedAt: number | undefined

  constructor(
    private readonly next: (attempt: number) => Effect.Effect<A, E, R>,
    readonly policy: RetryPolicy<E, R2>,
    private readonly classifier: Context.Tag.Service<Classifier>,
    private readonly hooks: Omit<Hooks<A, E, R>, "next"> | undefined
  ) {
    this.extraMillis = Duration.toMillis(policy.retryAfterExtra)
    this.log = hooks?.log ?? policy.log ?? Log.unsafeMakeEmitter()
    this.attemptStartedAt = hooks?.firstStartedAtMillis
  }

  /**
   * After attempt `attempt` failed with `error`. `attempt` numbers every try; `made` counts the
   * tries that reached the operation, which is what `maxAttempts` limits: a call an open breaker
   * refused never reached it (waiting for the probe is bounded by the deadline instead).
   */
  onFailure(
    error: E,
    attempt: number,
    made: number
  ): Effect.Effect<A, E | RetriesExhausted | RetryBudgetExhausted, R | R2> {
    const recover = this.hooks?.recover
    if (recover === undefined) return this.decide(error, attempt, made, "none")
    return Effect.withFiberRuntime((fiber) => {
      const now = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
      const deadline = fiber.getFiberRef(Deadline.currentDeadline)
      const classification = this.classifier.classify(error)
      const refused = classification.code === C.circuitOpenCode
      const timeLeft = Option.isNone(deadline) || deadline.value > now
      if (refused || !timeLeft || core.reachedAttempts(made, refused) >= this.policy.maxAttempts) {
        return this.decide(error, attempt, made, "none")
      }
      return Effect.flatMap(
        recover({
          error,
          classification,
          attempt,
          attemptStartedAtMillis: this.attemptStartedAt,
          failedAtMillis: now
        }),
        (verdict) => this.decide(error, attempt, made, verdict)
      )
    })
  }

  /** The decision after a failure, in the fiber: the clock, deadline and observers read once from it. */
  private decide(
    error: E,
    attempt: number,
    made: number,
    verdict: RecoverVerdict
  ): Effect.Effect<A, E | RetriesExhausted | RetryBudgetExhausted, R | R2> {
    // the clock and the deadline read once, from the fiber (what Clock.currentTimeMillis and
    // Deadline.remaining read, without four Effects per failure)
    return Effect.withFiberRuntime((fiber) => {
      const now = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
      const deadline = fiber.getFiberRef(Deadline.currentDeadline)
      const remaining = Option.isNone(deadline) ? undefined : Math.max(0, deadline.value - now)
      const quiet = unobserved(
        fiber.getFiberRef(FiberRef.currentContext),
        fiber.getFiberRef(FiberRef.currentMinimumLogLevel),
        fiber.currentSpan
      )
      const prepared = this.prepare(error, attempt, made, verdict, now)
      if (prepared._tag === "Stopping") return this.stop(prepared)
      const schedule = prepared.schedule
      const stepper = stepperOf(schedule)
      if (stepper !== undefined) {
        return this.act(this.conclude(prepared, this.cursor(schedule, stepper).next(now), now, remaining), quiet)
      }
      const states = this.states ?? new Map<object, unknown>()
      this.states = states
      const state = states.has(schedule) ? states.get(schedule) : schedule.initial
      return Effect.flatMap(
        schedule.step(now, { error, classification: prepared.classification, attempt }, state),
        ([nextState, , decision]) => {
          if (ScheduleDecision.isDone(decision))
            return this.act(this.conclude(prepared, undefined, now, remaining), quiet)
          states.set(schedule, nextState)
          return this.act(this.conclude(prepared, ScheduleIntervals.start(decision.intervals), now, remaining), quiet)
        }
      )
    })
  }

  /**
   * The decision after a failure without an Effect, for a caller outside the Effect runtime that
   * read the clock (`nowMillis`) and the time left (`remainingMillis`, undefined without a
   * deadline) itself, and runs no recovery. `undefined` when the failure's schedule must be
   * stepped as an Effect: nothing was done then, and {@link onFailure} decides.
   */
  decideNow(
    error: E,
    attempt: number,
    made: number,
    nowMillis: number,
    remainingMillis: number | undefined
  ): Retrying | Stopping<E> | undefined {
    const prepared = this.prepare(error, attempt, made, "none", nowMillis)
    if (prepared._tag === "Stopping") return prepared
    const stepper = stepperOf(prepared.schedule)
    if (stepper === undefined) return undefined
    return this.conclude(prepared, this.cursor(prepared.schedule, stepper).next(nowMillis), nowMillis, remainingMillis)
  }

  /** The cursor of `schedule`'s stepper in this call (the first one kept in fields: most calls step one schedule). */
  private cursor(schedule: object, stepper: Stepper): Cursor {
    if (this.firstSchedule === schedule && this.firstCursor !== undefined) return this.firstCursor
    if (this.firstSchedule === undefined) {
      const cursor = stepper.start()
      this.firstSchedule = schedule
      this.firstCursor = cursor
      return cursor
    }
    const cursors = this.cursors ?? new Map<object, Cursor>()
    this.cursors = cursors
    const known = cursors.get(schedule)
    if (known !== undefined) return known
    const cursor = stepper.start()
    cursors.set(schedule, cursor)
    return cursor
  }

  /** Classifies the failure and stops before the schedule when it is not retryable or attempts ran out. */
  private prepare(
    error: E,
    attempt: number,
    made: number,
    verdict: RecoverVerdict,
    now: number
  ): Prepared<E, R2> | Stopping<E> {
    const classified = this.classifier.classify(error)
    // a recovery that did something makes the failure worth retrying
    const classification = verdict === "none" || classified.retryable ? classified : { ...classified, retryable: true }
    const refused = classification.code === C.circuitOpenCode
    const reached = core.reachedAttempts(made, refused)
    const early = core.stopBeforeSchedule(classification, reached, this.policy.maxAttempts)
    if (early !== undefined) {
      this.record(attempt, error, classification, now, undefined)
      return new Stopping(early, attempt, classification, error)
    }
    const schedule = this.policy.byCategory[classification.category] ?? this.policy.schedule
    return new Prepared(error, attempt, reached, verdict, classification, refused, now, schedule)
  }

  private record(
    attempt: number,
    error: E,
    classification: Classification,
    atMillis: number,
    delayMillis: number | undefined
  ): void {
    this.last = new Failed(attempt, error, classification, atMillis, delayMillis, this.last)
  }

  /** Every failed attempt so far, as `RetriesExhausted` and `RetryStopped` report them. */
  attempts(): Array<AttemptRecord> {
    return recordsUpTo(this.last)
  }

  /**
   * Once the schedule stepped (`startMillis`: when it would start the next attempt; undefined when
   * it is done): the delay, the time and budget checks, the attempt recorded.
   */
  private conclude(
    p: Prepared<E, R2>,
    startMillis: number | undefined,
    now: number,
    remaining: number | undefined
  ): Retrying | Stopping<E> {
    const { attempt, classification, error, verdict } = p
    if (startMillis === undefined) {
      this.record(attempt, error, classification, p.atMillis, undefined)
      return new Stopping("exhausted", attempt, classification, error)
    }
    const circuitOpen = p.refused
    const delay = core.retryDelay(
      // after a full recovery the next attempt goes at once
      verdict === "recovered" ? 0 : startMillis - now,
      // (and a Retry-After was the failed dependency's: a recovery moved past it)
      verdict === "recovered" || classification.retryAfter === undefined
        ? undefined
        : Duration.toMillis(classification.retryAfter),
      this.extraMillis,
      circuitOpen
    )
    const late = core.stopForTime(delay, remaining, circuitOpen)
    if (late !== undefined) {
      this.record(attempt, error, classification, p.atMillis, undefined)
      return new Stopping(late, attempt, classification, error)
    }
    // a retry after an open breaker's refusal waits for the breaker and adds no load to the
    // dependency (only the probe reaches it): it does not spend the budget
    // nor does a retry after a full recovery (the recovery budget bounds those): a token
    // expiry across 100 concurrent calls is not a retry storm
    const budget = this.policy.budget
    if (budget !== undefined && !circuitOpen && verdict !== "recovered" && !budget.tryWithdraw(classification)) {
      this.record(attempt, error, classification, p.atMillis, undefined)
      return new Stopping("budget", attempt, classification, error)
    }
    this.record(attempt, error, classification, p.atMillis, delay)
    return new Retrying(attempt, p.reached, delay, classification, verdict)
  }

  private act(
    decided: Retrying | Stopping<E>,
    quiet: boolean
  ): Effect.Effect<A, E | RetriesExhausted | RetryBudgetExhausted, R | R2> {
    return decided._tag === "Stopping" ? this.stop(decided) : this.proceed(decided, quiet)
  }

  /** Retrying stopped: the call fails, logged and published (`onGiveUp` is called at once). */
  stop(s: Stopping<E>): Effect.Effect<never, E | RetriesExhausted | RetryBudgetExhausted> {
    const { reason, attempt, classification, error } = s
    const policy = this.policy
    this.hooks?.onGiveUp?.(classification)
    const stopped = Events.publish(
      Events.ResilienceEvent.RetryStopped({
        operation: policy.operation,
        attempt,
        reason,
        classification,
        attempts: this.attempts()
      })
    ).pipe(
      Effect.zipRight(
        spanEventWith("resilience.retry.stopped", () => ({
          "resilience.operation": policy.operation,
          "resilience.attempt": attempt,
          "resilience.reason": reason,
          "resilience.category": classification.category,
          "resilience.code": classification.code
        }))
      )
    )
    // a first failure that is not retryable is the caller's answer, not an incident
    const logged = this.log.emit(
      reason === "not-retryable" && attempt === 1 ? LogLevel.Debug : LogLevel.Warning,
      `stop:${reason}:${classification.code}`,
      reason === "not-retryable"
        ? `${policy.operation} failed (${classification.code}), not retryable, after ${attempt} attempt(s)`
        : `${policy.operation} gave up after ${attempt} attempt(s): ${reason} (${classification.code})`,
      {
        operation: policy.operation,
        attempt,
        reason,
        category: classification.category,
        code: classification.code
      }
    )
    const failure: E | RetriesExhausted | RetryBudgetExhausted =
      reason === "not-retryable"
        ? error
        : reason === "budget"
          ? unsafeConstruct(RetryBudgetExhausted, {
              budget: policy.budget?.name ?? "retry-budget",
              operation: policy.operation
            })
          : unsafeConstruct(RetriesExhausted, { operation: policy.operation, reason, attempts: this.attempts() })
    return Effect.zipRight(Effect.zipRight(logged, stopped), Effect.fail(failure))
  }

  /**
   * A retry decided: announced (its event, log line and span event, unless `quiet`: nobody would
   * see them), the `onRetry` hook (called at once), the delay slept on the Clock, then the next
   * attempt.
   */
  proceed(d: Retrying, quiet: boolean): Effect.Effect<A, E | RetriesExhausted | RetryBudgetExhausted, R | R2> {
    const announce = quiet ? undefined : this.announce(d)
    const hook = this.hooks?.onRetry?.(d.attempt, d.classification)
    const announced = announce === undefined ? hook : hook === undefined ? announce : Effect.zipRight(announce, hook)
    const next = this.afterAttempt(d, this.attempt(d.attempt + 1))
    const before =
      d.delay > 0
        ? announced === undefined
          ? Effect.sleep(Duration.millis(d.delay))
          : Effect.zipRight(announced, Effect.sleep(Duration.millis(d.delay)))
        : announced
    return before === undefined ? next : Effect.zipRight(before, next)
  }

  /** Attempt `n`, started when it runs (and timed for recovery actions, when there are any). */
  private attempt(n: number): Effect.Effect<A, E, R> {
    const attempt = Effect.suspend(() => this.next(n))
    if (this.hooks?.recover === undefined) return attempt
    return Effect.zipRight(
      Effect.clockWith((clock) =>
        Effect.sync(() => {
          this.attemptStartedAt = clock.unsafeCurrentTimeMillis()
        })
      ),
      attempt
    )
  }

  /** What follows the attempt a retry `d` decided on: its failure is decided on, its success counted. */
  afterAttempt(
    d: Retrying,
    attempt: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | RetriesExhausted | RetryBudgetExhausted, R | R2> {
    return Effect.matchEffect(attempt, {
      onFailure: (e) => this.onFailure(e, d.attempt + 1, d.reached + 1),
      onSuccess: (a) => {
        this.succeeded(d)
        return Effect.succeed(a)
      }
    })
  }

  /** Whether {@link succeeded} does anything (there is a budget to tell). */
  get countsSuccesses(): boolean {
    return this.policy.budget !== undefined
  }

  /** The attempt after retry `d` succeeded: the budget is told (and refunds its cost). */
  succeeded(d: Retrying): void {
    const budget = this.policy.budget
    if (budget !== undefined) budget.onSuccess(false, d.verdict === "recovered" ? undefined : d.classification)
  }

  /** The `RetryScheduled` event, the Debug log line and the span event of a retry. */
  private announce(d: Retrying): Effect.Effect<void> {
    const { attempt, delay, classification } = d
    const operation = this.policy.operation
    return Events.publish(
      Events.ResilienceEvent.RetryScheduled({ operation, attempt, delayMillis: delay, classification })
    ).pipe(
      Effect.zipRight(
        this.log.emit(
          LogLevel.Debug,
          `retry:${classification.code}`,
          `${operation} attempt ${attempt} failed (${classification.code}); retrying in ${delay} ms`,
          { operation, attempt, delayMillis: delay, category: classification.category, code: classification.code }
        )
      ),
      Effect.zipRight(
        spanEventWith("resilience.retry", () => ({
          "resilience.operation": operation,
          "resilience.attempt": attempt,
          "resilience.delay_ms": delay,
          "resilience.category": classification.category,
          "resilience.code": classification.code
        }))
      )
    )
  }
}
