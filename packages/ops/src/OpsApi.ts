/**
 * The operator API as an `@effect/platform` `HttpApi`: every route, its request and response
 * schemas, its errors (a small JSON body with a `_tag` and a message, never a stack trace, host or
 * credential) and the two access levels (bearer tokens with role `read-only` or `operator`).
 * `OpsServer` implements and serves it; a client can be derived from it with `HttpApiClient`.
 *
 * @since 0.2.0
 */
import { Classification } from "@effect-resilience/core/Classification"
import * as CircuitBreaker from "@effect-resilience/core/CircuitBreaker"
import * as DeadLetterQueue from "@effect-resilience/durable/DeadLetterQueue"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import * as Analytics from "./Analytics.js"
import * as AuditLog from "@effect-resilience/durable/AuditLog"

// ---------------------------------------------------------------------------------------------------
// errors

/**
 * 401: no bearer token, or one that matches no configured token.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const error = new OpsApi.Unauthorized({ message: "a valid bearer token is required" })
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401 })
) {}

/**
 * 403: a valid token whose role may not do this (a `read-only` token asking for a change).
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const error = new OpsApi.Forbidden({ message: "this change needs the operator role" })
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class Forbidden extends Schema.TaggedError<Forbidden>()(
  "Forbidden",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 403 })
) {}

/**
 * 404: no breaker or dead letter has that name or id.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const error = new OpsApi.NotFound({ message: "no breaker is called payments" })
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class NotFound extends Schema.TaggedError<NotFound>()(
  "NotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

/**
 * 409: the change does not apply to the current state (discarding a resolved dead letter).
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const error = new OpsApi.Conflict({ message: "the dead letter is resolved" })
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class Conflict extends Schema.TaggedError<Conflict>()(
  "Conflict",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/**
 * 503: a store (dead letters, audit trail) could not be reached.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const error = new OpsApi.Unavailable({ message: "the dead letter store is unavailable" })
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class Unavailable extends Schema.TaggedError<Unavailable>()(
  "Unavailable",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

// ---------------------------------------------------------------------------------------------------
// health and readiness

/**
 * One readiness check: what was checked (`breaker`, `dead-letters`, `store`), its subject, whether
 * it passed and why.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const check: typeof OpsApi.Check.Type = {
 *   kind: "breaker",
 *   name: "payments",
 *   ok: false,
 *   reason: "critical breaker is open"
 * }
 * ```
 *
 * @since 0.2.0
 * @category schemas
 */
export const Check = Schema.Struct({
  kind: Schema.Literal("breaker", "dead-letters", "store"),
  name: Schema.String,
  ok: Schema.Boolean,
  reason: Schema.String
})

/**
 * The body of `GET /health` and of a ready `GET /ready`.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const ready: typeof OpsApi.Status.Type = { status: "ready", checks: [] }
 * ```
 *
 * @since 0.2.0
 * @category schemas
 */
export const Status = Schema.Struct({
  status: Schema.Literal("ok", "ready"),
  checks: Schema.Array(Check)
})

/**
 * 503 of `GET /ready`: the checks, the failing ones saying why.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const failing = (error: OpsApi.NotReady) => error.checks.filter((check) => !check.ok)
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class NotReady extends Schema.TaggedError<NotReady>()(
  "NotReady",
  { status: Schema.Literal("not-ready"), checks: Schema.Array(Check) },
  HttpApiSchema.annotations({ status: 503 })
) {}

// ---------------------------------------------------------------------------------------------------
// access

/**
 * The caller a valid token names: its configured name and role.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 * import { Effect } from "effect"
 *
 * const whoAmI = Effect.map(OpsApi.Caller, (caller) => `${caller.name} (${caller.role})`)
 * ```
 *
 * @since 0.2.0
 * @category services
 */
export class Caller extends Context.Tag("@effect-resilience/ops/OpsApi/Caller")<
  Caller,
  { readonly name: string; readonly role: "read-only" | "operator" }
>() {}

/**
 * Access for reads: a bearer token of role `read-only` or `operator`, else 401.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const key = OpsApi.ReadAccess.key
 * ```
 *
 * @since 0.2.0
 * @category services
 */
export class ReadAccess extends HttpApiMiddleware.Tag<ReadAccess>()("@effect-resilience/ops/OpsApi/ReadAccess", {
  failure: Unauthorized,
  provides: Caller,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/**
 * Access for changes: a bearer token of role `operator`; 401 without a valid token, 403 for a
 * `read-only` one. A refused request changes nothing.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const key = OpsApi.OperatorAccess.key
 * ```
 *
 * @since 0.2.0
 * @category services
 */
export class OperatorAccess extends HttpApiMiddleware.Tag<OperatorAccess>()(
  "@effect-resilience/ops/OpsApi/OperatorAccess",
  {
    failure: Schema.Union(Unauthorized, Forbidden),
    provides: Caller,
    security: { bearer: HttpApiSecurity.bearer }
  }
) {}

// ---------------------------------------------------------------------------------------------------
// request and response bodies

/**
 * The largest page a list route returns; a larger `limit` is a 400 naming `limit`.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const pages = (total: number) => Math.ceil(total / OpsApi.maxPageSize)
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const maxPageSize = 200

const Limit = Schema.NumberFromString.pipe(
  Schema.int({ message: () => "limit must be a whole number" }),
  Schema.between(1, maxPageSize, { message: () => `limit must be from 1 to ${maxPageSize}` })
)

const Offset = Schema.NumberFromString.pipe(
  Schema.int({ message: () => "offset must be a whole number" }),
  Schema.nonNegative({ message: () => "offset must be 0 or more" })
)

const Millis = Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative())

/**
 * Query of `GET /api/dead-letters`: filters (`queue`, `status`, `category`, created between
 * `fromMillis` and `toMillis`) and the page (`limit` 1 to {@link maxPageSize}, default 50; `offset`).
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 * import { Schema } from "effect"
 *
 * const query = Schema.decodeUnknownSync(OpsApi.DeadLetterQuery)({ status: "pending", limit: "20" })
 * ```
 *
 * @since 0.2.0
 * @category schemas
 */
export const DeadLetterQuery = Schema.Struct({
  queue: Schema.optional(Schema.NonEmptyString),
  status: Schema.optional(DeadLetterQueue.Status),
  category: Schema.optional(Classification.fields.category),
  fromMillis: Schema.optional(Millis),
  toMillis: Schema.optional(Millis),
  limit: Schema.optional(Limit),
  offset: Schema.optional(Offset)
})

/**
 * Query of `GET /api/audit`: the page.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 * import { Schema } from "effect"
 *
 * const query = Schema.decodeUnknownSync(OpsApi.PageQuery)({ limit: "10", offset: "20" })
 * ```
 *
 * @since 0.2.0
 * @category schemas
 */
export const PageQuery = Schema.Struct({
  limit: Schema.optional(Limit),
  offset: Schema.optional(Offset)
})

/**
 * A page of dead letters: the entries (payload, failure with classification and attempt history,
 * notes), how many match in all, and the page asked for.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const more = (page: typeof OpsApi.DeadLetterPage.Type) => page.offset + page.entries.length < page.total
 * ```
 *
 * @since 0.2.0
 * @category schemas
 */
export const DeadLetterPage = Schema.Struct({
  entries: Schema.Array(DeadLetterQueue.Entry),
  total: Schema.Number,
  limit: Schema.Number,
  offset: Schema.Number
})

/**
 * What a replay did: the ids resolved, failed again (with the new classification), refused by
 * the payload's schema, or skipped (not pending).
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const done = (report: typeof OpsApi.ReplayReport.Type) => report.resolved.length > 0
 * ```
 *
 * @since 0.2.0
 * @category schemas
 */
export const ReplayReport = Schema.Struct({
  resolved: Schema.Array(Schema.String),
  failed: Schema.Array(Schema.Struct({ id: Schema.String, classification: Classification })),
  invalid: Schema.Array(
    Schema.Struct({
      id: Schema.String,
      issues: Schema.Array(Schema.Struct({ path: Schema.Array(Schema.String), message: Schema.String }))
    })
  ),
  skipped: Schema.Array(Schema.Struct({ id: Schema.String, status: DeadLetterQueue.Status }))
})

/**
 * Body of `POST /api/dead-letters/{id}/discard`: an optional note (at most 2000 characters).
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const body: typeof OpsApi.DiscardBody.Encoded = { note: "duplicate of order 42" }
 * ```
 *
 * @since 0.2.0
 * @category schemas
 */
export const DiscardBody = Schema.Struct({
  note: Schema.optional(Schema.String.pipe(Schema.maxLength(2000)))
})

/**
 * Body of `POST /api/dead-letters/{id}/notes`: the note (1 to 2000 characters).
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const body: typeof OpsApi.NoteBody.Encoded = { text: "customer contacted" }
 * ```
 *
 * @since 0.2.0
 * @category schemas
 */
export const NoteBody = Schema.Struct({
  text: Schema.NonEmptyTrimmedString.pipe(Schema.maxLength(2000))
})

/**
 * A page of the audit trail, newest first.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const actors = (page: typeof OpsApi.AuditPage.Type) => page.entries.map((entry) => entry.actor)
 * ```
 *
 * @since 0.2.0
 * @category schemas
 */
export const AuditPage = Schema.Struct({
  entries: Schema.Array(AuditLog.Entry),
  total: Schema.Number,
  limit: Schema.Number,
  offset: Schema.Number
})

/**
 * Body of `POST /api/dead-letters/replay`: which pending dead letters to replay, by `ids` (1 to
 * {@link maxPageSize}), by `filter` (`queue`, `category` (one or several), created in
 * `[fromMillis, toMillis)`; `status` may only say `pending`, as only pending dead letters are
 * replayed), or both (the ids that match the filter); `limit` (1 to {@link maxPageSize}, default
 * {@link maxPageSize}) caps how many are handled. At least one of `ids` and `filter` is required
 * (`filter: {}` is every pending dead letter), and an unknown field is a 400, so that a typo never
 * widens a bulk change.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const body: typeof OpsApi.ReplayManyBody.Encoded = {
 *   filter: { queue: "orders", category: ["network", "timeout"] },
 *   limit: 50
 * }
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const ReplayManyBody = Schema.Struct({
  ids: Schema.optional(
    Schema.Array(Schema.NonEmptyTrimmedString.pipe(Schema.maxLength(200))).pipe(
      Schema.minItems(1, { message: () => "ids must name at least one dead letter" }),
      Schema.maxItems(maxPageSize, { message: () => `ids may name at most ${maxPageSize} dead letters` })
    )
  ),
  filter: Schema.optional(
    Schema.Struct({
      queue: Schema.optional(Schema.NonEmptyString),
      status: Schema.optional(
        Schema.Literal("pending").annotations({ message: () => "only pending dead letters are replayed" })
      ),
      category: Schema.optional(
        Schema.Union(
          Classification.fields.category,
          Schema.Array(Classification.fields.category).pipe(Schema.minItems(1))
        )
      ),
      fromMillis: Schema.optional(Schema.NonNegativeInt),
      toMillis: Schema.optional(Schema.NonNegativeInt)
    }).annotations({ parseOptions: { onExcessProperty: "error" } })
  ),
  limit: Schema.optional(
    Schema.Int.pipe(
      Schema.between(1, maxPageSize, { message: () => `limit must be a whole number from 1 to ${maxPageSize}` })
    )
  )
})
  .annotations({ parseOptions: { onExcessProperty: "error" } })
  .pipe(
    Schema.filter((body) =>
      body.ids !== undefined || body.filter !== undefined
        ? true
        : { path: ["ids"], message: "give ids, a filter, or both (filter {} is every pending dead letter)" }
    )
  )

/**
 * What `POST /api/dead-letters/replay` did: a {@link ReplayReport}, where `skipped` also lists the
 * asked-for ids that are not pending (with their status), and `notFound` the asked-for ids that
 * name no dead letter.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const handled = (report: typeof OpsApi.ReplayManyReport.Type) =>
 *   report.resolved.length + report.failed.length + report.invalid.length
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const ReplayManyReport = Schema.Struct({
  ...ReplayReport.fields,
  notFound: Schema.Array(Schema.String)
})

/**
 * A breaker state, as events and snapshots name it.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const open = (state: typeof OpsApi.BreakerState.Type) => state === "open" || state === "forced-open"
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const BreakerState = Schema.Literal("closed", "open", "half-open", "forced-open", "disabled", "metrics-only")

/**
 * The data of a `transition` event of `GET /api/breakers/events`: a breaker moved from one state
 * to another at `atMillis` (the process's clock).
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 * import { Schema } from "effect"
 *
 * const parse = (data: string) => Schema.decodeUnknownSync(Schema.parseJson(OpsApi.Transition))(data)
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const Transition = Schema.Struct({
  breaker: Schema.String,
  from: BreakerState,
  to: BreakerState,
  atMillis: Schema.Number
})

/**
 * Why an event stream sends a `snapshot` event: `connected` (a new stream, no `Last-Event-ID`),
 * `too-old` (the events after the client's `Last-Event-ID`, or after what it last read when it
 * fell behind, are no longer held, so some were missed), `unknown-id` (the `Last-Event-ID` is not
 * one of this server's life, e.g. after a restart).
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const missedSome = (reason: typeof OpsApi.SnapshotReason.Type) => reason !== "connected"
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const SnapshotReason = Schema.Literal("connected", "too-old", "unknown-id")

/**
 * The data of the `snapshot` event of `GET /api/breakers/events`: why it is sent and a snapshot of
 * every breaker of the registry. The transitions that follow it are those after it.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 * import { Schema } from "effect"
 *
 * const parse = (data: string) => Schema.decodeUnknownSync(Schema.parseJson(OpsApi.BreakersSnapshot))(data)
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const BreakersSnapshot = Schema.Struct({
  reason: SnapshotReason,
  breakers: Schema.Array(CircuitBreaker.Snapshot)
})

/**
 * Headers of an event stream route: `Last-Event-ID` (at most 100 characters), sent by a client that
 * reconnects, to get the events it missed.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const resume: typeof OpsApi.EventStreamHeaders.Encoded = { "last-event-id": "m4x2k9-17" }
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const EventStreamHeaders = Schema.Struct({
  "last-event-id": Schema.optional(
    Schema.String.pipe(Schema.maxLength(100, { message: () => "last-event-id is at most 100 characters" }))
  )
})

/**
 * The body of an event stream route: `text/event-stream`. Each event has an `id:` (give the last
 * one read as `Last-Event-ID` when reconnecting), an `event:` name and one line of JSON `data:`;
 * the stream starts with a `retry:` hint and carries `: heartbeat` comments while quiet.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const contentType = "text/event-stream"
 * const schema = OpsApi.EventStream
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const EventStream = HttpApiSchema.Text({ contentType: "text/event-stream" })

/**
 * The data of the `snapshot` event of `GET /api/alerts/events`: why it is sent and the recent
 * alerts (oldest first). The `alert` events that follow it are those after it.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 * import { Schema } from "effect"
 *
 * const parse = (data: string) => Schema.decodeUnknownSync(Schema.parseJson(OpsApi.AlertsSnapshot))(data)
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const AlertsSnapshot = Schema.Struct({
  reason: SnapshotReason,
  alerts: Schema.Array(Analytics.Alert)
})

/**
 * A page of the recent alerts, newest first (`GET /api/alerts`).
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const critical = (page: typeof OpsApi.AlertPage.Type) => page.entries.filter((a) => a.severity === "critical")
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const AlertPage = Schema.Struct({
  entries: Schema.Array(Analytics.Alert),
  total: Schema.Number,
  limit: Schema.Number,
  offset: Schema.Number
})

// ---------------------------------------------------------------------------------------------------
// groups

const NameParam = Schema.Struct({ name: Schema.String })
const IdParam = Schema.Struct({ id: Schema.String })

const breakerAction = <const N extends string>(name: N, action: string) =>
  HttpApiEndpoint.post(name, `/api/breakers/:name/${action}`)
    .setPath(NameParam)
    .addSuccess(CircuitBreaker.Snapshot)
    .addError(NotFound)
    .middleware(OperatorAccess)

/**
 * `GET /health` (liveness: the process answers) and `GET /ready` (readiness: 503 while a critical
 * breaker is open, the dead letter backlog is over its threshold, or a store does not answer).
 * No token needed.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const name = OpsApi.HealthGroup.identifier
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export const HealthGroup = HttpApiGroup.make("health")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Status))
  .add(HttpApiEndpoint.get("ready", "/ready").addSuccess(Status).addError(NotReady))

/**
 * The circuit breakers of the `CircuitBreaker.Registry`: `GET /api/breakers` (snapshots),
 * `GET /api/breakers/events` (their transitions as server-sent events: a `snapshot` event, then a
 * `transition` event for each change; a client reconnecting with `Last-Event-ID` gets those it
 * missed), and `POST /api/breakers/{name}/force-open`, `force-closed`, `disable`, `reset`
 * (operator; each answers the breaker's snapshot after the change).
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const name = OpsApi.BreakersGroup.identifier
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export const BreakersGroup = HttpApiGroup.make("breakers")
  .add(
    HttpApiEndpoint.get("list", "/api/breakers")
      .addSuccess(Schema.Array(CircuitBreaker.Snapshot))
      .middleware(ReadAccess)
  )
  .add(
    HttpApiEndpoint.get("events", "/api/breakers/events")
      .setHeaders(EventStreamHeaders)
      .addSuccess(EventStream)
      .middleware(ReadAccess)
  )
  .add(breakerAction("forceOpen", "force-open"))
  .add(breakerAction("forceClosed", "force-closed"))
  .add(breakerAction("disable", "disable"))
  .add(breakerAction("reset", "reset"))

/**
 * Dead letters: list with filters and pagination, inspect one, and (operator) replay one or many
 * (`POST /api/dead-letters/replay`), discard or add a note.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const name = OpsApi.DeadLettersGroup.identifier
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export const DeadLettersGroup = HttpApiGroup.make("deadLetters")
  .add(
    HttpApiEndpoint.get("list", "/api/dead-letters")
      .setUrlParams(DeadLetterQuery)
      .addSuccess(DeadLetterPage)
      .middleware(ReadAccess)
  )
  .add(
    HttpApiEndpoint.get("get", "/api/dead-letters/:id")
      .setPath(IdParam)
      .addSuccess(DeadLetterQueue.Entry)
      .addError(NotFound)
      .middleware(ReadAccess)
  )
  .add(
    HttpApiEndpoint.post("replayMany", "/api/dead-letters/replay")
      .setPayload(ReplayManyBody)
      .addSuccess(ReplayManyReport)
      .middleware(OperatorAccess)
  )
  .add(
    HttpApiEndpoint.post("replay", "/api/dead-letters/:id/replay")
      .setPath(IdParam)
      .addSuccess(ReplayReport)
      .addError(NotFound)
      .middleware(OperatorAccess)
  )
  .add(
    HttpApiEndpoint.post("discard", "/api/dead-letters/:id/discard")
      .setPath(IdParam)
      .setPayload(DiscardBody)
      .addSuccess(DeadLetterQueue.Entry)
      .addError(NotFound)
      .addError(Conflict)
      .middleware(OperatorAccess)
  )
  .add(
    HttpApiEndpoint.post("note", "/api/dead-letters/:id/notes")
      .setPath(IdParam)
      .setPayload(NoteBody)
      .addSuccess(DeadLetterQueue.Entry)
      .addError(NotFound)
      .middleware(OperatorAccess)
  )
  .addError(Unavailable)

/**
 * `GET /api/audit`: the audit trail, newest first.
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const name = OpsApi.AuditGroup.identifier
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export const AuditGroup = HttpApiGroup.make("audit")
  .add(HttpApiEndpoint.get("list", "/api/audit").setUrlParams(PageQuery).addSuccess(AuditPage).middleware(ReadAccess))
  .addError(Unavailable)

/**
 * Analytics and alerts, when the server has the `Analytics` service (else each answers 404
 * `NotFound` saying that analytics are not enabled): `GET /api/analytics` (the series and breaker
 * states now), `GET /api/alerts` (the recent alerts, newest first, paged) and
 * `GET /api/alerts/events` (server-sent events: a `snapshot` event with the recent alerts, then an
 * `alert` event for each new one; `Last-Event-ID` resumes as for breaker events).
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 *
 * const name = OpsApi.AnalyticsGroup.identifier
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export const AnalyticsGroup = HttpApiGroup.make("analytics")
  .add(
    HttpApiEndpoint.get("snapshot", "/api/analytics")
      .addSuccess(Analytics.AnalyticsSnapshot)
      .addError(NotFound)
      .middleware(ReadAccess)
  )
  .add(
    HttpApiEndpoint.get("alerts", "/api/alerts")
      .setUrlParams(PageQuery)
      .addSuccess(AlertPage)
      .addError(NotFound)
      .middleware(ReadAccess)
  )
  .add(
    HttpApiEndpoint.get("events", "/api/alerts/events")
      .setHeaders(EventStreamHeaders)
      .addSuccess(EventStream)
      .addError(NotFound)
      .middleware(ReadAccess)
  )
  .addError(Unavailable)

/**
 * The whole operator API. A change answers `Unavailable` (503) when a store does not answer, or
 * when its audit entry could not be written (the message then says that the change was made).
 *
 * @example
 * ```ts
 * import { OpsApi } from "@effect-resilience/ops"
 * import { HttpApiClient } from "@effect/platform"
 *
 * const client = HttpApiClient.make(OpsApi.Api, { baseUrl: "http://127.0.0.1:9464" })
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export class Api extends HttpApi.make("effect-resilience-ops")
  .add(HealthGroup)
  .add(BreakersGroup.addError(Unavailable))
  .add(DeadLettersGroup)
  .add(AuditGroup)
  .add(AnalyticsGroup) {}
