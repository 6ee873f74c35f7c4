import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as Interval from "effect/ScheduleInterval"
import * as Intervals from "effect/ScheduleIntervals"
import type * as Classification from "../../Classification.js"
import { currentDeadline } from "../../Deadline.js"
import * as core from "./core.js"
import * as stepper from "./stepper.js"

/** @internal */
export type Jitter = core.Jitter

const toMillis = (input: Duration.DurationInput): number => Duration.toMillis(Duration.decode(input))

const continueAfter = (now: number, delayMillis: number): ScheduleDecision.ScheduleDecision =>
  ScheduleDecision.continueWith(Interval.after(now + delayMillis))

/**
 * Moves the start of a "continue" decision to `now + delayMillis`, keeping the width of its window
 * (as `Schedule.modifyDelay` does), so that union and intersect still see a well-formed interval.
 */
const delayDecision = (
  decision: ScheduleDecision.Continue,
  now: number,
  delayMillis: number
): ScheduleDecision.ScheduleDecision => {
  const oldStart = Intervals.start(decision.intervals)
  const newStart = now + delayMillis
  const newEnd = Math.max(newStart, Intervals.end(decision.intervals) + (newStart - oldStart))
  return ScheduleDecision.continueWith(Interval.make(newStart, newEnd))
}

/** The delay a "continue" decision asks for, in milliseconds from `now`. */
const delayOf = (decision: ScheduleDecision.Continue, now: number): number =>
  Math.max(0, Intervals.start(decision.intervals) - now)

/** The steppers of the schedules that have one, by schedule (see `stepper.ts`). */
const steppers = new WeakMap<object, stepper.Stepper>()

/** Registers `schedule`'s stepper, when it has one; returns the schedule. */
const withStepper = <S extends object>(schedule: S, of: stepper.Stepper | undefined): S => {
  if (of !== undefined) steppers.set(schedule, of)
  return schedule
}

/**
 * The stepper of a schedule built by `Backoff` that draws no random number: the same delays
 * without running an Effect. `undefined` for any other schedule (jittered, decorrelated, a
 * user's own), which must be stepped as an Effect.
 *
 * @internal
 */
export const stepperOf = (schedule: object): stepper.Stepper | undefined => steppers.get(schedule)

/**
 * A schedule that recurs forever; each step computes the next delay (ms) and state from the
 * previous state. The output is the delay.
 */
const unfoldDelays = <S>(initial: S, next: (state: S) => readonly [S, number]): Schedule.Schedule<Duration.Duration> =>
  withStepper(
    Schedule.makeWithState<S, unknown, Duration.Duration>(initial, (now, _, state) => {
      const [nextState, millis] = next(state)
      return Effect.succeed([nextState, Duration.millis(millis), continueAfter(now, millis)] as const)
    }),
    stepper.unfold(initial, next)
  )

/** @internal */
export const exponential = (base: Duration.DurationInput, factor = 2): Schedule.Schedule<Duration.Duration> => {
  const baseMillis = toMillis(base)
  return unfoldDelays(0, (n) => [n + 1, core.exponentialDelay(baseMillis, factor, n)])
}

/** @internal */
export const fibonacci = (one: Duration.DurationInput): Schedule.Schedule<Duration.Duration> => {
  const oneMillis = toMillis(one)
  return unfoldDelays(core.fibonacciStart(oneMillis), (state) => {
    const [delay, next] = core.fibonacciStep(state)
    return [next, delay]
  })
}

/** @internal */
export const linear = (base: Duration.DurationInput): Schedule.Schedule<Duration.Duration> => {
  const baseMillis = toMillis(base)
  return unfoldDelays(0, (n) => [n + 1, core.linearDelay(baseMillis, n)])
}

/** @internal */
export const constant = (delay: Duration.DurationInput): Schedule.Schedule<Duration.Duration> => {
  const millis = toMillis(delay)
  return unfoldDelays(0, (n) => [n + 1, millis])
}

/** @internal */
export const decorrelated = (options: {
  readonly base: Duration.DurationInput
  readonly cap: Duration.DurationInput
}): Schedule.Schedule<Duration.Duration> => {
  const base = toMillis(options.base)
  const cap = toMillis(options.cap)
  return Schedule.makeWithState<number, unknown, Duration.Duration>(base, (now, _, previous) =>
    Effect.map(Random.next, (r) => {
      const millis = core.decorrelatedDelay(base, cap, previous, r)
      return [millis, Duration.millis(millis), continueAfter(now, millis)] as const
    })
  )
}

/** @internal */
export const capped = dual<
  (max: Duration.DurationInput) => <Out, In, R>(self: Schedule.Schedule<Out, In, R>) => Schedule.Schedule<Out, In, R>,
  <Out, In, R>(self: Schedule.Schedule<Out, In, R>, max: Duration.DurationInput) => Schedule.Schedule<Out, In, R>
>(2, <Out, In, R>(self: Schedule.Schedule<Out, In, R>, max: Duration.DurationInput) => {
  const cap = toMillis(max)
  // one `map` per step (Schedule.modifyDelay costs a flatMap and a sync more): retries are a hot path
  const inner = stepperOf(self)
  return withStepper(
    Schedule.makeWithState(self.initial, (now, input: In, state) =>
      Effect.map(self.step(now, input, state), (result) => {
        const [next, out, decision] = result
        if (ScheduleDecision.isDone(decision) || delayOf(decision, now) <= cap) return result
        return [next, out, delayDecision(decision, now, cap)] as const
      })
    ),
    inner === undefined ? undefined : stepper.capped(inner, cap)
  )
})

/** Applies a jitter mode to a delay in milliseconds given a uniform random number in [0, 1). */
export const applyJitter = core.applyJitter

/** @internal */
export const jitter = dual<
  (mode: Jitter) => <Out, In, R>(self: Schedule.Schedule<Out, In, R>) => Schedule.Schedule<Out, In, R>,
  <Out, In, R>(self: Schedule.Schedule<Out, In, R>, mode: Jitter) => Schedule.Schedule<Out, In, R>
>(2, <Out, In, R>(self: Schedule.Schedule<Out, In, R>, mode: Jitter) =>
  mode === "none"
    ? self
    : Schedule.makeWithState(self.initial, (now, input: In, state) =>
        Effect.flatMap(self.step(now, input, state), (result) => {
          const [next, out, decision] = result
          if (ScheduleDecision.isDone(decision)) return Effect.succeed(result)
          return Effect.map(
            Random.next,
            (r) => [next, out, delayDecision(decision, now, applyJitter(mode, delayOf(decision, now), r))] as const
          )
        })
      )
)

/** @internal */
export const maxAttempts = dual<
  (attempts: number) => <Out, In, R>(self: Schedule.Schedule<Out, In, R>) => Schedule.Schedule<Out, In, R>,
  <Out, In, R>(self: Schedule.Schedule<Out, In, R>, attempts: number) => Schedule.Schedule<Out, In, R>
>(2, (self, attempts) => Schedule.zipLeft(self, Schedule.recurs(Math.max(0, Math.floor(attempts) - 1))))

/** @internal */
export const maxElapsed = dual<
  (max: Duration.DurationInput) => <Out, In, R>(self: Schedule.Schedule<Out, In, R>) => Schedule.Schedule<Out, In, R>,
  <Out, In, R>(self: Schedule.Schedule<Out, In, R>, max: Duration.DurationInput) => Schedule.Schedule<Out, In, R>
>(2, <Out, In, R>(self: Schedule.Schedule<Out, In, R>, max: Duration.DurationInput) => {
  const limit = toMillis(max)
  const initial: { readonly start: number | undefined; readonly inner: unknown } = {
    start: undefined,
    inner: self.initial
  }
  const inner = stepperOf(self)
  return withStepper(
    Schedule.makeWithState(initial, (now, input: In, state) => {
      const start = state.start ?? now
      return Effect.map(self.step(now, input, state.inner), ([inner, out, decision]) => {
        const next = { start, inner }
        if (ScheduleDecision.isDone(decision)) return [next, out, decision] as const
        const stop = core.exceedsElapsed(start, Intervals.start(decision.intervals), limit)
        return [next, out, stop ? ScheduleDecision.done : decision] as const
      })
    }),
    inner === undefined ? undefined : stepper.maxElapsed(inner, limit)
  )
})

/** @internal */
export const withinDeadline = <Out, In, R>(self: Schedule.Schedule<Out, In, R>): Schedule.Schedule<Out, In, R> =>
  Schedule.makeWithState(self.initial, (now, input: In, state) =>
    Effect.flatMap(self.step(now, input, state), (result) => {
      const [next, out, decision] = result
      if (ScheduleDecision.isDone(decision)) return Effect.succeed(result)
      return Effect.map(FiberRef.get(currentDeadline), (deadline) =>
        core.pastDeadline(Intervals.start(decision.intervals), Option.getOrUndefined(deadline))
          ? ([next, out, ScheduleDecision.done] as const)
          : result
      )
    })
  )

/** @internal */
export const retryAfterExtraDefault: Duration.Duration = Duration.seconds(5)

/** @internal */
export const retryAfterDelay = core.retryAfterDelay

/** @internal */
export const withRetryAfter = dual<
  (options?: {
    readonly extra?: Duration.DurationInput | undefined
  }) => <Out, In extends { readonly classification: Classification.Classification }, R>(
    self: Schedule.Schedule<Out, In, R>
  ) => Schedule.Schedule<Out, In, R>,
  <Out, In extends { readonly classification: Classification.Classification }, R>(
    self: Schedule.Schedule<Out, In, R>,
    options?: { readonly extra?: Duration.DurationInput | undefined }
  ) => Schedule.Schedule<Out, In, R>
>(
  (args) => Schedule.isSchedule(args[0]),
  <Out, In extends { readonly classification: Classification.Classification }, R>(
    self: Schedule.Schedule<Out, In, R>,
    options?: { readonly extra?: Duration.DurationInput | undefined }
  ): Schedule.Schedule<Out, In, R> => {
    const extra = toMillis(options?.extra ?? retryAfterExtraDefault)
    return Schedule.makeWithState(self.initial, (now, input: In, state) =>
      Effect.map(self.step(now, input, state), (result) => {
        const [next, out, decision] = result
        const retryAfter = input.classification.retryAfter
        if (ScheduleDecision.isDone(decision) || retryAfter === undefined) return result
        const backoff = delayOf(decision, now)
        const delay = retryAfterDelay(backoff, Duration.toMillis(retryAfter), extra)
        return delay === backoff ? result : ([next, out, delayDecision(decision, now, delay)] as const)
      })
    )
  }
)

/** @internal */
export const preset = (options: {
  readonly base: Duration.DurationInput
  readonly factor: number
  readonly cap: Duration.DurationInput
  readonly jitter: Jitter
  readonly attempts: number
}): Schedule.Schedule<Duration.Duration> =>
  Schedule.delays(
    maxAttempts(
      jitter(capped(exponential(options.base, options.factor), options.cap), options.jitter),
      options.attempts
    )
  )
