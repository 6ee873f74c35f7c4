/**
 * `GrpcPipeline`: a `Resilience` pipeline for gRPC calls whose retries are limited to the status
 * codes the policy lists. By default those are the six codes the worker seed retries
 * (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNKNOWN), which is also
 * what the default `Classifier` retries; a code left out of `retryableCodes` fails at once, a code
 * added to it is retried although the classifier would not (NOT_FOUND for a read after a write,
 * say). A server's refusal to be retried (a negative `grpc-retry-pushback-ms`) always wins.
 *
 * The codes act through the classification, for this pipeline only: the `Classifier` in context is
 * wrapped by one rule when the pipeline is made, so the breaker, the retry budget and the events
 * see the same answer the retry did.
 *
 * @since 0.3.0
 */
import * as Classifier from "@effect-resilience/core/Classifier"
import * as Resilience from "@effect-resilience/core/Resilience"
import * as Rule from "@effect-resilience/core/Rule"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { codeNames, codeOf } from "./internal/status.js"

/**
 * A gRPC status code by name.
 *
 * @example
 * ```ts
 * import { GrpcPipeline } from "@effect-resilience/grpc"
 * import { Schema } from "effect"
 *
 * const code = Schema.decodeUnknownSync(GrpcPipeline.Code)("UNAVAILABLE")
 * ```
 *
 * @since 0.3.0
 * @category config
 */
export const Code = Schema.Literal(...codeNames)

/**
 * A gRPC status code by name.
 *
 * @since 0.3.0
 * @category config
 */
export type Code = typeof Code.Type

/**
 * The codes retried by default: the worker seed's list.
 *
 * @example
 * ```ts
 * import { GrpcPipeline } from "@effect-resilience/grpc"
 *
 * const withNotFound = [...GrpcPipeline.defaultRetryableCodes, "NOT_FOUND" as const]
 * ```
 *
 * @since 0.3.0
 * @category config
 */
export const defaultRetryableCodes: ReadonlyArray<Code> = [
  "UNAVAILABLE",
  "DEADLINE_EXCEEDED",
  "RESOURCE_EXHAUSTED",
  "ABORTED",
  "INTERNAL",
  "UNKNOWN"
]

/**
 * A `Resilience.Policy` with the codes to retry (`retryableCodes`, default
 * {@link defaultRetryableCodes}). A config file can hold it.
 *
 * @example
 * ```ts
 * import { GrpcPipeline } from "@effect-resilience/grpc"
 * import { Schema } from "effect"
 *
 * const policy = Schema.decodeUnknownSync(GrpcPipeline.Policy)({
 *   operation: "greeter.SayHello",
 *   attemptTimeout: "1 second",
 *   retry: { maxAttempts: 4 },
 *   retryableCodes: ["UNAVAILABLE", "RESOURCE_EXHAUSTED"]
 * })
 * ```
 *
 * @since 0.3.0
 * @category config
 */
export const Policy = Schema.Struct({
  ...Resilience.Policy.fields,
  retryableCodes: Schema.optionalWith(Schema.Array(Code), { default: () => defaultRetryableCodes })
})

/**
 * A decoded {@link Policy}.
 *
 * @since 0.3.0
 * @category config
 */
export interface Policy extends Schema.Schema.Type<typeof Policy> {}

/**
 * A {@link Policy} as written.
 *
 * @since 0.3.0
 * @category config
 */
export interface PolicyInput extends Schema.Schema.Encoded<typeof Policy> {}

/** A gRPC status as a tagged failure: this package's `GrpcError` or core's `Failures.GrpcError`. */
const isGrpcStatus = (u: unknown): u is { readonly _tag: "GrpcError"; readonly code: number } =>
  typeof u === "object" &&
  u !== null &&
  "_tag" in u &&
  u._tag === "GrpcError" &&
  "code" in u &&
  typeof u.code === "number"

const refused = (u: object): boolean => "retryPushbackRefused" in u && u.retryPushbackRefused === true

/**
 * The classifier of a pipeline that retries `codes` only: the one in context with a rule in front.
 *
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 * import { GrpcError, GrpcPipeline } from "@effect-resilience/grpc"
 * import { Effect } from "effect"
 *
 * const retried = Effect.map(GrpcPipeline.classifier(["UNAVAILABLE"]), (classifier) =>
 *   classifier.classify(new GrpcError.GrpcError({ code: 13, details: "" })).retryable
 * ).pipe(Effect.provide(Classifier.layer)) // false: INTERNAL is not in the list
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const classifier = (
  codes: ReadonlyArray<Code>
): Effect.Effect<Classifier.Service, never, Classifier.Classifier> =>
  Effect.map(Classifier.Classifier, (below) => {
    const allowed: ReadonlySet<number> = new Set(codes.map(codeOf))
    return Classifier.compose(
      {
        rules: [
          [
            Rule.make("gRPC status", isGrpcStatus),
            (failure, base) => {
              if (!allowed.has(failure.code)) return base.retryable ? { ...base, retryable: false } : base
              return base.retryable || refused(failure) ? base : { ...base, retryable: true }
            }
          ]
        ]
      },
      below.classify
    )
  })

/**
 * Builds a pipeline for gRPC calls from a {@link PolicyInput}: decoded first (a bad field fails
 * with a `ParseError` naming its path, `["retryableCodes"][0]` for an unknown code), then
 * `Resilience.make` with the classifier of {@link classifier}.
 *
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 * import { GrpcPipeline } from "@effect-resilience/grpc"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const pipeline = yield* GrpcPipeline.make({ operation: "greeter.SayHello", attemptTimeout: "1 second" })
 *   return pipeline.operation
 * }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (
  policy: PolicyInput
): Effect.Effect<Resilience.Pipeline, ParseResult.ParseError, Classifier.Classifier | Scope.Scope> =>
  Effect.gen(function* () {
    const decoded = yield* Schema.decodeUnknown(Policy)(policy)
    const { retryableCodes: _, ...rest } = policy
    const service = yield* classifier(decoded.retryableCodes)
    return yield* Resilience.make(rest).pipe(Effect.provideService(Classifier.Classifier, service))
  })
