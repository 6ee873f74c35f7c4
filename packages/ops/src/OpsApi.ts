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
 * The circuit breakers of the `CircuitBreaker.Registry`: `GET /api/breakers` (snapshots), and
 * `POST /api/breakers/{name}/force-open`, `force-closed`, `disable`, `reset` (operator; each
 * answers the breaker's snapshot after the change).
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
  .add(breakerAction("forceOpen", "force-open"))
  .add(breakerAction("forceClosed", "force-closed"))
  .add(breakerAction("disable", "disable"))
  .add(breakerAction("reset", "reset"))

/**
 * Dead letters: list with filters and pagination, inspect one, and (operator) replay, discard or
 * add a note.
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
  .add(AuditGroup) {}
