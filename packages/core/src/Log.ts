/**
 * What the runtime writes to Effect's `Logger`: every retry scheduled, every call that gives up,
 * breaker transitions, rejections, and (from the other packages) dead letters, replays, discards,
 * recovery actions and policy reloads, each at a fitting level with structured annotations
 * (`operation`, `attempt`, `category`, `code`, `breaker`, `batchId`, ... and `correlationId`).
 *
 * The correlation id is the {@link CorrelationId} in context, or else the trace id of the current
 * span. Repeated identical events are rate-limited per emitter (a pipeline, a breaker, a dead
 * letter queue): 5 of a kind per 10 s by default, the next line logged saying how many were left
 * out, so that an outage does not flood the log. {@link layerJson} is a JSON logger preset for
 * production.
 *
 * Levels: `Debug` for a retry scheduled; `Info` for a rejection, a breaker closing or probing, a
 * replay, a discard, a recovery action and a reload; `Warning` for a call that gives up after
 * retries, a breaker opening, a dead letter and a reload refused.
 *
 * @since 0.3.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as core from "./internal/log/core.js"

/**
 * The correlation id of the work in progress, when the caller has one (a request id, a job id).
 * A `Context.Reference`: without it, logs carry the trace id of the current span, if any.
 *
 * @example
 * ```ts
 * import { Log } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const id = Effect.flatMap(Log.CorrelationId, (current) => Effect.succeed(current))
 * ```
 *
 * @since 0.3.0
 * @category services
 */
export class CorrelationId extends Context.Reference<CorrelationId>()("@effect-resilience/core/Log/CorrelationId", {
  defaultValue: (): Option.Option<string> => Option.none()
}) {}

/**
 * Runs an effect with a correlation id: every log line the runtime writes inside it carries it.
 *
 * @example
 * ```ts
 * import { Log } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const handled = Effect.log("handling").pipe(Log.withCorrelationId("req-42"))
 * ```
 *
 * @since 0.3.0
 * @category combinators
 */
export const withCorrelationId: {
  (id: string): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, id: string): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, id: string): Effect.Effect<A, E, R> =>
    Effect.provideService(self, CorrelationId, Option.some(id))
)

/**
 * The correlation id logs carry here: the {@link CorrelationId} in context, else the current
 * span's trace id, else none.
 *
 * @example
 * ```ts
 * import { Log } from "@effect-resilience/core"
 * import { Effect, Option } from "effect"
 *
 * const program = Effect.map(Log.correlationId, Option.getOrElse(() => "none"))
 * ```
 *
 * @since 0.3.0
 * @category getters
 */
export const correlationId: Effect.Effect<Option.Option<string>> = Effect.withFiberRuntime((fiber) =>
  Effect.succeed(correlationOf(fiber.getFiberRef(FiberRef.currentContext), fiber.currentSpan))
)

const correlationOf = (
  context: Context.Context<never>,
  span: { readonly traceId: string } | undefined
): Option.Option<string> => {
  const own = Context.get(context, CorrelationId)
  if (Option.isSome(own)) return own
  return span === undefined ? Option.none() : Option.some(span.traceId)
}

/**
 * How many events of one kind an emitter logs per window; later ones in the window are counted
 * and the next line logged says how many were left out.
 *
 * @example
 * ```ts
 * import type { Log } from "@effect-resilience/core"
 *
 * const quiet: Log.RateLimit = { perWindow: 1, windowMillis: 60_000 }
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface RateLimit {
  readonly perWindow: number
  readonly windowMillis: number
}

/**
 * Writes the runtime's log lines for one source (a pipeline, a breaker, a queue), rate-limited by
 * `key`: events with the same key are "the same event" (say, the same operation failing with the
 * same code).
 *
 * @example
 * ```ts
 * import { Log } from "@effect-resilience/core"
 * import { Effect, LogLevel } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const log = yield* Log.makeEmitter()
 *   yield* log.emit(LogLevel.Warning, "reload:refused", "policy file refused", { file: "policies.yaml" })
 * })
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Emitter {
  readonly emit: (
    level: LogLevel.LogLevel,
    key: string,
    message: string,
    annotations: Readonly<Record<string, unknown>>
  ) => Effect.Effect<void>
}

/**
 * A new emitter with its own rate limit (defaults: 5 events of a key per 10 s, 1,000 keys held).
 * A line below the fiber's minimum log level costs a comparison.
 *
 * @example
 * ```ts
 * import { Log } from "@effect-resilience/core"
 *
 * const emitter = Log.makeEmitter({ perWindow: 2, windowMillis: 60_000 })
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const makeEmitter = (rateLimit?: RateLimit): Effect.Effect<Emitter> =>
  Effect.sync(() => unsafeMakeEmitter(rateLimit))

/**
 * {@link makeEmitter} outside an Effect, for a service that builds its parts synchronously. The
 * emitter holds mutable state: make one per source, never one for a whole module.
 *
 * @example
 * ```ts
 * import { Log } from "@effect-resilience/core"
 *
 * const emitter = Log.unsafeMakeEmitter()
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const unsafeMakeEmitter = (rateLimit?: RateLimit): Emitter => {
  const limiter = new core.RepeatLimiter(
    rateLimit === undefined
      ? core.defaultSettings
      : {
          perWindow: Math.max(1, Math.floor(rateLimit.perWindow)),
          windowMillis: Math.max(0, rateLimit.windowMillis),
          maxKeys: core.defaultSettings.maxKeys
        }
  )
  return {
    emit: (level, key, message, annotations) =>
      Effect.withFiberRuntime((fiber) => {
        if (LogLevel.greaterThan(fiber.getFiberRef(FiberRef.currentMinimumLogLevel), level)) return Effect.void
        const now = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
        const left = limiter.decide(key, now)
        if (left === undefined) return Effect.void
        const correlation = correlationOf(fiber.getFiberRef(FiberRef.currentContext), fiber.currentSpan)
        const all: Record<string, unknown> = { ...annotations }
        if (Option.isSome(correlation)) all.correlationId = correlation.value
        if (left > 0) all.suppressed = left
        const line = left > 0 ? `${message} (${left} more like it left out)` : message
        return Effect.annotateLogs(Effect.logWithLevel(level, line), all)
      })
  }
}

/**
 * A JSON logger for production: each line one JSON object with the message, level, timestamp,
 * fiber, spans and annotations (Effect's `Logger.jsonLogger`), in place of the default logger.
 * Combine with `Logger.minimumLogLevel` to choose the level.
 *
 * @example
 * ```ts
 * import { Log } from "@effect-resilience/core"
 * import { Effect, Layer, Logger, LogLevel } from "effect"
 *
 * const Production = Layer.merge(Log.layerJson, Logger.minimumLogLevel(LogLevel.Info))
 * const program = Effect.logInfo("started").pipe(Effect.provide(Production))
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layerJson: Layer.Layer<never> = Logger.replace(Logger.defaultLogger, Logger.jsonLogger)
