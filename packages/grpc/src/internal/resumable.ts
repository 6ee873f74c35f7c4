/**
 * A server stream that resumes where it broke: the machinery behind `GrpcClient.serverStream` and
 * the interceptor's server-streaming calls.
 *
 * Each pull is one operation of the pipeline: open a call if none is open (the first request, or
 * `resume(lastAcknowledged)` after a break), then wait for its next item. An item is acknowledged
 * when the pull that returned it completes, that is when the consumer has it. A broken call is
 * dropped (an interrupted wait cancels it), and the pipeline's retry opens the next one after its
 * backoff, asking for what follows the last acknowledged item: no gap, no duplicate.
 *
 * @internal
 */
import * as Deadline from "@effect-resilience/core/Deadline"
import type * as Resilience from "@effect-resilience/core/Resilience"
import type * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { GrpcError } from "../GrpcError.js"
import { wallDeadline } from "./deadline.js"
import { Reader } from "./reader.js"
import type { Source } from "./source.js"

/** @internal */
export interface Options<Req, Item, X> {
  readonly pipeline: Resilience.Pipeline<X> | undefined
  readonly resume: ((lastAcknowledged: Option.Option<Item>) => Req) | undefined
  /** Starts one underlying call; `deadline` is wall-clock epoch milliseconds. */
  readonly open: (request: Req, deadline: number | undefined) => Source<Item>
  readonly onMetadata?: ((metadata: grpc.Metadata) => void) | undefined
  /** Told of the status each call ended with (OK at the end, or the failure of a broken call). */
  readonly onStatus?: ((status: grpc.StatusObject) => void) | undefined
}

/** @internal */
export const resumable = <Req, Item, X>(
  request: Req,
  options: Options<Req, Item, X>
): Stream.Stream<Item, GrpcError | Resilience.PipelineError | X> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const { pipeline, resume } = options
      // two hedged pulls would race for the same item of one call
      if (pipeline?.policy.hedging !== undefined) {
        return yield* Effect.dieMessage(`a server stream's pipeline must not hedge ("${pipeline.operation}")`)
      }
      // the stream's deadline: the caller's when it starts (a pull's own deadline is not it)
      const deadline = yield* FiberRef.get(Deadline.currentDeadline)
      const onMetadata = options.onMetadata ?? (() => {})
      let current: Reader<Item> | undefined
      let opened = false
      let last: Option.Option<Item> = Option.none()

      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          current?.cancel()
          current = undefined
        })
      )

      const open = Effect.map(wallDeadline(deadline, undefined), (until) => {
        const next = opened && resume !== undefined ? resume(last) : request
        opened = true
        const reader = new Reader(options.open(next, until), onMetadata)
        current = reader
        return reader
      })

      const step: Effect.Effect<Option.Option<Item>, GrpcError> = Effect.flatMap(
        Effect.suspend(() => (current === undefined ? open : Effect.succeed(current))),
        (reader) =>
          reader.take.pipe(
            Effect.tap((item) =>
              Effect.sync(() => {
                const status = reader.ended
                if (Option.isNone(item) && status !== undefined) options.onStatus?.(status)
              })
            ),
            // a failed call is over; an interrupted wait (attempt timeout) leaves a call to cancel
            Effect.tapError(() =>
              Effect.sync(() => {
                if (current === reader) current = undefined
                const status = reader.ended
                if (status !== undefined) options.onStatus?.(status)
              })
            ),
            Effect.onInterrupt(() =>
              Effect.sync(() => {
                if (current !== reader) return
                current = undefined
                reader.cancel()
              })
            )
          )
      )

      // once an item was acknowledged, only `resume` may reconnect: the first request again would
      // deliver items twice
      const canReconnect = () => resume !== undefined || Option.isNone(last)
      const pull: Effect.Effect<Item, Option.Option<GrpcError | Resilience.PipelineError | X>> = Effect.suspend(() =>
        pipeline === undefined || !canReconnect() ? step : pipeline.protect(step)
      ).pipe(
        Effect.mapError(Option.some),
        Effect.flatMap(
          Option.match({
            onNone: () => Effect.fail(Option.none()),
            onSome: (item) =>
              Effect.sync(() => {
                // pulled by the consumer: acknowledged
                last = Option.some(item)
                return item
              })
          })
        )
      )
      return Stream.repeatEffectOption(pull)
    })
  )
