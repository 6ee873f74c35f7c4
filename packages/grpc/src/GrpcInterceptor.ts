/**
 * `GrpcInterceptor`: a grpc-js client interceptor that runs unary and server-streaming calls
 * through a pipeline, for code that calls grpc-js clients directly (generated clients included):
 * pass it in the client's `interceptors` option, or per call.
 *
 * - **Unary calls** are retried inside the interceptor: the request is held, and each attempt is a
 *   new call down the chain (`nextCall`), with the deadline of what is left of the caller's
 *   deadline (the call's own `deadline` option, and the pipeline's) and of the attempt timeout.
 *   The caller's listener sees one answer: the first success, or the status of the last failure
 *   (its trailers included). A refusal by the pipeline becomes a status: a timeout or the deadline
 *   DEADLINE_EXCEEDED, an open breaker or another admission refusal UNAVAILABLE.
 * - **Server-streaming calls** listed in `resume` (by method path) resume where they broke, as
 *   `GrpcClient.serverStream` does: an item counts as acknowledged once it was handed to the
 *   caller's listener, and the attempt timeout bounds the wait for each item. Other
 *   server-streaming calls are opened again only when they broke before their first item.
 *   Client-streaming and bidirectional calls pass through untouched.
 *
 * The interceptor is a thin adapter over the same machinery as `GrpcClient`; the pipeline runs in
 * the runtime {@link make} was called in (its Clock, tracer and event hub).
 *
 * @since 0.3.0
 */
import type * as Classifier from "@effect-resilience/core/Classifier"
import type * as Resilience from "@effect-resilience/core/Resilience"
import * as grpc from "@grpc/grpc-js"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { fromStatus, type GrpcError } from "./GrpcError.js"
import * as GrpcPipeline from "./GrpcPipeline.js"
import { attemptDeadline, withCallerDeadline } from "./internal/deadline.js"
import { resumable } from "./internal/resumable.js"
import { fromNextCall, type NextCallInstance } from "./internal/source.js"

/**
 * How to resume a server stream: the request that asks for what follows the last item handed to
 * the caller (`None` when the stream broke before any), given the first request. Messages are the
 * deserialized objects grpc-js hands interceptors, so they arrive as `unknown`: narrow them (a
 * `Schema.is`, a generated type guard).
 *
 * @example
 * ```ts
 * import type { GrpcInterceptor } from "@effect-resilience/grpc"
 * import { Option, Schema } from "effect"
 *
 * const Line = Schema.Struct({ offset: Schema.Number })
 * const isLine = Schema.is(Line)
 *
 * const resumeTail: GrpcInterceptor.Resume = (last, request) =>
 *   Option.match(Option.filter(last, isLine), {
 *     onNone: () => request,
 *     onSome: (line) => ({ from: line.offset + 1 })
 *   })
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export type Resume = (lastDelivered: Option.Option<unknown>, request: unknown) => unknown

/**
 * What {@link make} takes besides the pipeline: `resume`, by method path
 * (`"/package.Service/Method"`), for the server-streaming methods that can resume.
 *
 * @example
 * ```ts
 * import type { GrpcInterceptor } from "@effect-resilience/grpc"
 *
 * const options: GrpcInterceptor.Options = {
 *   resume: { "/log.Log/Tail": (_last, request) => request }
 * }
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Options {
  readonly resume?: { readonly [path: string]: Resume } | undefined
}

type Listener = Partial<grpc.InterceptingListener>

const noMetadata = () => new grpc.Metadata()

const tagOf = (u: unknown): string | undefined =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string" ? u._tag : undefined

/** The status the caller's listener gets for a call that failed for good. */
const finalStatus = (cause: Cause.Cause<unknown>, last: grpc.StatusObject | undefined): grpc.StatusObject => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "None") {
    return Cause.isInterruptedOnly(cause)
      ? { code: grpc.status.CANCELLED, details: "Cancelled on client", metadata: noMetadata() }
      : { code: grpc.status.INTERNAL, details: "The client's resilience pipeline failed", metadata: noMetadata() }
  }
  const tag = tagOf(failure.value)
  switch (tag) {
    case "GrpcError":
    case "RetriesExhausted":
    case "RetryBudgetExhausted":
      if (last !== undefined) return last
      return { code: grpc.status.DEADLINE_EXCEEDED, details: "Deadline exceeded", metadata: noMetadata() }
    case "AttemptTimeout":
    case "DeadlineExceeded":
      return { code: grpc.status.DEADLINE_EXCEEDED, details: "Deadline exceeded", metadata: noMetadata() }
    default:
      return {
        code: grpc.status.UNAVAILABLE,
        details: `Refused by the client's resilience pipeline (${tag ?? "refusal"})`,
        metadata: noMetadata()
      }
  }
}

/** The options of one attempt: the call's, with the attempt's deadline when it is earlier. */
const attemptOptions = (options: grpc.InterceptorOptions, until: number | undefined): grpc.InterceptorOptions => {
  if (until === undefined) return options
  const theirs = options.deadline
  const at = theirs === undefined ? Infinity : theirs instanceof Date ? theirs.getTime() : theirs
  return until < at ? { ...options, deadline: new Date(until) } : options
}

interface Outcome {
  readonly metadata: grpc.Metadata
  readonly message: unknown
  readonly status: grpc.StatusObject
}

/**
 * The call the caller's `InterceptingCall` talks to: it holds the request and runs `program` on
 * half-close; `program` tells the listener how the call ended, once.
 */
const heldCall = (
  runtime: Runtime.Runtime<never>,
  program: (metadata: grpc.Metadata, request: unknown, listener: Listener) => Effect.Effect<void>
): NextCallInstance => {
  let metadata = new grpc.Metadata()
  let listener: Listener = {}
  let request: unknown
  let fiber: Fiber.RuntimeFiber<void> | undefined
  let finished = false
  const finish = (status: grpc.StatusObject) => {
    if (finished) return
    finished = true
    listener.onReceiveStatus?.(status)
  }
  return {
    start: (m, l) => {
      metadata = m
      listener = l ?? {}
    },
    sendMessageWithContext: (context, message) => {
      request = message
      context.callback?.()
    },
    sendMessage: (message) => {
      request = message
    },
    startRead: () => {},
    halfClose: () => {
      if (fiber !== undefined || finished) return
      const guarded: Listener = {
        onReceiveMetadata: (m) => {
          if (!finished) listener.onReceiveMetadata?.(m)
        },
        onReceiveMessage: (m) => {
          if (!finished) listener.onReceiveMessage?.(m)
        },
        onReceiveStatus: finish
      }
      fiber = Runtime.runFork(runtime)(program(metadata, request, guarded))
    },
    cancelWithStatus: (code, details) => {
      fiber?.unsafeInterruptAsFork(fiber.id())
      finish({ code, details, metadata: noMetadata() })
    },
    getPeer: () => "unknown",
    getAuthContext: () => null
  }
}

const unaryProgram =
  <X>(pipeline: Resilience.Pipeline<X>, options: grpc.InterceptorOptions, nextCall: grpc.NextCall) =>
  (metadata: grpc.Metadata, request: unknown, listener: Listener): Effect.Effect<void> => {
    let last: grpc.StatusObject | undefined
    const attempt = Effect.flatMap(attemptDeadline(pipeline), (until) =>
      Effect.async<Outcome, GrpcError>((resume) => {
        last = undefined
        let cancelled = false
        const call = nextCall(attemptOptions(options, until))
        let received = noMetadata()
        let message: unknown = null
        call.start(metadata.clone(), {
          onReceiveMetadata: (m: grpc.Metadata) => {
            received = m
          },
          onReceiveMessage: (m: unknown) => {
            message = m
          },
          onReceiveStatus: (status: grpc.StatusObject) => {
            if (cancelled) return
            if (status.code === grpc.status.OK) return resume(Effect.succeed({ metadata: received, message, status }))
            last = status
            resume(Effect.fail(fromStatus(status)))
          }
        })
        call.sendMessage(request)
        call.halfClose()
        return Effect.sync(() => {
          cancelled = true
          call.cancelWithStatus(grpc.status.CANCELLED, "Cancelled on client")
        })
      })
    )
    return withCallerDeadline(options.deadline, pipeline.protect(attempt)).pipe(
      Effect.matchCause({
        onFailure: (cause) => listener.onReceiveStatus?.(finalStatus(cause, last)),
        onSuccess: (outcome) => {
          listener.onReceiveMetadata?.(outcome.metadata)
          listener.onReceiveMessage?.(outcome.message)
          listener.onReceiveStatus?.(outcome.status)
        }
      })
    )
  }

const streamProgram =
  <X>(
    pipeline: Resilience.Pipeline<X>,
    options: grpc.InterceptorOptions,
    nextCall: grpc.NextCall,
    resume: Resume | undefined
  ) =>
  (metadata: grpc.Metadata, request: unknown, listener: Listener): Effect.Effect<void> => {
    let last: grpc.StatusObject | undefined
    let toldMetadata = false
    const stream = resumable<unknown, unknown, X>(request, {
      pipeline,
      resume: resume === undefined ? undefined : (lastDelivered) => resume(lastDelivered, request),
      open: (next, until) => fromNextCall(nextCall(attemptOptions(options, until)), metadata.clone(), next),
      onMetadata: (m) => {
        if (toldMetadata) return
        toldMetadata = true
        listener.onReceiveMetadata?.(m)
      },
      onStatus: (status) => {
        last = status
      }
    })
    return withCallerDeadline(
      options.deadline,
      Stream.runForEach(stream, (item) => Effect.sync(() => listener.onReceiveMessage?.(item)))
    ).pipe(
      Effect.matchCause({
        onFailure: (cause) => listener.onReceiveStatus?.(finalStatus(cause, last)),
        onSuccess: () =>
          listener.onReceiveStatus?.(
            last !== undefined && last.code === grpc.status.OK
              ? last
              : { code: grpc.status.OK, details: "OK", metadata: noMetadata() }
          )
      })
    )
  }

/**
 * An interceptor that runs calls through `pipeline` (see the module's description). Build the
 * pipeline with `GrpcPipeline.make` so that only the codes it lists are retried.
 *
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 * import { GrpcInterceptor, GrpcPipeline } from "@effect-resilience/grpc"
 * import * as grpc from "@grpc/grpc-js"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const pipeline = yield* GrpcPipeline.make({ operation: "greeter", attemptTimeout: "1 second" })
 *   const interceptor = yield* GrpcInterceptor.make(pipeline)
 *   return new grpc.Client("127.0.0.1:50051", grpc.credentials.createInsecure(), { interceptors: [interceptor] })
 * }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = <X>(pipeline: Resilience.Pipeline<X>, options: Options = {}): Effect.Effect<grpc.Interceptor> =>
  Effect.map(
    Effect.runtime<never>(),
    (runtime): grpc.Interceptor =>
      (callOptions, nextCall) => {
        const method = callOptions.method_definition
        if (method.requestStream) return new grpc.InterceptingCall(nextCall(callOptions))
        const program = method.responseStream
          ? streamProgram(pipeline, callOptions, nextCall, options.resume?.[method.path])
          : unaryProgram(pipeline, callOptions, nextCall)
        return new grpc.InterceptingCall(heldCall(runtime, program))
      }
  )

/**
 * An interceptor from a policy: `GrpcPipeline.make(policy)` then {@link make}. The pipeline lives
 * as long as the Scope.
 *
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 * import { GrpcInterceptor } from "@effect-resilience/grpc"
 * import * as grpc from "@grpc/grpc-js"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const interceptor = yield* GrpcInterceptor.fromPolicy({ operation: "greeter", retry: { maxAttempts: 3 } })
 *   return new grpc.Client("127.0.0.1:50051", grpc.credentials.createInsecure(), { interceptors: [interceptor] })
 * }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const fromPolicy = (
  policy: GrpcPipeline.PolicyInput,
  options?: Options
): Effect.Effect<grpc.Interceptor, ParseResult.ParseError, Classifier.Classifier | Scope.Scope> =>
  Effect.flatMap(GrpcPipeline.make(policy), (pipeline) => make(pipeline, options))
