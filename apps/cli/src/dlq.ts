/**
 * `dlq` commands: list, show, replay, discard, purge and stats against a SQLite file (`--db FILE`)
 * or PostgreSQL (`--url URL`). `--json` prints one line of JSON (the last line of the output).
 *
 * Commands that change state (replay, discard, purge) act as `--operator NAME`, or as the user
 * running the command when it is not given; the name is recorded in the entries' notes and in the
 * audit trail, which lives in the same database (one entry per dead letter changed, with its state
 * before and after; read it with `audit`). `replay` and `discard` take one id or a filter (bulk).
 * `replay` re-sends each payload to `--target URL` as a JSON POST with the entry's idempotency key
 * in the `Idempotency-Key` header.
 */
import { userInfo } from "node:os"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as AuditLog from "@effect-resilience/durable/AuditLog"
import * as DLQ from "@effect-resilience/durable/DeadLetterQueue"
import { categories } from "@effect-resilience/core/Classification"
import * as SqlAuditLog from "@effect-resilience/sql/SqlAuditLog"
import * as SqlConnection from "@effect-resilience/sql/SqlConnection"
import * as SqlDeadLetterQueue from "@effect-resilience/sql/SqlDeadLetterQueue"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Format from "./format.js"

/** A refusal or a bad option: printed as one line, exit code 1. */
export class CliError extends Data.TaggedError("CliError")<{ readonly message: string }> {}

// ---------------------------------------------------------------------------------------------------
// flags whose bad values are refused naming the flag (@effect/cli's own messages, such as
// "'soon' is not a date", do not say which flag)

const refuse = (name: string, raw: string, expected: string) =>
  Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--${name}: ${JSON.stringify(raw)} is not ${expected}`)))

const parsed = <A>(name: string, raw: string, parse: (raw: string) => Option.Option<A>, expected: string) =>
  Option.match(parse(raw), { onNone: () => refuse(name, raw, expected), onSome: Effect.succeed })

const wholeNumber =
  (min: number) =>
  (raw: string): Option.Option<number> => {
    const n = /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : Number.NaN
    return Number.isSafeInteger(n) && n >= min ? Option.some(n) : Option.none()
  }

export const integerFlag = (name: string, min: number) =>
  Options.text(name).pipe(
    Options.withPseudoName("integer"),
    Options.mapEffect((raw) => parsed(name, raw, wholeNumber(min), `a whole number >= ${min}`))
  )

export const dateFlag = (name: string) =>
  Options.text(name).pipe(
    Options.withPseudoName("date"),
    Options.mapEffect((raw) =>
      parsed(
        name,
        raw,
        (text) => {
          const date = new Date(text)
          return text.trim() === "" || Number.isNaN(date.getTime()) ? Option.none() : Option.some(date)
        },
        "a date (ISO, e.g. 2024-05-01)"
      )
    )
  )

/** A choice flag given any number of times. */
const choicesFlag = <A extends string>(name: string, choices: ReadonlyArray<A>) =>
  Options.text(name).pipe(
    Options.withPseudoName(choices.join(" | ")),
    Options.repeated,
    Options.mapEffect((raws) =>
      Effect.forEach(raws, (raw) =>
        parsed(
          name,
          raw,
          (text) => Option.fromNullable(choices.find((c) => c === text)),
          `one of ${choices.join(", ")}`
        )
      )
    )
  )

// ---------------------------------------------------------------------------------------------------
// common options

export const db = Options.text("db").pipe(
  Options.withDescription("SQLite file holding the dead letters (created if missing)"),
  Options.optional
)
export const url = Options.text("url").pipe(
  Options.withDescription("PostgreSQL URL, e.g. postgres://user@host:5432/db"),
  Options.optional
)
export const json = Options.boolean("json").pipe(Options.withDescription("Print JSON on the last line"))
const operator = Options.text("operator").pipe(
  Options.withDescription("Who is doing this (recorded in the notes and the audit trail; default: your OS user)"),
  Options.optional
)
const queue = Options.text("queue").pipe(Options.withDescription("Only this queue"), Options.optional)
const category = choicesFlag("category", categories).pipe(Options.withDescription("Only this failure category"))
const status = choicesFlag("status", DLQ.statuses).pipe(Options.withDescription("Only this status"))
const since = dateFlag("since").pipe(Options.withDescription("Created at or after (ISO date)"), Options.optional)
const until = dateFlag("until").pipe(Options.withDescription("Created before (ISO date)"), Options.optional)

/** What a command works on: the dead letter queue and the audit trail, in one database. */
export type Services = DLQ.DeadLetterQueue | AuditLog.AuditLog

/** The dead letter queue and the audit log on one client (one file or database, one connection pool). */
const servicesOn = (
  config: SqlConnection.ConfigInput
): Layer.Layer<Services, DLQ.DeadLetterStoreError | AuditLog.AuditLogError | ParseResult.ParseError> =>
  Layer.mergeAll(
    DLQ.layer().pipe(Layer.provide(SqlDeadLetterQueue.layerStore)),
    AuditLog.layer.pipe(Layer.provide(SqlAuditLog.layerStore))
  ).pipe(
    Layer.provide(
      SqlConnection.layerClient(config).pipe(
        Layer.mapError((error) =>
          error._tag === "ConnectionError"
            ? new DLQ.DeadLetterStoreError({ reason: error.reason, message: error.message, cause: error.cause })
            : error
        )
      )
    )
  )

/** The store that `--db FILE` or `--url URL` names. */
export const store = (opts: {
  readonly db: Option.Option<string>
  readonly url: Option.Option<string>
}): Effect.Effect<
  Layer.Layer<Services, DLQ.DeadLetterStoreError | AuditLog.AuditLogError | ParseResult.ParseError>,
  CliError
> => {
  if (Option.isSome(opts.db) && Option.isSome(opts.url)) {
    return Effect.fail(new CliError({ message: "Give either --db FILE or --url URL, not both." }))
  }
  if (Option.isSome(opts.db)) return Effect.succeed(servicesOn({ dialect: "sqlite", filename: opts.db.value }))
  if (Option.isSome(opts.url)) return Effect.succeed(servicesOn({ dialect: "pg", url: opts.url.value }))
  return Effect.fail(
    new CliError({ message: "Which dead letter store? Give --db FILE (SQLite) or --url URL (PostgreSQL)." })
  )
}

/** The user running the command, as the OS knows them; none when it cannot say. */
const osUser = (): Option.Option<string> => {
  try {
    return Option.some(userInfo().username.trim()).pipe(Option.filter((name) => name.length > 0))
  } catch {
    return Option.none()
  }
}

/** Who acts: `--operator NAME`, else the OS user; refused when neither names anyone. */
const actorOf = (action: string, value: Option.Option<string>) =>
  Option.match(
    Option.map(value, (s) => s.trim()).pipe(
      Option.filter((s) => s.length > 0),
      Option.orElse(osUser)
    ),
    {
      onNone: () =>
        Effect.fail(
          new CliError({
            message: `Refusing to ${action}: changing dead letters needs an operator's name and the OS user has none. Pass --operator NAME (it is recorded in the notes and the audit trail).`
          })
        ),
      onSome: Effect.succeed
    }
  )

/** What the audit trail keeps of a dead letter's state (as the ops server records it). */
export const stateOf = (entry: DLQ.Entry) => ({
  status: entry.status,
  replays: entry.replays,
  notes: entry.notes.length,
  version: entry.version
})

const record = (input: AuditLog.EntryInput) => Effect.flatMap(AuditLog.AuditLog, (audit) => audit.record(input))

export const filterOf = (opts: {
  readonly queue: Option.Option<string>
  readonly category: ReadonlyArray<DLQ.Entry["failure"]["classification"]["category"]>
  readonly status: ReadonlyArray<DLQ.Status>
  readonly since: Option.Option<Date>
  readonly until: Option.Option<Date>
}): DLQ.Filter => ({
  queue: Option.getOrUndefined(opts.queue),
  category: opts.category.length === 0 ? undefined : opts.category,
  status: opts.status.length === 0 ? undefined : opts.status,
  fromMillis: Option.getOrUndefined(Option.map(opts.since, (d) => d.getTime())),
  toMillis: Option.getOrUndefined(Option.map(opts.until, (d) => d.getTime()))
})

/** Runs `f` with the store, printing JSON or text. */
export const withStore = <A, E, R>(
  opts: { readonly db: Option.Option<string>; readonly url: Option.Option<string> },
  effect: Effect.Effect<A, E, R>
) => Effect.flatMap(store(opts), (layer) => Effect.provide(effect, layer))

export const output = (asJson: boolean, value: unknown, text: () => string) =>
  asJson ? Console.log(JSON.stringify(value)) : Console.log(text())

// ---------------------------------------------------------------------------------------------------
// commands

const list = Command.make(
  "list",
  {
    db,
    url,
    json,
    queue,
    category,
    status,
    since,
    until,
    review: Options.boolean("review").pipe(
      Options.withDescription("Only the manual review queue (pending validation, authentication, business)")
    ),
    limit: integerFlag("limit", 1).pipe(Options.withDefault(50)),
    offset: integerFlag("offset", 0).pipe(Options.withDefault(0))
  },
  (opts) =>
    withStore(
      opts,
      Effect.gen(function* () {
        const dlq = yield* DLQ.DeadLetterQueue
        const page = { limit: opts.limit, offset: opts.offset }
        const result = opts.review ? yield* dlq.reviewQueue(page) : yield* dlq.list(filterOf(opts), page)
        yield* output(opts.json, result, () => Format.list(result, page))
      })
    )
).pipe(Command.withDescription("List dead letters (filters: --queue, --category, --status, --since, --until)"))

const show = Command.make("show", { db, url, json, id: Args.text({ name: "id" }) }, (opts) =>
  withStore(
    opts,
    Effect.gen(function* () {
      const dlq = yield* DLQ.DeadLetterQueue
      const entry = yield* Effect.flatMap(dlq.get(opts.id), (o) =>
        Option.isSome(o) ? Effect.succeed(o.value) : Effect.fail(new DLQ.EntryNotFound({ id: opts.id }))
      )
      yield* output(opts.json, entry, () => Format.entry(entry))
    })
  )
).pipe(Command.withDescription("Show one dead letter: failure, attempt history, notes and payload"))

/** Re-sends the payload to the target; non-2xx answers and transport errors fail the replay. */
const httpHandler =
  (target: string, timeout: Duration.Duration): DLQ.Handler<unknown, HttpClient.HttpClient> =>
  (entry) =>
    Effect.gen(function* () {
      const client = (yield* HttpClient.HttpClient).pipe(HttpClient.filterStatusOk)
      const request = yield* HttpClientRequest.post(target).pipe(
        HttpClientRequest.setHeaders({
          "idempotency-key": entry.idempotencyKey,
          "x-dead-letter-id": entry.id,
          "x-dead-letter-queue": entry.queue
        }),
        HttpClientRequest.bodyJson(entry.payload)
      )
      yield* Effect.scoped(client.execute(request)).pipe(Effect.timeout(timeout))
    })

const replay = Command.make(
  "replay",
  {
    db,
    url,
    json,
    operator,
    queue,
    category,
    status,
    since,
    until,
    id: Args.text({ name: "id" }).pipe(
      Args.withDescription("One entry; without it, every pending match"),
      Args.optional
    ),
    target: Options.text("target").pipe(
      Options.withDescription("HTTP URL the payloads are POSTed to (JSON, Idempotency-Key header)"),
      Options.optional
    ),
    limit: integerFlag("limit", 1).pipe(Options.optional),
    timeout: integerFlag("timeout-ms", 1).pipe(Options.withDefault(10_000))
  },
  (opts) =>
    Effect.gen(function* () {
      const who = yield* actorOf("replay", opts.operator)
      const target = yield* Option.match(opts.target, {
        onNone: () =>
          Effect.fail(new CliError({ message: "replay needs --target URL: each payload is POSTed there as JSON." })),
        onSome: Effect.succeed
      })
      if (!/^https?:\/\//.test(target)) {
        return yield* new CliError({ message: "--target must be an http:// or https:// URL." })
      }
      const selector = Option.getOrElse(opts.id, (): string | DLQ.Filter => filterOf(opts))
      const report = yield* withStore(
        opts,
        Effect.gen(function* () {
          const dlq = yield* DLQ.DeadLetterQueue
          const report = yield* dlq.replay(selector, httpHandler(target, Duration.millis(opts.timeout)), {
            operator: who,
            limit: Option.getOrUndefined(opts.limit)
          })
          // One audit entry per dead letter the replay changed: a replay only claims pending ones.
          const changed = [...report.resolved, ...report.failed.map((f) => f.id), ...report.invalid.map((i) => i.id)]
          yield* Effect.forEach(
            changed,
            (id) =>
              Effect.flatMap(dlq.get(id), (after) =>
                record({
                  actor: who,
                  action: "dead-letter.replay",
                  target: id,
                  before: { status: "pending" },
                  ...(Option.isSome(after) ? { after: stateOf(after.value) } : {})
                })
              ),
            { discard: true }
          )
          return report
        })
      ).pipe(Effect.provide(FetchHttpClient.layer), Effect.provide(Classifier.layer))
      yield* output(opts.json, report, () => Format.replay(report))
    })
).pipe(
  Command.withDescription(
    "Replay one dead letter, or every pending match of the filters, by POSTing their payloads to --target (audited)"
  )
)

const discard = Command.make(
  "discard",
  {
    db,
    url,
    json,
    operator,
    queue,
    category,
    status,
    since,
    until,
    id: Args.text({ name: "id" }).pipe(
      Args.withDescription("One entry; without it, every pending match of the filters"),
      Args.optional
    ),
    all: Options.boolean("all").pipe(Options.withDescription("Without an id or a filter: every pending entry")),
    limit: integerFlag("limit", 1).pipe(Options.optional),
    note: Options.text("note").pipe(Options.optional)
  },
  (opts) =>
    Effect.gen(function* () {
      const who = yield* actorOf("discard", opts.operator)
      const note = Option.getOrUndefined(opts.note)
      const discardOne = (dlq: DLQ.DeadLetterQueue, before: DLQ.Entry) =>
        Effect.tap(dlq.discard(before.id, who, note), (after) =>
          record({
            actor: who,
            action: "dead-letter.discard",
            target: before.id,
            before: stateOf(before),
            after: stateOf(after)
          })
        )
      if (Option.isSome(opts.id)) {
        const id = opts.id.value
        const entry = yield* withStore(
          opts,
          Effect.gen(function* () {
            const dlq = yield* DLQ.DeadLetterQueue
            const before = yield* Effect.flatMap(dlq.get(id), (o) =>
              Option.isSome(o) ? Effect.succeed(o.value) : Effect.fail(new DLQ.EntryNotFound({ id }))
            )
            return yield* discardOne(dlq, before)
          })
        )
        return yield* output(opts.json, entry, () => `Discarded ${entry.id} (by ${who}).`)
      }
      const filter = filterOf(opts)
      const filtered = [filter.queue, filter.category, filter.status, filter.fromMillis, filter.toMillis].some(
        (v) => v !== undefined
      )
      if (!filtered && !opts.all) {
        return yield* new CliError({
          message:
            "discard needs an id, a filter (--queue, --category, --status, --since, --until) or --all for every pending entry."
        })
      }
      const statuses = filter.status === undefined ? [] : Array.isArray(filter.status) ? filter.status : [filter.status]
      if (statuses.length > 0 && !statuses.includes("pending")) {
        return yield* new CliError({
          message: "Only pending dead letters can be discarded: --status must include pending."
        })
      }
      const report = yield* withStore(
        opts,
        Effect.gen(function* () {
          const dlq = yield* DLQ.DeadLetterQueue
          // The matches are read first (pages of 500), then discarded one by one: each is a
          // compare-and-set of its own, so one changed meanwhile is skipped, not overwritten.
          const max = Option.getOrElse(opts.limit, () => Number.POSITIVE_INFINITY)
          const matches: Array<DLQ.Entry> = []
          for (let offset = 0; matches.length < max; offset += 500) {
            const page = yield* dlq.list({ ...filter, status: "pending" }, { limit: 500, offset })
            for (const entry of page.entries) if (matches.length < max) matches.push(entry)
            if (page.entries.length < 500) break
          }
          const discarded: Array<string> = []
          const skipped: Array<{ readonly id: string; readonly status: DLQ.Status | "missing" }> = []
          for (const before of matches) {
            const done = yield* discardOne(dlq, before).pipe(
              Effect.map((after) => ({ _tag: "done", id: after.id }) as const),
              Effect.catchTags({
                InvalidStatus: (e) => Effect.succeed({ _tag: "skipped", id: e.id, status: e.status } as const),
                EntryNotFound: (e) => Effect.succeed({ _tag: "skipped", id: e.id, status: "missing" } as const)
              })
            )
            if (done._tag === "done") discarded.push(done.id)
            else skipped.push({ id: done.id, status: done.status })
          }
          return { discarded, skipped, operator: who }
        })
      )
      yield* output(
        opts.json,
        report,
        () =>
          `Discarded ${report.discarded.length} dead letter(s) (by ${who})${
            report.skipped.length === 0 ? "" : `; skipped ${report.skipped.length} changed meanwhile`
          }.`
      )
    })
).pipe(Command.withDescription("Discard one pending dead letter, or every pending match of the filters (audited)"))

const purge = Command.make(
  "purge",
  {
    db,
    url,
    json,
    operator,
    olderThan: Options.text("older-than").pipe(
      Options.withDescription('Age, e.g. "30 days", "12 hours"'),
      Options.withDefault("30 days")
    ),
    status: choicesFlag("status", DLQ.statuses).pipe(
      Options.withDescription("Statuses to purge (default: resolved and discarded)")
    )
  },
  (opts) =>
    Effect.gen(function* () {
      const who = yield* actorOf("purge", opts.operator)
      const age = yield* Option.match(Duration.decodeUnknown(opts.olderThan), {
        onNone: () =>
          Effect.fail(new CliError({ message: `--older-than "${opts.olderThan}" is not a duration (try "30 days").` })),
        onSome: Effect.succeed
      })
      const statuses = opts.status.length === 0 ? undefined : opts.status
      const removed = yield* withStore(
        opts,
        Effect.gen(function* () {
          const dlq = yield* DLQ.DeadLetterQueue
          const removed = yield* dlq.purge(age, { statuses })
          yield* record({
            actor: who,
            action: "dead-letter.purge",
            target: (statuses ?? ["resolved", "discarded"]).join(","),
            after: { purged: removed, olderThanMillis: Duration.toMillis(age) }
          })
          return removed
        })
      )
      yield* output(
        opts.json,
        { purged: removed, operator: who, olderThanMillis: Duration.toMillis(age) },
        () => `Purged ${removed} dead letter(s) older than ${Duration.format(age)} (by ${who}).`
      )
    })
).pipe(Command.withDescription("Delete resolved and discarded dead letters older than --older-than (audited)"))

const stats = Command.make("stats", { db, url, json }, (opts) =>
  withStore(
    opts,
    Effect.gen(function* () {
      const s = yield* Effect.flatMap(DLQ.DeadLetterQueue, (dlq) => dlq.stats)
      yield* output(opts.json, s, () => Format.stats(s))
    })
  )
).pipe(Command.withDescription("Counts by status, queue and category"))

/** The `dlq` command and its subcommands. */
export const command = Command.make("dlq").pipe(
  Command.withDescription("Inspect and operate the dead letter queue"),
  Command.withSubcommands([list, show, replay, discard, purge, stats])
)
