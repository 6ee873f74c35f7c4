/**
 * One process of `pnpm bench redis`'s fleet: a breaker on the Redis store, driven by lines on
 * stdin, answering lines on stdout.
 *
 * - `open`: forces the breaker open (the decision then travels to the others);
 * - `fail N`: N failing calls (a consecutive-failures breaker opens on its own evidence);
 * - `close`: forces it closed;
 * - `rate R SECONDS`: R successful calls per second for that long, then `done`.
 *
 * Every transition is reported as `transition <to> <epoch ms with sub-ms precision>`.
 */
import { CircuitBreaker, Classification, Classifier } from "@effect-resilience/core"
import { RedisCircuitBreakerStore } from "@effect-resilience/redis"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Stream from "effect/Stream"
import { createInterface } from "node:readline"

const serverError = Classification.make({ category: "server", code: "http.503", message: "Service unavailable" })
const [url = "redis://127.0.0.1:6379", prefix = "bench", flush = "1000"] = process.argv.slice(2)
const runtime = ManagedRuntime.make(
  CircuitBreaker.layer({
    name: "bench",
    policy: { _tag: "ConsecutiveFailures", threshold: 5 },
    openDuration: 60_000
  }).pipe(
    Layer.provide(RedisCircuitBreakerStore.layer({ url, keyPrefix: prefix, flushInterval: Number(flush) })),
    Layer.merge(Classifier.layerFrom(() => serverError))
  )
)
const now = () => performance.timeOrigin + performance.now()
const say = (line: string) => process.stdout.write(`${line}\n`)

const main = Effect.gen(function* () {
  const breaker = yield* CircuitBreaker.CircuitBreaker
  const transitions = yield* breaker.subscribe
  yield* Effect.forkScoped(Stream.runForEach(transitions, (t) => Effect.sync(() => say(`transition ${t.to} ${now()}`))))
  const run = (line: string): Effect.Effect<void, never, Classifier.Classifier> => {
    const [op, a, b] = line.split(" ")
    switch (op) {
      case "open":
        return breaker.forceOpen
      case "close":
        return breaker.forceClosed
      case "fail":
        return Effect.forEach(
          Array.from({ length: Number(a) }),
          () => Effect.exit(breaker.protect(Effect.fail("boom"))),
          {
            discard: true
          }
        )
      case "rate": {
        // R calls per second in ticks of 10 ms
        const perTick = Number(a) / 100
        const ticks = Number(b) * 100
        return Effect.gen(function* () {
          let owed = 0
          for (let i = 0; i < ticks; i++) {
            owed += perTick
            for (; owed >= 1; owed--) yield* Effect.exit(breaker.protect(Effect.void))
            yield* Effect.sleep(10)
          }
          say("done")
        })
      }
      default:
        return Effect.void
    }
  }
  const lines = createInterface({ input: process.stdin })
  say("ready")
  yield* Effect.async<void>((resume) => {
    lines.on("line", (line) => runtime.runFork(run(line)))
    lines.on("close", () => resume(Effect.void))
  })
})

runtime.runPromise(Effect.scoped(main)).then(() => runtime.dispose())
