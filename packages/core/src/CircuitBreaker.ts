/**
 * A circuit breaker stops calling a dependency that is failing, gives it time to recover, then
 * lets a few probe calls through to find out whether it has.
 *
 * - States: `closed`, `open`, `half-open`, and the manual modes `forced-open`, `disabled` and
 *   `metrics-only`.
 * - Tripping policies: consecutive failures (the default: open after 5, close after 3 probe
 *   successes, half-open after 30 s), a count-based sliding window and a time-based sliding window
 *   (buckets), each with a failure-rate threshold, a minimum number of calls and an optional
 *   slow-call rate.
 * - Only failures whose {@link Classification} has `countsForBreaker` are recorded: a 400 never
 *   trips a breaker.
 * - Open -> half-open happens lazily, on the first call (or snapshot) after the open duration: no
 *   timer per breaker.
 * - The success path is synchronous: {@link CircuitBreaker.tryAcquire} returns a shared permit
 *   object while closed and the outcome is folded into counters, so a pipeline can call it without
 *   allocating Effects.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import type * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { Classification } from "./Classification.js"
import type { Classifier } from "./Classifier.js"
import type { CircuitOpen } from "./Errors.js"
import * as Events from "./Events.js"
import * as internal from "./internal/circuitBreaker.js"

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

const DurationFromString = Schema.transformOrFail(Schema.String, Schema.DurationFromSelf, {
  strict: true,
  decode: (input, _, ast) =>
    Option.match(Duration.decodeUnknown(input), {
      onNone: () =>
        ParseResult.fail(new ParseResult.Type(ast, input, `Expected a duration such as "30 seconds", got "${input}"`)),
      onSome: ParseResult.succeed
    }),
  encode: (duration) => ParseResult.succeed(`${Duration.toMillis(duration)} millis`)
})

/**
 * A positive, finite duration: milliseconds (`30000`), a `Duration`, or a string such as
 * `"30 seconds"`. Encodes to milliseconds.
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * Schema.decodeUnknownSync(CircuitBreaker.PositiveDuration)("2 seconds") // Duration of 2 s
 *
 * @since 0.1.0
 */
export const PositiveDuration = Schema.Union(
  Schema.DurationFromMillis,
  Schema.DurationFromSelf,
  DurationFromString
).pipe(
  Schema.filter((d) => (Duration.isFinite(d) && Duration.toMillis(d) > 0) || "Expected a positive, finite duration")
)

const Ratio = Schema.Number.pipe(
  Schema.filter((n) => (n > 0 && n <= 1) || "Expected a ratio greater than 0 and at most 1")
)

const PositiveInt = Schema.Int.pipe(Schema.greaterThanOrEqualTo(1))

/**
 * Slow calls: a call slower than `duration` is slow; the breaker opens when the share of slow
 * calls in the window reaches `rateThreshold` (default 1, every call). In half-open, a slow probe
 * counts as a failed probe.
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 *
 * const config: CircuitBreaker.ConfigInput = {
 *   policy: { _tag: "CountWindow", slowCall: { duration: "2 seconds", rateThreshold: 0.8 } }
 * }
 *
 * @since 0.1.0
 */
export const SlowCall = Schema.Struct({
  duration: PositiveDuration,
  rateThreshold: Schema.optionalWith(Ratio, { default: () => 1 })
})

/**
 * Opens after `threshold` consecutive failures that count (default 5). Successes reset the count;
 * neutral failures (not counted for the breaker) neither reset nor increment it.
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 *
 * const config: CircuitBreaker.ConfigInput = { policy: { _tag: "ConsecutiveFailures", threshold: 3 } }
 *
 * @since 0.1.0
 */
export const ConsecutiveFailures = Schema.TaggedStruct("ConsecutiveFailures", {
  threshold: Schema.optionalWith(PositiveInt, { default: () => 5 })
})

const minimumWithinSize = <A extends { readonly minimumCalls: number; readonly size: number }>(a: A) =>
  a.minimumCalls <= a.size || {
    path: ["minimumCalls"],
    message: `minimumCalls (${a.minimumCalls}) cannot exceed the window size (${a.size})`
  }

/**
 * Opens when, over the last `size` calls (default 100) and once at least `minimumCalls` (default
 * 100) were recorded, the failure rate reaches `failureRateThreshold` (default 0.5) or the slow-call
 * rate reaches `slowCall.rateThreshold`.
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 *
 * const config: CircuitBreaker.ConfigInput = {
 *   policy: { _tag: "CountWindow", size: 20, minimumCalls: 10, failureRateThreshold: 0.5 }
 * }
 *
 * @since 0.1.0
 */
export const CountWindow = Schema.TaggedStruct("CountWindow", {
  size: Schema.optionalWith(PositiveInt, { default: () => 100 }),
  minimumCalls: Schema.optionalWith(PositiveInt, { default: () => 100 }),
  failureRateThreshold: Schema.optionalWith(Ratio, { default: () => 0.5 }),
  slowCall: Schema.optional(SlowCall)
}).pipe(Schema.filter(minimumWithinSize))

/**
 * Like {@link CountWindow} over the calls that completed in the last `window` (default 60 s), kept
 * in `buckets` buckets (default 10) of `window / buckets` each, aligned on the Clock: the window
 * covers the current bucket and the `buckets - 1` before it.
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 *
 * const config: CircuitBreaker.ConfigInput = {
 *   policy: { _tag: "TimeWindow", window: "10 seconds", buckets: 10, minimumCalls: 20 }
 * }
 *
 * @since 0.1.0
 */
export const TimeWindow = Schema.TaggedStruct("TimeWindow", {
  window: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(60) }),
  buckets: Schema.optionalWith(PositiveInt, { default: () => 10 }),
  minimumCalls: Schema.optionalWith(PositiveInt, { default: () => 100 }),
  failureRateThreshold: Schema.optionalWith(Ratio, { default: () => 0.5 }),
  slowCall: Schema.optional(SlowCall)
})

/**
 * How the breaker decides to open.
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const policy = Schema.decodeUnknownSync(CircuitBreaker.TripPolicy)({ _tag: "TimeWindow" })
 *
 * @since 0.1.0
 */
export const TripPolicy = Schema.Union(ConsecutiveFailures, CountWindow, TimeWindow)

/**
 * A decoded tripping policy.
 *
 * @example
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const describe = (p: CircuitBreaker.TripPolicy) => p._tag
 *
 * @since 0.1.0
 */
export type TripPolicy = typeof TripPolicy.Type

/**
 * The state a breaker starts in. `normal` is automatic (closed / open / half-open).
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 *
 * const config: CircuitBreaker.ConfigInput = { mode: "disabled" }
 *
 * @since 0.1.0
 */
export const Mode = Schema.Literal("normal", "forced-open", "disabled", "metrics-only")

/**
 * The breaker's config, with the brief's defaults: open after 5 consecutive failures, half-open
 * after 30 s with one probe at a time, close after 3 probe successes.
 *
 * - `openBackoff`: consecutive re-openings (a half-open probe failed) wait
 *   `openDuration * multiplier^n`, at most `max`. For any other shape, pass `openSchedule` to
 *   {@link make}.
 * - `halfOpen.maxProbes`: how many probes may be in flight at once; `successThreshold`: how many
 *   probe successes close the breaker. Any counted probe failure opens it again.
 *
 * Decoding a bad config fails with the path of the bad field.
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(CircuitBreaker.Config)({
 *   name: "payments",
 *   openDuration: "10 seconds",
 *   openBackoff: { multiplier: 2, max: "5 minutes" },
 *   halfOpen: { maxProbes: 2, successThreshold: 3 }
 * })
 *
 * @since 0.1.0
 */
export const Config = Schema.Struct({
  name: Schema.optionalWith(Schema.NonEmptyString, { default: () => "circuit-breaker" }),
  policy: Schema.optionalWith(TripPolicy, { default: () => ConsecutiveFailures.make({ threshold: 5 }) }),
  openDuration: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(30) }),
  openBackoff: Schema.optional(
    Schema.Struct({
      multiplier: Schema.optionalWith(Schema.Number.pipe(Schema.greaterThanOrEqualTo(1)), { default: () => 2 }),
      max: Schema.optionalWith(PositiveDuration, { default: () => Duration.minutes(5) })
    })
  ),
  halfOpen: Schema.optionalWith(
    Schema.Struct({
      maxProbes: Schema.optionalWith(PositiveInt, { default: () => 1 }),
      successThreshold: Schema.optionalWith(PositiveInt, { default: () => 3 })
    }),
    { default: () => ({ maxProbes: 1, successThreshold: 3 }) }
  ),
  mode: Schema.optionalWith(Mode, { default: () => "normal" as const })
})

/**
 * The decoded config.
 *
 * @example
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const probes = (config: CircuitBreaker.Config) => config.halfOpen.maxProbes
 *
 * @since 0.1.0
 */
export interface Config extends Schema.Schema.Type<typeof Config> {}

/**
 * The config as written (every field optional; durations as millis, `Duration` or strings).
 *
 * @example
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const input: CircuitBreaker.ConfigInput = { openDuration: 10_000, halfOpen: { successThreshold: 2 } }
 *
 * @since 0.1.0
 */
export interface ConfigInput extends Schema.Schema.Encoded<typeof Config> {}

/**
 * Options of {@link make}: the config as written plus an optional Schedule for the open duration.
 * `openSchedule` replaces `openDuration` and `openBackoff`: its n-th delay is the open duration
 * after n consecutive re-openings (its first 64 delays are computed once at creation; later
 * re-openings reuse the last).
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Schedule } from "effect"
 *
 * const options: CircuitBreaker.MakeOptions = {
 *   openSchedule: Schedule.exponential("5 seconds").pipe(Schedule.union(Schedule.spaced("2 minutes")))
 * }
 *
 * @since 0.1.0
 */
export interface MakeOptions extends ConfigInput {
  readonly openSchedule?: Schedule.Schedule<unknown, unknown, never> | undefined
}

/**
 * Decodes a config, failing with a `ParseError` that names the path of a bad field.
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 *
 * const config = CircuitBreaker.decodeConfig({ policy: { _tag: "CountWindow", size: 50, minimumCalls: 20 } })
 *
 * @since 0.1.0
 */
export const decodeConfig = (input: unknown): Effect.Effect<Config, ParseResult.ParseError> =>
  Schema.decodeUnknown(Config)(input)

// ---------------------------------------------------------------------------------------------
// Core types
// ---------------------------------------------------------------------------------------------

/**
 * Permission to make one call. `probe` says whether it is a half-open probe. Settle every permit
 * with exactly one of `onSuccess`, `onFailure` or `onNeutral` (an interrupted call is neutral).
 *
 * @example
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * declare const breaker: CircuitBreaker.CircuitBreaker
 * const decision = breaker.tryAcquire(Date.now())
 * if (decision._tag === "Permit") breaker.onSuccess(decision, 12, Date.now())
 *
 * @since 0.1.0
 */
export interface Permit {
  readonly _tag: "Permit"
  readonly probe: boolean
}

/**
 * The call may not go: the breaker is open (`retryAfterMillis` until a probe may go), half-open
 * with every probe slot taken (0: retry when a probe settles), or forced open (`Infinity`).
 *
 * @example
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * declare const breaker: CircuitBreaker.CircuitBreaker
 * const decision = breaker.tryAcquire(Date.now())
 * if (decision._tag === "Rejection") throw breaker.rejectionError(decision)
 *
 * @since 0.1.0
 */
export interface Rejection {
  readonly _tag: "Rejection"
  readonly state: "open" | "half-open" | "forced-open"
  readonly retryAfterMillis: number
}

/**
 * Why a breaker moved.
 *
 * @example
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const automatic = (r: CircuitBreaker.TransitionReason) => r !== "manual" && r !== "reset"
 *
 * @since 0.1.0
 */
export type TransitionReason =
  | "consecutive-failures"
  | "failure-rate"
  | "slow-call-rate"
  | "open-duration-elapsed"
  | "probe-failed"
  | "probe-slow"
  | "success-threshold"
  | "manual"
  | "reset"

/**
 * One state change, timed by the Clock.
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Effect, Stream } from "effect"
 *
 * const logTransitions = (breaker: CircuitBreaker.CircuitBreaker) =>
 *   Stream.runForEach(breaker.transitions, (t) => Effect.log(`${t.breaker}: ${t.from} -> ${t.to} (${t.reason})`))
 *
 * @since 0.1.0
 */
export interface Transition {
  readonly breaker: string
  readonly from: Events.BreakerState
  readonly to: Events.BreakerState
  readonly atMillis: number
  readonly reason: TransitionReason
}

/**
 * What a health check or a dashboard shows. Counts are those of the current window (since the
 * breaker last closed for the consecutive policy). `openUntilMillis` and `retryAfterMillis` are
 * present while open.
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const toJson = Schema.encodeSync(CircuitBreaker.Snapshot)
 *
 * @since 0.1.0
 */
export const Snapshot = Schema.Struct({
  name: Schema.String,
  state: Schema.Literal("closed", "open", "half-open", "forced-open", "disabled", "metrics-only"),
  policy: Schema.Literal("ConsecutiveFailures", "CountWindow", "TimeWindow"),
  calls: Schema.Number,
  failures: Schema.Number,
  slowCalls: Schema.Number,
  consecutiveFailures: Schema.Number,
  failureRate: Schema.Number,
  slowCallRate: Schema.Number,
  probesInFlight: Schema.Number,
  probeSuccesses: Schema.Number,
  reopenings: Schema.Number,
  openUntilMillis: Schema.optional(Schema.Number),
  retryAfterMillis: Schema.optional(Schema.Number),
  lastTransitionAtMillis: Schema.Number
})

/**
 * A decoded snapshot.
 *
 * @example
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const healthy = (s: CircuitBreaker.Snapshot) => s.state === "closed" || s.state === "disabled"
 *
 * @since 0.1.0
 */
export interface Snapshot extends Schema.Schema.Type<typeof Snapshot> {}

/**
 * A breaker. The synchronous core (`tryAcquire`, `onSuccess`, `onFailure`, `onNeutral`) is what a
 * pipeline calls on its hot path; `protect` wraps an Effect for everyone else. Call the methods on
 * the breaker (they are methods, do not detach them).
 *
 * @example
 * import { CircuitBreaker, Classification } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * // a pipeline's hot path, without allocating Effects for the breaker
 * const guarded = (breaker: CircuitBreaker.CircuitBreaker, call: Effect.Effect<number, Error>) =>
 *   Effect.suspend(() => {
 *     const start = Date.now()
 *     const decision = breaker.tryAcquire(start)
 *     if (decision._tag === "Rejection") return Effect.fail(breaker.rejectionError(decision))
 *     return Effect.tapBoth(call, {
 *       onSuccess: () => Effect.sync(() => breaker.onSuccess(decision, Date.now() - start, Date.now())),
 *       onFailure: () =>
 *         Effect.sync(() => breaker.onFailure(decision, Classification.unknown, Date.now() - start, Date.now()))
 *     })
 *   })
 *
 * @since 0.1.0
 */
export interface CircuitBreaker {
  readonly name: string
  readonly config: Config
  /**
   * Whether the closed path reads time. False for the consecutive-failures policy (a success never
   * opens it and nothing is timed): a caller can then skip the Clock on the success path with
   * `tryAcquireFast`. True for the window policies (a success may open them, slow calls are timed).
   */
  readonly needsClockWhenClosed: boolean
  /**
   * The permit of a closed breaker whose closed path needs no time, else `undefined` (then call
   * `tryAcquire` with the time). Settle it with `onSuccess(permit, 0, 0)` (time and duration are not
   * read) or, on failure, `onFailure` with the real time (a failure may open the breaker).
   */
  readonly tryAcquireFast: () => Permit | undefined
  /** Asks to make a call at `nowMillis` (Clock time). Moves open -> half-open when due. */
  readonly tryAcquire: (nowMillis: number) => Permit | Rejection
  /** The call succeeded after `durationMillis`. */
  readonly onSuccess: (permit: Permit, durationMillis: number, nowMillis: number) => void
  /** The call failed; recorded only when `classification.countsForBreaker`, else neutral. */
  readonly onFailure: (
    permit: Permit,
    classification: Classification,
    durationMillis: number,
    nowMillis: number
  ) => void
  /** The call ended without evidence (interrupted, or a failure that does not count). */
  readonly onNeutral: (permit: Permit) => void
  /** The `CircuitOpen` failure for a rejection. */
  readonly rejectionError: (rejection: Rejection) => CircuitOpen
  /**
   * Runs `self` through the breaker: fails with `CircuitOpen` when rejected, classifies failures
   * with the `Classifier` in context, times the call with the Clock, and releases a probe slot when
   * interrupted.
   */
  readonly protect: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R | Classifier>
  /** The snapshot at `nowMillis`, synchronously (moves open -> half-open when due). */
  readonly snapshotAt: (nowMillis: number) => Snapshot
  /** The state now (moves open -> half-open when due). */
  readonly currentState: Effect.Effect<Events.BreakerState>
  readonly snapshot: Effect.Effect<Snapshot>
  /** Transitions from the moment the stream starts running. */
  readonly transitions: Stream.Stream<Transition>
  /** Subscribes now, for the lifetime of the scope: no transition after this returns is missed. */
  readonly subscribe: Effect.Effect<Stream.Stream<Transition>, never, Scope.Scope>
  /** Rejects every call until `forceClosed` or `reset`. */
  readonly forceOpen: Effect.Effect<void>
  /** Back to normal operation, closed, with fresh counts. */
  readonly forceClosed: Effect.Effect<void>
  /** Admits every call and records nothing. */
  readonly disable: Effect.Effect<void>
  /** Admits every call and records outcomes (for the snapshot), never opens. */
  readonly metricsOnly: Effect.Effect<void>
  /** Closed, normal, fresh counts, no backoff: as new. */
  readonly reset: Effect.Effect<void>
}

// ---------------------------------------------------------------------------------------------
// Store
// ---------------------------------------------------------------------------------------------

/**
 * An outcome as the store sees it.
 *
 * @example
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const failed = (o: CircuitBreaker.Outcome) => o === "failure" || o === "slow-failure"
 *
 * @since 0.1.0
 */
export type Outcome = "success" | "failure" | "slow-success" | "slow-failure"

/**
 * The evidence in a breaker's window.
 *
 * @example
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const rate = (e: CircuitBreaker.Evidence) => (e.calls === 0 ? 0 : e.failures / e.calls)
 *
 * @since 0.1.0
 */
export interface Evidence {
  readonly calls: number
  readonly failures: number
  readonly slowCalls: number
  readonly consecutiveFailures: number
}

/**
 * A decision of the breaker: a transition, with the end of the open period when it opened.
 *
 * @example
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const opened = (d: CircuitBreaker.Decision) => d.transition.to === "open"
 *
 * @since 0.1.0
 */
export interface Decision {
  readonly transition: Transition
  readonly openUntilMillis: number | undefined
  readonly reopenings: number
}

/**
 * One breaker's state in a store. It is **synchronous** on purpose: `record` runs on every call,
 * and the in-memory breaker must not pay for an Effect there. A store backed by a remote service
 * (Redis, in a later release) keeps a local copy that answers synchronously and publishes outcomes
 * and decisions asynchronously in the background, merging the fleet's evidence into the local
 * counts. The store sees outcomes and decisions as plain data, never closures.
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * // a store that logs decisions around the in-memory one
 * const logging = (inner: CircuitBreaker.CircuitBreakerStoreService): CircuitBreaker.CircuitBreakerStoreService => ({
 *   attach: (name, policy) =>
 *     Effect.map(inner.attach(name, policy), (handle): CircuitBreaker.StoreHandle => ({
 *       record: (outcome, at) => handle.record(outcome, at),
 *       evidence: (at) => handle.evidence(at),
 *       clear: (at) => handle.clear(at),
 *       decide: (decision) => {
 *         handle.decide(decision)
 *       }
 *     }))
 * })
 *
 * @since 0.1.0
 */
export interface StoreHandle {
  /** Folds an outcome at `atMillis` into the window; returns the evidence now. */
  readonly record: (outcome: Outcome, atMillis: number) => Evidence
  /** The evidence at `atMillis` (a time window drops expired buckets). */
  readonly evidence: (atMillis: number) => Evidence
  /** Forgets all evidence (the breaker closed or was reset). */
  readonly clear: (atMillis: number) => void
  /** Told of every transition. */
  readonly decide: (decision: Decision) => void
}

/**
 * The service of {@link CircuitBreakerStore}.
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const handle = Effect.flatMap(CircuitBreaker.CircuitBreakerStore, (store) =>
 *   store.attach("db", { _tag: "ConsecutiveFailures", threshold: 5 })
 * )
 *
 * @since 0.1.0
 */
export interface CircuitBreakerStoreService {
  /** The state of breaker `name`, for the lifetime of the scope. */
  readonly attach: (name: string, policy: TripPolicy) => Effect.Effect<StoreHandle, never, Scope.Scope>
}

/**
 * Where breakers keep their evidence and decisions. {@link make} uses the store in context, and
 * the in-memory one when there is none.
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(CircuitBreaker.make({ name: "db" })).pipe(
 *   Effect.provide(CircuitBreaker.layerStoreMemory)
 * )
 *
 * @since 0.1.0
 */
export class CircuitBreakerStore extends Context.Tag("@effect-resilience/core/CircuitBreakerStore")<
  CircuitBreakerStore,
  CircuitBreakerStoreService
>() {}

/**
 * The in-memory store: every breaker gets its own counters.
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Layer } from "effect"
 *
 * const registry = CircuitBreaker.layer().pipe(Layer.provide(CircuitBreaker.layerStoreMemory))
 *
 * @since 0.1.0
 */
export const layerStoreMemory: Layer.Layer<CircuitBreakerStore> = Layer.succeed(
  CircuitBreakerStore,
  internal.memoryStore
)

// ---------------------------------------------------------------------------------------------
// Constructors and combinators
// ---------------------------------------------------------------------------------------------

/**
 * Creates a breaker for the lifetime of the scope. Uses the `CircuitBreakerStore` in context (in
 * memory when absent) and publishes transitions to the `ResilienceEvents` hub in context, if any.
 * A config that does not decode is a defect whose message names the bad field (use
 * {@link decodeConfig} to check config read at start-up).
 *
 * @example
 * import { CircuitBreaker, Classifier, Classification } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const breaker = yield* CircuitBreaker.make({ name: "payments", openDuration: "10 seconds" })
 *   return yield* breaker.protect(Effect.succeed(42))
 * }).pipe(
 *   Effect.scoped,
 *   Effect.provide(Classifier.layerFrom(() => Classification.unknown))
 * )
 *
 * @since 0.1.0
 */
export const make = (options?: MakeOptions): Effect.Effect<CircuitBreaker, never, Scope.Scope> =>
  Effect.flatMap(
    Effect.zip(Effect.serviceOption(CircuitBreakerStore), Effect.serviceOption(Events.ResilienceEvents)),
    ([store, hub]) =>
      internal.makeWith(
        options,
        Config,
        Option.getOrElse(store, () => internal.memoryStore),
        hub
      )
  )

/**
 * Runs an effect through a breaker. Data-last and data-first.
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * declare const breaker: CircuitBreaker.CircuitBreaker
 * const call = Effect.succeed(42).pipe(CircuitBreaker.protect(breaker))
 *
 * @since 0.1.0
 */
export const protect: {
  (
    breaker: CircuitBreaker
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R | Classifier>
  <A, E, R>(self: Effect.Effect<A, E, R>, breaker: CircuitBreaker): Effect.Effect<A, E | CircuitOpen, R | Classifier>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, breaker: CircuitBreaker): Effect.Effect<A, E | CircuitOpen, R | Classifier> =>
    breaker.protect(self)
)

// ---------------------------------------------------------------------------------------------
// Registry
// ---------------------------------------------------------------------------------------------

/**
 * The service of {@link CircuitBreakerRegistry}.
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const health = Effect.flatMap(CircuitBreaker.CircuitBreakerRegistry, (registry) => registry.snapshots)
 *
 * @since 0.1.0
 */
export interface CircuitBreakerRegistryService {
  /**
   * The breaker called `name`, created with `config` (over the registry's defaults) the first
   * time. Later calls return the same breaker and ignore `config`.
   */
  readonly get: (name: string, config?: MakeOptions) => Effect.Effect<CircuitBreaker>
  /** Every breaker created so far, in creation order. */
  readonly all: Effect.Effect<ReadonlyArray<CircuitBreaker>>
  /** A snapshot of every breaker (for health checks and dashboards). */
  readonly snapshots: Effect.Effect<ReadonlyArray<Snapshot>>
}

/**
 * Breakers by name, living as long as the registry's Layer.
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const registry = yield* CircuitBreaker.CircuitBreakerRegistry
 *   const breaker = yield* registry.get("payments", { openDuration: "10 seconds" })
 *   return yield* breaker.snapshot
 * }).pipe(Effect.provide(CircuitBreaker.layerMemory()))
 *
 * @since 0.1.0
 */
export class CircuitBreakerRegistry extends Context.Tag("@effect-resilience/core/CircuitBreakerRegistry")<
  CircuitBreakerRegistry,
  CircuitBreakerRegistryService
>() {}

/**
 * The registry on the `CircuitBreakerStore` in context. Breakers publish to the `ResilienceEvents`
 * hub present when the Layer is built. `defaults` apply to every breaker under its own config.
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Layer } from "effect"
 *
 * const live = CircuitBreaker.layer({ defaults: { openDuration: "1 minute" } }).pipe(
 *   Layer.provide(CircuitBreaker.layerStoreMemory)
 * )
 *
 * @since 0.1.0
 */
export const layer = (options?: {
  readonly defaults?: MakeOptions | undefined
}): Layer.Layer<CircuitBreakerRegistry, never, CircuitBreakerStore> =>
  Layer.scoped(
    CircuitBreakerRegistry,
    Effect.gen(function* () {
      const store = yield* CircuitBreakerStore
      const hub = yield* Effect.serviceOption(Events.ResilienceEvents)
      const scope = yield* Effect.scope
      const breakers = new Map<string, CircuitBreaker>()
      const lock = yield* Effect.makeSemaphore(1)
      const create = (name: string, config: MakeOptions | undefined) =>
        lock.withPermits(1)(
          Effect.suspend(() => {
            const existing = breakers.get(name)
            if (existing !== undefined) return Effect.succeed(existing)
            const merged: MakeOptions = { ...options?.defaults, ...config, name }
            return internal.makeWith(merged, Config, store, hub).pipe(
              Scope.extend(scope),
              Effect.tap((breaker) => Effect.sync(() => breakers.set(name, breaker)))
            )
          })
        )
      const all = Effect.sync(() => Array.from(breakers.values()))
      return {
        get: (name, config) =>
          Effect.suspend(() => {
            const existing = breakers.get(name)
            return existing !== undefined ? Effect.succeed(existing) : create(name, config)
          }),
        all,
        snapshots: Effect.flatMap(all, (list) => Effect.forEach(list, (breaker) => breaker.snapshot))
      }
    })
  )

/**
 * The registry with the in-memory store.
 *
 * @example
 * import { CircuitBreaker } from "@effect-resilience/core"
 *
 * const live = CircuitBreaker.layerMemory({ defaults: { policy: { _tag: "CountWindow" } } })
 *
 * @since 0.1.0
 */
export const layerMemory = (options?: {
  readonly defaults?: MakeOptions | undefined
}): Layer.Layer<CircuitBreakerRegistry> => layer(options).pipe(Layer.provide(layerStoreMemory))
