/**
 * One underlying server-streaming call, seen the same way whether it came from a client method
 * (grpc-js' readable stream) or from the next call of an interceptor: items, then exactly one
 * status after the last item, and a way to pause, resume and cancel it.
 *
 * @internal
 */
import * as grpc from "@grpc/grpc-js"

/** @internal */
export interface Sink<A> {
  readonly metadata: (metadata: grpc.Metadata) => void
  readonly item: (item: A) => void
  /** Called once, after every item. */
  readonly status: (status: grpc.StatusObject) => void
}

/** @internal */
export interface Source<A> {
  readonly start: (sink: Sink<A>) => void
  readonly pause: () => void
  readonly resume: () => void
  readonly cancel: () => void
}

/**
 * grpc-js' readable stream. It ends a broken stream with `push(null)`, an `error` event and a
 * `status` event in one tick, while items may still wait in its buffer: the status is passed on
 * only once the stream has handed out every item (its `end`, or an empty buffer).
 */
export const fromReadable = <A>(call: grpc.ClientReadableStream<A>): Source<A> => ({
  start: (sink) => {
    let status: grpc.StatusObject | undefined
    let ended = false
    let told = false
    const tell = () => {
      if (told || status === undefined || !(ended || call.readableLength === 0)) return
      told = true
      sink.status(status)
    }
    call.on("metadata", (metadata: grpc.Metadata) => sink.metadata(metadata))
    call.on("data", (item: A) => sink.item(item))
    call.on("end", () => {
      ended = true
      tell()
    })
    // the status says the same, with its trailers; without a listener an error event would throw
    call.on("error", () => {})
    call.on("status", (s: grpc.StatusObject) => {
      status = s
      tell()
    })
  },
  pause: () => call.pause(),
  resume: () => call.resume(),
  cancel: () => call.cancel()
})

/** The call an interceptor gets from `nextCall`. */
export type NextCallInstance = ReturnType<grpc.NextCall>

/**
 * The next call of an interceptor, started with `metadata` and `request`. Messages are read one
 * `startRead` at a time (as grpc-js' own readable stream does), which is how it pauses.
 */
export const fromNextCall = <A>(call: NextCallInstance, metadata: grpc.Metadata, request: unknown): Source<A> => {
  let paused = false
  let reading = false
  const read = () => {
    if (paused || reading) return
    reading = true
    call.startRead()
  }
  return {
    start: (sink) => {
      call.start(metadata, {
        onReceiveMetadata: (received: grpc.Metadata) => sink.metadata(received),
        onReceiveMessage: (message: A) => {
          reading = false
          sink.item(message)
          read()
        },
        onReceiveStatus: (status: grpc.StatusObject) => sink.status(status)
      })
      call.sendMessage(request)
      call.halfClose()
      read()
    },
    pause: () => {
      paused = true
    },
    resume: () => {
      paused = false
      read()
    },
    cancel: () => call.cancelWithStatus(grpc.status.CANCELLED, "Cancelled on client")
  }
}
