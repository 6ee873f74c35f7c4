/**
 * The `Classifier` service turns any failure into a {@link Classification}. Every strategy asks it,
 * and none of them inspects raw errors itself, so swapping the Classifier Layer changes the
 * behaviour of the whole pipeline.
 *
 * {@link layer} is the default: it knows HTTP statuses and Retry-After (`retry-after`, and
 * `retry-after-ms` / `x-ms-retry-after-ms` in milliseconds), Node system error codes, fetch/undici
 * errors (undici 7's `ResponseError` by its status), gRPC statuses (and `grpc-retry-pushback-ms`),
 * PostgreSQL SQLSTATEs and pg's code-less connection errors, Redis error replies and ioredis'
 * connection errors, better-sqlite3's SQLite codes, aborts and timeouts (an `AbortError` caused by
 * `AbortSignal.timeout` is a timeout), malformed JSON, programming defects (not retried, not
 * counted by a breaker) (see `Failures`) and the runtime's own errors (see `Errors`), whether they
 * arrive as tagged failures or as raw values, also wrapped in `cause` chains, `AggregateError`s,
 * Effect's `UnknownException` or `@effect/platform` / `@effect/sql` errors. The labelling table and
 * the live corpus that measures it are in `docs/classification.md`. {@link layerWith} puts user {@link Rule}s and
 * exhaustive tag mappings ({@link exhaustive}) in front of it.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Classification from "./Classification.js"
import * as internal from "./internal/classifier/classify.js"
import type { Rule } from "./Rule.js"

/**
 * What the Classifier service offers: a pure, synchronous function (it runs on every failure, so it
 * must be cheap).
 *
 * @example
 * ```ts
 * import { Classification, Classifier } from "@effect-resilience/core"
 *
 * const service: Classifier.Service = { classify: () => Classification.unknown }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly classify: (failure: unknown) => Classification.Classification
}

/**
 * The service: a pure, synchronous function (it runs on every failure, so it must be cheap).
 *
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const classifier = yield* Classifier.Classifier
 *   return classifier.classify(new Error("boom"))
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Classifier extends Context.Tag("@effect-resilience/core/Classifier")<Classifier, Service>() {}

/**
 * A Layer from a classify function (tests use it to swap the behaviour of every strategy).
 *
 * @example
 * ```ts
 * import { Classification, Classifier } from "@effect-resilience/core"
 *
 * const everythingRetryable = Classifier.layerFrom(() =>
 *   Classification.make({ category: "unavailable", code: "test", message: "test" })
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFrom = (classify: (failure: unknown) => Classification.Classification): Layer.Layer<Classifier> =>
  Layer.succeed(Classifier, { classify })

/**
 * Classifies a failure with the Classifier in context.
 *
 * @example
 * ```ts
 * import { Classifier, Failures } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const c = Classifier.classify(new Failures.HttpError({ status: 503 })).pipe(Effect.provide(Classifier.layer))
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const classify = (failure: unknown): Effect.Effect<Classification.Classification, never, Classifier> =>
  Effect.map(Classifier, (c) => c.classify(failure))

/**
 * What a rule or a mapping answers for a failure it matches: a classification, or a function of
 * the failure and of the `base` classification (what the classifier below would have said). The
 * base is computed only when the function declares that second parameter (it can cost a structural
 * walk of the failure); a one-parameter function pays nothing for it.
 *
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 *
 * const notRetried: Classifier.Result<unknown> = (_, base) => ({ ...base, retryable: false })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Result<A> = internal.Result<A>

/**
 * A list of `[rule, result]` pairs; the result function receives the failure typed by its rule.
 *
 * @example
 * ```ts
 * import { Classification, Classifier, Rule } from "@effect-resilience/core"
 *
 * const rules: Classifier.Rules<[{ readonly _tag: "Quota" }]> = [
 *   [Rule.tag("Quota"), (e) => Classification.make({ category: "throttled", code: e._tag, message: "Quota" })]
 * ]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Rules<R extends ReadonlyArray<unknown>> = {
  readonly [K in keyof R]: readonly [Rule<R[K]>, Result<R[K]>]
}

/**
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 *
 * const isMapping = (u: object) => Classifier.MappingTypeId in u
 * ```
 *
 * @since 0.1.0
 * @category symbols
 */
export const MappingTypeId: unique symbol = Symbol.for("@effect-resilience/core/Classifier/Mapping")

/**
 * @example
 * ```ts
 * import type { Classifier } from "@effect-resilience/core"
 *
 * type Id = Classifier.MappingTypeId
 * ```
 *
 * @since 0.1.0
 * @category symbols
 */
export type MappingTypeId = typeof MappingTypeId

/**
 * A classification for every tag of the error union `E`, made by {@link exhaustive}.
 *
 * @example
 * ```ts
 * import { Classification, Classifier } from "@effect-resilience/core"
 *
 * type Declined = { readonly _tag: "Declined" }
 * const mapping: Classifier.Mapping<Declined> = Classifier.exhaustive<Declined>()({ Declined: Classification.unknown })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Mapping<in E> {
  readonly [MappingTypeId]: { readonly _E: (_: E) => void }
  readonly tags: ReadonlyArray<string>
  /** @internal */
  readonly handlers: ReadonlyMap<string, internal.MappingHandler>
}

/**
 * One result per tag of `E`, each typed by its member of the union.
 *
 * @example
 * ```ts
 * import { Classification, Classifier } from "@effect-resilience/core"
 *
 * type E = { readonly _tag: "A" } | { readonly _tag: "B" }
 * const handlers: Classifier.Handlers<E> = { A: Classification.unknown, B: (_, base) => base }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Handlers<E extends { readonly _tag: string }> = {
  readonly [T in E["_tag"]]: Result<Extract<E, { readonly _tag: T }>>
}

const isTaggedWith = <A extends { readonly _tag: string }>(u: unknown, tag: A["_tag"]): u is A =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === tag

const isKeyOf = <O extends object>(key: PropertyKey, o: O): key is keyof O => Object.hasOwn(o, key)

const mappingEntry = <E extends { readonly _tag: string }, K extends E["_tag"]>(
  tag: K,
  result: Handlers<E>[K]
): internal.MappingHandler => {
  const withBase = typeof result === "function" && internal.wantsBase(result)
  return (u, fallback) => {
    if (!isTaggedWith<Extract<E, { readonly _tag: K }>>(u, tag)) return fallback(u)
    if (typeof result !== "function") return result
    return result(u, withBase ? fallback(u) : Classification.unknown)
  }
}

/**
 * An exhaustive mapping for a user's own error union: one result per `_tag`, checked by the
 * compiler. Leave a tag out, or add a tag to the union later, and the build fails naming the
 * missing tag (`Property 'InventoryLow' is missing ...`). Use it with {@link layerWith}; the defaults
 * classify everything else.
 *
 * @example
 * ```ts
 * import { Classification, Classifier } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * class PaymentDeclined extends Schema.TaggedError<PaymentDeclined>()("PaymentDeclined", { reason: Schema.String }) {}
 * class InventoryLow extends Schema.TaggedError<InventoryLow>()("InventoryLow", { sku: Schema.String }) {}
 *
 * const mapping = Classifier.exhaustive<PaymentDeclined | InventoryLow>()({
 *   PaymentDeclined: Classification.make({ category: "business", code: "payment.declined", message: "Payment declined" }),
 *   InventoryLow: (e) =>
 *     Classification.make({ category: "resource", code: "inventory.low", message: `Low stock (${e.sku})` })
 * })
 * const layer = Classifier.layerWith({ mappings: [mapping] })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const exhaustive =
  <E extends { readonly _tag: string }>() =>
  (handlers: Handlers<E>): Mapping<E> => {
    const table = new Map<string, internal.MappingHandler>()
    for (const tag of Object.keys(handlers)) {
      if (isKeyOf(tag, handlers)) table.set(tag, mappingEntry<E, E["_tag"]>(tag, handlers[tag]))
    }
    return { [MappingTypeId]: { _E: () => undefined }, tags: [...table.keys()], handlers: table }
  }

/**
 * User extensions: `rules` are tried in order, then `mappings` (the first mapping naming a tag
 * wins), then the classifier below (the defaults, or the one {@link extend} wraps).
 *
 * @example
 * ```ts
 * import { Classification, Classifier, Rule } from "@effect-resilience/core"
 *
 * const options: Classifier.Options = { rules: [[Rule.status(418), Classification.unknown]], mappings: [] }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<R extends ReadonlyArray<unknown> = ReadonlyArray<unknown>> {
  readonly rules?: Rules<R>
  readonly mappings?: ReadonlyArray<Mapping<never>>
}

const compileRules = <R extends ReadonlyArray<unknown>>(rules: Rules<R> | undefined) => {
  const compiled: Array<internal.CompiledRule> = []
  if (rules !== undefined) {
    for (const [rule, result] of rules) compiled.push(internal.compileRule(rule, result))
  }
  return compiled
}

const compileMappings = (mappings: ReadonlyArray<Mapping<never>> | undefined) => {
  const table = new Map<string, internal.MappingHandler>()
  for (const mapping of mappings ?? []) {
    for (const [tag, handler] of mapping.handlers) if (!table.has(tag)) table.set(tag, handler)
  }
  return table
}

/**
 * Puts rules and mappings in front of a classify function.
 *
 * @example
 * ```ts
 * import { Classification, Classifier, Rule } from "@effect-resilience/core"
 *
 * const service = Classifier.compose({ rules: [[Rule.status(418), Classification.unknown]] }, () =>
 *   Classification.unknown
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const compose = <const R extends ReadonlyArray<unknown> = []>(
  options: Options<R>,
  fallback: (failure: unknown) => Classification.Classification
): Service => build(options, fallback)

const build = <R extends ReadonlyArray<unknown>>(
  options: Options<R>,
  fallback: ((failure: unknown) => Classification.Classification) | internal.Default
): Service => ({
  classify: internal.compose(compileRules(options.rules), compileMappings(options.mappings), fallback)
})

/**
 * Builds the default classifier, with the user's rules and mappings in front. Retry-After HTTP dates
 * are measured against the `Clock` in context when it is built (so `TestClock` in tests).
 *
 * @example
 * ```ts
 * import { Classifier, Failures } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.map(Classifier.make(), (c) => c.classify(new Failures.NetworkError({ code: "ECONNRESET" })))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <const R extends ReadonlyArray<unknown> = []>(options: Options<R> = {}): Effect.Effect<Service> =>
  Effect.map(Effect.clock, (clock) =>
    build(
      options,
      internal.makeDefault(() => clock.unsafeCurrentTimeMillis())
    )
  )

/**
 * The default Classifier.
 *
 * @example
 * ```ts
 * import { Classifier, Failures } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Classifier.classify(new Failures.GrpcError({ code: 14 })).pipe(Effect.provide(Classifier.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Classifier> = Layer.effect(Classifier, make())

/**
 * The default Classifier with user rules and exhaustive mappings in front of it: they take
 * precedence over the defaults.
 *
 * @example
 * ```ts
 * import { Classification, Classifier, Rule } from "@effect-resilience/core"
 *
 * const layer = Classifier.layerWith({
 *   rules: [
 *     [Rule.status(418), Classification.make({ category: "business", code: "teapot", message: "I'm a teapot" })],
 *     [Rule.tag("PaymentDeclined"), (e) => Classification.make({ category: "business", code: e._tag, message: "Declined" })]
 *   ]
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = <const R extends ReadonlyArray<unknown> = []>(options: Options<R>): Layer.Layer<Classifier> =>
  Layer.effect(Classifier, make(options))

/**
 * Rules and mappings in front of whatever Classifier the Layer below provides (a test's, or the
 * default).
 *
 * @example
 * ```ts
 * import { Classification, Classifier, Rule } from "@effect-resilience/core"
 * import { Layer } from "effect"
 *
 * const layer = Classifier.extend({
 *   rules: [[Rule.messageMatches(/quota/), Classification.make({ category: "throttled", code: "quota", message: "Quota" })]]
 * }).pipe(Layer.provide(Classifier.layer))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const extend = <const R extends ReadonlyArray<unknown> = []>(
  options: Options<R>
): Layer.Layer<Classifier, never, Classifier> =>
  Layer.effect(
    Classifier,
    Effect.map(Classifier, (below) => compose(options, below.classify))
  )
