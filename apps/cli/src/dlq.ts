/**
 * `dlq` commands: list, show, replay, discard, purge and stats against a SQLite file (`--db FILE`)
 * or PostgreSQL (`--url URL`). `--json` prints one line of JSON (the last line of the output).
 *
 * Commands that change state (replay, discard, purge) need `--operator NAME`; the name is recorded
 * in the entries' notes. `replay` re-sends each payload to `--target URL` as a JSON POST with the
 * entry's idempotency key in the `Idempotency-Key` header.
 */
import * as Classifier from "@effect-resilience/core/Classifier"
import * as DLQ from "@effect-resilience/durable/DeadLetterQueue"
import { categories } from "@effect-resilience/core/Classification"
import type * as SqlConnection from "@effect-resilience/sql/SqlConnection"
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

const integerFlag = (name: string, min: number) =>
  Options.text(name).pipe(
    Options.withPseudoName("integer"),
    Options.mapEffect((raw) => parsed(name, raw, wholeNumber(min), `a whole number >= ${min}`))
  )

const dateFlag = (name: string) =>
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

const db = Options.text("db").pipe(
  Options.withDescription("SQLite file holding the dead letters (created if missing)"),
  Options.optional
)
const url = Options.text("url").pipe(
  Options.withDescription("PostgreSQL URL, e.g. postgres://user@host:5432/db"),
  Options.optional
)
const json = Options.boolean("json").pipe(Options.withDescription("Print JSON on the last line"))
const operator = Options.text("operator").pipe(
  Options.withDescription("Who is doing this (recorded in the entry's notes)"),
  Options.optional
)
const queue = Options.text("queue").pipe(Options.withDescription("Only this queue"), Options.optional)
const category = choicesFlag("category", categories).pipe(Options.withDescription("Only this failure category"))
const status = choicesFlag("status", DLQ.statuses).pipe(Options.withDescription("Only this status"))
const since = dateFlag("since").pipe(Options.withDescription("Created at or after (ISO date)"), Options.optional)
const until = dateFlag("until").pipe(Options.withDescription("Created before (ISO date)"), Options.optional)

const queueOn = (config: SqlConnection.ConfigInput) =>
  DLQ.layer().pipe(Layer.provide(SqlDeadLetterQueue.layerStoreConfig(config)))

const store = (opts: {
  readonly db: Option.Option<string>
  readonly url: Option.Option<string>
}): Effect.Effect<Layer.Layer<DLQ.DeadLetterQueue, DLQ.DeadLetterStoreError | ParseResult.ParseError>, CliError> => {
  if (Option.isSome(opts.db) && Option.isSome(opts.url)) {
    return Effect.fail(new CliError({ message: "Give either --db FILE or --url URL, not both." }))
  }
  if (Option.isSome(opts.db)) return Effect.succeed(queueOn({ dialect: "sqlite", filename: opts.db.value }))
  if (Option.isSome(opts.url)) return Effect.succeed(queueOn({ dialect: "pg", url: opts.url.value }))
  return Effect.fail(
    new CliError({ message: "Which dead letter store? Give --db FILE (SQLite) or --url URL (PostgreSQL)." })
  )
}

const requireOperator = (action: string, value: Option.Option<string>) =>
  Option.match(
    Option.filter(value, (s) => s.trim().length > 0),
    {
      onNone: () =>
        Effect.fail(
          new CliError({
            message: `Refusing to ${action}: changing dead letters needs an operator's authority. Pass --operator NAME (it is recorded in the entry's notes).`
          })
        ),
      onSome: (name) => Effect.succeed(name.trim())
    }
  )

const filterOf = (opts: {
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
const withStore = <A, E, R>(
  opts: { readonly db: Option.Option<string>; readonly url: Option.Option<string> },
  effect: Effect.Effect<A, E, R>
) => Effect.flatMap(store(opts), (layer) => Effect.provide(effect, layer))

const output = (asJson: boolean, value: unknown, text: () => string) =>
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
      const who = yield* requireOperator("replay", opts.operator)
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
        Effect.flatMap(DLQ.DeadLetterQueue, (dlq) =>
          dlq.replay(selector, httpHandler(target, Duration.millis(opts.timeout)), {
            operator: who,
            limit: Option.getOrUndefined(opts.limit)
          })
        )
      ).pipe(Effect.provide(FetchHttpClient.layer), Effect.provide(Classifier.layer))
      yield* output(opts.json, report, () => Format.replay(report))
    })
).pipe(Command.withDescription("Replay dead letters by POSTing their payloads to --target (needs --operator)"))

const discard = Command.make(
  "discard",
  { db, url, json, operator, id: Args.text({ name: "id" }), note: Options.text("note").pipe(Options.optional) },
  (opts) =>
    Effect.gen(function* () {
      const who = yield* requireOperator("discard", opts.operator)
      const entry = yield* withStore(
        opts,
        Effect.flatMap(DLQ.DeadLetterQueue, (dlq) => dlq.discard(opts.id, who, Option.getOrUndefined(opts.note)))
      )
      yield* output(opts.json, entry, () => `Discarded ${entry.id} (by ${who}).`)
    })
).pipe(Command.withDescription("Discard a pending dead letter (needs --operator)"))

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
      const who = yield* requireOperator("purge", opts.operator)
      const age = yield* Option.match(Duration.decodeUnknown(opts.olderThan), {
        onNone: () =>
          Effect.fail(new CliError({ message: `--older-than "${opts.olderThan}" is not a duration (try "30 days").` })),
        onSome: Effect.succeed
      })
      const statuses = opts.status.length === 0 ? undefined : opts.status
      const removed = yield* withStore(
        opts,
        Effect.flatMap(DLQ.DeadLetterQueue, (dlq) => dlq.purge(age, { statuses }))
      )
      yield* Console.error(`audit: purge by ${who}: ${removed} entries older than ${Duration.format(age)}`)
      yield* output(
        opts.json,
        { purged: removed, operator: who, olderThanMillis: Duration.toMillis(age) },
        () => `Purged ${removed} dead letter(s) older than ${Duration.format(age)} (by ${who}).`
      )
    })
).pipe(Command.withDescription("Delete resolved and discarded dead letters older than --older-than (needs --operator)"))

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
