/**
 * `GrpcClient`: grpc-js calls as Effects and Streams, through a pipeline.
 *
 * - {@link unary} turns a unary method into a function returning an `Effect`. Each attempt is a new
 *   call, with the deadline of what is left of the caller's `Deadline` and of the attempt timeout
 *   (the server sees it as `grpc-timeout`); interrupting the Effect cancels the call.
 * - {@link serverStream} turns a server-streaming method into a function returning a `Stream`. An
 *   item counts as acknowledged once the consumer has pulled it; when the stream breaks
 *   (UNAVAILABLE or INTERNAL mid-stream, the server gone), the pipeline's retry reconnects with its
 *   backoff and the server's pushback, asking for what follows the last acknowledged item with
 *   the request `resume` builds: no item is skipped and none is delivered twice.
 *
 * Failures are typed: a `GrpcError` (code, details, pushback) or a pipeline error
 * (`RetriesExhausted` carrying every attempt, `CircuitOpen`, `AttemptTimeout`, `DeadlineExceeded`,
 * ...).
 *
 * Methods are passed as functions of `(request, metadata, options, callback)` for unary calls and
 * `(request, metadata, options)` for server streams: a generated client's method bound to its
 * client (`client.sayHello.bind(client)`), or a `makeUnaryRequest` / `makeServerStreamRequest` call.
 *
 * @since 0.3.0
 */
import type * as Resilience from "@effect-resilience/core/Resilience"
import * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import { GrpcError, fromStatus } from "./GrpcError.js"
import { attemptDeadline, withCallerDeadline, withDeadline } from "./internal/deadline.js"
import { resumable } from "./internal/resumable.js"
import { fromReadable } from "./internal/source.js"

/**
 * A unary method: `(request, metadata, options, callback)`, as grpc-js clients have them.
 *
 * @example
 * ```ts
 * import type { GrpcClient } from "@effect-resilience/grpc"
 * import * as grpc from "@grpc/grpc-js"
 *
 * const client = new grpc.Client("127.0.0.1:50051", grpc.credentials.createInsecure())
 * const echo: GrpcClient.UnaryMethod<Buffer, Buffer> = (request, metadata, options, callback) =>
 *   client.makeUnaryRequest("/echo.Echo/Say", (b: Buffer) => b, (b: Buffer) => b, request, metadata, options, callback)
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: Res) => void
) => grpc.ClientUnaryCall

/**
 * A server-streaming method: `(request, metadata, options)`, returning grpc-js' readable stream.
 *
 * @example
 * ```ts
 * import type { GrpcClient } from "@effect-resilience/grpc"
 * import * as grpc from "@grpc/grpc-js"
 *
 * const client = new grpc.Client("127.0.0.1:50051", grpc.credentials.createInsecure())
 * const tail: GrpcClient.ServerStreamMethod<Buffer, Buffer> = (request, metadata, options) =>
 *   client.makeServerStreamRequest("/log.Log/Tail", (b: Buffer) => b, (b: Buffer) => b, request, metadata, options)
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export type ServerStreamMethod<Req, Item> = (
  request: Req,
  metadata: grpc.Metadata,
  options: grpc.CallOptions
) => grpc.ClientReadableStream<Item>

/**
 * What a call takes besides its request: the `pipeline` to run it through (none: one attempt,
 * failures typed all the same), the `metadata` to send (copied for each attempt), and grpc-js
 * `callOptions`. A `deadline` there bounds a unary call as a whole, retries included (as
 * `Deadline.within` would), and each underlying call of a server stream.
 *
 * @example
 * ```ts
 * import type { GrpcClient } from "@effect-resilience/grpc"
 * import * as grpc from "@grpc/grpc-js"
 *
 * const metadata = new grpc.Metadata()
 * metadata.set("x-request-id", "r-1")
 * const options: GrpcClient.CallOptions = { metadata }
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface CallOptions<X = never> {
  readonly pipeline?: Resilience.Pipeline<X> | undefined
  readonly metadata?: grpc.Metadata | undefined
  readonly callOptions?: grpc.CallOptions | undefined
}

/**
 * The options of a server stream: {@link CallOptions} and `resume`, the request that asks for what
 * follows the last acknowledged item (`None` when the stream broke before any). Without `resume`,
 * a stream that broke before its first item is opened again with the same request, and one that
 * broke later fails: sending the first request again would deliver items twice.
 *
 * @example
 * ```ts
 * import type { GrpcClient } from "@effect-resilience/grpc"
 * import { Option } from "effect"
 *
 * interface Tail { readonly from: number }
 * interface Line { readonly offset: number; readonly text: string }
 *
 * const options: GrpcClient.ServerStreamOptions<Tail, Line> = {
 *   resume: (last) => ({ from: Option.match(last, { onNone: () => 0, onSome: (line) => line.offset + 1 }) })
 * }
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface ServerStreamOptions<Req, Item, X = never> extends CallOptions<X> {
  readonly resume?: ((lastAcknowledged: Option.Option<Item>) => Req) | undefined
}

/**
 * What a call fails with: a `GrpcError`, or what the pipeline adds (`X`: what strategies of your
 * own refuse with).
 *
 * @example
 * ```ts
 * import type { GrpcClient } from "@effect-resilience/grpc"
 *
 * const describe = (error: GrpcClient.CallError): string => error._tag
 * ```
 *
 * @since 0.3.0
 * @category errors
 */
export type CallError<X = never> = GrpcError | Resilience.PipelineError | X

/**
 * A unary method as a function returning an `Effect`.
 *
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 * import { GrpcClient, GrpcPipeline } from "@effect-resilience/grpc"
 * import * as grpc from "@grpc/grpc-js"
 * import { Effect } from "effect"
 *
 * const client = new grpc.Client("127.0.0.1:50051", grpc.credentials.createInsecure())
 * const say = GrpcClient.unary<Buffer, Buffer>((request, metadata, options, callback) =>
 *   client.makeUnaryRequest("/echo.Echo/Say", (b: Buffer) => b, (b: Buffer) => b, request, metadata, options, callback)
 * )
 *
 * const program = Effect.gen(function* () {
 *   const pipeline = yield* GrpcPipeline.make({ operation: "echo.Say", attemptTimeout: "1 second", deadline: "5 seconds" })
 *   const answer = yield* say(Buffer.from("hello"), { pipeline })
 *   return answer.toString()
 * }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const unary =
  <Req, Res>(method: UnaryMethod<Req, Res>) =>
  <X = never>(request: Req, options: CallOptions<X> = {}): Effect.Effect<Res, CallError<X>> => {
    const { pipeline } = options
    const attempt = Effect.flatMap(attemptDeadline(pipeline), (deadline) =>
      Effect.async<Res, GrpcError>((resume) => {
        const metadata = options.metadata?.clone() ?? new grpc.Metadata()
        const call = method(request, metadata, withDeadline(options.callOptions ?? {}, deadline), (error, response) => {
          if (error !== null) resume(Effect.fail(fromStatus(error)))
          else if (response === undefined) {
            resume(Effect.fail(new GrpcError({ code: grpc.status.INTERNAL, details: "no response message" })))
          } else resume(Effect.succeed(response))
        })
        return Effect.sync(() => call.cancel())
      })
    )
    return withCallerDeadline(
      options.callOptions?.deadline,
      pipeline === undefined ? attempt : pipeline.protect(attempt)
    )
  }

/**
 * A server-streaming method as a function returning a `Stream` that resumes where it broke.
 *
 * How the pipeline applies to a stream: each pull (open the stream if it is not open, then wait for
 * the next item) is one protected operation. So `attemptTimeout` bounds the wait for the next item
 * (an idle timeout; the broken call is cancelled and the next attempt resumes), retries are
 * counted per item (progress starts the count again), the breaker counts broken streams, and a
 * pushback delays the reconnection. The stream's own deadline is the caller's `Deadline` when the
 * stream starts, sent to the server with every (re)connection; use a policy without `deadline`
 * (it would bound each pull) and without hedging (refused: the stream dies at once, as two hedged
 * pulls would race for the same item).
 *
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 * import { GrpcClient, GrpcPipeline } from "@effect-resilience/grpc"
 * import * as grpc from "@grpc/grpc-js"
 * import { Effect, Option, Stream } from "effect"
 *
 * const client = new grpc.Client("127.0.0.1:50051", grpc.credentials.createInsecure())
 * const encode = (from: number) => Buffer.from(String(from))
 * const tail = GrpcClient.serverStream<Buffer, Buffer>((request, metadata, options) =>
 *   client.makeServerStreamRequest("/log.Log/Tail", (b: Buffer) => b, (b: Buffer) => b, request, metadata, options)
 * )
 *
 * const program = Effect.gen(function* () {
 *   const pipeline = yield* GrpcPipeline.make({ operation: "log.Tail", attemptTimeout: "10 seconds" })
 *   return yield* tail(encode(0), {
 *     pipeline,
 *     // each line carries its offset: ask for what follows the last one pulled
 *     resume: (last) => encode(Option.match(last, { onNone: () => 0, onSome: (line) => Number(line.toString()) + 1 }))
 *   }).pipe(Stream.take(100), Stream.runCollect)
 * }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const serverStream =
  <Req, Item>(method: ServerStreamMethod<Req, Item>) =>
  <X = never>(request: Req, options: ServerStreamOptions<Req, Item, X> = {}): Stream.Stream<Item, CallError<X>> =>
    resumable(request, {
      pipeline: options.pipeline,
      resume: options.resume,
      open: (next, deadline) =>
        fromReadable(
          method(
            next,
            options.metadata?.clone() ?? new grpc.Metadata(),
            withDeadline(options.callOptions ?? {}, deadline)
          )
        )
    })
