/**
 * The `Classifier` service turns any failure into a {@link Classification}. Every strategy asks it,
 * and none of them inspects raw errors itself, so swapping the Classifier Layer changes the
 * behaviour of the whole pipeline.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Classification } from "./Classification.js"

/**
 * The service: a pure, synchronous function (it runs on every failure, so it must be cheap).
 *
 * @example
 * import { Classifier } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const classifier = yield* Classifier.Classifier
 *   return classifier.classify(new Error("boom"))
 * })
 *
 * @since 0.1.0
 */
export class Classifier extends Context.Tag("@effect-resilience/core/Classifier")<
  Classifier,
  { readonly classify: (failure: unknown) => Classification }
>() {}

/**
 * A Layer from a classify function (tests use it to swap the behaviour of every strategy).
 *
 * @example
 * import { Classification, Classifier } from "@effect-resilience/core"
 *
 * const everythingRetryable = Classifier.layerFrom(() =>
 *   Classification.make({ category: "unavailable", code: "test", message: "test" })
 * )
 *
 * @since 0.1.0
 */
export const layerFrom = (classify: (failure: unknown) => Classification): Layer.Layer<Classifier> =>
  Layer.succeed(Classifier, { classify })

/**
 * Classifies a failure with the Classifier in context.
 *
 * @since 0.1.0
 */
export const classify = (failure: unknown): Effect.Effect<Classification, never, Classifier> =>
  Effect.map(Classifier, (c) => c.classify(failure))
