/**
 * `pnpm bench dlq [--items N] [--runs N] [--pg-url URL] [--out FILE]`: dead letter throughput and
 * checkpoint overhead.
 *
 * - insert: `DeadLetterQueue.add` of N entries one after the other (items per second);
 * - replay: one bulk `replay` of those N pending entries through a no-op handler (claims of 16,
 *   each entry resolved with its own compare-and-set update; items per second);
 * each on the in-memory store (the same-process baseline), a SQLite file (WAL, temp dir) and
 * PostgreSQL (a fresh database on 127.0.0.1:5432, dropped afterwards).
 * - checkpoint: the checkpoint store's cost per batch item: `record` of N outcomes in chunks of
 *   256 (Batch's default `checkpointBatchSize`) and one at a time, in microseconds per item; and,
 *   for context, `Batch.run` of N no-op items with each checkpoint store (idempotency and dead
 *   letters in memory), whose difference to memory is within the noise of Batch's own cost.
 *
 * Every figure is the median of `runs` runs after one warm-up round; the runs of the stores are
 * interleaved so that load changes on the machine hit them alike. Writes
 * `apps/bench/results/dlq.json` and prints a table.
 */
import * as Classification from "@effect-resilience/core/Classification"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as Batch from "@effect-resilience/durable/Batch"
import * as Checkpoint from "@effect-resilience/durable/Checkpoint"
import * as DLQ from "@effect-resilience/durable/DeadLetterQueue"
import * as Idempotency from "@effect-resilience/durable/Idempotency"
import * as SqlCheckpoint from "@effect-resilience/sql/SqlCheckpoint"
import * as SqlConnection from "@effect-resilience/sql/SqlConnection"
import * as SqlDeadLetterQueue from "@effect-resilience/sql/SqlDeadLetterQueue"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { median } from "./support.js"

const arg = (args: ReadonlyArray<string>, name: string): string | undefined => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : undefined
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits

const failure = DLQ.failureOf(
  new Error("upstream failed"),
  Classification.make({ category: "unavailable", code: "http.503", message: "Service unavailable" }),
  [
    {
      attempt: 1,
      failure: { tag: "HttpError", message: "Service unavailable" },
      classification: Classification.make({
        category: "unavailable",
        code: "http.503",
        message: "Service unavailable"
      }),
      atMillis: 0
    }
  ]
)

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const start = performance.now()
    yield* effect
    return performance.now() - start
  })

/** One run on a fresh store: insert N, then replay them all. Milliseconds of each phase. */
const dlqRun = (items: number) =>
  Effect.gen(function* () {
    const dlq = yield* DLQ.DeadLetterQueue
    const insertMs = yield* timed(
      Effect.forEach(
        Array.from({ length: items }, (_, i) => i),
        (i) =>
          dlq.add({
            queue: "bench",
            payload: { id: `item-${i}`, amount: i, note: "x".repeat(64) },
            failure,
            idempotencyKey: `k-${i}`
          }),
        { discard: true }
      )
    )
    let handled = 0
    const replayMs = yield* timed(
      dlq.replay({ queue: "bench" }, () =>
        Effect.sync(() => {
          handled++
        })
      )
    )
    if (handled !== items) return yield* Effect.dieMessage(`replay handled ${handled} of ${items}`)
    return { insertMs, replayMs }
  })

interface Store {
  readonly name: string
  /** A fresh, empty dead letter queue for one run. */
  readonly dlq: Layer.Layer<DLQ.DeadLetterQueueStore, unknown>
  /** A fresh, empty checkpoint store for one run. */
  readonly checkpoint: Layer.Layer<Checkpoint.CheckpointStore, unknown>
}

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "bench-dlq-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const sqliteStore: Store = {
  name: "sqlite",
  dlq: Layer.unwrapScoped(
    Effect.map(tempDir, (dir) =>
      SqlDeadLetterQueue.layerStoreConfig({ dialect: "sqlite", filename: join(dir, "dlq.db") })
    )
  ),
  checkpoint: Layer.unwrapScoped(
    Effect.map(tempDir, (dir) => SqlCheckpoint.layerStoreConfig({ dialect: "sqlite", filename: join(dir, "cp.db") }))
  )
}

const admin = <A, E>(adminUrl: string, f: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>) =>
  Effect.flatMap(SqlClient.SqlClient, f).pipe(
    Effect.provide(SqlConnection.layerClient({ dialect: "pg", url: adminUrl, maxConnections: 1 }))
  )

/** A fresh PostgreSQL database for one run, dropped afterwards. */
const pgDatabase = (adminUrl: string) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const name = `bench_dlq_${randomBytes(5).toString("hex")}`
      yield* admin(adminUrl, (sql) => sql.unsafe(`CREATE DATABASE ${name}`))
      const url = new URL(adminUrl)
      url.pathname = `/${name}`
      return { name, url: url.toString() }
    }),
    ({ name }) =>
      admin(adminUrl, (sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).pipe(Effect.ignore)
  )

const pgStore = (adminUrl: string): Store => ({
  name: "postgres",
  dlq: Layer.unwrapScoped(
    Effect.map(pgDatabase(adminUrl), (db) => SqlDeadLetterQueue.layerStoreConfig({ dialect: "pg", url: db.url }))
  ),
  checkpoint: Layer.unwrapScoped(
    Effect.map(pgDatabase(adminUrl), (db) => SqlCheckpoint.layerStoreConfig({ dialect: "pg", url: db.url }))
  )
})

const memoryStore: Store = {
  name: "memory",
  dlq: DLQ.layerStoreMemory,
  checkpoint: Checkpoint.layerStoreMemory
}

const Item = Schema.Struct({ id: Schema.String, n: Schema.Number })

/** Batch.run of N no-op items with the given checkpoint store; milliseconds. */
const batchRun = (items: number, checkpoint: Store["checkpoint"]) =>
  Effect.scoped(
    Effect.gen(function* () {
      const data = Array.from({ length: items }, (_, n) => ({ id: `item-${n}`, n }))
      return yield* timed(
        Batch.run({
          batchId: `bench-${randomBytes(4).toString("hex")}`,
          items: data,
          key: (item) => item.id,
          process: (item) => Effect.succeed(item.n),
          itemSchema: Item,
          resultSchema: Schema.Number
        })
      )
    }).pipe(
      Effect.provide(
        Layer.mergeAll(
          checkpoint,
          Idempotency.layerStoreMemory,
          DLQ.layer().pipe(Layer.provide(DLQ.layerStoreMemory)),
          Classifier.layer
        )
      )
    )
  )

/**
 * The checkpoint store's own cost per item: recording N item outcomes one at a time (what a batch
 * pays with `checkpointBatchSize: 1`) and in chunks of 256 (Batch's default). Microseconds per item.
 */
const checkpointRecord = (items: number, checkpoint: Store["checkpoint"]) =>
  Effect.scoped(
    Effect.gen(function* () {
      const store = yield* Checkpoint.CheckpointStore
      const entries = Array.from(
        { length: items },
        (_, n): Checkpoint.Entry => ({ key: `item-${n}`, outcome: "succeeded" })
      )
      const eachMs = yield* timed(Effect.forEach(entries, (e) => store.record("each", [e]), { discard: true }))
      const chunks = Array.from({ length: Math.ceil(items / 256) }, (_, i) => entries.slice(i * 256, (i + 1) * 256))
      const chunkedMs = yield* timed(Effect.forEach(chunks, (c) => store.record("chunked", c), { discard: true }))
      return { eachMicros: (eachMs * 1000) / items, chunkedMicros: (chunkedMs * 1000) / items }
    }).pipe(Effect.provide(checkpoint))
  )

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const items = Number(arg(args, "items") ?? 2000)
  const runs = Number(arg(args, "runs") ?? 5)
  const adminUrl = arg(args, "pg-url") ?? "postgres://postgres@127.0.0.1:5432/postgres"
  const out = arg(args, "out") ?? join(dirname(fileURLToPath(import.meta.url)), "..", "results", "dlq.json")

  const stores = [memoryStore, sqliteStore, pgStore(adminUrl)]
  const throughput: Array<Record<string, unknown>> = []
  const checkpoint: Array<Record<string, unknown>> = []

  // Runs are interleaved (one run of each store in turn) so that a change in the machine's load
  // during the benchmark affects every store alike; one warm-up round is not counted.
  const program = Effect.gen(function* () {
    const dlqRuns = new Map<string, Array<{ insertMs: number; replayMs: number }>>()
    const dlqErrors = new Map<string, string>()
    const batchRuns = new Map<string, Array<number>>()
    const batchErrors = new Map<string, string>()
    const recordRuns = new Map<string, Array<{ eachMicros: number; chunkedMicros: number }>>()
    for (let pass = 0; pass <= runs; pass++) {
      process.stderr.write(`pass ${pass}/${runs}${pass === 0 ? " (warm-up)" : ""}\n`)
      for (const store of stores) {
        if (dlqErrors.has(store.name)) continue
        const r = yield* Effect.either(
          Effect.scoped(
            Effect.provide(dlqRun(items), DLQ.layer().pipe(Layer.provide(store.dlq), Layer.merge(Classifier.layer)))
          )
        )
        if (r._tag === "Left") dlqErrors.set(store.name, String(r.left))
        else if (pass > 0) dlqRuns.set(store.name, [...(dlqRuns.get(store.name) ?? []), r.right])
      }
      for (const store of stores) {
        if (batchErrors.has(store.name)) continue
        const r = yield* Effect.either(batchRun(items, store.checkpoint))
        if (r._tag === "Left") batchErrors.set(store.name, String(r.left))
        else if (pass > 0) batchRuns.set(store.name, [...(batchRuns.get(store.name) ?? []), r.right])
        const c = yield* Effect.either(checkpointRecord(items, store.checkpoint))
        if (c._tag === "Left") batchErrors.set(store.name, String(c.left))
        else if (pass > 0) recordRuns.set(store.name, [...(recordRuns.get(store.name) ?? []), c.right])
      }
    }
    for (const store of stores) {
      const batchError = batchErrors.get(store.name)
      const bs = batchRuns.get(store.name) ?? []
      checkpoint.push(
        batchError !== undefined || bs.length === 0
          ? { store: store.name, error: batchError ?? "no run" }
          : {
              store: store.name,
              batchMsMedian: round(median(bs)),
              recordOneAtATimeMicrosPerItem: round(
                median((recordRuns.get(store.name) ?? []).map((r) => r.eachMicros)),
                2
              ),
              recordChunksOf256MicrosPerItem: round(
                median((recordRuns.get(store.name) ?? []).map((r) => r.chunkedMicros)),
                2
              )
            }
      )
      const error = dlqErrors.get(store.name)
      const rs = dlqRuns.get(store.name) ?? []
      if (error !== undefined || rs.length === 0) {
        throughput.push({ store: store.name, error: error ?? "no run" })
        continue
      }
      const insertMs = median(rs.map((r) => r.insertMs))
      const replayMs = median(rs.map((r) => r.replayMs))
      throughput.push({
        store: store.name,
        insertPerSec: round((items / insertMs) * 1000, 0),
        replayPerSec: round((items / replayMs) * 1000, 0),
        insertMsMedian: round(insertMs),
        replayMsMedian: round(replayMs)
      })
    }
  })
  await Effect.runPromise(program)

  const base = throughput.find((t) => t.store === "memory")
  const baseCp = checkpoint.find((c) => c.store === "memory")
  for (const t of throughput) {
    if (base && typeof base.insertPerSec === "number" && typeof t.insertPerSec === "number") {
      t.insertVsMemory = round(t.insertPerSec / base.insertPerSec, 3)
    }
    if (base && typeof base.replayPerSec === "number" && typeof t.replayPerSec === "number") {
      t.replayVsMemory = round(t.replayPerSec / base.replayPerSec, 3)
    }
  }
  for (const c of checkpoint) {
    if (baseCp && typeof baseCp.batchMsMedian === "number" && typeof c.batchMsMedian === "number") {
      c.batchOverheadVsMemoryMicrosPerItem = round(((c.batchMsMedian - baseCp.batchMsMedian) * 1000) / items, 2)
      c.batchItemsPerSec = round((items / c.batchMsMedian) * 1000, 0)
    }
  }

  const result = {
    bench: "dlq",
    date: new Date().toISOString(),
    machine: { node: process.version, cpus: cpus().length, loadavg1m: round(loadavg()[0] ?? 0, 2) },
    items,
    runs,
    throughput,
    checkpoint
  }
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`)

  const rows = throughput.map((t) =>
    "error" in t
      ? `${String(t.store).padEnd(10)} error: ${t.error}`
      : `${String(t.store).padEnd(10)} insert ${String(t.insertPerSec).padStart(8)}/s (x${t.insertVsMemory} of memory)   replay ${String(t.replayPerSec).padStart(8)}/s (x${t.replayVsMemory} of memory)`
  )
  const cpRows = checkpoint.map((c) =>
    "error" in c
      ? `${String(c.store).padEnd(10)} error: ${c.error}`
      : `${String(c.store).padEnd(10)} record: ${c.recordChunksOf256MicrosPerItem} us/item in chunks of 256 (Batch default), ${c.recordOneAtATimeMicrosPerItem} us/item one at a time; Batch.run of ${items} no-op items ${c.batchMsMedian} ms (${c.batchOverheadVsMemoryMicrosPerItem} us/item vs memory)`
  )
  process.stdout.write(
    `dead letters: ${items} items, median of ${runs} runs (load ${result.machine.loadavg1m} on ${result.machine.cpus} cpus)\n${rows.join("\n")}\n\ncheckpoints (Batch.run, no-op items):\n${cpRows.join("\n")}\n\nwrote ${out}\n`
  )
}
