/**
 * The ops server: implements `OpsApi` on the services in context (`CircuitBreaker.Registry`,
 * `DeadLetterQueue`, `AuditLog`, the `ReplayHandler` and a `Classifier`; optionally `Analytics`
 * and the `ResilienceEvents` hub) and serves it with Node's HTTP server, on 127.0.0.1 unless
 * configured otherwise, with the dashboard's files unless `dashboard: false`.
 *
 * Breaker transitions (`GET /api/breakers/events`) come from the `ResilienceEvents` hub in
 * context: give the registry and the server the same `Events.layer()` (without a hub that route
 * answers 503). Analytics and alerts need the `Analytics` service (without it their routes answer
 * 404).
 *
 * @example
 * ```ts
 * import { Classifier, CircuitBreaker, Events } from "@effect-resilience/core"
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Analytics, AuditLog, OpsServer } from "@effect-resilience/ops"
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
 *   Layer.provide(Analytics.layer({ interval: "10 seconds" })),
 *   Layer.provideMerge(CircuitBreaker.layerRegistry()),
 *   // one hub for the registry's breakers, the analytics and the server
 *   Layer.provideMerge(Events.layer())
 * )
 * ```
 *
 * @since 0.2.0
 */
import * as CircuitBreaker from "@effect-resilience/core/CircuitBreaker"
import * as Events from "@effect-resilience/core/Events"
import type * as Classifier from "@effect-resilience/core/Classifier"
import * as DurationInput from "@effect-resilience/core/DurationInput"
import * as DeadLetterQueue from "@effect-resilience/durable/DeadLetterQueue"
import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiError from "@effect/platform/HttpApiError"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { ServeError } from "@effect/platform/HttpServerError"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { createHash, timingSafeEqual } from "node:crypto"
import { readFile, realpath, stat } from "node:fs/promises"
import { createServer } from "node:http"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import * as AuditLog from "@effect-resilience/durable/AuditLog"
import * as Analytics from "./Analytics.js"
import * as Feed from "./internal/sse/feed.js"
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
 * - `events`: the server-sent event streams: how many of the latest events a reconnecting client
 *   can get back (`buffer`, default 1000 per stream), the `heartbeat` comment interval while quiet
 *   (default 15 seconds), the reconnection delay suggested to clients (`retry`, default 3 seconds)
 *   and how many clients may read each stream at once (`maxClients`, default 64; more answer 503).
 * - `dashboard` (default true): serve the dashboard's files (`GET /` and `GET /dashboard/*`, no
 *   token: the page holds no data, its API calls carry the token).
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
  ),
  events: Schema.optionalWith(
    Schema.Struct({
      buffer: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 100_000)), { default: () => 1000 }),
      heartbeat: Schema.optionalWith(DurationInput.Positive, { default: () => Duration.seconds(15) }),
      retry: Schema.optionalWith(DurationInput.Positive, { default: () => Duration.seconds(3) }),
      maxClients: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 10_000)), { default: () => 64 })
    }),
    {
      default: () => ({ buffer: 1000, heartbeat: Duration.seconds(15), retry: Duration.seconds(3), maxClients: 64 })
    }
  ),
  dashboard: Schema.optionalWith(Schema.Boolean, { default: () => true })
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

// ---------------------------------------------------------------------------------------------------
// event streams

/** The event feeds of one server: built with the API, closed (streams ended) before the server. */
class Feeds extends Context.Tag("@effect-resilience/ops/OpsServer/Feeds")<
  Feeds,
  {
    /** Breaker transitions, when a `ResilienceEvents` hub is in context (none without one). */
    readonly transitions: Option.Option<Feed.Feed>
    /** Alerts, when the `Analytics` service is in context. */
    readonly alerts: Option.Option<{ readonly feed: Feed.Feed; readonly analytics: Analytics.Analytics }>
  }
>() {}

const feedOptions = (config: Config, event: string): Feed.Options => ({
  event,
  capacity: config.events.buffer,
  heartbeat: config.events.heartbeat,
  retry: config.events.retry,
  maxClients: config.events.maxClients
})

const layerFeeds = (config: Config) =>
  Layer.scoped(
    Feeds,
    Effect.gen(function* () {
      const transitions = yield* Effect.gen(function* () {
        const hub = yield* Events.ResilienceEvents
        if (hub === Events.ResilienceEvents.defaultValue()) return Option.none<Feed.Feed>()
        const feed = yield* Feed.make(feedOptions(config, "transition"))
        const events = yield* hub.subscribe
        yield* Effect.forkScoped(
          Stream.runForEach(events, (event) =>
            event._tag === "BreakerTransition"
              ? feed.publish({ breaker: event.breaker, from: event.from, to: event.to, atMillis: event.atMillis })
              : Effect.void
          )
        )
        return Option.some(feed)
      })
      const alerts = yield* Effect.serviceOption(Analytics.Analytics).pipe(
        Effect.flatMap(
          Option.match({
            onNone: () => Effect.succeed(Option.none()),
            onSome: (analytics) =>
              Effect.gen(function* () {
                const feed = yield* Feed.make(feedOptions(config, "alert"))
                const encode = Schema.encode(Analytics.Alert)
                yield* Effect.forkScoped(
                  Stream.runForEach(analytics.alerts, (alert) =>
                    Effect.flatMap(Effect.orDie(encode(alert)), feed.publish)
                  )
                )
                return Option.some({ feed, analytics })
              })
          })
        )
      )
      return { transitions, alerts }
    })
  )

/** No buffering by proxies; the connection closes with the stream, so that a stopping server need not wait for it. */
const eventStreamHeaders = { "x-accel-buffering": "no", connection: "close" }

/** The response of an event stream route, or 503 when the feed is full. */
const eventStream = <E>(
  feed: Feed.Feed,
  lastEventId: string | undefined,
  snapshot: Effect.Effect<Readonly<Record<string, unknown>>, E>
) =>
  Effect.flatMap(feed.full, (full) =>
    full
      ? Effect.fail(new OpsApi.Unavailable({ message: "too many event streams are open; try again later" }))
      : Effect.succeed(
          HttpServerResponse.stream(feed.connect(lastEventId, snapshot), {
            contentType: "text/event-stream",
            headers: eventStreamHeaders
          })
        )
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
    const feeds = yield* Feeds
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
      .handle("events", ({ headers }) =>
        Option.match(feeds.transitions, {
          onNone: () =>
            Effect.fail(
              new OpsApi.Unavailable({
                message: "breaker transitions are not published: the server has no ResilienceEvents hub"
              })
            ),
          onSome: (feed) =>
            eventStream(
              feed,
              headers["last-event-id"],
              Effect.map(registry.snapshots, (breakers) => ({ breakers }))
            )
        })
      )
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
      .handle("replayMany", ({ payload }) =>
        Effect.gen(function* () {
          const caller = yield* OpsApi.Caller
          const limit = payload.limit ?? OpsApi.maxPageSize
          const filter: DeadLetterQueue.Filter = {
            ...payload.filter,
            ...(payload.ids === undefined ? {} : { ids: payload.ids })
          }
          const target =
            payload.ids === undefined ? "dead letters matching a filter" : `${payload.ids.length} dead letters by id`
          const selection = {
            ...(payload.ids === undefined ? {} : { ids: payload.ids }),
            ...(payload.filter === undefined ? {} : { filter: payload.filter }),
            limit
          }
          const report = yield* dlq.replay(filter, replayHandler, { operator: caller.name, limit }).pipe(
            Effect.catchTags({
              // some may have been replayed before the store failed: the trail says that it was tried
              DeadLetterStoreError: () =>
                Effect.zipRight(
                  Effect.ignore(
                    audited({
                      actor: caller.name,
                      action: "dead-letter.replay-many",
                      target,
                      before: selection,
                      after: { error: "the dead letter store failed; some may have been replayed" }
                    })
                  ),
                  Effect.fail(deadLettersUnavailable())
                ),
              // only a replay of one id by its id reports an unknown id
              EntryNotFound: () => Effect.dieMessage("a replay by filter reported an unknown id")
            }),
            Effect.provide(classifier)
          )
          // the asked-for ids that were not replayed: not pending (or beyond the filter or limit), or unknown
          const skipped = [...report.skipped]
          const notFound: Array<string> = []
          if (payload.ids !== undefined) {
            const handled = new Set([
              ...report.resolved,
              ...report.failed.map((f) => f.id),
              ...report.invalid.map((i) => i.id),
              ...report.skipped.map((s) => s.id)
            ])
            const rest = [...new Set(payload.ids)].filter((id) => !handled.has(id))
            if (rest.length > 0) {
              const found = yield* Effect.mapError(
                dlq.list({ ids: rest }, { limit: rest.length }),
                deadLettersUnavailable
              )
              for (const id of rest) {
                const entry = found.entries.find((e) => e.id === id)
                if (entry === undefined) notFound.push(id)
                else skipped.push({ id, status: entry.status })
              }
            }
          }
          const result = {
            resolved: report.resolved,
            failed: report.failed,
            invalid: report.invalid.map((invalid) => ({
              id: invalid.id,
              issues: invalid.issues.map((issue) => ({ path: issue.path.map(String), message: issue.message }))
            })),
            skipped,
            notFound
          }
          yield* audited({
            actor: caller.name,
            action: "dead-letter.replay-many",
            target,
            before: selection,
            after: {
              resolved: result.resolved,
              failed: result.failed.map((f) => ({ id: f.id, category: f.classification.category })),
              invalid: result.invalid.map((i) => i.id),
              skipped: result.skipped,
              notFound
            }
          })
          return result
        })
      )
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

const analyticsNotEnabled = () =>
  new OpsApi.NotFound({ message: "analytics are not enabled on this server (it has no Analytics service)" })

const layerAnalytics = HttpApiBuilder.group(OpsApi.Api, "analytics", (handlers) =>
  Effect.map(Feeds, (feeds) => {
    const withAnalytics = <A, E>(
      f: (alerts: { readonly feed: Feed.Feed; readonly analytics: Analytics.Analytics }) => Effect.Effect<A, E>
    ) => Option.match(feeds.alerts, { onNone: () => Effect.fail(analyticsNotEnabled()), onSome: f })
    return handlers
      .handle("snapshot", () => withAnalytics(({ analytics }) => analytics.snapshot))
      .handle("alerts", ({ urlParams }) =>
        withAnalytics(({ analytics }) => {
          const limit = urlParams.limit ?? 50
          const offset = urlParams.offset ?? 0
          return Effect.map(analytics.recent, (recent) => ({
            entries: recent
              .slice()
              .reverse()
              .slice(offset, offset + limit),
            total: recent.length,
            limit,
            offset
          }))
        })
      )
      .handle("events", ({ headers }) =>
        withAnalytics(({ analytics, feed }) =>
          eventStream(
            feed,
            headers["last-event-id"],
            Effect.flatMap(analytics.recent, (recent) =>
              Effect.map(Effect.orDie(Schema.encode(Schema.Array(Analytics.Alert))(recent)), (alerts) => ({ alerts }))
            )
          )
        )
      )
  })
)

// ---------------------------------------------------------------------------------------------------
// bad input

/** A value the client sent, quoted back in a message: dropped (the path says where it is). */
const withoutValue = (message: string): string => message.replace(/, actual [\s\S]*$/, "")

/**
 * A 400 that says what is wrong and where, once: each issue with its path and a message that does
 * not quote the value sent, without the "Expected undefined" that every optional field adds next
 * to the real problem (at its path or under it), and `message` as `path: problem` lines instead of the schema's whole tree.
 */
const clarify = (error: HttpApiError.HttpApiDecodeError): HttpApiError.HttpApiDecodeError => {
  const issues = error.issues.map((issue) => ({ ...issue, message: withoutValue(issue.message) }))
  const where = (issue: ParseResult.ArrayFormatterIssue) => issue.path.map(String).join(".")
  const kept = issues.filter(
    (issue, k) =>
      !(
        issue._tag === "Type" &&
        issue.message === "Expected undefined" &&
        issues.some(
          (other, j) =>
            j !== k &&
            other.path.length >= issue.path.length &&
            issue.path.every((key, n) => String(key) === String(other.path[n]))
        )
      ) && issues.findIndex((other) => where(other) === where(issue) && other.message === issue.message) === k
  )
  const message = kept
    .map((issue) => `${issue.path.length === 0 ? "(request)" : where(issue)}: ${issue.message}`)
    .join("\n")
    .slice(0, 2000)
  return new HttpApiError.HttpApiDecodeError({ issues: kept, message })
}

const layerClearDecodeErrors = HttpApiBuilder.middleware(OpsApi.Api, (app) =>
  Effect.catchAllCause(app, (cause) => {
    // the app is typed as never failing, but fails with the API's errors
    const error: unknown = Option.getOrUndefined(Cause.failureOption(cause))
    return error instanceof HttpApiError.HttpApiDecodeError ? Effect.fail(clarify(error)) : Effect.failCause(cause)
  })
)

// ---------------------------------------------------------------------------------------------------
// the dashboard's files

/** Where the dashboard's files are: `dashboard/` of this package (beside `src/` and `dist/`). */
const dashboardRoot = (): string => fileURLToPath(new URL("../dashboard/", import.meta.url))

/** The types served; a file of another type is a 404. */
const contentTypes: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8"
}

/** The page may load its own scripts, styles, images and fonts and call this server; nothing else. */
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join("; ")

const dashboardHeaders = {
  "content-security-policy": contentSecurityPolicy,
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin"
}

/** A path segment of a served file: no `..`, no hidden file, no separator, no encoded trickery. */
const segmentPattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/

/**
 * The path of the file under the dashboard root that `pathname` (`/dashboard/...`, still
 * percent-encoded) names, or none when it could name something outside it or a type not served.
 */
const dashboardFile = (pathname: string): Option.Option<string> => {
  const rest = pathname.slice("/dashboard/".length)
  const encoded = rest === "" ? ["index.html"] : rest.split("/")
  if (encoded.length > 8) return Option.none()
  const segments: Array<string> = []
  for (const part of encoded) {
    let segment: string
    try {
      segment = decodeURIComponent(part)
    } catch {
      return Option.none()
    }
    if (!segmentPattern.test(segment) || segment.includes("..")) return Option.none()
    segments.push(segment)
  }
  const file = segments.join("/")
  return contentTypes[NodePath.extname(file).toLowerCase()] === undefined ? Option.none() : Option.some(file)
}

const fileNotFound = HttpServerResponse.unsafeJson(
  { _tag: "NotFound", message: "no such file" },
  { status: 404, headers: dashboardHeaders }
)

/** Reads `relative` under `root`, following links only when the real file is still under `root`. */
const readDashboardFile = (root: string, relative: string) =>
  Effect.promise(async (): Promise<Uint8Array | undefined> => {
    try {
      const realRoot = await realpath(root)
      const real = await realpath(NodePath.join(realRoot, relative))
      if (!real.startsWith(realRoot + NodePath.sep)) return undefined
      if (!(await stat(real)).isFile()) return undefined
      return await readFile(real)
    } catch {
      return undefined
    }
  })

const serveDashboardFile = (root: string, pathname: string) =>
  Option.match(dashboardFile(pathname), {
    onNone: () => Effect.succeed(fileNotFound),
    onSome: (relative) =>
      Effect.map(readDashboardFile(root, relative), (bytes) =>
        bytes === undefined
          ? fileNotFound
          : HttpServerResponse.uint8Array(bytes, {
              contentType: contentTypes[NodePath.extname(relative).toLowerCase()] ?? "application/octet-stream",
              headers: dashboardHeaders
            })
      )
  })

const layerDashboard = HttpApiBuilder.Router.use((router) => {
  const root = dashboardRoot()
  const pathOf = Effect.map(
    HttpServerRequest.HttpServerRequest,
    (request) => new URL(request.url, "http://ops.invalid").pathname
  )
  return Effect.all([
    router.get("/", serveDashboardFile(root, "/dashboard/index.html")),
    // the router ignores a trailing slash: this is `/dashboard/` too
    router.get("/dashboard", serveDashboardFile(root, "/dashboard/index.html")),
    router.get(
      "/dashboard/*",
      Effect.flatMap(pathOf, (pathname) => serveDashboardFile(root, pathname))
    )
  ])
})

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
        Layer.provide([
          layerHealth(decoded),
          layerBreakers,
          layerDeadLetters,
          layerAudit,
          layerAnalytics,
          layerClearDecodeErrors,
          ...(decoded.dashboard ? [layerDashboard] : [])
        ]),
        Layer.provide(layerFeeds(decoded)),
        Layer.provide(layerAccess(decoded))
      )
    )
  )

/** The largest request body read (the largest valid one, 200 ids, is about 45 kB). */
const maxBodyBytes = 1_000_000

const tooLarge = HttpServerResponse.unsafeJson(
  { _tag: "PayloadTooLarge", message: `a request body is at most ${maxBodyBytes} bytes` },
  { status: 413, headers: { connection: "close" } }
)

/**
 * Headers of every response: nothing cached, no type sniffing, and a 401 says which scheme; and
 * no request body read past {@link maxBodyBytes}: one announced larger is a 413 before anything
 * else (its body unread), one that turns out larger is cut off.
 */
const headers = (app: HttpApp.Default): HttpApp.Default =>
  HttpApp.withPreResponseHandler(
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      Number(request.headers["content-length"] ?? 0) > maxBodyBytes
        ? Effect.succeed(tooLarge)
        : HttpIncomingMessage.withMaxBodySize(app, Option.some(maxBodyBytes))
    ),
    (_request, response) =>
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
 * provide `CircuitBreaker.layerRegistry` to see the pipelines' breakers), their transitions from
 * the `ResilienceEvents` hub in context, alerts from the `Analytics` service if there is one. When
 * the Layer closes, open event streams end first, so that stopping does not wait for their clients.
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
