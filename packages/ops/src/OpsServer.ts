/**
 * The ops server: implements `OpsApi` on the services in context (`CircuitBreaker.Registry`,
 * `DeadLetterQueue`, `AuditLog`, the `ReplayHandler` and a `Classifier`) and serves it with Node's
 * HTTP server, on 127.0.0.1 unless configured otherwise.
 *
 * @example
 * ```ts
 * import { Classifier, CircuitBreaker } from "@effect-resilience/core"
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { AuditLog, OpsServer } from "@effect-resilience/ops"
 * import { Effect, Layer } from "effect"
 *
 * const Ops = OpsServer.layer({
 *   port: 9464,
 *   tokens: [{ name: "alice", role: "operator", sha256: OpsServer.hashToken("a long random secret") }],
 *   readiness: { criticalBreakers: ["payments"], deadLetterBacklog: 100 }
 * }).pipe(
 *   Layer.provide(OpsServer.layerReplayHandler((entry) => Effect.log(`replaying ${entry.id}`))),
 *   Layer.provide(DeadLetterQueue.layer().pipe(Layer.provide(DeadLetterQueue.layerStoreMemory))),
 *   Layer.provide(AuditLog.layer.pipe(Layer.provide(AuditLog.layerStoreMemory))),
 *   Layer.provide(Classifier.layer),
 *   Layer.provide(CircuitBreaker.layerRegistry())
 * )
 * ```
 *
 * @since 0.2.0
 */
import * as CircuitBreaker from "@effect-resilience/core/CircuitBreaker"
import type * as Classifier from "@effect-resilience/core/Classifier"
import * as DurationInput from "@effect-resilience/core/DurationInput"
import * as DeadLetterQueue from "@effect-resilience/durable/DeadLetterQueue"
import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { ServeError } from "@effect/platform/HttpServerError"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { createHash, timingSafeEqual } from "node:crypto"
import { createServer } from "node:http"
import * as AuditLog from "@effect-resilience/durable/AuditLog"
import * as OpsApi from "./OpsApi.js"

/**
 * A bearer token the server accepts: its name (recorded as the actor of audit entries), its role,
 * and the SHA-256 of the token as 64 hexadecimal digits (the token itself is never configured).
 *
 * @example
 * ```ts
 * import { OpsServer } from "@effect-resilience/ops"
 * import { Schema } from "effect"
 *
 * const token = Schema.decodeUnknownSync(OpsServer.Token)({
 *   name: "dashboard",
 *   role: "read-only",
 *   sha256: OpsServer.hashToken("another long random secret")
 * })
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const Token = Schema.Struct({
  name: Schema.NonEmptyTrimmedString,
  role: Schema.Literal("read-only", "operator"),
  sha256: Schema.String.pipe(
    Schema.pattern(/^[0-9a-f]{64}$/, { message: () => "sha256 must be 64 lowercase hexadecimal digits" })
  )
})

/**
 * The server's config:
 *
 * - `host` (default `127.0.0.1`) and `port` (default 0: a free port, see {@link OpsServer}).
 * - `tokens`: who may read (`read-only` or `operator`) and who may change (`operator`).
 * - `readiness`: the breakers whose opening makes the process not ready, the largest pending dead
 *   letter backlog that is still ready (none by default), and how long a store may take to answer
 *   the readiness check (default 2 seconds). A critical breaker that the registry has not made yet
 *   counts as ready (its check says so).
 *
 * @example
 * ```ts
 * import { OpsServer } from "@effect-resilience/ops"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(OpsServer.Config)({
 *   tokens: [],
 *   readiness: { criticalBreakers: ["payments"], storeTimeout: "500 millis" }
 * })
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const Config = Schema.Struct({
  host: Schema.optionalWith(Schema.NonEmptyTrimmedString, { default: () => "127.0.0.1" }),
  port: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 65535)), { default: () => 0 }),
  tokens: Schema.Array(Token),
  readiness: Schema.optionalWith(
    Schema.Struct({
      criticalBreakers: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
      deadLetterBacklog: Schema.optional(Schema.NonNegativeInt),
      storeTimeout: Schema.optionalWith(DurationInput.Positive, { default: () => Duration.seconds(2) })
    }),
    { default: () => ({ criticalBreakers: [], storeTimeout: Duration.seconds(2) }) }
  )
})

/**
 * @since 0.2.0
 * @category config
 */
export interface Config extends Schema.Schema.Type<typeof Config> {}

/**
 * The config as written (durations as milliseconds or strings).
 *
 * @since 0.2.0
 * @category config
 */
export interface ConfigInput extends Schema.Schema.Encoded<typeof Config> {}

/**
 * The SHA-256 of a token as 64 hexadecimal digits: what {@link Token} holds.
 *
 * @example
 * ```ts
 * import { OpsServer } from "@effect-resilience/ops"
 *
 * const sha256 = OpsServer.hashToken("a long random secret")
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const hashToken = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex")

/**
 * What `POST /api/dead-letters/{id}/replay` sends each dead letter to. Its failures are
 * classified by the `Classifier` in context and recorded on the entry.
 *
 * @example
 * ```ts
 * import { OpsServer } from "@effect-resilience/ops"
 * import { Effect } from "effect"
 *
 * const handler = Effect.map(OpsServer.ReplayHandler, (handle) => handle)
 * ```
 *
 * @since 0.2.0
 * @category services
 */
export class ReplayHandler extends Context.Tag("@effect-resilience/ops/OpsServer/ReplayHandler")<
  ReplayHandler,
  DeadLetterQueue.Handler<unknown, never>
>() {}

/**
 * A {@link ReplayHandler} from a dead letter handler; its requirements are taken from the Layer's
 * context.
 *
 * @example
 * ```ts
 * import { OpsServer } from "@effect-resilience/ops"
 * import { Effect } from "effect"
 *
 * const Replay = OpsServer.layerReplayHandler((entry) => Effect.log(`re-sending ${entry.idempotencyKey}`))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerReplayHandler = <E, R>(
  handler: DeadLetterQueue.Handler<E, R>
): Layer.Layer<ReplayHandler, never, R> =>
  Layer.effect(
    ReplayHandler,
    Effect.map(
      Effect.context<R>(),
      (context) => (entry: DeadLetterQueue.Entry) => Effect.provide(handler(entry), context)
    )
  )

/**
 * Where the server listens: `url` is `http://host:port/` with the port actually bound.
 *
 * @example
 * ```ts
 * import { OpsServer } from "@effect-resilience/ops"
 * import { Effect } from "effect"
 *
 * const printUrl = Effect.flatMap(OpsServer.OpsServer, (server) => Effect.log(`ops API at ${server.url}`))
 * ```
 *
 * @since 0.2.0
 * @category services
 */
export class OpsServer extends Context.Tag("@effect-resilience/ops/OpsServer")<
  OpsServer,
  { readonly host: string; readonly port: number; readonly url: string }
>() {}

// ---------------------------------------------------------------------------------------------------
// access

type Role = "read-only" | "operator"

const authenticator = (tokens: ReadonlyArray<typeof Token.Type>) => {
  const known = tokens.map((token) => ({
    name: token.name,
    role: token.role,
    digest: Buffer.from(token.sha256, "hex")
  }))
  return (presented: Redacted.Redacted<string>): Option.Option<{ readonly name: string; readonly role: Role }> => {
    const value = Redacted.value(presented)
    if (value.length === 0) return Option.none()
    const digest = createHash("sha256").update(value, "utf8").digest()
    // compare with every token, in constant time each, so the time taken does not say which matched
    let found: { readonly name: string; readonly role: Role } | undefined
    for (const token of known) {
      if (timingSafeEqual(digest, token.digest) && found === undefined) found = { name: token.name, role: token.role }
    }
    return Option.fromNullable(found)
  }
}

const unauthorized = new OpsApi.Unauthorized({ message: "a valid bearer token is required" })

const layerAccess = (config: Config) => {
  const authenticate = authenticator(config.tokens)
  return Layer.merge(
    Layer.succeed(OpsApi.ReadAccess, {
      bearer: (token) =>
        Option.match(authenticate(token), { onNone: () => Effect.fail(unauthorized), onSome: Effect.succeed })
    }),
    Layer.succeed(OpsApi.OperatorAccess, {
      bearer: (token) =>
        Option.match(authenticate(token), {
          onNone: () => Effect.fail(unauthorized),
          onSome: (caller) =>
            caller.role === "operator"
              ? Effect.succeed(caller)
              : Effect.fail(new OpsApi.Forbidden({ message: "this change needs a token with the operator role" }))
        })
    })
  )
}

// ---------------------------------------------------------------------------------------------------
// handlers

const deadLettersUnavailable = () => new OpsApi.Unavailable({ message: "the dead letter store is unavailable" })
const auditUnavailable = (what: string) =>
  new OpsApi.Unavailable({ message: `the audit trail could not be written; ${what}` })

const record = (input: AuditLog.EntryInput) =>
  Effect.flatMap(AuditLog.AuditLog, (audit) =>
    Effect.mapError(audit.record(input), () => auditUnavailable(`${input.action} of ${input.target} was done`))
  )

const layerHealth = (config: Config) =>
  HttpApiBuilder.group(OpsApi.Api, "health", (handlers) =>
    Effect.gen(function* () {
      const registry = yield* CircuitBreaker.Registry
      const dlq = yield* DeadLetterQueue.DeadLetterQueue
      const audit = yield* AuditLog.AuditLog
      const { criticalBreakers, deadLetterBacklog, storeTimeout } = config.readiness
      const ready = Effect.gen(function* () {
        const checks: Array<typeof OpsApi.Check.Type> = []
        const snapshots = yield* registry.snapshots
        for (const name of criticalBreakers) {
          const snapshot = snapshots.find((s) => s.name === name)
          if (snapshot === undefined) {
            checks.push({ kind: "breaker", name, ok: true, reason: "critical breaker not created yet" })
          } else {
            const open = snapshot.state === "open" || snapshot.state === "forced-open"
            checks.push({ kind: "breaker", name, ok: !open, reason: `critical breaker is ${snapshot.state}` })
          }
        }
        const stats = yield* Effect.either(Effect.timeout(dlq.stats, storeTimeout))
        if (stats._tag === "Left") {
          checks.push({
            kind: "store",
            name: "dead-letters",
            ok: false,
            reason: "the dead letter store did not answer"
          })
        } else {
          checks.push({ kind: "store", name: "dead-letters", ok: true, reason: "the dead letter store answered" })
          if (deadLetterBacklog !== undefined) {
            const pending = stats.right.byStatus.pending
            checks.push({
              kind: "dead-letters",
              name: "backlog",
              ok: pending <= deadLetterBacklog,
              reason: `${pending} pending dead letters, at most ${deadLetterBacklog} allowed`
            })
          }
        }
        const trail = yield* Effect.either(Effect.timeout(audit.list({ limit: 1 }), storeTimeout))
        checks.push(
          trail._tag === "Left"
            ? { kind: "store", name: "audit", ok: false, reason: "the audit store did not answer" }
            : { kind: "store", name: "audit", ok: true, reason: "the audit store answered" }
        )
        return checks.every((check) => check.ok)
          ? { status: "ready" as const, checks }
          : yield* Effect.fail(new OpsApi.NotReady({ status: "not-ready", checks }))
      })
      return handlers
        .handle("health", () => Effect.succeed({ status: "ok" as const, checks: [] }))
        .handle("ready", () => ready)
    })
  )

const breakerOperations = {
  forceOpen: { action: "breaker.force-open", run: (breaker: CircuitBreaker.CircuitBreaker) => breaker.forceOpen },
  forceClosed: { action: "breaker.force-closed", run: (breaker: CircuitBreaker.CircuitBreaker) => breaker.forceClosed },
  disable: { action: "breaker.disable", run: (breaker: CircuitBreaker.CircuitBreaker) => breaker.disable },
  reset: { action: "breaker.reset", run: (breaker: CircuitBreaker.CircuitBreaker) => breaker.reset }
} as const

const layerBreakers = HttpApiBuilder.group(OpsApi.Api, "breakers", (handlers) =>
  Effect.gen(function* () {
    const registry = yield* CircuitBreaker.Registry
    const audit = yield* AuditLog.AuditLog
    const change =
      (operation: keyof typeof breakerOperations) => (request: { readonly path: { readonly name: string } }) =>
        Effect.gen(function* () {
          const caller = yield* OpsApi.Caller
          const { name } = request.path
          const breaker = (yield* registry.all).find((b) => b.name === name)
          if (breaker === undefined)
            return yield* Effect.fail(new OpsApi.NotFound({ message: `no breaker is called ${name}` }))
          const { action, run } = breakerOperations[operation]
          const before = yield* breaker.snapshot
          yield* run(breaker)
          const after = yield* breaker.snapshot
          yield* Effect.provideService(
            record({ actor: caller.name, action, target: name, before, after }),
            AuditLog.AuditLog,
            audit
          )
          return after
        })
    return handlers
      .handle("list", () => registry.snapshots)
      .handle("forceOpen", change("forceOpen"))
      .handle("forceClosed", change("forceClosed"))
      .handle("disable", change("disable"))
      .handle("reset", change("reset"))
  })
)

const stateOf = (entry: DeadLetterQueue.Entry) => ({
  status: entry.status,
  replays: entry.replays,
  notes: entry.notes.length,
  version: entry.version
})

const layerDeadLetters = HttpApiBuilder.group(OpsApi.Api, "deadLetters", (handlers) =>
  Effect.gen(function* () {
    const dlq = yield* DeadLetterQueue.DeadLetterQueue
    const audit = yield* AuditLog.AuditLog
    const replayHandler = yield* ReplayHandler
    const classifier = yield* Effect.context<Classifier.Classifier>()
    const find = (id: string) =>
      Effect.flatMap(Effect.mapError(dlq.get(id), deadLettersUnavailable), (found) =>
        Option.match(found, {
          onNone: () => Effect.fail(new OpsApi.NotFound({ message: `no dead letter has the id ${id}` })),
          onSome: Effect.succeed
        })
      )
    const audited = (input: AuditLog.EntryInput) => Effect.provideService(record(input), AuditLog.AuditLog, audit)
    const storeErrors = {
      DeadLetterStoreError: () => Effect.fail(deadLettersUnavailable()),
      EntryNotFound: (error: DeadLetterQueue.EntryNotFound) =>
        Effect.fail(new OpsApi.NotFound({ message: `no dead letter has the id ${error.id}` }))
    }
    return handlers
      .handle("list", ({ urlParams }) => {
        const limit = urlParams.limit ?? 50
        const offset = urlParams.offset ?? 0
        return dlq
          .list(
            {
              queue: urlParams.queue,
              status: urlParams.status,
              category: urlParams.category,
              fromMillis: urlParams.fromMillis,
              toMillis: urlParams.toMillis
            },
            { limit, offset }
          )
          .pipe(
            Effect.map((result) => ({ entries: result.entries, total: result.total, limit, offset })),
            Effect.mapError(deadLettersUnavailable)
          )
      })
      .handle("get", ({ path }) => find(path.id))
      .handle("replay", ({ path }) =>
        Effect.gen(function* () {
          const caller = yield* OpsApi.Caller
          const before = yield* find(path.id)
          const report = yield* dlq
            .replay(path.id, replayHandler, { operator: caller.name })
            .pipe(Effect.catchTags(storeErrors), Effect.provide(classifier))
          const after = yield* find(path.id)
          yield* audited({
            actor: caller.name,
            action: "dead-letter.replay",
            target: path.id,
            before: stateOf(before),
            after: stateOf(after)
          })
          return {
            resolved: report.resolved,
            failed: report.failed,
            invalid: report.invalid.map((invalid) => ({
              id: invalid.id,
              issues: invalid.issues.map((issue) => ({ path: issue.path.map(String), message: issue.message }))
            })),
            skipped: report.skipped
          }
        })
      )
      .handle("discard", ({ path, payload }) =>
        Effect.gen(function* () {
          const caller = yield* OpsApi.Caller
          const before = yield* find(path.id)
          const after = yield* dlq.discard(path.id, caller.name, payload.note).pipe(
            Effect.catchTags({
              ...storeErrors,
              InvalidStatus: (error) =>
                Effect.fail(
                  new OpsApi.Conflict({ message: `the dead letter is ${error.status}: it cannot be discarded` })
                )
            })
          )
          yield* audited({
            actor: caller.name,
            action: "dead-letter.discard",
            target: path.id,
            before: stateOf(before),
            after: stateOf(after)
          })
          return after
        })
      )
      .handle("note", ({ path, payload }) =>
        Effect.gen(function* () {
          const caller = yield* OpsApi.Caller
          const before = yield* find(path.id)
          const after = yield* dlq.annotate(path.id, caller.name, payload.text).pipe(Effect.catchTags(storeErrors))
          yield* audited({
            actor: caller.name,
            action: "dead-letter.note",
            target: path.id,
            before: stateOf(before),
            after: stateOf(after)
          })
          return after
        })
      )
  })
)

const layerAudit = HttpApiBuilder.group(OpsApi.Api, "audit", (handlers) =>
  Effect.map(AuditLog.AuditLog, (audit) =>
    handlers.handle("list", ({ urlParams }) => {
      const limit = urlParams.limit ?? 50
      const offset = urlParams.offset ?? 0
      return audit.list({ limit, offset }).pipe(
        Effect.map((page) => ({ entries: page.entries, total: page.total, limit, offset })),
        Effect.mapError(() => new OpsApi.Unavailable({ message: "the audit store is unavailable" }))
      )
    })
  )
)

/**
 * The API implemented, without a server: for mounting it in a server of your own
 * (`HttpApiBuilder.serve`, `HttpApiBuilder.toWebHandler`). A bad config fails with the
 * `ParseError` (which names the path).
 *
 * @example
 * ```ts
 * import { OpsServer } from "@effect-resilience/ops"
 *
 * const Api = OpsServer.layerApi({ tokens: [] })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerApi = (
  config: ConfigInput
): Layer.Layer<
  HttpApi.Api,
  ParseResult.ParseError,
  DeadLetterQueue.DeadLetterQueue | AuditLog.AuditLog | ReplayHandler | Classifier.Classifier
> =>
  Layer.unwrapEffect(
    Effect.map(Schema.decodeUnknown(Config)(config), (decoded) =>
      HttpApiBuilder.api(OpsApi.Api).pipe(
        Layer.provide([layerHealth(decoded), layerBreakers, layerDeadLetters, layerAudit]),
        Layer.provide(layerAccess(decoded))
      )
    )
  )

/** Headers of every response: nothing cached, no type sniffing, and a 401 says which scheme. */
const headers = (app: HttpApp.Default): HttpApp.Default =>
  HttpApp.withPreResponseHandler(app, (_request, response) =>
    Effect.succeed(
      HttpServerResponse.setHeaders(response, {
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        ...(response.status === 401 ? { "www-authenticate": "Bearer" } : {})
      })
    )
  )

/**
 * The ops server: the API served by Node's HTTP server on `host:port`, for as long as the Layer
 * lives. Breakers come from the `CircuitBreaker.Registry` in context (its default shares nothing:
 * provide `CircuitBreaker.layerRegistry` to see the pipelines' breakers).
 *
 * @example
 * ```ts
 * import { OpsServer } from "@effect-resilience/ops"
 * import { Effect, Layer } from "effect"
 *
 * const serve = (config: OpsServer.ConfigInput) =>
 *   Layer.launch(
 *     Layer.effectDiscard(Effect.flatMap(OpsServer.OpsServer, (s) => Effect.log(`listening on ${s.url}`))).pipe(
 *       Layer.provide(OpsServer.layer(config))
 *     )
 *   )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  config: ConfigInput
): Layer.Layer<
  OpsServer,
  ParseResult.ParseError | ServeError,
  DeadLetterQueue.DeadLetterQueue | AuditLog.AuditLog | ReplayHandler | Classifier.Classifier
> =>
  Layer.unwrapEffect(
    Effect.map(Schema.decodeUnknown(Config)(config), (decoded) => {
      const address = Layer.effect(
        OpsServer,
        Effect.map(HttpServer.HttpServer, (server) => {
          const port = server.address._tag === "TcpAddress" ? server.address.port : decoded.port
          const host = decoded.host
          const shown = host.includes(":") ? `[${host}]` : host
          return { host, port, url: `http://${shown}:${port}/` }
        })
      )
      return Layer.merge(HttpApiBuilder.serve(headers), address).pipe(
        Layer.provide(layerApi(config)),
        Layer.provide(NodeHttpServer.layer(createServer, { host: decoded.host, port: decoded.port }))
      )
    })
  )
