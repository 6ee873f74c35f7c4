/**
 * A gRPC channel that heals (`Connection` of `@effect-resilience/core`) on grpc-js, checked with
 * the standard health protocol: `grpc.health.v1.Health/Check` for a service name (`""`, the
 * default, asks about the server as a whole). `SERVING` is healthy; `NOT_SERVING`, `UNKNOWN`,
 * `SERVICE_UNKNOWN`, a status (NOT_FOUND for a service the server does not know, UNAVAILABLE for a
 * server that is gone) or no answer within `healthTimeout` is not, and the `Connection` drops the
 * client, opens a new one with its backoff and makes calls through `use` wait for it within their
 * deadline.
 *
 * The service definition is the one of the gRPC team's `grpc-health-check` package (which also
 * serves the protocol: `HealthImplementation`). A dropped client is closed and a new one opened,
 * so grpc-js' own reconnect backoff of the old channel plays no part.
 *
 * @since 0.3.0
 */
import * as Classification from "@effect-resilience/core/Classification"
import * as Connection from "@effect-resilience/core/Connection"
import * as Rule from "@effect-resilience/core/Rule"
import * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { service as healthService } from "grpc-health-check"
import { type GrpcError, fromStatus } from "./GrpcError.js"

/**
 * The health server answered, with a status other than `SERVING`. `service` is the name asked
 * about (`""`: the server as a whole).
 *
 * @example
 * ```ts
 * import { GrpcConnection } from "@effect-resilience/grpc"
 *
 * const e = new GrpcConnection.NotServing({ service: "", status: "NOT_SERVING" })
 * e.message // "gRPC health: the server is NOT_SERVING"
 * ```
 *
 * @since 0.3.0
 * @category errors
 */
export class NotServing extends Schema.TaggedError<NotServing>()("GrpcNotServing", {
  service: Schema.String,
  status: Schema.String
}) {
  override get message(): string {
    return `gRPC health: ${this.service === "" ? "the server" : `service "${this.service}"`} is ${this.status}`
  }
}

/**
 * A classifier rule for {@link NotServing}: `unavailable` (retryable, evidence for a breaker), code
 * `grpc.health.NOT_SERVING`. Give it to `Classifier.layerWith` so that a `Connection`'s reason and
 * anything that sees the failure read it as the server being unavailable.
 *
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 * import { GrpcConnection } from "@effect-resilience/grpc"
 *
 * const layer = Classifier.layerWith({ rules: [GrpcConnection.classificationRule] })
 * ```
 *
 * @since 0.3.0
 * @category utils
 */
export const classificationRule = [
  Rule.tag("GrpcNotServing"),
  Classification.make({
    category: "unavailable",
    code: "grpc.health.NOT_SERVING",
    message: "The gRPC server reports it is not serving"
  })
] as const

/**
 * A grpc-js client class: `grpc.Client`, a generated client, or one of
 * `grpc.makeGenericClientConstructor`.
 *
 * @example
 * ```ts
 * import type { GrpcConnection } from "@effect-resilience/grpc"
 * import * as grpc from "@grpc/grpc-js"
 *
 * const plain: GrpcConnection.ClientConstructor<grpc.Client> = grpc.Client
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export type ClientConstructor<C extends grpc.Client> = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options: grpc.ClientOptions
) => C

/**
 * What a connection takes: the `client` class to open, the health `service` to ask about (`""`,
 * the default: the server as a whole), `credentials` (insecure by default) and grpc-js
 * `channelOptions`.
 *
 * @example
 * ```ts
 * import type { GrpcConnection } from "@effect-resilience/grpc"
 * import * as grpc from "@grpc/grpc-js"
 *
 * const options: GrpcConnection.Options<grpc.Client> = { client: grpc.Client, service: "orders.Orders" }
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Options<C extends grpc.Client> {
  readonly client: ClientConstructor<C>
  readonly service?: string | undefined
  readonly credentials?: grpc.ChannelCredentials | undefined
  readonly channelOptions?: grpc.ClientOptions | undefined
}

/**
 * The health check: `grpc.health.v1.Health/Check` for `service` (`""`: the server as a whole),
 * on any grpc-js client's channel. Succeeds when the answer is `SERVING`; fails with
 * {@link NotServing} for another answer and with a `GrpcError` for a status. Interrupting it
 * cancels the call.
 *
 * @example
 * ```ts
 * import { GrpcConnection } from "@effect-resilience/grpc"
 * import * as grpc from "@grpc/grpc-js"
 *
 * const client = new grpc.Client("127.0.0.1:50051", grpc.credentials.createInsecure())
 * const healthy = GrpcConnection.check(client, "orders.Orders")
 * ```
 *
 * @since 0.3.0
 * @category combinators
 */
export const check = (client: grpc.Client, service = ""): Effect.Effect<void, GrpcError | NotServing> => {
  const method = healthService.Check
  if (method === undefined) return Effect.dieMessage("grpc-health-check has no Health/Check method")
  return Effect.async<void, GrpcError | NotServing>((resume) => {
    const call = client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      { service },
      new grpc.Metadata(),
      {},
      (error, response) => {
        if (error !== null && error !== undefined) return resume(Effect.fail(fromStatus(error)))
        const status = response !== undefined && "status" in response ? String(response.status) : "UNKNOWN"
        resume(status === "SERVING" ? Effect.void : Effect.fail(new NotServing({ service, status })))
      }
    )
    return Effect.sync(() => call.cancel())
  })
}

/**
 * Opens one client for the lifetime of the scope and checks its health before it returns (so a
 * server that is down or not serving fails the acquire: a `GrpcError` UNAVAILABLE, or
 * {@link NotServing}). The client is closed when the scope ends.
 *
 * @example
 * ```ts
 * import { GrpcConnection } from "@effect-resilience/grpc"
 * import * as grpc from "@grpc/grpc-js"
 * import { Effect } from "effect"
 *
 * const ready = Effect.scoped(GrpcConnection.acquire("127.0.0.1:50051", { client: grpc.Client }))
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const acquire = <C extends grpc.Client>(
  address: string,
  options: Options<C>
): Effect.Effect<C, GrpcError | NotServing, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(
      () =>
        new options.client(
          address,
          options.credentials ?? grpc.credentials.createInsecure(),
          options.channelOptions ?? {}
        )
    ),
    (client) => Effect.sync(() => client.close())
  ).pipe(Effect.tap((client) => check(client, options.service)))

/**
 * A gRPC connection that heals: {@link acquire} and {@link check} under `Connection.make`. Calls
 * made through `use` while it is down wait for it within their `Deadline` (or `maxWait`); a call
 * that fails as if the connection broke (UNAVAILABLE, DEADLINE_EXCEEDED, with a `Classifier` in
 * context) triggers a health check at once.
 *
 * @example
 * ```ts
 * import { Deadline } from "@effect-resilience/core"
 * import { GrpcClient, GrpcConnection } from "@effect-resilience/grpc"
 * import * as grpc from "@grpc/grpc-js"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const orders = yield* GrpcConnection.make("127.0.0.1:50051", { name: "orders", healthInterval: "1 second" }, {
 *     client: grpc.Client,
 *     service: "orders.Orders"
 *   })
 *   return yield* orders.use((client) =>
 *     GrpcClient.unary<Buffer, Buffer>((request, metadata, options, callback) =>
 *       client.makeUnaryRequest("/orders.Orders/Get", (b: Buffer) => b, (b: Buffer) => b, request, metadata, options, callback)
 *     )(Buffer.from("42"))
 *   ).pipe(Deadline.within("2 seconds"))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = <C extends grpc.Client>(
  address: string,
  config: Connection.ConfigInput,
  options: Options<C>
): Effect.Effect<Connection.Connection<C>, ParseResult.ParseError, Scope.Scope> =>
  Connection.make(
    { acquire: acquire(address, options), healthCheck: (client) => check(client, options.service) },
    config
  )
