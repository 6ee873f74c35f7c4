/**
 * The Effect binding of the strategy interface: timers on Effect's Clock, admission through a
 * list of strategies as an Effect (waits become interruptible `Effect.async`s), and the generic
 * `protect` every admission strategy offers for use on its own.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRefs from "effect/FiberRefs"
import * as Option from "effect/Option"
import type { Classification } from "../../Classification.js"
import { Classifier } from "../../Classifier.js"
import * as Deadline from "../../Deadline.js"
import * as Events from "../../Events.js"
import * as core from "./core.js"

/**
 * An admission strategy bound to Effect: the decision core plus the typed error of a refusal.
 *
 * @internal
 */
export interface Strategy<E> extends core.AdmissionStrategy {
  readonly reject: (rejected: core.Rejected) => E
}

/**
 * Effect's default services, as every fiber starts with them. Read through the FiberRef (shared by
 * every copy of `effect` of one version in a process) rather than from `liveServices` (one per copy).
 *
 * @internal
 */
export const defaultServices = (): Context.Context<DefaultServices.DefaultServices> =>
  FiberRefs.getOrDefault(FiberRefs.empty(), DefaultServices.currentServices)

/** Whether `clock` is Effect's default Clock, which `setTimeout` agrees with. */
const isLiveClock = (clock: Clock.Clock): boolean => clock === Context.get(defaultServices(), Clock.Clock)

/**
 * Timers on `clock`, for a pipeline or a strategy to keep. With Effect's default Clock a timer is
 * a plain `setTimeout`; with any other (a `TestClock`) a fiber sleeping on that Clock, so tests
 * control it. Which one is decided once, here, not per timer.
 *
 * @internal
 */
export const timersFor = (clock: Clock.Clock): core.Timers => {
  const now = () => clock.unsafeCurrentTimeMillis()
  if (isLiveClock(clock)) return core.liveTimers(now)
  return {
    now,
    arm: (millis, onFire) => {
      const timer = Effect.runFork(Effect.zipRight(clock.sleep(Duration.millis(millis)), Effect.sync(onFire)))
      return () => {
        timer.unsafeInterruptAsFork(timer.id())
      }
    }
  }
}

/** A refusal by the strategy at `index`. @internal */
export interface Refusal {
  readonly index: number
  readonly rejected: core.Rejected
}

/**
 * Waits for one strategy, interruptibly: an interruption cancels the wait, and an admission that
 * arrives as the fiber is interrupted is given back.
 *
 * @internal
 */
export const awaitDecision = (
  wait: core.Wait,
  timers: core.Timers,
  maxWaitMillis: number | undefined
): Effect.Effect<core.Admitted, core.Rejected> =>
  Effect.suspend(() => {
    // an admission delivered as the fiber is interrupted never reaches the caller: give it back
    let delivered: core.Admitted | undefined
    return Effect.onInterrupt(
      Effect.async<core.Admitted, core.Rejected>((resume) => {
        const cancel = wait.start(timers, maxWaitMillis, (decision) => {
          if (decision._tag === "Admitted") delivered = decision
          resume(decision._tag === "Admitted" ? Exit.succeed(decision) : Exit.fail(decision))
        })
        return Effect.sync(cancel)
      }),
      () =>
        Effect.sync(() => {
          if (delivered !== undefined) delivered.settle(core.neutral, 0, timers.now())
        })
    )
  })

/** Makes an effect interruptible again inside an uninterruptible region (identity outside one). @internal */
export type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

const unrestricted: Restore = (effect) => effect

/**
 * Admits through `strategies`. Synchronous when every strategy decides at once; a wait suspends
 * the call, interruptibly (bounded by the call's deadline when it has one). A refusal goes to
 * `refused` (tickets already held are given back first). Once admitted, `run` receives the
 * tickets, the time the attempt starts and a `restore`: it must settle the tickets exactly once,
 * and run the attempt itself inside `restore` (after a wait, admission ends inside an
 * uninterruptible region, so that an interruption cannot come between the admission and the
 * finalizer that settles it).
 *
 * @internal
 */
export const admitThen = <A, E, R>(
  strategies: ReadonlyArray<core.AdmissionStrategy>,
  timers: core.Timers,
  random: () => number,
  deadline: Option.Option<number>,
  nowMillis: number,
  run: (tickets: ReadonlyArray<core.Admitted>, startMillis: number, restore: Restore) => Effect.Effect<A, E, R>,
  refused: (refusal: Refusal) => Effect.Effect<never, E, R>
): Effect.Effect<A, E, R> =>
  continueWalk(
    core.walk(strategies, 0, undefined, nowMillis, random),
    nowMillis,
    strategies,
    timers,
    random,
    deadline,
    run,
    refused
  )

/**
 * Goes on from a walk already begun (by a caller that tried the synchronous path first).
 *
 * @internal
 */
export const continueWalk = <A, E, R>(
  first: core.Walk,
  nowMillis: number,
  strategies: ReadonlyArray<core.AdmissionStrategy>,
  timers: core.Timers,
  random: () => number,
  deadline: Option.Option<number>,
  run: (tickets: ReadonlyArray<core.Admitted>, startMillis: number, restore: Restore) => Effect.Effect<A, E, R>,
  refused: (refusal: Refusal) => Effect.Effect<never, E, R>
): Effect.Effect<A, E, R> => {
  // the hot path: every strategy decided at once; no closure is made for it
  if (core.isAdmitted(first)) return run(first, nowMillis, unrestricted)
  const step = (
    from: number,
    held: Array<core.Admitted> | undefined,
    now: number,
    restore: Restore
  ): Effect.Effect<A, E, R> => handle(core.walk(strategies, from, held, now, random), now, restore)
  const handle = (result: core.Walk, now: number, restore: Restore): Effect.Effect<A, E, R> => {
    if (core.isAdmitted(result)) return run(result, now, restore)
    switch (result._tag) {
      case "Rejected":
        return refused(result)
      case "Wait": {
        const tickets = result.tickets
        const index = result.index
        const left = Option.isSome(deadline) ? Math.max(0, deadline.value - now) : undefined
        const waited = (inner: Restore) =>
          Effect.matchCauseEffect(inner(awaitDecision(result.wait, timers, left)), {
            onFailure: (cause): Effect.Effect<A, E, R> => {
              core.release(tickets, timers.now())
              const failure = Cause.failureOption(cause)
              return Option.isSome(failure)
                ? refused({ index, rejected: failure.value })
                : Effect.failCause(Cause.stripFailures(cause))
            },
            onSuccess: (admitted) => {
              tickets.push(admitted)
              return step(index + 1, tickets, timers.now(), inner)
            }
          })
        // already inside a region (a second wait): stay in it
        return restore === unrestricted ? Effect.uninterruptibleMask(waited) : waited(restore)
      }
    }
  }
  return handle(first, nowMillis, unrestricted)
}

/** The outcome of an attempt's exit, classified once. @internal */
export const outcomeOf = <A, E>(
  exit: Exit.Exit<A, E> | undefined,
  classify: (failure: unknown) => Classification
): core.Outcome => {
  if (exit === undefined) return core.neutral
  if (Exit.isSuccess(exit)) return core.success
  if (Cause.isInterruptedOnly(exit.cause)) return core.neutral
  const failure = Cause.failureOption(exit.cause)
  return core.failure(classify(Option.isSome(failure) ? failure.value : Cause.squash(exit.cause)))
}

/**
 * One strategy on its own around an effect: admit (waiting when the strategy says so, within the
 * current deadline), run, settle with the outcome classified by the `Classifier` in context.
 *
 * The success path reads what it needs from the fiber synchronously; the random source handed to
 * `admit` is seeded once, from Effect's `Random`, on the first call through this protected effect.
 *
 * @internal
 */
export const protect = <E2>(strategy: Strategy<E2>) => {
  const strategies = [strategy]
  let random: (() => number) | undefined
  // the timers of the last clock seen (the same clock, call after call, outside tests)
  let timersClock: Clock.Clock | undefined
  let timers: core.Timers | undefined
  const timersOf = (clock: Clock.Clock): core.Timers => {
    if (timers === undefined || timersClock !== clock) {
      timers = timersFor(clock)
      timersClock = clock
    }
    return timers
  }
  const refused = (refusal: Refusal) =>
    Effect.zipRight(
      Events.publish(
        Events.ResilienceEvent.Rejected({
          component: strategy.component,
          name: strategy.name,
          reason: refusal.rejected.reason
        })
      ),
      Effect.fail(strategy.reject(refusal.rejected))
    )
  return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | E2, R | Classifier> => {
    const run = (classify: (failure: unknown) => Classification, rnd: () => number) =>
      Effect.withFiberRuntime<A, E | E2, R>((fiber) => {
        const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
        const now = clock.unsafeCurrentTimeMillis()
        return admitThen<A, E | E2, R>(
          strategies,
          timersOf(clock),
          rnd,
          fiber.getFiberRef(Deadline.currentDeadline),
          now,
          (tickets, start, restore) =>
            Effect.onExit(restore(self), (exit) =>
              Effect.sync(() => {
                const end = clock.unsafeCurrentTimeMillis()
                core.settleAll(tickets, outcomeOf(exit, classify), end - start, end)
              })
            ),
          refused
        )
      })
    return Effect.flatMap(Classifier, (classifier) => {
      if (random !== undefined) return run(classifier.classify, random)
      return Effect.flatMap(
        Effect.randomWith((r) => r.nextIntBetween(0, 2 ** 31)),
        (seed) => {
          random ??= core.seededRandom(seed)
          return run(classifier.classify, random)
        }
      )
    })
  }
}
