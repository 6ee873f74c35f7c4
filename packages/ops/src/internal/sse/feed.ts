/**
 * A feed of server-sent events: the ring of the latest events (see `ring.ts`), a wake-up signal
 * for the connected clients, and the text/event-stream each client reads. A client is sent what
 * the ring holds after its cursor each time it is woken, so it gets every event exactly once in
 * order, whether it is resuming with a `Last-Event-ID`, keeping up, or lagging (a client that lags
 * by more than the ring gets a fresh snapshot saying so, never a silent hole).
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as ring from "./ring.js"

/** @internal */
export interface Options {
  /** The SSE event name of the feed's events (`transition`, `alert`). */
  readonly event: string
  /** How many of the latest events a reconnecting client can get back. */
  readonly capacity: number
  /** How often a comment is sent while nothing happens, so that proxies keep the stream open. */
  readonly heartbeat: Duration.Duration
  /** The reconnection delay suggested to clients (`retry:`). */
  readonly retry: Duration.Duration
  /** How many clients may read the feed at once. */
  readonly maxClients: number
}

/** Why a client is sent a snapshot. @internal */
export type SnapshotReason = "connected" | "too-old" | "unknown-id"

/** @internal */
export interface Feed {
  /** Names this life of the feed: ids of another life are not resumed from. */
  readonly epoch: string
  /** Appends an event (JSON data) and wakes the clients. */
  readonly publish: (data: unknown) => Effect.Effect<void>
  /** Whether `maxClients` clients are reading. */
  readonly full: Effect.Effect<boolean>
  /**
   * The stream of one client: `retry:`, then a snapshot (`event: snapshot`, data `{ reason, ... }`)
   * or the events missed since `lastEventId`, then the events as they come, with heartbeats. It
   * ends when the feed's scope closes.
   */
  readonly connect: <E>(
    lastEventId: string | undefined,
    snapshot: Effect.Effect<Readonly<Record<string, unknown>>, E>
  ) => Stream.Stream<Uint8Array, E>
}

const frame = (id: string, event: string, data: unknown): string =>
  `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`

/** @internal */
export const make = (options: Options): Effect.Effect<Feed, never, Scope.Scope> =>
  Effect.gen(function* () {
    const epoch = `${(yield* Effect.clockWith((clock) => clock.currentTimeMillis)).toString(36)}${(
      (yield* Random.nextInt) >>> 0
    ).toString(36)}`
    const events = new ring.Ring<unknown>(options.capacity)
    // a client only needs the latest wake-up: what it missed is read from the ring
    const wakes = yield* Effect.acquireRelease(PubSub.sliding<void>(1), PubSub.shutdown)
    const closing = yield* Deferred.make<void>()
    yield* Effect.addFinalizer(() => Deferred.succeed(closing, undefined))
    const clients = yield* Ref.make(0)
    const encoder = new TextEncoder()
    const retryMillis = Math.max(0, Math.round(Duration.toMillis(options.retry)))

    const connect = <E>(
      lastEventId: string | undefined,
      snapshot: Effect.Effect<Readonly<Record<string, unknown>>, E>
    ): Stream.Stream<Uint8Array, E> =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          yield* Effect.acquireRelease(
            Ref.update(clients, (n) => n + 1),
            () => Ref.update(clients, (n) => n - 1)
          )
          // subscribe before reading the ring: an event appended after the read wakes us
          const wake = yield* PubSub.subscribe(wakes)
          const begin = ring.start(events, epoch, lastEventId)
          let cursor = begin.cursor
          const snapshotFrame = (reason: SnapshotReason, at: number) =>
            Effect.map(snapshot, (data) => frame(ring.formatId(epoch, at), "snapshot", { reason, ...data }))
          const first =
            begin._tag === "Resume"
              ? Effect.succeed(
                  begin.items.map((item) => frame(ring.formatId(epoch, item.seq), options.event, item.value))
                )
              : Effect.map(snapshotFrame(begin._tag === "Fresh" ? "connected" : begin.reason, begin.cursor), (f) => [f])
          const catchUp = Effect.suspend(() => {
            const since = events.since(cursor)
            if (since._tag === "Gap") {
              cursor = events.last
              return Effect.map(snapshotFrame(since.reason, cursor), (f) => [f])
            }
            const last = since.items.at(-1)
            if (last !== undefined) cursor = last.seq
            return Effect.succeed(
              since.items.map((item) => frame(ring.formatId(epoch, item.seq), options.event, item.value))
            )
          })
          const live = Stream.fromQueue(wake).pipe(
            Stream.mapEffect(() => catchUp),
            Stream.flattenIterables
          )
          const heartbeats = Stream.fromSchedule(Schedule.spaced(options.heartbeat)).pipe(Stream.as(": heartbeat\n\n"))
          const opening = Effect.map(first, (frames) => [`retry: ${retryMillis}\n\n`, ...frames].join(""))
          return Stream.concat(Stream.fromEffect(opening), live).pipe(
            Stream.merge(heartbeats, { haltStrategy: "left" }),
            Stream.interruptWhenDeferred(closing),
            Stream.map((text) => encoder.encode(text))
          )
        })
      )

    return {
      epoch,
      publish: (data: unknown) =>
        Effect.suspend(() => {
          events.append(data)
          return Effect.asVoid(PubSub.publish(wakes, undefined))
        }),
      full: Effect.map(Ref.get(clients), (n) => n >= options.maxClients),
      connect
    }
  })
