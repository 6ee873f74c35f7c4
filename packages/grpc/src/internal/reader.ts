/**
 * Reads a grpc-js server stream one item at a time, as the consumer pulls.
 *
 * grpc-js ends a broken stream with `push(null)`, then an `error` event, then a `status` event,
 * all in one tick; the async iterator of a Readable could see the end before the error and take a
 * broken stream for a finished one. So the end of the stream is decided by its `status`, and only
 * once every item received before it was handed out. Items wait in a small queue; the call is
 * paused above `HIGH` items (grpc-js then stops asking the server for more) and resumed below
 * `LOW`, so a slow consumer does not buffer the whole stream.
 *
 * @internal
 */
import * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { fromStatus, type GrpcError } from "../GrpcError.js"

const HIGH = 16
const LOW = 4

/** @internal */
export class Reader<A> {
  private readonly queue: Array<A> = []
  private status: grpc.StatusObject | undefined = undefined
  private ended = false
  private paused = false
  private wake: (() => void) | undefined = undefined

  constructor(private readonly call: grpc.ClientReadableStream<A>) {
    call.on("data", (item: A) => {
      this.queue.push(item)
      if (this.queue.length >= HIGH && !this.paused) {
        this.paused = true
        call.pause()
      }
      this.wake?.()
    })
    call.on("end", () => {
      this.ended = true
      this.wake?.()
    })
    // the status says the same, with its trailers; without a listener an error event would throw
    call.on("error", () => {})
    call.on("status", (status: grpc.StatusObject) => {
      this.status = status
      this.wake?.()
    })
  }

  private poll(): Effect.Effect<Option.Option<A>, GrpcError> | undefined {
    if (this.queue.length > 0) {
      const item = this.queue.shift()
      if (this.paused && this.queue.length <= LOW) {
        this.paused = false
        this.call.resume()
      }
      if (item !== undefined) return Effect.succeed(Option.some(item))
    }
    const status = this.status
    // every item received before the status is handed out first
    if (status === undefined || this.queue.length > 0 || !(this.ended || this.call.readableLength === 0)) {
      return undefined
    }
    return status.code === grpc.status.OK ? Effect.succeed(Option.none()) : Effect.fail(fromStatus(status))
  }

  /** The next item, `None` at the end of a stream that finished with OK, or its status's failure. */
  readonly take: Effect.Effect<Option.Option<A>, GrpcError> = Effect.async((resume) => {
    const now = this.poll()
    if (now !== undefined) return resume(now)
    this.wake = () => {
      const ready = this.poll()
      if (ready === undefined) return
      this.wake = undefined
      resume(ready)
    }
    return Effect.sync(() => {
      this.wake = undefined
    })
  })

  /** Cancels the call (its status, CANCELLED, is then of no interest). */
  cancel(): void {
    this.wake = undefined
    if (this.status === undefined) this.call.cancel()
  }
}
