/**
 * Reads one underlying server-streaming call one item at a time, as the consumer pulls. Items wait
 * in a small queue; the call is paused above `HIGH` items (grpc-js then stops asking the server
 * for more) and resumed below `LOW`, so a slow consumer does not buffer the whole stream. The end
 * (OK, or the status's failure) comes after every item received before it.
 *
 * @internal
 */
import * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { fromStatus, type GrpcError } from "../GrpcError.js"
import type { Source } from "./source.js"

const HIGH = 16
const LOW = 4

/** @internal */
export class Reader<A> {
  private readonly queue: Array<A> = []
  private status: grpc.StatusObject | undefined = undefined
  private paused = false
  private wake: (() => void) | undefined = undefined

  constructor(
    private readonly source: Source<A>,
    onMetadata: (metadata: grpc.Metadata) => void
  ) {
    source.start({
      metadata: onMetadata,
      item: (item) => {
        this.queue.push(item)
        if (this.queue.length >= HIGH && !this.paused) {
          this.paused = true
          source.pause()
        }
        this.wake?.()
      },
      status: (status) => {
        this.status = status
        this.wake?.()
      }
    })
  }

  private poll(): Effect.Effect<Option.Option<A>, GrpcError> | undefined {
    if (this.queue.length > 0) {
      const item = this.queue.shift()
      if (this.paused && this.queue.length <= LOW) {
        this.paused = false
        this.source.resume()
      }
      if (item !== undefined) return Effect.succeed(Option.some(item))
    }
    const status = this.status
    if (status === undefined || this.queue.length > 0) return undefined
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

  /** The status the call ended with, once it has. */
  get ended(): grpc.StatusObject | undefined {
    return this.status
  }

  /** Cancels the call (its status, CANCELLED, is then of no interest). */
  cancel(): void {
    this.wake = undefined
    if (this.status === undefined) this.source.cancel()
  }
}
