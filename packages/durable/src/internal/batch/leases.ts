/**
 * The idempotency leases of a batch's items, taken ahead: when an item starts and its lease has
 * not been asked for, one `acquireAll` asks for the leases of the next items too (a window), so a
 * batch of `n` items takes a few lease statements per window instead of `n`. The window starts at
 * the batch's concurrency and doubles (up to 256) each time the previous one was used up within
 * 50 ms of the `Clock`; a slower window starts it again from the concurrency. A fast batch at
 * concurrency 1 (a failing one, say) so takes one statement per 256 items, not one per item.
 *
 * An item's completion is a shared call (one statement for the items that finish while the
 * previous statement runs), which waits up to 5 ms for others to share its statement and which the
 * item waits for: an item is done once its result is stored, so a crash sends again only the
 * items that were in flight. A release after a failure is written in groups too, and the item does
 * not wait for it (a release lets the next owner in before the lease ends; a release lost in a
 * crash only leaves the lease to run out); the scope's end writes the releases still queued. The
 * asking again about a busy key is the store's own single call (rare on a healthy batch).
 *
 * A lease taken ahead starts to run when it is taken, not when its item starts. An item whose
 * lease has run for more than half its length before the item starts takes it again first (same
 * owner, so it gets it unless it expired and another owner took it meanwhile).
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"
import type * as Idempotency from "../../Idempotency.js"
import { makeShared, makeWriter } from "./groupCommit.js"

/** At most how many keys one shared statement takes (and the largest window). */
const sharedCallSize = 256

/** A window used up within this long (of the `Clock`) makes the next one twice as large. */
const growWithinMillis = 50

/**
 * How long an item's completion waits for others to share its statement (unless every item in
 * flight is waiting for one): at 1,000 items a second, about 5 a statement.
 */
const completionLingerMillis = 5

/** @internal */
export interface Leases {
  /** The lease of the item at `position` (in the order items start), taken ahead with the next ones when not yet asked for. */
  readonly take: (position: number) => Effect.Effect<Idempotency.Acquisition, Idempotency.IdempotencyError>
  /** Asks again about one key (a busy key, polled). */
  readonly acquire: (key: string) => Effect.Effect<Idempotency.Acquisition, Idempotency.IdempotencyError>
  /** Lets the next owner in (after the item failed): queued, written with the others queued meanwhile. */
  readonly release: (key: string) => Effect.Effect<void, Idempotency.IdempotencyError>
  /** Stores an item's result (its encoded JSON): the key is completed. */
  readonly complete: (key: string, result: string) => Effect.Effect<void, Idempotency.IdempotencyError>
}

interface Taken {
  readonly acquisition: Idempotency.Acquisition
  readonly atMillis: number
}

/**
 * `keys[position]` is the idempotency key of the item that starts `position`-th. The scope's end
 * releases every lease taken ahead that no item used (a stopped or interrupted batch), so a rerun
 * need not wait for them to expire.
 *
 * @internal
 */
export const make = (options: {
  readonly store: Idempotency.IdempotencyStore["Type"]
  readonly owner: string
  readonly leaseMillis: number
  readonly keys: ReadonlyArray<string>
  /** The first window (the batch's concurrency). */
  readonly window: number
  /** How many items are in flight: a completion waits for more only while some are not waiting. */
  readonly inFlight: () => number
}): Effect.Effect<Leases, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { keys, leaseMillis, owner, store } = options
    const clock = yield* Effect.clock
    const baseWindow = Math.max(1, Math.min(sharedCallSize, Math.floor(options.window)))
    let window = baseWindow
    let lastAskedAt = Number.NEGATIVE_INFINITY
    const lease = { owner, leaseMillis }
    const acquire = (key: string) => store.acquire(key, lease)
    // a failed release leaves the lease to run out, as a crash would: nothing to fail the batch for
    const releases = yield* makeWriter((ks: ReadonlyArray<string>) => Effect.ignore(store.releaseAll(ks, owner)), {
      size: sharedCallSize
    })
    const complete = yield* makeShared(
      (entries: ReadonlyArray<{ readonly key: string; readonly result: string }>) =>
        Effect.as(store.completeAll(entries, owner), entries),
      sharedCallSize,
      { millis: completionLingerMillis, enough: (waiting) => waiting >= options.inFlight() }
    )
    // asked for: position -> the answer of its window's statement (one per window: an Effect
    // Deferred is costly to make); answered and not yet used: position -> what was taken
    const asked = new Map<number, Deferred.Deferred<void, Idempotency.IdempotencyError>>()
    const unused = new Map<number, Taken>()

    // (added after the release writer's fiber: it still runs when this finalizer does)
    yield* Effect.addFinalizer(() =>
      Effect.zipRight(
        releases.flush,
        Effect.suspend(() => {
          const held: Array<string> = []
          for (const [position, taken] of unused) if (taken.acquisition._tag === "Acquired") held.push(keys[position]!)
          unused.clear()
          return held.length === 0 ? Effect.void : Effect.ignore(store.releaseAll(held, owner))
        })
      )
    )

    /** Asks for the leases of `position` and the next positions not asked for yet, in one statement. */
    const askAhead = (position: number) =>
      Effect.suspend(() => {
        const now = clock.unsafeCurrentTimeMillis()
        window = now - lastAskedAt < growWithinMillis ? Math.min(sharedCallSize, window * 2) : baseWindow
        lastAskedAt = now
        const positions: Array<number> = []
        const answer = Deferred.unsafeMake<void, Idempotency.IdempotencyError>(FiberId.none)
        for (let p = position; p < keys.length && positions.length < window; p++) {
          if (asked.has(p)) continue
          asked.set(p, answer)
          positions.push(p)
        }
        const atMillis = now
        return Effect.matchCauseEffect(
          store.acquireAll(
            positions.map((p) => keys[p]!),
            lease
          ),
          {
            onSuccess: (acquisitions) =>
              Effect.sync(() => {
                acquisitions.forEach((acquisition, n) => {
                  unused.set(positions[n]!, { acquisition, atMillis })
                })
                Deferred.unsafeDone(answer, Exit.void)
              }),
            onFailure: (cause) =>
              Effect.zipRight(
                Effect.sync(() => Deferred.unsafeDone(answer, Exit.failCause(cause))),
                Effect.failCause(cause)
              )
          }
        )
      })

    /** What was taken for `position`, once its window's statement answered. */
    const takenAt = (position: number): Effect.Effect<Taken> =>
      Effect.suspend(() => {
        const taken = unused.get(position)
        asked.delete(position)
        unused.delete(position)
        // answered before any item could see it, and only the scope's end (after every item) clears it
        return taken === undefined
          ? Effect.dieMessage(`No lease was taken for position ${position}`)
          : Effect.succeed(taken)
      })

    const take = (position: number): Effect.Effect<Idempotency.Acquisition, Idempotency.IdempotencyError> =>
      Effect.suspend(() => {
        const known = asked.get(position)
        // uninterruptible: the statement's answer must reach `unused`, or a lease it took is never released
        const answer =
          known === undefined
            ? Effect.zipRight(Effect.uninterruptible(askAhead(position)), takenAt(position))
            : Effect.zipRight(Deferred.await(known), takenAt(position))
        return Effect.flatMap(answer, (taken) => {
          const { acquisition } = taken
          if (acquisition._tag !== "Acquired") return Effect.succeed(acquisition)
          return clock.unsafeCurrentTimeMillis() - taken.atMillis < leaseMillis / 2
            ? Effect.succeed(acquisition)
            : // held long before its item started: take it again (ours unless it expired and
              // another owner took it); the attempt is still the one it was taken as
              Effect.map(acquire(keys[position]!), (again) =>
                again._tag === "Acquired" && again.attempt === acquisition.attempt + 1 ? acquisition : again
              )
        })
      })

    return {
      take,
      acquire,
      release: releases.offer,
      complete: (key, result) => Effect.asVoid(complete({ key, result }))
    }
  })
