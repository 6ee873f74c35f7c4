import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Classification from "@effect-resilience/core/Classification"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as DLQ from "@effect-resilience/durable/DeadLetterQueue"
import * as StoreSuites from "@effect-resilience/durable/StoreSuites"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Ref from "effect/Ref"
import type * as SqlConnection from "../src/SqlConnection.js"
import * as SqlDeadLetterQueue from "../src/SqlDeadLetterQueue.js"
import * as PgTest from "./support/postgres.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "dlq-test-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const sqliteStore = Layer.unwrapScoped(
  Effect.map(tempDir, (dir) =>
    SqlDeadLetterQueue.layerStoreConfig({ dialect: "sqlite", filename: join(dir, "dlq.db") })
  )
)

const pgStore = Layer.unwrapScoped(
  Effect.map(PgTest.makeDatabase, (db) =>
    SqlDeadLetterQueue.layerStoreConfig({ dialect: "pg", url: db.url, maxConnections: 3 })
  )
)

StoreSuites.deadLetterQueueStore("SQLite", sqliteStore)
StoreSuites.deadLetterQueueStore("PostgreSQL", pgStore)

/** A dead letter queue (and the default classifier its replays use) on the database `config` names. */
const dlqOn = (config: SqlConnection.ConfigInput) =>
  DLQ.layer().pipe(Layer.provide(SqlDeadLetterQueue.layerStoreConfig(config)), Layer.merge(Classifier.layer))

const sqlite = (filename: string) => dlqOn({ dialect: "sqlite", filename })

/** The store error an effect fails with (a config error here would be a bug in the test). */
const storeError = <A, R>(effect: Effect.Effect<A, DLQ.DeadLetterStoreError | ParseResult.ParseError, R>) =>
  Effect.flatMap(Effect.flip(effect), (error) =>
    error._tag === "DeadLetterStoreError" ? Effect.succeed(error) : Effect.die(error)
  )

const failure = DLQ.failureOf(
  new Error("boom"),
  Classification.make({ category: "network", code: "test", message: "Network failure" }),
  []
)

const stats = Effect.flatMap(DLQ.DeadLetterQueue, (dlq) => dlq.stats)

/** A user-facing message: one or two lines, no stack frame. */
const expectClean = (message: string) => {
  expect(message).not.toMatch(/\n\s+at /)
  expect(message.length).toBeLessThan(300)
}

describe("SqlDeadLetterQueue on SQLite files", () => {
  it.scoped("a text file gives a clear 'not a SQLite database' error", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const filename = join(dir, "notes.txt")
      writeFileSync(filename, "these are my shopping notes, not a database\n".repeat(20))
      const error = yield* storeError(Effect.provide(stats, sqlite(filename)))
      expect(error._tag).toBe("DeadLetterStoreError")
      expect(error.reason).toBe("foreign")
      expect(error.message).toBe(`"${filename}" is not a SQLite database (is it the right file?)`)
    })
  )

  it.scoped("a SQLite database with a conflicting table is refused as foreign", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const filename = join(dir, "other.db")
      yield* Effect.gen(function* () {
        const sql = yield* SqliteClient.SqliteClient
        yield* sql`CREATE TABLE resilience_dead_letters (name TEXT, colour TEXT)`
        yield* sql`INSERT INTO resilience_dead_letters VALUES ('a', 'red')`
      }).pipe(Effect.provide(SqliteClient.layer({ filename })), Effect.orDie)
      const error = yield* storeError(Effect.provide(stats, sqlite(filename)))
      expect(error.reason).toBe("foreign")
      expect(error.message).toContain("not made by effect-resilience")
      expectClean(error.message)
    })
  )

  it.scoped("a file with a SQLite header and garbage after it gives a clear error", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const filename = join(dir, "broken.db")
      const garbage = Buffer.alloc(8192, 0xab)
      Buffer.from("SQLite format 3\u0000", "latin1").copy(garbage)
      writeFileSync(filename, garbage)
      const error = yield* storeError(Effect.provide(stats, sqlite(filename)))
      expect(error._tag).toBe("DeadLetterStoreError")
      expect(["corrupt", "foreign", "unavailable"]).toContain(error.reason)
      expectClean(error.message)
    })
  )

  it.scoped("a directory that does not exist gives a clear error", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const filename = join(dir, "missing", "dlq.db")
      const error = yield* storeError(Effect.provide(stats, sqlite(filename)))
      expect(error.reason).toBe("unavailable")
      expect(error.message).toContain("Cannot open the SQLite database")
      expectClean(error.message)
    })
  )

  it.scoped("entries survive closing and reopening the file", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const filename = join(dir, "dlq.db")
      const layer = sqlite(filename)
      const added = yield* Effect.provide(
        Effect.flatMap(DLQ.DeadLetterQueue, (dlq) => dlq.add({ queue: "q", payload: { n: 1 }, failure })),
        layer
      )
      const read = yield* Effect.provide(
        Effect.flatMap(DLQ.DeadLetterQueue, (dlq) => dlq.get(added.id)),
        layer
      )
      expect(read).toEqual(Option.some(added))
    })
  )
})

describe("SqlDeadLetterQueue on PostgreSQL", () => {
  it.live("an unreachable server says so, without the URL or its password", () =>
    Effect.gen(function* () {
      const error = yield* storeError(
        Effect.provide(
          stats,
          dlqOn({ dialect: "pg", url: "postgres://admin:s3cret-pw@127.0.0.1:1/app", connectTimeout: 2000 })
        )
      )
      expect(error.reason).toBe("unavailable")
      expect(error.message).toContain("Cannot reach PostgreSQL")
      expect(error.message).not.toContain("s3cret-pw")
      expect(error.message).not.toContain("127.0.0.1")
      expectClean(error.message)
    })
  )

  it.live("several processes starting at once on an empty database all migrate it", () =>
    Effect.gen(function* () {
      const db = yield* PgTest.makeDatabase
      const results = yield* Effect.all(
        Array.from({ length: 4 }, () =>
          Effect.provide(stats, dlqOn({ dialect: "pg", url: db.url, maxConnections: 2 })).pipe(Effect.either)
        ),
        { concurrency: "unbounded" }
      )
      expect(results.map((r) => (r._tag === "Left" ? r.left.message : "ok"))).toEqual(["ok", "ok", "ok", "ok"])
    }).pipe(Effect.scoped)
  )

  it.live(
    "two processes' pools replaying concurrently handle every entry exactly once",
    () =>
      Effect.gen(function* () {
        const db = yield* PgTest.makeDatabase
        const one = dlqOn({ dialect: "pg", url: db.url, maxConnections: 4 })
        const two = dlqOn({ dialect: "pg", url: db.url, maxConnections: 4 })
        const count = 300
        yield* Effect.provide(
          Effect.flatMap(DLQ.DeadLetterQueue, (dlq) =>
            Effect.forEach(Array.from({ length: count }), (_, i) => dlq.add({ queue: "q", payload: { i }, failure }), {
              concurrency: 4
            })
          ),
          one
        )
        const seen = yield* Ref.make<ReadonlyArray<string>>([])
        const handler: DLQ.Handler<never, never> = (entry) =>
          Effect.zipRight(
            Effect.sleep("1 millis"),
            Ref.update(seen, (s) => [...s, entry.id])
          )
        const replayOn = (layer: typeof one) =>
          Effect.provide(
            Effect.flatMap(DLQ.DeadLetterQueue, (dlq) =>
              Effect.all(
                Array.from({ length: 3 }, () => dlq.replay({ queue: "q" }, handler, { chunk: 5 })),
                { concurrency: 3 }
              )
            ),
            layer
          )
        const [reportsOne, reportsTwo] = yield* Effect.all([replayOn(one), replayOn(two)], { concurrency: 2 })
        const ids = yield* Ref.get(seen)
        expect(ids.length).toBe(count)
        expect(new Set(ids).size).toBe(count)
        const resolvedBy = (reports: ReadonlyArray<DLQ.ReplayReport>) =>
          reports.reduce((n, r) => n + r.resolved.length, 0)
        expect(resolvedBy(reportsOne) + resolvedBy(reportsTwo)).toBe(count)
        expect(resolvedBy(reportsOne)).toBeGreaterThan(0)
        expect(resolvedBy(reportsTwo)).toBeGreaterThan(0)
        const final = yield* Effect.provide(stats, one)
        expect(final.byStatus).toEqual({ pending: 0, replaying: 0, resolved: count, discarded: 0 })
      }).pipe(Effect.scoped),
    60_000
  )
})

describe("SqlDeadLetterQueue text round trip", () => {
  // PostgreSQL inserts send each JSON column as one text, the rows joined by U+001E: texts full of
  // quotes, backslashes, control characters (U+001E among them), non-BMP characters and a
  // classification with a retry-after must come back exactly as they went in, on both databases.
  const awkward = ['say "hi"', "back\\slash", "rec\u001esep", "nul\u0000byte", "tab\tnew\nline", "ok 🚀 é", ""]
  const classification = Classification.make({
    category: "throttled",
    code: 'http.429 "slow"',
    message: "Too many\u001e requests",
    retryAfter: 1500
  })
  const inputs = awkward.map(
    (text, i): DLQ.EntryInput => ({
      queue: "awkward",
      payload: { text, nested: [text, { text }], i },
      failure: DLQ.failureOf({ _tag: `Tag${text}`, message: text }, classification, [
        { attempt: 1, failure: { tag: text, message: text }, classification, atMillis: i, delayMillis: 2.5 }
      ]),
      // PostgreSQL's text holds no NUL: the key (a column of its own) gets a position, not the text
      idempotencyKey: `key/${i}/${text.replace("\u0000", "")}`,
      note: text
    })
  )
  const roundTrip = Effect.gen(function* () {
    const dlq = yield* DLQ.DeadLetterQueue
    // a bulk write, then single adds sharing a group commit
    const bulk = yield* dlq.addAll(inputs)
    const single = yield* Effect.forEach(inputs, (input) => dlq.add(input), { concurrency: "unbounded" })
    for (const entry of [...bulk, ...single]) {
      const read = yield* dlq.get(entry.id)
      expect(Option.getOrUndefined(read)).toEqual(entry)
    }
  })

  it.scoped("SQLite", () => Effect.flatMap(tempDir, (dir) => Effect.provide(roundTrip, sqlite(join(dir, "dlq.db")))))

  it.scoped("PostgreSQL", () =>
    Effect.flatMap(PgTest.makeDatabase, (db) =>
      Effect.provide(roundTrip, dlqOn({ dialect: "pg", url: db.url, maxConnections: 2 }))
    )
  )
})
