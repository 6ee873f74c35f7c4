/**
 * The protocol of `Idempotency.once`, shared with the batch runner (which takes its leases ahead
 * and writes its completions and releases in groups): where the key's lease comes from and how a
 * result or a release is written is the caller's; what happens with each answer is here.
 *
 * - `Completed`: the stored result is decoded and returned (`replayed: true`).
 * - `Busy`: wait until the lease ends, or at most `pollMillis`, and ask again.
 * - `Acquired`: run the effect with the lease's attempt number; store its encoded result; when
 *   the effect or the storing fails (or is interrupted), release the key so that the next owner
 *   need not wait for the lease to end.
 *
 * Only the effect and the wait for a busy key can be interrupted: an owner interrupted while its
 * lease was being taken, or while its result was being stored, would leave the key leased to no
 * one for the rest of the lease.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Idempotency from "../../Idempotency.js"

/** @internal */
export interface Lease<A> {
  /** Asks for the key the first time. */
  readonly first: Effect.Effect<Idempotency.Acquisition, Idempotency.IdempotencyError>
  /** Asks again, after the key was busy (made only when needed, as is a release). */
  readonly again: () => Effect.Effect<Idempotency.Acquisition, Idempotency.IdempotencyError>
  /** Lets the next owner in (the effect failed). */
  readonly release: () => Effect.Effect<void, Idempotency.IdempotencyError>
  /** Stores the encoded result: the key is completed. */
  readonly complete: (result: string) => Effect.Effect<void, Idempotency.IdempotencyError>
  readonly encode: (value: A) => Effect.Effect<string, Idempotency.IdempotencyError>
  readonly decode: (result: string) => Effect.Effect<A, Idempotency.IdempotencyError>
  readonly pollMillis: number
}

/** @internal */
export const run = <A, E, R>(
  lease: Lease<A>,
  body: (attempt: number) => Effect.Effect<A, E, R>
): Effect.Effect<{ readonly value: A; readonly replayed: boolean }, E | Idempotency.IdempotencyError, R> =>
  Effect.uninterruptibleMask((restore) => {
    const release = () => Effect.ignore(lease.release())
    const answered = (
      acquired: Idempotency.Acquisition
    ): Effect.Effect<{ readonly value: A; readonly replayed: boolean }, E | Idempotency.IdempotencyError, R> => {
      switch (acquired._tag) {
        case "Completed":
          return Effect.map(lease.decode(acquired.result), (value) => ({ value, replayed: true }))
        case "Busy":
          // until the lease expires, or sooner to see whether its owner completed or failed
          return Effect.flatMap(Clock.currentTimeMillis, (now) =>
            restore(
              Effect.sleep(Duration.millis(Math.max(1, Math.min(lease.pollMillis, acquired.expiresAtMillis - now))))
            ).pipe(Effect.zipRight(Effect.suspend(lease.again)), Effect.flatMap(answered))
          )
        case "Acquired":
          return Effect.onError(restore(body(acquired.attempt)), release).pipe(
            Effect.flatMap((value) =>
              lease
                .encode(value)
                .pipe(Effect.flatMap(lease.complete), Effect.tapError(release), Effect.as({ value, replayed: false }))
            )
          )
      }
    }
    return Effect.flatMap(lease.first, answered)
  })
