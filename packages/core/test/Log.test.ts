import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Log from "../src/Log.js"
import * as Recovery from "../src/Recovery.js"
import * as Resilience from "../src/Resilience.js"
import { RepeatLimiter } from "../src/internal/log/core.js"
import { Boom, testClassifier, transient } from "./support/boom.js"
import { recordingTracer } from "./support/tracer.js"

interface Line {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
}

/** A logger that keeps every line it is given, with its annotations, in `lines`. */
const capture = () => {
  const lines: Array<Line> = []
  const logger = Logger.make<unknown, void>(({ annotations, logLevel, message }) => {
    const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
    lines.push({
      level: logLevel.label,
      message: text,
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })
  const layer = Layer.merge(Logger.replace(Logger.defaultLogger, logger), Logger.minimumLogLevel(LogLevel.Debug))
  return { lines, layer }
}

const fastRetry = { maxAttempts: 3, initialDelay: 0, throttledInitialDelay: 0, jitter: "none" } as const

describe("Log", () => {
  it.scoped("retries, a give-up and a rejection are logged with their annotations and the correlation id", () => {
    const { lines, layer } = capture()
    return Effect.gen(function* () {
      const pipeline = yield* Resilience.make({
        operation: "charge",
        retry: fastRetry,
        breaker: false,
        bulkhead: { maxConcurrent: 1, maxQueue: 0 }
      })
      const failing = Effect.fail(new Boom({ category: "unavailable", code: "http.503" }))
      yield* Effect.exit(pipeline.protect(failing).pipe(Log.withCorrelationId("req-7")))
      const retries = lines.filter((l) => l.message.includes("retrying"))
      expect(retries.map((l) => l.level)).toEqual(["DEBUG", "DEBUG"])
      expect(retries[0]?.annotations).toMatchObject({
        operation: "charge",
        attempt: 1,
        category: "unavailable",
        code: "http.503",
        correlationId: "req-7"
      })
      const gaveUp = lines.filter((l) => l.message.includes("gave up"))
      expect(gaveUp).toHaveLength(1)
      expect(gaveUp[0]?.level).toBe("WARN")
      expect(gaveUp[0]?.annotations).toMatchObject({
        operation: "charge",
        attempt: 3,
        reason: "exhausted",
        code: "http.503"
      })

      // a rejection: the bulkhead's one slot is held by a call that waits
      const blocker = yield* Effect.fork(pipeline.protect(Effect.never))
      yield* Effect.yieldNow()
      yield* Effect.exit(pipeline.protect(Effect.succeed(1)))
      yield* Fiber.interrupt(blocker)
      const rejected = lines.filter((l) => l.message.includes("refused by bulkhead"))
      expect(rejected).toHaveLength(1)
      expect(rejected[0]?.level).toBe("INFO")
      expect(rejected[0]?.annotations).toMatchObject({ operation: "charge", component: "bulkhead", name: "charge" })
    }).pipe(Effect.provide(Layer.merge(testClassifier, layer)))
  })

  it.scoped("without a correlation id, logs carry the current span's trace id", () => {
    const { lines, layer } = capture()
    const { tracer } = recordingTracer()
    return Effect.gen(function* () {
      const pipeline = yield* Resilience.make({ operation: "traced", retry: fastRetry, breaker: false })
      yield* Effect.exit(pipeline.protect(Effect.fail(transient)).pipe(Effect.withSpan("request")))
      const span = lines.find((l) => l.message.includes("gave up"))
      expect(typeof span?.annotations.correlationId).toBe("string")
      expect(String(span?.annotations.correlationId).length).toBeGreaterThan(0)
    }).pipe(Effect.provide(Layer.merge(testClassifier, layer)), Effect.withTracer(tracer))
  })

  it.scoped("an outage's identical failures are rate-limited, and the next line says how many were left out", () => {
    const { lines, layer } = capture()
    return Effect.gen(function* () {
      const pipeline = yield* Resilience.make({
        operation: "flood",
        retry: { ...fastRetry, maxAttempts: 2 },
        breaker: false,
        retryBudget: false
      })
      const failing = Effect.fail(new Boom({ category: "unavailable", code: "http.503" }))
      for (let i = 0; i < 30; i++) yield* Effect.exit(pipeline.protect(failing))
      const gaveUp = () => lines.filter((l) => l.message.includes("flood gave up"))
      expect(gaveUp()).toHaveLength(5)
      expect(lines.filter((l) => l.message.includes("retrying"))).toHaveLength(5)
      yield* TestClock.adjust("10 seconds")
      yield* Effect.exit(pipeline.protect(failing))
      const all = gaveUp()
      expect(all).toHaveLength(6)
      expect(all[5]?.annotations.suppressed).toBe(25)
      expect(all[5]?.message).toContain("25 more like it left out")
    }).pipe(Effect.provide(Layer.merge(testClassifier, layer)))
  })

  it.scoped("a recovery action is logged with its outcome", () => {
    const { lines, layer } = capture()
    return Effect.gen(function* () {
      const pipeline = yield* Resilience.make(
        { operation: "pool", retry: fastRetry, breaker: false },
        { recovery: [Recovery.freeResource(Effect.void, { name: "evict-idle" })] }
      )
      let calls = 0
      const op = Effect.suspend(() =>
        calls++ === 0 ? Effect.fail(new Boom({ category: "resource" })) : Effect.succeed(1)
      )
      expect(yield* pipeline.protect(op)).toBe(1)
      const recovered = lines.filter((l) => l.message.startsWith("recovery evict-idle"))
      expect(recovered).toHaveLength(1)
      expect(recovered[0]?.level).toBe("INFO")
      expect(recovered[0]?.annotations).toMatchObject({ operation: "pool", action: "evict-idle", outcome: "recovered" })
    }).pipe(Effect.provide(Layer.merge(testClassifier, layer)))
  })

  it.scoped("breaker transitions: opening is a warning, closing again is info", () => {
    const { lines, layer } = capture()
    return Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({ name: "db" })
      yield* breaker.forceOpen
      yield* breaker.reset
      // transitions are forwarded by the breaker's own fiber
      for (let i = 0; i < 10 && lines.length < 2; i++) yield* Effect.yieldNow()
      expect(lines.map((l) => [l.level, l.annotations.breaker, l.annotations.to])).toEqual([
        ["WARN", "db", "forced-open"],
        ["INFO", "db", "closed"]
      ])
    }).pipe(Effect.provide(layer))
  })

  it.effect("a line below the minimum level is not written and not counted", () => {
    const { lines, layer } = capture()
    return Effect.gen(function* () {
      const log = yield* Log.makeEmitter({ perWindow: 1, windowMillis: 1000 })
      yield* log.emit(LogLevel.Debug, "k", "quiet", {}).pipe(Logger.withMinimumLogLevel(LogLevel.Info))
      yield* log.emit(LogLevel.Info, "k", "heard", {})
      expect(lines.map((l) => l.message)).toEqual(["heard"])
    }).pipe(Effect.provide(layer))
  })

  it.effect("the JSON preset writes one JSON object a line", () =>
    Effect.gen(function* () {
      const written: Array<string> = []
      const json = Logger.replace(
        Logger.defaultLogger,
        Logger.map(Logger.jsonLogger, (line) => {
          written.push(line)
        })
      )
      yield* Effect.logInfo("hello").pipe(Effect.annotateLogs({ operation: "op" }), Effect.provide(json))
      const parsed: unknown = JSON.parse(written[0] ?? "")
      expect(parsed).toMatchObject({ message: "hello", logLevel: "INFO", annotations: { operation: "op" } })
      expect(Log.layerJson).toBeDefined()
      const id = yield* Log.correlationId.pipe(Log.withCorrelationId("x"))
      expect(id).toEqual(Option.some("x"))
    })
  )

  it("the limiter: each event is logged or reported once, at most perWindow lines a window, keys bounded", () =>
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 50 })), { maxLength: 300 }),
        (steps) => {
          // four keys fit: nothing is evicted, so the accounting is exact
          const limiter = new RepeatLimiter({ perWindow: 2, windowMillis: 100, maxKeys: 4 })
          let now = 0
          let logged = 0
          let reported = 0
          const windowLines = new Map<string, { start: number; lines: number }>()
          for (const [k, dt] of steps) {
            now += dt
            const key = `k${k}`
            const verdict = limiter.decide(key, now)
            if (verdict === undefined) continue
            logged++
            reported += verdict
            const w = windowLines.get(key)
            if (w === undefined || now - w.start >= 100) windowLines.set(key, { start: now, lines: 1 })
            else if (++w.lines > 2) return false
          }
          // one more event per key, long after: it reports what its last window left out
          let flushes = 0
          for (const key of windowLines.keys()) {
            flushes++
            logged++
            reported += limiter.decide(key, now + 1_000_000) ?? 0
          }
          return logged + reported === steps.length + flushes && limiter.size() <= 4
        }
      )
    ))

  it("the limiter holds at most maxKeys keys", () => {
    const limiter = new RepeatLimiter({ perWindow: 1, windowMillis: 100, maxKeys: 3 })
    for (let i = 0; i < 50; i++) expect(limiter.decide(`k${i}`, i)).toBe(0)
    expect(limiter.size()).toBe(3)
  })
})
