/**
 * `GrpcError`: a gRPC call that ended with a status other than OK, as a typed, serialisable
 * failure. It keeps the status code, the server's `details` and what the server said about
 * retrying (`grpc-retry-pushback-ms`), and nothing else from the metadata.
 *
 * Its tag is core's (`Failures.GrpcError`'s), so the default `Classifier` classifies it by its code
 * with no rule of yours: UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL and
 * UNKNOWN are retryable, the pushback is the classification's `retryAfter`, and a negative or
 * malformed pushback (gRFC A6: "do not retry") makes it not retryable.
 *
 * @since 0.3.0
 */
import type * as grpc from "@grpc/grpc-js"
import * as Schema from "effect/Schema"
import { codeName, pushbackOf } from "./internal/status.js"

/**
 * A gRPC status other than OK. `details` is the server's text (or grpc-js' own for failures it
 * raises itself, which may name the address it could not reach): keep it for logs you control; it
 * is never part of `message`, which says the status only ("gRPC UNAVAILABLE (14)").
 *
 * @example
 * ```ts
 * import { GrpcError } from "@effect-resilience/grpc"
 *
 * const error = new GrpcError.GrpcError({ code: 14, details: "connection refused" })
 * error.message // "gRPC UNAVAILABLE (14)"
 * error.statusName // "UNAVAILABLE"
 * ```
 *
 * @since 0.3.0
 * @category errors
 */
export class GrpcError extends Schema.TaggedError<GrpcError>()("GrpcError", {
  code: Schema.Int,
  details: Schema.String,
  /** The server's `grpc-retry-pushback-ms`: wait this long before the next attempt. */
  retryPushbackMillis: Schema.optional(Schema.NonNegative),
  /** The server sent a negative or malformed pushback: it asks not to be retried (gRFC A6). */
  retryPushbackRefused: Schema.optional(Schema.Boolean)
}) {
  override get message(): string {
    return `gRPC ${codeName(this.code)} (${this.code})`
  }
  /** The status name, such as `UNAVAILABLE`. */
  get statusName(): string {
    return codeName(this.code)
  }
}

/**
 * The failure of a status (a grpc-js `ServiceError` or the `StatusObject` a listener receives):
 * its code, its details and its pushback; the rest of the metadata is not kept.
 *
 * @example
 * ```ts
 * import { GrpcError } from "@effect-resilience/grpc"
 * import { Metadata, status } from "@grpc/grpc-js"
 *
 * const trailers = new Metadata()
 * trailers.set("grpc-retry-pushback-ms", "250")
 * const error = GrpcError.fromStatus({ code: status.RESOURCE_EXHAUSTED, details: "quota", metadata: trailers })
 * error.retryPushbackMillis // 250
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const fromStatus = (status: {
  readonly code: number
  readonly details?: string | undefined
  readonly metadata?: grpc.Metadata | null | undefined
}): GrpcError => {
  const pushback = pushbackOf(status.metadata)
  return new GrpcError({
    code: status.code,
    details: status.details ?? "",
    ...(pushback.millis === undefined ? {} : { retryPushbackMillis: pushback.millis }),
    ...(pushback.refused ? { retryPushbackRefused: true } : {})
  })
}

/**
 * Whether a value is a {@link GrpcError}.
 *
 * @example
 * ```ts
 * import { GrpcError } from "@effect-resilience/grpc"
 *
 * GrpcError.isGrpcError(new GrpcError.GrpcError({ code: 3, details: "" })) // true
 * ```
 *
 * @since 0.3.0
 * @category utils
 */
export const isGrpcError = (u: unknown): u is GrpcError => u instanceof GrpcError
