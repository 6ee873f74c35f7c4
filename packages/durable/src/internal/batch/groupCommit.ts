/**
 * Group commit for the batch runner: the items in flight hand their store writes to one fiber,
 * which writes everything queued since its last write in one call of the store (one statement,
 * one commit), instead of a statement and a commit per item.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"

type WriterMessage<A, E> =
  | { readonly _tag: "Item"; readonly item: A }
  | { readonly _tag: "Flush"; readonly done: Deferred.Deferred<void, E> }

/** @internal */
export interface Writer<A, E> {
  /** Queues an item; does not wait for it to be written. */
  readonly offer: (item: A) => Effect.Effect<void>
  /** Waits until everything offered before has been written. */
  readonly flush: Effect.Effect<void, E>
  /** Fails with the first write's failure (the writer stops there). */
  readonly failure: Effect.Effect<never, E>
}

/**
 * A writer whose items do not wait: one fiber writes, in one `write` call, every item queued
 * since its last write, up to `size` items. With a `capacity`, `offer` waits while that many items
 * are queued (so a slow store slows the items down instead of piling them up in memory).
 *
 * With a `linger`, a write that is not full first waits that long (on the `Clock`) for more
 * items, unless a flush comes: then it writes at once. What is still queued when the scope
 * closes is not written (an interrupted batch's items are answered from their stores on a rerun).
 *
 * @internal
 */
export const makeWriter = <A, E>(
  write: (items: ReadonlyArray<A>) => Effect.Effect<void, E>,
  options: {
    readonly size: number
    readonly capacity?: number | undefined
    readonly linger?: Duration.Duration | undefined
  }
): Effect.Effect<Writer<A, E>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { capacity, linger, size } = options
    const queue = yield* capacity === undefined
      ? Queue.unbounded<WriterMessage<A, E>>()
      : Queue.bounded<WriterMessage<A, E>>(capacity)
    const failed = yield* Deferred.make<never, E>()
    // completed by the next flush: cuts a linger short
    let flushed = yield* Deferred.make<void>()
    const lingerFor = (first: Iterable<WriterMessage<A, E>>, taken: number): Effect.Effect<void> => {
      if (linger === undefined || taken >= size) return Effect.void
      for (const message of first) if (message._tag === "Flush") return Effect.void
      return Effect.raceFirst(Effect.sleep(linger), Deferred.await(flushed))
    }
    const step = Effect.gen(function* () {
      const first = yield* Queue.takeBetween(queue, 1, size)
      yield* lingerFor(first, first.length)
      const more = first.length < size ? yield* Queue.takeUpTo(queue, size - first.length) : []
      const items: Array<A> = []
      const flushes: Array<Deferred.Deferred<void, E>> = []
      for (const message of [...first, ...more]) {
        if (message._tag === "Item") items.push(message.item)
        else flushes.push(message.done)
      }
      if (items.length > 0) yield* write(items)
      for (const done of flushes) yield* Deferred.succeed(done, undefined)
    })
    // after a failed write: every flush, queued or to come, fails with it (no race with the
    // failure, which in a finalizer's uninterruptible region would wait for ever on its loser)
    const failWith = (error: E) =>
      Effect.zipRight(
        Deferred.fail(failed, error),
        Effect.forever(
          Effect.flatMap(Queue.take(queue), (message) =>
            message._tag === "Flush" ? Deferred.fail(message.done, error) : Effect.void
          )
        )
      )
    yield* Effect.forkScoped(Effect.forever(step).pipe(Effect.catchAll(failWith)))
    const flush = Effect.flatMap(Deferred.make<void, E>(), (done) =>
      Queue.offer(queue, { _tag: "Flush", done }).pipe(
        Effect.zipRight(
          Effect.flatMap(Deferred.make<void>(), (next) =>
            Effect.suspend(() => {
              const current = flushed
              flushed = next
              return Deferred.succeed(current, undefined)
            })
          )
        ),
        Effect.zipRight(Deferred.await(done))
      )
    )
    return {
      offer: (item) => Queue.offer(queue, { _tag: "Item", item }),
      flush,
      failure: Deferred.await(failed)
    }
  })

interface Request<A, B, E> {
  readonly input: A
  readonly answer: Deferred.Deferred<B, E>
}

/**
 * A call of the store that many fibers share: `submit(input)` waits for the answer to its input.
 * One fiber calls `call` with every input submitted since its last call (up to `size`), in the
 * order submitted, and hands each caller the answer at its input's index; when a call fails, every
 * caller of that call gets the failure (and later calls go on). A call with fewer than `size`
 * inputs first waits for more as `linger` says.
 *
 * @internal
 */
export const makeShared = <A, B, E>(
  call: (inputs: ReadonlyArray<A>) => Effect.Effect<ReadonlyArray<B>, E>,
  size: number,
  linger: SharedLinger
): Effect.Effect<(input: A) => Effect.Effect<B, E>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const queue = yield* Queue.unbounded<Request<A, B, E>>()
    // callers waiting for an answer, and the signal that ends a linger early
    let waiting = 0
    let enough = Deferred.unsafeMake<void>(FiberId.none)
    const gather = (first: ReadonlyArray<Request<A, B, E>>): Effect.Effect<ReadonlyArray<Request<A, B, E>>> =>
      first.length >= size || linger.enough(waiting)
        ? Effect.succeed(first)
        : Effect.zipRight(
            Effect.raceFirst(realSleep(linger.millis), Deferred.await(enough)),
            Effect.map(Queue.takeUpTo(queue, size - first.length), (more) => [...first, ...more])
          )
    const step = Effect.flatMap(Queue.takeBetween(queue, 1, size), (chunk) =>
      Effect.flatMap(gather(Array.from(chunk)), (requests) => {
        enough = Deferred.unsafeMake<void>(FiberId.none)
        waiting -= requests.length
        const answerAll = (exit: Exit.Exit<B, E>) =>
          Effect.sync(() => {
            for (const request of requests) Deferred.unsafeDone(request.answer, exit)
          })
        return Effect.matchCauseEffect(call(requests.map((r) => r.input)), {
          onSuccess: (answers) =>
            answers.length === requests.length
              ? Effect.sync(() => {
                  answers.forEach((answer, i) => {
                    Deferred.unsafeDone(requests[i]!.answer, Exit.succeed(answer))
                  })
                })
              : answerAll(Exit.die(new Error(`a store call answered ${answers.length} of ${requests.length} inputs`))),
          onFailure: (cause) => answerAll(Exit.failCause(cause))
        })
      })
    )
    yield* Effect.forkScoped(Effect.forever(step))
    return (input) =>
      Effect.flatMap(Deferred.make<B, E>(), (answer) =>
        Effect.zipRight(
          Effect.zipRight(
            Queue.offer(queue, { input, answer }),
            Effect.sync(() => {
              waiting++
              if (linger.enough(waiting)) Deferred.unsafeDone(enough, Exit.void)
            })
          ),
          Deferred.await(answer)
        )
      )
  })

/**
 * How a shared call waits for more callers before it runs with fewer than its size: at most
 * `millis` of real time (a Node timer: a caller never waits for a test's `Clock` to move), and
 * not at all once `enough(waiting)` says no other caller is coming (every item in flight waits).
 *
 * @internal
 */
export interface SharedLinger {
  readonly millis: number
  readonly enough: (waiting: number) => boolean
}

/** Resumes after `millis` of real time. */
const realSleep = (millis: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const handle = setTimeout(() => resume(Effect.void), millis)
    return Effect.sync(() => clearTimeout(handle))
  })

/** @internal */
export interface InFlight {
  /** How many calls run now. */
  readonly active: () => number
  /** Runs `effect` as one of the calls `close` waits for (after `close`: interrupted). */
  readonly track: <X, EX, RX>(effect: Effect.Effect<X, EX, RX>) => Effect.Effect<X, EX, RX>
  /** Lets no more calls start, and waits until none runs. */
  readonly close: Effect.Effect<void>
}

/**
 * Counts the calls that use shared store calls and writers. An interrupted batch closes its
 * scope while its items still run their finalizers (an interrupted `forEach` does not wait for its
 * fibers first), and an item that completes or releases its key through a shared call or a writer
 * needs that fiber alive: add `close` as a finalizer after the shared calls and writers are made,
 * so that it runs before their fibers stop.
 *
 * @internal
 */
export const makeInFlight: Effect.Effect<InFlight> = Effect.sync(() => {
  let active = 0
  const idle = Deferred.unsafeMake<void>(FiberId.none)
  let closing = false
  const leave = Effect.sync(() => {
    active--
    if (active === 0 && closing) Deferred.unsafeDone(idle, Exit.void)
  })
  return {
    active: () => active,
    track: (effect) =>
      Effect.suspend(() => {
        // an interrupted `forEach` may still start an item while the scope closes: it must not
        // take a lease that the closing scope would no longer release
        if (closing) return Effect.interrupt
        active++
        return Effect.ensuring(effect, leave)
      }),
    close: Effect.suspend(() => {
      closing = true
      return active === 0 ? Effect.void : Deferred.await(idle)
    })
  }
})
