import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
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
  return Effect.catchAll(first, (error) => afterFailure(hooks?.next ?? self, policy, classifier, error, hooks))
}

/**
 * Retrying once a first attempt, run by the caller, failed with `error`: what {@link retryWith}
 * does after its first attempt. The caller made the budget's request before that attempt and
 * records its success (a pipeline folds the first attempt into its own continuation, so that
 * the success path carries no retry frame).
 *
 * @internal
 */
export const retryAfter = <A, E, R, R2>(
  error: E,
  next: Effect.Effect<A, E, R>,
  policy: RetryPolicy<E, R2>,
  classifier: Context.Tag.Service<Classifier>,
  hooks?: Omit<Hooks<A, E, R>, "next">
): Effect.Effect<A, E | RetriesExhausted | RetryBudgetExhausted, R | R2> =>
  afterFailure(next, policy, classifier, error, hooks)

const afterFailure = <A, E, R, R2>(
  self: Effect.Effect<A, E, R>,
  policy: RetryPolicy<E, R2>,
  classifier: Context.Tag.Service<Classifier>,
  firstError: E,
  hooks: Hooks<A, E, R> | undefined
): Effect.Effect<A, E | RetriesExhausted | RetryBudgetExhausted, R | R2> =>
  Effect.suspend(() => {
    const attempts: Array<AttemptRecord> = []
    // Each schedule keeps its own state across the attempts of this call.
    const states = new Map<Schedule.Schedule<unknown, RetryInput<E>, R2>, unknown>()
    const extraMillis = Duration.toMillis(policy.retryAfterExtra)
    const budget = policy.budget
    const onRetry = hooks?.onRetry
    const log = hooks?.log ?? policy.log ?? Log.unsafeMakeEmitter()

    const stop = (
      reason: StopReason,
      attempt: number,
      classification: Classification,
      error: E
    ): Effect.Effect<never, E | RetriesExhausted | RetryBudgetExhausted> => {
      hooks?.onGiveUp?.(classification)
      const stopped = Events.publish(
        Events.ResilienceEvent.RetryStopped({
          operation: policy.operation,
          attempt,
          reason,
          classification,
          attempts: attempts.slice()
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
      const logged = log.emit(
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
                budget: budget?.name ?? "retry-budget",
                operation: policy.operation
              })
            : unsafeConstruct(RetriesExhausted, { operation: policy.operation, reason, attempts: attempts.slice() })
      return Effect.zipRight(Effect.zipRight(logged, stopped), Effect.fail(failure))
    }

    /**
     * `attempt` numbers every try; `made` counts the tries that reached the operation, which is
     * what `maxAttempts` limits: a call an open breaker refused never reached it (waiting for the
     * probe is bounded by the deadline instead).
     */
    const recover = hooks?.recover
    // when the attempt that failed started (recovery actions read it): the first from the hooks,
    // later ones from the clock as they start
    let attemptStartedAt: number | undefined = hooks?.firstStartedAtMillis
    const timed: Effect.Effect<A, E, R> =
      recover === undefined
        ? self
        : Effect.zipRight(
            Effect.clockWith((clock) =>
              Effect.sync(() => {
                attemptStartedAt = clock.unsafeCurrentTimeMillis()
              })
            ),
            self
          )

    const onFailure = (
      error: E,
      attempt: number,
      made: number
    ): Effect.Effect<A, E | RetriesExhausted | RetryBudgetExhausted, R | R2> => {
      if (recover === undefined) return decide(error, attempt, made, "none")
      return Effect.withFiberRuntime((fiber) => {
        const now = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
        const deadline = fiber.getFiberRef(Deadline.currentDeadline)
        const classification = classifier.classify(error)
        const refused = classification.code === C.circuitOpenCode
        const timeLeft = Option.isNone(deadline) || deadline.value > now
        if (refused || !timeLeft || core.reachedAttempts(made, refused) >= policy.maxAttempts) {
          return decide(error, attempt, made, "none")
        }
        return Effect.flatMap(
          recover({
            error,
            classification,
            attempt,
            attemptStartedAtMillis: attemptStartedAt,
            failedAtMillis: now
          }),
          (verdict) => decide(error, attempt, made, verdict)
        )
      })
    }

    const decide = (
      error: E,
      attempt: number,
      made: number,
      verdict: RecoverVerdict
    ): Effect.Effect<A, E | RetriesExhausted | RetryBudgetExhausted, R | R2> =>
      // the clock and the deadline read once, from the fiber (what Clock.currentTimeMillis and
      // Deadline.remaining read, without four Effects per failure)
      Effect.withFiberRuntime((fiber) => {
        const now = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
        const deadline = fiber.getFiberRef(Deadline.currentDeadline)
        const remaining = Option.isNone(deadline) ? undefined : Math.max(0, deadline.value - now)
        const classified = classifier.classify(error)
        // a recovery that did something makes the failure worth retrying
        const classification =
          verdict === "none" || classified.retryable ? classified : { ...classified, retryable: true }
        const refused = classification.code === C.circuitOpenCode
        const reached = core.reachedAttempts(made, refused)
        const record: AttemptRecord = {
          attempt,
          failure: summarize(error, classification),
          classification,
          atMillis: now
        }
        const early = core.stopBeforeSchedule(classification, reached, policy.maxAttempts)
        if (early !== undefined) {
          attempts.push(record)
          return stop(early, attempt, classification, error)
        }
        const schedule = policy.byCategory[classification.category] ?? policy.schedule
        const state = states.has(schedule) ? states.get(schedule) : schedule.initial
        return Effect.flatMap(
          schedule.step(now, { error, classification, attempt }, state),
          ([nextState, , decision]) => {
            if (ScheduleDecision.isDone(decision)) {
              attempts.push(record)
              return stop("exhausted", attempt, classification, error)
            }
            states.set(schedule, nextState)
            const circuitOpen = refused
            const delay = core.retryDelay(
              // after a full recovery the next attempt goes at once
              verdict === "recovered" ? 0 : ScheduleIntervals.start(decision.intervals) - now,
              // (and a Retry-After was the failed dependency's: a recovery moved past it)
              verdict === "recovered" || classification.retryAfter === undefined
                ? undefined
                : Duration.toMillis(classification.retryAfter),
              extraMillis,
              circuitOpen
            )
            {
              const late = core.stopForTime(delay, remaining, circuitOpen)
              if (late !== undefined) {
                attempts.push(record)
                return stop(late, attempt, classification, error)
              }
              // a retry after an open breaker's refusal waits for the breaker and adds no load to the
              // dependency (only the probe reaches it): it does not spend the budget
              // nor does a retry after a full recovery (the recovery budget bounds those): a token
              // expiry across 100 concurrent calls is not a retry storm
              if (
                budget !== undefined &&
                !circuitOpen &&
                verdict !== "recovered" &&
                !budget.tryWithdraw(classification)
              ) {
                attempts.push(record)
                return stop("budget", attempt, classification, error)
              }
              attempts.push({ ...record, delayMillis: delay })
              const announce = Events.publish(
                Events.ResilienceEvent.RetryScheduled({
                  operation: policy.operation,
                  attempt,
                  delayMillis: delay,
                  classification
                })
              ).pipe(
                Effect.zipRight(
                  log.emit(
                    LogLevel.Debug,
                    `retry:${classification.code}`,
                    `${policy.operation} attempt ${attempt} failed (${classification.code}); retrying in ${delay} ms`,
                    {
                      operation: policy.operation,
                      attempt,
                      delayMillis: delay,
                      category: classification.category,
                      code: classification.code
                    }
                  )
                ),
                Effect.zipRight(
                  spanEventWith("resilience.retry", () => ({
                    "resilience.operation": policy.operation,
                    "resilience.attempt": attempt,
                    "resilience.delay_ms": delay,
                    "resilience.category": classification.category,
                    "resilience.code": classification.code
                  }))
                )
              )
              const next = Effect.matchEffect(timed, {
                onFailure: (e) => onFailure(e, attempt + 1, reached + 1),
                onSuccess: (a) => {
                  if (budget !== undefined)
                    budget.onSuccess(false, verdict === "recovered" ? undefined : classification)
                  return Effect.succeed(a)
                }
              })
              const announced =
                onRetry === undefined ? announce : Effect.zipRight(announce, onRetry(attempt, classification))
              return delay > 0
                ? Effect.zipRight(Effect.zipRight(announced, Effect.sleep(Duration.millis(delay))), next)
                : Effect.zipRight(announced, next)
            }
          }
        )
      })

    return onFailure(firstError, 1, 1)
  })
