/**
 * A real grpc-js server on 127.0.0.1 (a free port) for the tests: a unary method and a
 * server-streaming one, defined in code (JSON messages, no .proto), whose behaviour each test
 * scripts per call. Clients reach it through a TCP relay of our own (127.0.0.1, a free port), so a
 * test can cut every connection at once, as a crashed server or a dropped network would.
 */
import * as net from "node:net"
import * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { GrpcClient } from "../src/index.js"

export const Ask = Schema.Struct({ name: Schema.String })
export type Ask = typeof Ask.Type
export const Answer = Schema.Struct({ text: Schema.String, deadlineLeftMillis: Schema.NullOr(Schema.Number) })
export type Answer = typeof Answer.Type
export const Tail = Schema.Struct({ from: Schema.Int, to: Schema.Int })
export type Tail = typeof Tail.Type
export const Item = Schema.Struct({ n: Schema.Int })
export type Item = typeof Item.Type

const json = <A, I>(schema: Schema.Schema<A, I>) => {
  const codec = Schema.parseJson(schema)
  const encode = Schema.encodeSync(codec)
  const decode = Schema.decodeUnknownSync(codec)
  return {
    serialize: (a: A): Buffer => Buffer.from(encode(a)),
    deserialize: (b: Buffer): A => decode(b.toString("utf8"))
  }
}

const ask = json(Ask)
const answer = json(Answer)
const tail = json(Tail)
const item = json(Item)

const definition = {
  say: {
    path: "/test.Echo/Say",
    requestStream: false,
    responseStream: false,
    requestSerialize: ask.serialize,
    requestDeserialize: ask.deserialize,
    responseSerialize: answer.serialize,
    responseDeserialize: answer.deserialize
  },
  count: {
    path: "/test.Echo/Count",
    requestStream: false,
    responseStream: true,
    requestSerialize: tail.serialize,
    requestDeserialize: tail.deserialize,
    responseSerialize: item.serialize,
    responseDeserialize: item.deserialize
  }
} as const

/** What the server does with the n-th unary call (1-based). */
export type SayScript = (
  call: grpc.ServerUnaryCall<Ask, Answer>,
  callback: grpc.sendUnaryData<Answer>,
  hit: number
) => void

/** What the server does with the n-th stream (1-based). */
export type CountScript = (call: grpc.ServerWritableStream<Tail, Item>, hit: number, server: TestServer) => void

export interface TestServer {
  readonly address: string
  readonly sayCalls: () => ReadonlyArray<{ readonly name: string; readonly deadlineLeftMillis: number | null }>
  readonly countRequests: () => ReadonlyArray<Tail>
  /** Resets every connection at once (the server stays up): the client sees its streams break. */
  readonly dropConnections: () => void
}

/** Milliseconds left until the call's deadline as the server sees it (`grpc-timeout`), or null. */
export const deadlineLeft = (call: { getDeadline(): grpc.Deadline }): number | null => {
  const deadline = call.getDeadline()
  const at = deadline instanceof Date ? deadline.getTime() : deadline
  return Number.isFinite(at) ? at - Date.now() : null
}

export const status =
  (code: grpc.status, trailers: Record<string, string> = {}): SayScript =>
  (_call, callback) => {
    const metadata = new grpc.Metadata()
    for (const [key, value] of Object.entries(trailers)) metadata.set(key, value)
    callback({ code, details: `scripted ${grpc.status[code]}`, metadata })
  }

export const ok: SayScript = (call, callback) =>
  callback(null, { text: `hello ${call.request.name}`, deadlineLeftMillis: deadlineLeft(call) })

export const slow =
  (millis: number): SayScript =>
  (call, callback) => {
    const timer = setTimeout(() => ok(call, callback, 0), millis)
    call.on("cancelled", () => clearTimeout(timer))
  }

/** Writes items `from` .. `to` (inclusive), then ends OK, or stops after `breakAfter` items with `code`. */
export const items =
  (options: { readonly breakAfter?: number; readonly code?: grpc.status; readonly drop?: boolean } = {}): CountScript =>
  (call, _hit, server) => {
    const { from, to } = call.request
    let sent = 0
    for (let n = from; n <= to; n++) {
      if (options.breakAfter !== undefined && sent === options.breakAfter) {
        if (options.drop === true) {
          // let the items written so far reach the client, then cut the connection
          setTimeout(() => server.dropConnections(), 50)
          return
        }
        call.emit("error", { code: options.code ?? grpc.status.UNAVAILABLE, details: "stream broke" })
        return
      }
      call.write({ n })
      sent++
    }
    call.end()
  }

/** A TCP relay to `port` that can reset every connection it carries. */
const relay = (port: number) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: net.Server; readonly address: string; readonly reset: () => void }, Error>(
      (resume) => {
        const sockets = new Set<net.Socket>()
        const track = (socket: net.Socket) => {
          // no Nagle: a relayed request would otherwise wait for the delayed ACK (about 40 ms)
          socket.setNoDelay(true)
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
          socket.on("error", () => socket.destroy())
        }
        const server = net.createServer((client) => {
          const upstream = net.connect(port, "127.0.0.1")
          track(client)
          track(upstream)
          client.pipe(upstream)
          upstream.pipe(client)
          client.on("close", () => upstream.destroy())
          upstream.on("close", () => client.destroy())
        })
        server.on("error", (error) => resume(Effect.fail(error)))
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          const relayPort = typeof address === "object" && address !== null ? address.port : 0
          resume(
            Effect.succeed({
              server,
              address: `127.0.0.1:${relayPort}`,
              reset: () => {
                for (const socket of sockets) socket.resetAndDestroy()
              }
            })
          )
        })
      }
    ),
    ({ server, reset }) =>
      Effect.async<void>((resume) => {
        reset()
        server.close(() => resume(Effect.void))
      })
  )

/** Starts the server; it is shut down with the scope. The n-th call runs the n-th script (the last repeats). */
export const serve = (scripts: {
  readonly say?: ReadonlyArray<SayScript>
  readonly count?: ReadonlyArray<CountScript>
}) =>
  Effect.gen(function* () {
    const sayCalls: Array<{ readonly name: string; readonly deadlineLeftMillis: number | null }> = []
    const countRequests: Array<Tail> = []
    const pick = <S>(list: ReadonlyArray<S> | undefined, hit: number): S | undefined =>
      list === undefined ? undefined : list[Math.min(hit, list.length) - 1]
    let reset = () => {}
    let address = ""
    const test: TestServer = {
      get address() {
        return address
      },
      sayCalls: () => sayCalls,
      countRequests: () => countRequests,
      dropConnections: () => reset()
    }
    const port = yield* Effect.acquireRelease(
      Effect.async<{ readonly server: grpc.Server; readonly port: number }, Error>((resume) => {
        const server = new grpc.Server()
        server.addService(definition, {
          say: (call: grpc.ServerUnaryCall<Ask, Answer>, callback: grpc.sendUnaryData<Answer>) => {
            sayCalls.push({ name: call.request.name, deadlineLeftMillis: deadlineLeft(call) })
            const script = pick(scripts.say, sayCalls.length) ?? ok
            script(call, callback, sayCalls.length)
          },
          count: (call: grpc.ServerWritableStream<Tail, Item>) => {
            countRequests.push(call.request)
            const script = pick(scripts.count, countRequests.length) ?? items()
            script(call, countRequests.length, test)
          }
        })
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) =>
          resume(error === null ? Effect.succeed({ server, port }) : Effect.fail(error))
        )
      }),
      ({ server }) => Effect.sync(() => server.forceShutdown())
    ).pipe(Effect.map(({ port }) => port))
    const r = yield* relay(port)
    reset = r.reset
    address = r.address
    return test
  })

/** A client of the test service, closed with the scope, and its two methods as functions. */
export const connect = (server: TestServer, options: grpc.ClientOptions = {}) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(
        () =>
          new grpc.Client(server.address, grpc.credentials.createInsecure(), {
            // reconnect quickly after a dropped connection (grpc-js waits 1 s by default)
            "grpc.initial_reconnect_backoff_ms": 50,
            "grpc.max_reconnect_backoff_ms": 200,
            ...options
          })
      ),
      (client) => Effect.sync(() => client.close())
    ),
    (client) => {
      const say: GrpcClient.UnaryMethod<Ask, Answer> = (request, metadata, options, callback) =>
        client.makeUnaryRequest(
          definition.say.path,
          ask.serialize,
          answer.deserialize,
          request,
          metadata,
          options,
          callback
        )
      const count: GrpcClient.ServerStreamMethod<Tail, Item> = (request, metadata, options) =>
        client.makeServerStreamRequest(
          definition.count.path,
          tail.serialize,
          item.deserialize,
          request,
          metadata,
          options
        )
      return { client, say, count }
    }
  )
