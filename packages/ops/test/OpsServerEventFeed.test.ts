import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Exit, Fiber, Option, Scope, Stream, TestClock } from "effect"
import * as Feed from "../src/internal/sse/feed.js"

const options: Feed.Options = {
  event: "transition",
  capacity: 3,
  heartbeat: Duration.seconds(15),
  retry: Duration.seconds(2),
  maxClients: 2
}

const decoder = new TextDecoder()

/** A client of the feed that reads frames one pull at a time (what the server writes). */
const client = (feed: Feed.Feed, lastEventId?: string) =>
  Effect.map(Stream.toPull(feed.connect(lastEventId, Effect.succeed({ breakers: [] }))), (pull) =>
    Effect.map(pull, (chunk) =>
      Chunk.toReadonlyArray(chunk)
        .map((bytes) => decoder.decode(bytes))
        .join("")
    )
  )

const frames = (text: string) => text.split("\n\n").filter((f) => f !== "")

describe("event feed (in process, on the TestClock)", () => {
  it.scoped("a client that falls further behind than the buffer gets a snapshot saying so, then goes on", () =>
    Effect.gen(function* () {
      const feed = yield* Feed.make(options)
      const pull = yield* client(feed)
      const opening = frames(yield* pull)
      expect(opening).toEqual([
        "retry: 2000",
        `id: ${feed.epoch}-0\nevent: snapshot\ndata: {"reason":"connected","breakers":[]}`
      ])
      yield* feed.publish({ n: 1 })
      yield* feed.publish({ n: 2 })
      expect(frames(yield* pull)).toEqual([
        `id: ${feed.epoch}-1\nevent: transition\ndata: {"n":1}`,
        `id: ${feed.epoch}-2\nevent: transition\ndata: {"n":2}`
      ])
      // five while the client reads nothing: the buffer of 3 no longer holds event 3
      for (let n = 3; n <= 7; n++) yield* feed.publish({ n })
      expect(frames(yield* pull)).toEqual([
        `id: ${feed.epoch}-7\nevent: snapshot\ndata: {"reason":"too-old","breakers":[]}`
      ])
      yield* feed.publish({ n: 8 })
      expect(frames(yield* pull)).toEqual([`id: ${feed.epoch}-8\nevent: transition\ndata: {"n":8}`])
    })
  )

  it.scoped("data is one line of JSON: a value cannot add fields or events to the stream", () =>
    Effect.gen(function* () {
      const feed = yield* Feed.make(options)
      const pull = yield* client(feed)
      yield* pull
      yield* feed.publish({ breaker: "x\n\nevent: forged\ndata: {}\r\nid: 999" })
      const [frame] = frames(yield* pull)
      expect(frame!.split("\n")).toEqual([
        `id: ${feed.epoch}-1`,
        "event: transition",
        'data: {"breaker":"x\\n\\nevent: forged\\ndata: {}\\r\\nid: 999"}'
      ])
    })
  )

  it.scoped("a heartbeat comment each interval while quiet", () =>
    Effect.gen(function* () {
      const feed = yield* Feed.make(options)
      const pull = yield* client(feed)
      yield* pull
      const next = yield* Effect.fork(pull)
      yield* TestClock.adjust("15 seconds")
      expect(yield* Fiber.join(next)).toBe(": heartbeat\n\n")
    })
  )

  it.scoped("counts its clients, and ends every stream when its scope closes", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const feed = yield* Feed.make(options).pipe(Scope.extend(scope))
      const first = yield* client(feed)
      yield* first
      expect(yield* feed.full).toBe(false)
      const second = yield* client(feed, `${feed.epoch}-0`)
      expect(yield* second).toBe("retry: 2000\n\n") // resumed: nothing missed, no snapshot
      expect(yield* feed.full).toBe(true)
      const waiting = yield* Effect.fork(first)
      yield* Scope.close(scope, Exit.void)
      const ended = yield* Fiber.join(waiting).pipe(Effect.flip)
      expect(ended).toEqual(Option.none())
    })
  )
})
