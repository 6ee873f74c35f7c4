import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type { Classification } from "../Classification.js"
import * as Events from "../Events.js"
import { makeDefault } from "./classifier/classify.js"

/**
 * The default classifier's classify, built on the first failure it is asked about (most hedged
 * calls never fail) and kept by the hedged effect. Only `retryable` is read, which no clock
 * decides: the clock it is given is never asked (it would only date a Retry-After).
 *
 * @internal
 */
export const defaultClassify = (): ((failure: unknown) => Classification) => {
  let classify: ((failure: unknown) => Classification) | undefined
  return (failure) => {
    classify ??= makeDefault(() => 0).classify
    return classify(failure)
  }
}

/** What the coordinator hears: the hedge timer fired, or an attempt ended. */
type Signal<A, E> =
  | { readonly _tag: "Tick"; readonly generation: number }
  | { readonly _tag: "Done"; readonly index: number; readonly exit: Exit.Exit<A, E> }

/**
 * A one-reader mailbox: signals posted while nobody waits are kept in order; `take` resumes the
 * reader at once when one is there. Cheaper than a `Queue` for the few signals of one call.
 */
class Mailbox<S> {
  private readonly pending: Array<S> = []
  private waiting: ((signal: S) => void) | undefined = undefined
  post(signal: S): void {
    const waiting = this.waiting
    if (waiting === undefined) {
      this.pending.push(signal)
    } else {
      this.waiting = undefined
      waiting(signal)
    }
  }
  readonly take: Effect.Effect<S> = Effect.async<S>((resume) => {
    const next = this.pending.shift()
    if (next !== undefined) {
      resume(Effect.succeed(next))
      return
    }
    this.waiting = (signal) => resume(Effect.succeed(signal))
    return Effect.sync(() => {
      this.waiting = undefined
    })
  })
}

/** @internal */
export interface Resolved {
  readonly delay: Duration.Duration
  readonly maxHedges: number
  readonly operation: string
  readonly onHedge: ((hedge: number) => Effect.Effect<void>) | undefined
}

/** @internal */
export const resolve = (options: {
  readonly delay: Duration.DurationInput
  readonly maxHedges: number
  readonly operation?: string | undefined
  readonly onHedge?: ((hedge: number) => Effect.Effect<void>) | undefined
}): Resolved => ({
  delay: Duration.decode(options.delay),
  maxHedges: Number.isFinite(options.maxHedges) ? Math.max(0, Math.floor(options.maxHedges)) : 0,
  operation: options.operation ?? "hedged",
  onHedge: options.onHedge
})

/**
 * Runs `self` with hedges.
 *
 * One coordinator (the calling fiber) owns every decision; attempts and the hedge timer are forked
 * fibers that only post signals to its mailbox. The coordinator starts attempt 0 and arms the timer;
 * on `Tick` it starts the next hedge and re-arms the timer (while hedges remain); on `Done` it
 * either returns (a success, a failure the classifier says is not retryable, or the last attempt
 * in flight failing) or keeps waiting. Whatever ends the race (including the caller's
 * interruption), the timer and every attempt still running are interrupted and awaited, so their
 * finalizers have run before this returns.
 *
 * `classify` decides what a failure does (the next hedge at once when retryable, the end of the
 * race when not); without it, only latency starts hedges.
 *
 * @internal
 */
export const hedge = <A, E, R>(
  self: Effect.Effect<A, E, R> | ((attempt: number) => Effect.Effect<A, E, R>),
  options: Resolved,
  classify: ((failure: unknown) => Classification) | undefined
): Effect.Effect<A, E, R> => {
  const attempt = Effect.isEffect(self) ? () => self : self
  if (options.maxHedges === 0) return Effect.suspend(() => attempt(0))
  const { delay, maxHedges, onHedge, operation } = options
  return Effect.uninterruptibleMask((restore) =>
    Effect.suspend(() => {
      const mailbox = new Mailbox<Signal<A, E>>()
      const attempts: Array<Fiber.RuntimeFiber<void>> = []
      let timer: Fiber.RuntimeFiber<void> | undefined
      // Bumped whenever a timer is armed or disarmed, so that a stale tick is ignored.
      let generation = 0
      let started = 0
      let inFlight = 0

      const startAttempt: Effect.Effect<void, never, R> = Effect.suspend(() => {
        const index = started++
        inFlight++
        return Effect.map(
          Effect.fork(
            Effect.flatMap(Effect.exit(restore(Effect.suspend(() => attempt(index)))), (exit) =>
              Effect.sync(() => mailbox.post({ _tag: "Done", index, exit }))
            )
          ),
          (fiber) => {
            attempts.push(fiber)
          }
        )
      })

      const startHedge: Effect.Effect<void, never, R> = Effect.suspend(() => {
        const hedge = started
        const announce = Events.publish(Events.ResilienceEvent.HedgeStarted({ operation, hedge }))
        return Effect.zipRight(
          onHedge === undefined ? announce : Effect.zipRight(announce, onHedge(hedge)),
          startAttempt
        )
      })

      // The timer for the next hedge, if one may still start.
      const arm: Effect.Effect<void> = Effect.suspend(() => {
        if (started > maxHedges) return Effect.void
        const tick: Signal<A, E> = { _tag: "Tick", generation: ++generation }
        return Effect.map(
          Effect.fork(
            Effect.zipRight(
              Effect.interruptible(Effect.sleep(delay)),
              Effect.sync(() => mailbox.post(tick))
            )
          ),
          (fiber) => {
            timer = fiber
          }
        )
      })

      // The timer fiber runs no user code: it is interrupted without waiting for it.
      const disarm: Effect.Effect<void> = Effect.suspend(() => {
        const current = timer
        timer = undefined
        generation++
        return current === undefined
          ? Effect.void
          : Effect.fiberIdWith((id) => Effect.sync(() => current.unsafeInterruptAsFork(id)))
      })

      const hedgeNow = Effect.zipRight(Effect.zipRight(disarm, startHedge), arm)

      const loop: Effect.Effect<Exit.Exit<A, E>, never, R> = Effect.flatMap(restore(mailbox.take), (signal) => {
        if (signal._tag === "Tick") {
          if (signal.generation !== generation) return loop
          timer = undefined
          return Effect.zipRight(Effect.zipRight(startHedge, arm), loop)
        }
        inFlight--
        const exit = signal.exit
        if (Exit.isSuccess(exit)) return Effect.succeed(exit)
        if (classify !== undefined) {
          const classification = classify(Cause.squash(exit.cause))
          if (!classification.retryable) return Effect.succeed(exit)
          if (started <= maxHedges) return Effect.zipRight(hedgeNow, loop)
        }
        return inFlight === 0 ? Effect.succeed(exit) : loop
      })

      // Losers are interrupted and awaited: their finalizers have run when `hedge` returns.
      const cleanup = Effect.zipRight(
        disarm,
        Effect.suspend(() => Fiber.interruptAll(attempts))
      )

      return Effect.flatten(Effect.ensuring(Effect.zipRight(Effect.zipRight(startAttempt, arm), loop), cleanup))
    })
  )
}
