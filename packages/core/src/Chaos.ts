/**
 * Chaos: fault injection for tests and demos, in the spirit of Polly's Simmy.
 *
 * `Chaos.inject("get-user")` wraps an operation so that, when the `Chaos` service is provided, it
 * suffers the faults configured for that operation at the configured rates:
 *
 * - **latency**: a delay before the call (`rate`, `millis`);
 * - **hang**: the call never completes until it is interrupted (`rate`);
 * - **failure**: the call fails, without running, with a {@link ChaosFault} that carries the
 *   {@link Classification} to report (`rate`, `category`, optional `code`, `message`, `retryable`,
 *   `retryAfterMillis`), or with a failure of your own type (`inject(operation, { failure })`).
 *
 * Faults are drawn from Effect's `Random` (seed it with `Effect.withRandom(Random.make(seed))` to
 * replay the same faults) and delays use Effect's `Clock` (`TestClock` in tests). For each call the
 * draws happen in a fixed order: latency, hang, failure (a call may be both slow and failed).
 *
 * Without the service in context, `inject` costs one context lookup; with `enabled: false` it costs
 * one `Ref` read more. The config can be replaced while running (`Chaos.set`), e.g. from a demo's
 * control panel.
 *
 * @since 0.1.0
 */
import type * as EffectConfig from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Classification from "./Classification.js"
import * as Classifier from "./Classifier.js"
import * as internal from "./internal/chaos.js"

/**
 * A probability, from 0 (never) to 1 (always).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Rate = Schema.Number.pipe(Schema.between(0, 1), Schema.annotations({ identifier: "Rate" }))

/**
 * Delay `millis` before the call, with probability `rate`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const LatencyFault = Schema.Struct({ rate: Rate, millis: Schema.NonNegative })

/**
 * Fail the call without running it, with probability `rate`. The {@link ChaosFault} carries a
 * classification of `category` (with the category's defaults unless `retryable` is given), code
 * `chaos.<category>` unless `code` is given, and Retry-After `retryAfterMillis` when given.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FailureFault = Schema.Struct({
  rate: Rate,
  category: Classification.Category,
  code: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
  retryable: Schema.optional(Schema.Boolean),
  retryAfterMillis: Schema.optional(Schema.NonNegative)
})

/**
 * Never complete (until interrupted), with probability `rate`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const HangFault = Schema.Struct({ rate: Rate })

/**
 * The faults of one operation. Each is optional.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Faults = Schema.Struct({
  latency: Schema.optional(LatencyFault),
  failure: Schema.optional(FailureFault),
  hang: Schema.optional(HangFault)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Faults extends Schema.Schema.Type<typeof Faults> {}

/**
 * A chaos config: `default` faults for every operation, replaced (not merged) by the entry of
 * `operations` named after the operation when there is one. `enabled` (default true) switches
 * everything off at once.
 *
 * @example
 * ```ts
 * import { Chaos } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(Chaos.Config)({
 *   default: { latency: { rate: 0.1, millis: 200 } },
 *   operations: { "get-user": { failure: { rate: 0.2, category: "unavailable" } } }
 * })
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Config = Schema.Struct({
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  default: Schema.optionalWith(Faults, { default: () => ({}) }),
  operations: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Faults }), { default: () => ({}) })
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Config extends Schema.Schema.Type<typeof Config> {}

/**
 * The failure injected by chaos. It carries the classification the Classifier should report, so
 * every strategy reacts to it as to the real failure it stands for.
 *
 * @example
 * ```ts
 * import { Chaos, Classification } from "@effect-resilience/core"
 *
 * const fault = new Chaos.ChaosFault({
 *   operation: "get-user",
 *   classification: Classification.make({ category: "unavailable", code: "chaos.unavailable", message: "Injected" })
 * })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ChaosFault extends Schema.TaggedError<ChaosFault>()("ChaosFault", {
  operation: Schema.String,
  classification: Classification.Classification
}) {
  override get message(): string {
    return `Chaos fault injected into "${this.operation}": ${this.classification.message}`
  }
}

/**
 * The classification a `ChaosFault` carries, or undefined for any other failure. A Classifier
 * should consult it first.
 *
 * @example
 * ```ts
 * import { Chaos } from "@effect-resilience/core"
 *
 * const c = Chaos.classificationOf(new Error("boom")) // undefined
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const classificationOf = (failure: unknown): Classification.Classification | undefined =>
  failure instanceof ChaosFault ? failure.classification : undefined

/**
 * Wraps a classify function so that `ChaosFault`s are classified by the classification they carry.
 *
 * @example
 * ```ts
 * import { Chaos, Classification, Classifier } from "@effect-resilience/core"
 *
 * const layer = Classifier.layerFrom(Chaos.classifyFaults(() => Classification.unknown))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const classifyFaults =
  (classify: (failure: unknown) => Classification.Classification) =>
  (failure: unknown): Classification.Classification =>
    classificationOf(failure) ?? classify(failure)

/**
 * Puts {@link classifyFaults} in front of the Classifier provided below it: injected faults are
 * classified as they say, everything else as before.
 *
 * @example
 * ```ts
 * import { Chaos, Classifier } from "@effect-resilience/core"
 * import { Layer } from "effect"
 *
 * // The default classifier, reading ChaosFaults too.
 * const ClassifierLive = Chaos.layerClassifier.pipe(Layer.provide(Classifier.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClassifier: Layer.Layer<Classifier.Classifier, never, Classifier.Classifier> = Layer.effect(
  Classifier.Classifier,
  Effect.map(Classifier.Classifier, (below) => ({ classify: classifyFaults(below.classify) }))
)

/**
 * The chaos service: the current config, replaceable while running.
 *
 * @since 0.1.0
 * @category services
 */
export class Chaos extends Context.Tag("@effect-resilience/core/Chaos")<
  Chaos,
  {
    readonly config: Effect.Effect<Config>
    readonly set: (config: Config) => Effect.Effect<void>
    /** The faults for `operation` now, or undefined when chaos is disabled. */
    readonly faults: (operation: string) => Effect.Effect<Faults | undefined>
  }
>() {}

/**
 * Makes the service from a decoded config.
 *
 * @example
 * ```ts
 * import { Chaos } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const chaos = Chaos.make({
 *   enabled: true,
 *   default: {},
 *   operations: { "get-user": { failure: { rate: 0.1, category: "unavailable" } } }
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (config: Config): Effect.Effect<Chaos["Type"]> =>
  Effect.map(Ref.make(config), (ref) => ({
    config: Ref.get(ref),
    set: (next) => Ref.set(ref, next),
    faults: (operation) => Effect.map(Ref.get(ref), (current) => internal.faultsFor(current, operation))
  }))

/**
 * A Layer from a config, decoded by {@link Config}: a rate outside [0, 1], a negative delay or an
 * unknown category fails the Layer with the path and the reason.
 *
 * @example
 * ```ts
 * import { Chaos } from "@effect-resilience/core"
 *
 * const ChaosLive = Chaos.layer({
 *   default: { latency: { rate: 0.2, millis: 300 }, failure: { rate: 0.1, category: "unavailable" } },
 *   operations: { "health-check": {} }
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: typeof Config.Encoded): Layer.Layer<Chaos, ParseResult.ParseError> =>
  Layer.effect(Chaos, Effect.flatMap(Schema.decodeUnknown(Config)(config), make))

/**
 * A Layer from a JSON config read through Effect's `Config` (an environment variable, a config
 * provider), decoded by {@link Config}.
 *
 * @example
 * ```ts
 * import { Chaos } from "@effect-resilience/core"
 * import { Config } from "effect"
 *
 * // CHAOS='{"default":{"failure":{"rate":0.1,"category":"unavailable"}}}'
 * const ChaosLive = Chaos.layerConfig(Config.string("CHAOS"))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  json: EffectConfig.Config<string>
): Layer.Layer<Chaos, ConfigError.ConfigError | ParseResult.ParseError> =>
  Layer.effect(
    Chaos,
    Effect.flatMap(json, (text) => Effect.flatMap(Schema.decodeUnknown(Schema.parseJson(Config))(text), make))
  )

/**
 * Replaces the config of the `Chaos` service in context.
 *
 * @since 0.1.0
 * @category combinators
 */
export const set = (config: Config): Effect.Effect<void, never, Chaos> =>
  Effect.flatMap(Chaos, (chaos) => chaos.set(config))

/**
 * Turns chaos on or off, keeping the rest of the config.
 *
 * @example
 * ```ts
 * import { Chaos } from "@effect-resilience/core"
 *
 * const calm = Chaos.setEnabled(false)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const setEnabled = (enabled: boolean): Effect.Effect<void, never, Chaos> =>
  Effect.flatMap(Chaos, (chaos) => Effect.flatMap(chaos.config, (config) => chaos.set({ ...config, enabled })))

const toFault =
  (operation: string) =>
  (classification: Classification.Classification): ChaosFault =>
    new ChaosFault({ operation, classification })

/**
 * Injects the faults the `Chaos` service configures for `operation`. Without the service the
 * effect runs unchanged. With `failure`, injected failures are mapped to your own error type
 * instead of {@link ChaosFault}.
 *
 * @example
 * ```ts
 * import { Chaos } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * declare const getUser: Effect.Effect<string, Error>
 *
 * const chaotic = getUser.pipe(Chaos.inject("get-user"))
 * // Effect<string, Error | Chaos.ChaosFault>
 *
 * const ownError = getUser.pipe(
 *   Chaos.inject("get-user", { failure: (fault) => new Error(fault.message) })
 * )
 * // Effect<string, Error>
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const inject: {
  <E2>(
    operation: string,
    options: { readonly failure: (fault: ChaosFault) => E2 }
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | E2, R>
  (operation: string): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | ChaosFault, R>
  <A, E, R, E2>(
    self: Effect.Effect<A, E, R>,
    operation: string,
    options: { readonly failure: (fault: ChaosFault) => E2 }
  ): Effect.Effect<A, E | E2, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, operation: string): Effect.Effect<A, E | ChaosFault, R>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R, E2>(
    self: Effect.Effect<A, E, R>,
    operation: string,
    options?: { readonly failure: (fault: ChaosFault) => E2 }
  ): Effect.Effect<A, E | E2 | ChaosFault, R> => {
    const fault = toFault(operation)
    const mapFailure = options?.failure
    const injected: (classification: Classification.Classification) => E2 | ChaosFault =
      mapFailure === undefined ? fault : (c) => mapFailure(fault(c))
    // One context lookup when no Chaos service is provided (cheaper than `serviceOption` + `flatMap`).
    return Effect.contextWithEffect((context: Context.Context<never>) => {
      const chaos = Context.getOption(context, Chaos)
      return Option.isNone(chaos)
        ? self
        : Effect.flatMap(chaos.value.faults(operation), (faults) =>
            faults === undefined ? self : internal.apply(self, faults, injected)
          )
    })
  }
)

/**
 * Injects the given faults directly, with no service: handy to make a dependency misbehave in a
 * test. Rates are not validated here (a rate above 1 acts as 1).
 *
 * @example
 * ```ts
 * import { Chaos } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const flaky = Effect.succeed("ok").pipe(
 *   Chaos.withFaults({ failure: { rate: 0.3, category: "unavailable" } }, "upstream")
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withFaults: {
  (faults: Faults, operation?: string): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | ChaosFault, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, faults: Faults, operation?: string): Effect.Effect<A, E | ChaosFault, R>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R>(self: Effect.Effect<A, E, R>, faults: Faults, operation?: string): Effect.Effect<A, E | ChaosFault, R> =>
    internal.apply(self, faults, toFault(operation ?? "chaos"))
)

/**
 * What a {@link misbehaving} effect does on one call: succeed or fail after a delay, or hang.
 *
 * @since 0.1.0
 * @category constructors
 */
export type Step<A, E> = internal.Step<A, E>

const hangStep: Step<never, never> = { _tag: "Hang" }

/**
 * Constructors of {@link Step}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Step = {
  succeed: <A>(value: A, after: Duration.DurationInput = 0): Step<A, never> => ({ _tag: "Succeed", value, after }),
  fail: <E>(error: E, after: Duration.DurationInput = 0): Step<never, E> => ({ _tag: "Fail", error, after }),
  hang: hangStep
}

/**
 * Counters of a {@link misbehaving} effect: calls made, calls still running, calls that completed
 * (success or failure) and calls interrupted (their finalizers ran).
 *
 * @since 0.1.0
 * @category models
 */
export type Stats = internal.Stats

/**
 * Makes an effect that misbehaves to a script, for tests: call n follows `steps[n]` (the last
 * step repeats). Each call holds a resource released by a finalizer, and `stats` counts calls,
 * completions and interruptions, so a test can prove that interrupted calls were released.
 *
 * @example
 * ```ts
 * import { Chaos } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const upstream = yield* Chaos.misbehaving([
 *     Chaos.Step.fail("unavailable", "10 millis"),
 *     Chaos.Step.hang,
 *     Chaos.Step.succeed("ok", "50 millis")
 *   ])
 *   // ... run `upstream.effect` through a policy, then check `yield* upstream.stats`
 * })
 * ```
 *
 * @since 0.1.0
 * @category testing
 */
export const misbehaving: <A, E>(
  steps: readonly [Step<A, E>, ...Array<Step<A, E>>]
) => Effect.Effect<{ readonly effect: Effect.Effect<A, E>; readonly stats: Effect.Effect<Stats> }> =
  internal.misbehaving
