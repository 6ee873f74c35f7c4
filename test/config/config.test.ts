/**
 * Every module that builds from config refuses a bad value with a `ParseError` that names the
 * path of the bad field: never a defect, never a silent clamp. One row per module.
 */
import {
  AdaptiveConcurrency,
  AdaptiveThrottle,
  Bulkhead,
  CircuitBreaker,
  Classifier,
  RateLimiter,
  Resilience,
  RetryBudget,
  RetryPolicy,
  Timeout
} from "@effect-resilience/core"
import { DeadLetterQueue } from "@effect-resilience/durable"
import { ResilientHttpClient } from "@effect-resilience/platform"
import * as SqlCheckpoint from "@effect-resilience/sql/SqlCheckpoint"
import * as SqlConnection from "@effect-resilience/sql/SqlConnection"
import * as SqlDeadLetterQueue from "@effect-resilience/sql/SqlDeadLetterQueue"
import * as SqlIdempotency from "@effect-resilience/sql/SqlIdempotency"
import { describe, expect, it } from "@effect/vitest"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"

/** Builds something from a bad config, whatever it needs besides. */
type Row = readonly [module: string, build: Effect.Effect<unknown, unknown, never>, path: string]

const built = <A, E, R>(layer: Layer.Layer<A, E, R>) => Effect.asVoid(Layer.build(layer))

/** A client that never goes out: the row fails before any request. */
const offline = HttpClient.make((request) =>
  Effect.succeed(HttpClientResponse.fromWeb(request, new Response(null, { status: 204 })))
)

const rows: ReadonlyArray<Row> = [
  ["CircuitBreaker.make", Effect.scoped(CircuitBreaker.make({ openDuration: -5 })), '["openDuration"]'],
  [
    "CircuitBreaker.make (trip policy)",
    Effect.scoped(
      CircuitBreaker.make({
        policy: { _tag: "CountWindow", size: 0, minimumCalls: 1, failureRateThreshold: 0.5 }
      })
    ),
    '["size"]'
  ],
  [
    "CircuitBreaker.Registry.get",
    Effect.scoped(
      Effect.flatMap(CircuitBreaker.Registry, (registry) => registry.get("db", { openDuration: "-3 seconds" }))
    ),
    '["openDuration"]'
  ],
  ["Bulkhead.make", Effect.scoped(Bulkhead.make({ maxConcurrent: 0 })), '["maxConcurrent"]'],
  ["Bulkhead.make (duration)", Effect.scoped(Bulkhead.make({ queueTimeout: "-1 seconds" })), '["queueTimeout"]'],
  ["RateLimiter.make", Effect.scoped(RateLimiter.make({ limit: 0 })), '["limit"]'],
  ["RateLimiter.make (duration)", Effect.scoped(RateLimiter.make({ window: -1000 })), '["window"]'],
  ["AdaptiveThrottle.make", Effect.scoped(AdaptiveThrottle.make({ k: 0 })), '["k"]'],
  ["AdaptiveConcurrency.make", Effect.scoped(AdaptiveConcurrency.make({ minLimit: 10, maxLimit: 5 })), '["minLimit"]'],
  ["RetryBudget.make", Effect.scoped(RetryBudget.make({ mode: "ratio", ratio: -1 })), '["ratio"]'],
  ["RetryPolicy.fromConfig", RetryPolicy.fromConfig("get-user", { maxAttempts: 0 }), '["maxAttempts"]'],
  ["RetryPolicy.make", RetryPolicy.make({ operation: "get-user", maxAttempts: 0 }), '["maxAttempts"]'],
  ["Timeout.make", Timeout.make({ timeout: 0 }), '["timeout"]'],
  [
    "Resilience.make",
    Effect.scoped(Resilience.make({ operation: "get-user", attemptTimeout: -1 })).pipe(
      Effect.provide(Classifier.layer)
    ),
    '["attemptTimeout"]'
  ],
  [
    "Resilience.make (a strategy's field)",
    Effect.scoped(Resilience.make({ operation: "get-user", bulkhead: { maxConcurrent: 0 } })).pipe(
      Effect.provide(Classifier.layer)
    ),
    '["maxConcurrent"]'
  ],
  [
    "ResilientHttpClient.make",
    Effect.scoped(ResilientHttpClient.make(offline, { hedging: { delay: -1, maxHedges: 1 } })).pipe(
      Effect.provide(Classifier.layer)
    ),
    '["delay"]'
  ],
  [
    "DeadLetterQueue.make",
    DeadLetterQueue.make({ lease: -1 }).pipe(Effect.provide(DeadLetterQueue.layerStoreMemory)),
    '["lease"]'
  ],
  [
    "SqlConnection.layerClient",
    built(SqlConnection.layerClient({ dialect: "pg", url: "postgres://127.0.0.1/test", maxConnections: 0 })),
    '["maxConnections"]'
  ],
  [
    "SqlDeadLetterQueue.layerStoreConfig",
    built(SqlDeadLetterQueue.layerStoreConfig({ dialect: "sqlite", filename: "  " })),
    '["filename"]'
  ],
  [
    "SqlCheckpoint.layerStoreConfig",
    built(SqlCheckpoint.layerStoreConfig({ dialect: "pg", url: "postgres://127.0.0.1/test", connectTimeout: 0 })),
    '["connectTimeout"]'
  ],
  [
    "SqlIdempotency.layerStoreConfig",
    built(SqlIdempotency.layerStoreConfig({ dialect: "sqlite", filename: "" })),
    '["filename"]'
  ]
]

describe("a bad config is a ParseError naming its path, in every module", () => {
  it.effect.each(rows)("%s", ([, build, path]) =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Effect.scoped(build))
      if (Exit.isSuccess(exit)) return expect.unreachable("a bad config was accepted")
      const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
      expect(ParseResult.isParseError(failure)).toBe(true)
      if (!ParseResult.isParseError(failure)) return
      expect(failure.message).toContain(path)
    })
  )
})
