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
 * - Only failures whose `Classification` has `countsForBreaker` are recorded: a 400 never trips a
 *   breaker.
 * - Open -> half-open happens lazily, on the first call (or snapshot) after the open duration: no
 *   timer per breaker.
 * - A breaker is a {@link Strategy.Strategy}: a pipeline admits calls through it synchronously;
 *   {@link protect} runs one effect through it on its own.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import type * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import type * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { Classifier } from "./Classifier.js"
import type { CircuitOpen } from "./Errors.js"
import type * as Events from "./Events.js"
import * as internal from "./internal/circuitBreaker/binding.js"
import type * as core from "./internal/circuitBreaker/core.js"
import { discriminated, FinitePositiveDuration, PositiveDuration } from "./internal/schema.js"
import type * as Strategy from "./Strategy.js"

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

const Ratio = Schema.Number.pipe(
  Schema.filter((n) => (n > 0 && n <= 1) || "Expected a ratio greater than 0 and at most 1")
)

const PositiveInt = Schema.Int.pipe(Schema.greaterThanOrEqualTo(1))

/**
 * Slow calls: a call that takes at least `duration` is slow (as in resilience4j); the breaker opens when the share of slow
 * calls in the window reaches `rateThreshold` (default 1, every call). In half-open, a slow probe
 * counts as a failed probe.
 *
 * @example
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const config: CircuitBreaker.ConfigInput = {
 *   policy: { _tag: "CountWindow", slowCall: { duration: "2 seconds", rateThreshold: 0.8 } }
 * }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const SlowCall = Schema.Struct({
  duration: FinitePositiveDuration,
  rateThreshold: Schema.optionalWith(Ratio, { default: () => 1 })
})

/**
 * Opens after `threshold` consecutive failures that count (default 5). Successes reset the count;
 * failures that do not count for the breaker neither reset nor increment it.
 *
 * @example
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const config: CircuitBreaker.ConfigInput = { policy: { _tag: "ConsecutiveFailures", threshold: 3 } }
 * ```
 *
 * @since 0.1.0
 * @category schemas
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
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const config: CircuitBreaker.ConfigInput = {
 *   policy: { _tag: "CountWindow", size: 20, minimumCalls: 10, failureRateThreshold: 0.5 }
 * }
 * ```
 *
 * @since 0.1.0
 * @category schemas
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
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const config: CircuitBreaker.ConfigInput = {
 *   policy: { _tag: "TimeWindow", window: "10 seconds", buckets: 10, minimumCalls: 20 }
 * }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const TimeWindow = Schema.TaggedStruct("TimeWindow", {
  window: Schema.optionalWith(FinitePositiveDuration, { default: () => Duration.seconds(60) }),
  buckets: Schema.optionalWith(PositiveInt, { default: () => 10 }),
  minimumCalls: Schema.optionalWith(PositiveInt, { default: () => 100 }),
  failureRateThreshold: Schema.optionalWith(Ratio, { default: () => 0.5 }),
  slowCall: Schema.optional(SlowCall)
})

/**
 * How the breaker decides to open.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const policy = Schema.decodeUnknownSync(CircuitBreaker.TripPolicy)({ _tag: "TimeWindow" })
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const TripPolicy = discriminated("_tag", Schema.Union(ConsecutiveFailures, CountWindow, TimeWindow))

/**
 * A decoded tripping policy.
 *
 * @example
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const describe = (p: CircuitBreaker.TripPolicy) => p._tag
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type TripPolicy = typeof TripPolicy.Type

/**
 * The state a breaker starts in. `normal` is automatic (closed / open / half-open).
 *
 * @example
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const config: CircuitBreaker.ConfigInput = { mode: "disabled" }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Mode = Schema.Literal("normal", "forced-open", "disabled", "metrics-only")

/**
 * The breaker's config, with these defaults: open after 5 consecutive failures, half-open after
 * 30 s with one probe at a time, close after 3 probe successes.
 *
 * - Durations (`openDuration`, `openBackoff.max`, a time window, a slow-call threshold) are a
 *   `Duration.DurationInput`: a number of milliseconds or a string such as `"30 seconds"`.
 * - `openBackoff`: consecutive re-openings (a half-open probe failed) wait
 *   `openDuration * multiplier^n`, at most `max`. For any other shape, pass `openSchedule` to
 *   {@link make}.
 * - `halfOpen.maxProbes`: how many probes may be in flight at once; `successThreshold`: how many
 *   probe successes close the breaker. Any counted probe failure opens it again.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(CircuitBreaker.Config)({
 *   name: "payments",
 *   openDuration: "10 seconds",
 *   openBackoff: { multiplier: 2, max: "5 minutes" },
 *   halfOpen: { maxProbes: 2, successThreshold: 3 }
 * })
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const Config = Schema.Struct({
  name: Schema.optionalWith(Schema.NonEmptyString, { default: () => "circuit-breaker" }),
  policy: Schema.optionalWith(TripPolicy, { default: () => ConsecutiveFailures.make({ threshold: 5 }) }),
  openDuration: Schema.optionalWith(FinitePositiveDuration, { default: () => Duration.seconds(30) }),
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
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const probes = (config: CircuitBreaker.Config) => config.halfOpen.maxProbes
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export interface Config extends Schema.Schema.Type<typeof Config> {}

/**
 * The config as written: every field optional, durations as milliseconds or strings.
 *
 * @example
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const input: CircuitBreaker.ConfigInput = { openDuration: 10_000, halfOpen: { successThreshold: 2 } }
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export interface ConfigInput extends Schema.Schema.Encoded<typeof Config> {}

/**
 * Options of {@link make} that are code, not config. `openSchedule` replaces `openDuration` and
 * `openBackoff`: its n-th delay is the open duration after n consecutive re-openings. Its first 64
 * delays are stepped once, when the breaker is made (a jittered schedule draws its jitter then);
 * later re-openings, and those after the schedule ends, reuse the last delay.
 *
 * @example
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 * import { Schedule } from "effect"
 *
 * const options: CircuitBreaker.MakeOptions = {
 *   openSchedule: Schedule.exponential("5 seconds").pipe(Schedule.union(Schedule.spaced("2 minutes")))
 * }
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export interface MakeOptions {
  readonly openSchedule?: Schedule.Schedule<unknown, unknown, never> | undefined
}

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

/**
 * Marks a {@link CircuitBreaker}.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@effect-resilience/core"
 *
 * const key: symbol = CircuitBreaker.TypeId
 * ```
 *
 * @since 0.2.0
 * @category symbols
 */
export const TypeId: typeof internal.TypeId = internal.TypeId

/**
 * The type of {@link TypeId}.
 *
 * @example
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * type Key = CircuitBreaker.TypeId
 * ```
 *
 * @since 0.2.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * A refusal: the breaker is `open` (`retryAfterMillis` until a probe may go), `half-open` with
 * every probe slot taken (0: ask again when a probe settles), or `forced-open` (`Infinity`).
 *
 * @example
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * declare const breaker: CircuitBreaker.CircuitBreaker
 * const decision = breaker.admit(Date.now(), Math.random)
 * if (decision._tag === "Rejected") console.log(decision.reason, decision.retryAfterMillis)
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Rejected extends core.Rejected {}

/**
 * Why a breaker moved. `fleet-evidence`: the evidence pooled by a fleet's shared store tripped the
 * policy; `fleet`: another process of the fleet decided (see {@link StoreControl}).
 *
 * @example
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const automatic = (r: CircuitBreaker.TransitionReason) => r !== "manual" && r !== "reset"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type TransitionReason = core.TransitionReason

/**
 * One state change, timed by the Clock.
 *
 * @example
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 * import { Effect, Stream } from "effect"
 *
 * const logTransitions = (breaker: CircuitBreaker.CircuitBreaker) =>
 *   Stream.runForEach(breaker.transitions, (t) => Effect.log(`${t.breaker}: ${t.from} -> ${t.to} (${t.reason})`))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Transition extends core.Transition {}

/**
 * What a health check or a dashboard shows. Counts are those of the current window (since the
 * breaker last closed for the consecutive policy). `openUntilMillis` and `retryAfterMillis` are
 * present while open.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const toJson = Schema.encodeSync(CircuitBreaker.Snapshot)
 * ```
 *
 * @since 0.1.0
 * @category schemas
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
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const healthy = (s: CircuitBreaker.Snapshot) => s.state === "closed" || s.state === "disabled"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot extends Schema.Schema.Type<typeof Snapshot> {}

/**
 * A breaker: an admission {@link Strategy.Strategy} (component `"breaker"`) that a pipeline walks,
 * plus `protect` for use on its own, observation and manual control.
 *
 * - `admit(now, random)`: `Admitted` (settle its ticket exactly once with the attempt's outcome:
 *   a failure counts only when its classification has `countsForBreaker`; a call that takes at
 *   least the slow-call threshold is slow) or {@link Rejected}. Moves open -> half-open when due.
 * - `stateAt(now)`: the state as reported; `reject(rejected)`: the `CircuitOpen` failure.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, Classifier } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const breaker = yield* CircuitBreaker.make({ name: "payments" })
 *   const value = yield* breaker.protect(Effect.succeed(42))
 *   const state = yield* breaker.currentState // "closed"
 *   return [value, state] as const
 * }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface CircuitBreaker extends Strategy.Strategy<CircuitOpen> {
  readonly [TypeId]: TypeId
  readonly component: "breaker"
  readonly name: string
  readonly config: Config
  /** Asks to make a call at `nowMillis` (Clock time). */
  readonly admit: (nowMillis: number, random: () => number) => Strategy.Admitted | Rejected
  /** The state at `nowMillis` (moves open -> half-open when due). */
  readonly stateAt: (nowMillis: number) => Events.BreakerState
  /** The `CircuitOpen` failure for a refusal. */
  readonly reject: (rejected: Strategy.Rejected) => CircuitOpen
  /**
   * Runs `self` through the breaker: fails with `CircuitOpen` when refused, classifies failures
   * with the `Classifier` in context, times the call with the Clock, and gives a probe slot back
   * when interrupted.
   */
  readonly protect: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R | Classifier>
  /** The snapshot at `nowMillis`, synchronously (moves open -> half-open when due). */
  readonly snapshotAt: (nowMillis: number) => Snapshot
  readonly snapshot: Effect.Effect<Snapshot>
  /** The state now (moves open -> half-open when due). */
  readonly currentState: Effect.Effect<Events.BreakerState>
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

/**
 * Whether a value (a strategy of a pipeline, say) is a {@link CircuitBreaker}.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import type { Strategy } from "@effect-resilience/core"
 *
 * const breakers = (strategies: ReadonlyArray<Strategy.Strategy<unknown>>) =>
 *   strategies.filter(CircuitBreaker.isCircuitBreaker)
 * ```
 *
 * @since 0.2.0
 * @category getters
 */
export const isCircuitBreaker = (u: unknown): u is CircuitBreaker => Predicate.hasProperty(u, TypeId)

// ---------------------------------------------------------------------------------------------
// Store
// ---------------------------------------------------------------------------------------------

/**
 * An outcome as the store records it.
 *
 * @example
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const failed = (o: CircuitBreaker.RecordedOutcome) => o === "failure" || o === "slow-failure"
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type RecordedOutcome = core.RecordedOutcome

/**
 * The evidence in a breaker's window.
 *
 * @example
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const rate = (e: CircuitBreaker.Evidence) => (e.calls === 0 ? 0 : e.failures / e.calls)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Evidence extends core.Evidence {}

/**
 * A decision of the breaker, as the store hears it: a transition, with the end of the open
 * period when it opened.
 *
 * @example
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const opened = (d: CircuitBreaker.StoreDecision) => d.transition.to === "open"
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface StoreDecision extends core.StoreDecision {}

/**
 * One breaker's state in a store (its methods are called on the handle). It is synchronous on purpose: `record` runs on every call. A
 * store backed by a remote service keeps a local copy that answers synchronously and exchanges
 * outcomes and decisions in the background. The store sees outcomes and decisions as plain data.
 *
 * @example
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * // a store that logs decisions around another one
 * const logging = (inner: CircuitBreaker.CircuitBreakerStoreService): CircuitBreaker.CircuitBreakerStoreService => ({
 *   attach: (name, policy) =>
 *     Effect.map(inner.attach(name, policy), (handle): CircuitBreaker.StoreHandle => ({
 *       record: (outcome, atMillis) => handle.record(outcome, atMillis),
 *       evidence: (atMillis) => handle.evidence(atMillis),
 *       clear: (atMillis) => handle.clear(atMillis),
 *       decide: (decision) => {
 *         console.log(name, decision.transition.to)
 *         handle.decide(decision)
 *       }
 *     }))
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface StoreHandle extends core.EvidenceStore {}

/**
 * A decision taken by another process of a fleet, which a shared store applies to its local
 * breaker: open for `remainingMillis` more (with the fleet's count of re-openings), forced open,
 * or closed.
 *
 * @example
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * const opened: CircuitBreaker.FleetDecision = { _tag: "Open", remainingMillis: 30_000, reopenings: 0 }
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type FleetDecision = core.FleetDecision

/**
 * What a store may do with the breaker it serves. A store that implements `connect` on its handle
 * receives it once, when the breaker is made: a store shared by a fleet uses it to trip on the
 * fleet's pooled evidence (`trips`, `openOnFleetEvidence`, reason `fleet-evidence`) and to apply
 * decisions taken elsewhere (`apply`, reason `fleet`). A store that implements `probeGate` is
 * asked before each half-open probe (`0` lets it go; a positive number refuses it for that many
 * milliseconds), so that one process of a fleet probes for all.
 *
 * @example
 * ```ts
 * import type { CircuitBreaker } from "@effect-resilience/core"
 *
 * // open this breaker when the fleet's summed evidence trips its policy
 * const onPooled = (control: CircuitBreaker.StoreControl, pooled: CircuitBreaker.Evidence, now: number) =>
 *   control.trips(pooled) !== undefined && control.openOnFleetEvidence(now)
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface StoreControl extends core.BreakerControl {}

/**
 * The service of {@link CircuitBreakerStore}.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const handle = Effect.flatMap(CircuitBreaker.CircuitBreakerStore, (store) =>
 *   store.attach("db", { _tag: "ConsecutiveFailures", threshold: 5 })
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface CircuitBreakerStoreService {
  /** The state of breaker `name`, for the lifetime of the scope. */
  readonly attach: (name: string, policy: TripPolicy) => Effect.Effect<StoreHandle, never, Scope.Scope>
}

/**
 * Where breakers keep their evidence. A `Context.Reference`: without a store in context, breakers
 * keep it in memory (the default store holds nothing itself; each breaker owns its counters).
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* CircuitBreaker.CircuitBreakerStore
 *   return yield* store.attach("db", { _tag: "ConsecutiveFailures", threshold: 5 })
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class CircuitBreakerStore extends Context.Reference<CircuitBreakerStore>()(
  "@effect-resilience/core/CircuitBreakerStore",
  { defaultValue: (): CircuitBreakerStoreService => internal.memoryStore }
) {}

/**
 * The in-memory store (also the default): every breaker gets its own counters.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Layer } from "effect"
 *
 * const payments = CircuitBreaker.layer({ name: "payments" }).pipe(Layer.provide(CircuitBreaker.layerStoreMemory))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStoreMemory: Layer.Layer<CircuitBreakerStore> = Layer.succeed(
  CircuitBreakerStore,
  internal.memoryStore
)

/**
 * The in-memory store as a value: every breaker gets its own counters. A store shared by a fleet
 * keeps its local copy of the evidence in it.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const local = Effect.scoped(CircuitBreaker.storeMemory.attach("db", { _tag: "ConsecutiveFailures", threshold: 5 }))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const storeMemory: CircuitBreakerStoreService = internal.memoryStore

// ---------------------------------------------------------------------------------------------
// Constructors and combinators
// ---------------------------------------------------------------------------------------------

/**
 * Makes a breaker for the lifetime of the scope. Decodes `config` (a bad value fails with a
 * `ParseError` naming its path), keeps evidence in the `CircuitBreakerStore` in context (memory by
 * default) and publishes transitions to the `ResilienceEvents` hub in context when it is made.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, Classifier } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const breaker = yield* CircuitBreaker.make({ name: "payments", openDuration: "10 seconds" })
 *   return yield* breaker.protect(Effect.succeed(42))
 * }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  config?: ConfigInput,
  options?: MakeOptions
): Effect.Effect<CircuitBreaker, ParseResult.ParseError, Scope.Scope> =>
  Effect.flatMap(Schema.decodeUnknown(Config)(config ?? {}), (decoded) =>
    Effect.flatMap(CircuitBreakerStore, (store) => internal.makeWith(decoded, options?.openSchedule, store))
  )

/**
 * One breaker as a service: the tag of {@link layer}.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, Classifier } from "@effect-resilience/core"
 * import { Effect, Layer } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const breaker = yield* CircuitBreaker.CircuitBreaker
 *   return yield* breaker.protect(Effect.succeed("ok"))
 * }).pipe(Effect.provide(Layer.merge(CircuitBreaker.layer({ name: "payments" }), Classifier.layer)))
 * ```
 *
 * @since 0.2.0
 * @category services
 */
export const CircuitBreaker: Context.Tag<CircuitBreaker, CircuitBreaker> = Context.GenericTag<CircuitBreaker>(
  "@effect-resilience/core/CircuitBreaker"
)

/**
 * One breaker, living as long as the Layer.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@effect-resilience/core"
 *
 * const Payments = CircuitBreaker.layer({ name: "payments", policy: { _tag: "CountWindow", size: 50, minimumCalls: 20 } })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  config?: ConfigInput,
  options?: MakeOptions
): Layer.Layer<CircuitBreaker, ParseResult.ParseError> => Layer.scoped(CircuitBreaker, make(config, options))

/**
 * Runs an effect through a breaker. Data-last and data-first.
 *
 * @example
 * ```ts
 * import type { CircuitBreaker as CB } from "@effect-resilience/core"
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * declare const breaker: CB.CircuitBreaker
 * const call = Effect.succeed(42).pipe(CircuitBreaker.protect(breaker))
 * ```
 *
 * @since 0.1.0
 * @category combinators
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
 * The service of {@link Registry}.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const health = Effect.flatMap(CircuitBreaker.Registry, (registry) => registry.snapshots)
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface RegistryService {
  /** Whether `get` returns the same breaker for a name (false for the default registry). */
  readonly shared: boolean
  /**
   * The breaker called `name`. A sharing registry makes it with `config` (over its defaults) the
   * first time and returns it afterwards, ignoring `config`; the default registry makes a new one
   * in the caller's scope each time.
   */
  readonly get: (
    name: string,
    config?: ConfigInput
  ) => Effect.Effect<CircuitBreaker, ParseResult.ParseError, Scope.Scope>
  /** Every breaker a sharing registry made so far, in creation order. */
  readonly all: Effect.Effect<ReadonlyArray<CircuitBreaker>>
  /** A snapshot of each of them (for health checks and dashboards). */
  readonly snapshots: Effect.Effect<ReadonlyArray<Snapshot>>
}

const unshared: RegistryService = internal.unshared((config) => make(config))

/**
 * Breakers by name. A `Context.Reference`: its default shares nothing and holds nothing (each
 * `get` makes a new breaker in the caller's scope); {@link layerRegistry} shares breakers by name.
 * A pipeline asks it for its breaker.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const registry = yield* CircuitBreaker.Registry
 *   const breaker = yield* registry.get("payments", { openDuration: "10 seconds" })
 *   return yield* breaker.snapshot
 * }).pipe(Effect.scoped, Effect.provide(CircuitBreaker.layerRegistry()))
 * ```
 *
 * @since 0.2.0
 * @category services
 */
export class Registry extends Context.Reference<Registry>()("@effect-resilience/core/CircuitBreaker/Registry", {
  defaultValue: (): RegistryService => unshared
}) {}

/**
 * A registry that shares breakers by name, living as long as the Layer: the breakers use the
 * `CircuitBreakerStore` in context and publish to the `ResilienceEvents` hub present when the
 * Layer is built. `defaults` apply to every breaker, under its own config.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, Events } from "@effect-resilience/core"
 * import { Layer } from "effect"
 *
 * const live = CircuitBreaker.layerRegistry({ defaults: { openDuration: "1 minute" } }).pipe(
 *   Layer.provideMerge(Events.layer())
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerRegistry = (options?: { readonly defaults?: ConfigInput | undefined }): Layer.Layer<Registry> =>
  Layer.scoped(
    Registry,
    Effect.flatMap(CircuitBreakerStore, (store) =>
      internal.shared((config) => Effect.provideService(make(config), CircuitBreakerStore, store), options?.defaults)
    )
  )
