/**
 * Micro-measure of what checkpoints (and idempotency keys) cost per batch item: `Batch.run` of N
 * no-op items with every store in memory (the baseline, same process), then with the checkpoint on
 * a SQLite file (group commit, the default, and one write per item), then with the idempotency
 * store on SQLite too; at concurrency 1 and 8. Median of RUNS runs after one warm-up each.
 *
 * Run: node --import tsx test/crash/checkpoint-cost.ts [N=2000] [RUNS=5]
 * (`pnpm bench dlq` measures the checkpoint on SQLite and PostgreSQL at concurrency 1 as well.)
 */
import { Classifier } from "@effect-resilience/core"
import { Batch, Checkpoint, DeadLetterQueue, Idempotency } from "@effect-resilience/durable"
import { SqlCheckpoint, SqlIdempotency } from "@effect-resilience/sql"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { mkdtempSync, rmSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"

const N = Number(process.argv[2] ?? 2000)
const RUNS = Number(process.argv[3] ?? 5)
const median = (xs: Array<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}
const items = Array.from({ length: N }, (_, i) => i)
let n = 0
const once = (
  cp: "memory" | "sqlite",
  idem: "memory" | "sqlite",
  concurrency: number,
  checkpointBatchSize: number | undefined
) =>
  Effect.gen(function* () {
    const dir = mkdtempSync(join(tmpdir(), "measure-"))
    const client = SqliteClient.layer({ filename: join(dir, "m.db") })
    const cpLayer = cp === "memory" ? Checkpoint.layerStoreMemory : SqlCheckpoint.layerStore.pipe(Layer.provide(client))
    const idLayer =
      idem === "memory" ? Idempotency.layerStoreMemory : SqlIdempotency.layerStore.pipe(Layer.provide(client))
    const layer = Layer.mergeAll(
      cpLayer,
      idLayer,
      DeadLetterQueue.layer().pipe(Layer.provide(DeadLetterQueue.layerStoreMemory)),
      Classifier.layer
    )
    const ms = yield* Effect.scoped(
      Effect.gen(function* () {
        const ctx = yield* Layer.build(layer)
        const t0 = performance.now()
        yield* Batch.run({
          batchId: `m-${n++}`,
          items,
          key: String,
          process: (i) => Effect.succeed(i),
          itemSchema: Schema.Number,
          resultSchema: Schema.Number,
          concurrency,
          checkpointBatchSize
        }).pipe(Effect.provide(ctx))
        return performance.now() - t0
      })
    )
    rmSync(dir, { recursive: true, force: true })
    return ms
  })
const measure = (
  label: string,
  cp: "memory" | "sqlite",
  idem: "memory" | "sqlite",
  concurrency: number,
  size?: number
) =>
  Effect.gen(function* () {
    yield* once(cp, idem, concurrency, size)
    const xs: Array<number> = []
    for (let r = 0; r < RUNS; r++) xs.push(yield* once(cp, idem, concurrency, size))
    const m = median(xs)
    return { label, ms: m, usPerItem: (m * 1000) / N }
  })
const program = Effect.gen(function* () {
  const rows = []
  for (const c of [1, 8]) {
    const base = yield* measure(`c=${c} all memory (baseline)`, "memory", "memory", c)
    rows.push(base)
    rows.push(yield* measure(`c=${c} checkpoint sqlite, group commit`, "sqlite", "memory", c))
    rows.push(yield* measure(`c=${c} checkpoint sqlite, one write per item`, "sqlite", "memory", c, 1))
    rows.push(yield* measure(`c=${c} checkpoint+idempotency sqlite`, "sqlite", "sqlite", c))
  }
  console.log(`N=${N}, median of ${RUNS}, load ${(loadavg()[0] ?? 0).toFixed(1)}`)
  for (const r of rows)
    console.log(`${r.label.padEnd(48)} ${r.ms.toFixed(1).padStart(8)} ms ${r.usPerItem.toFixed(1).padStart(8)} us/item`)
})
Effect.runPromise(program)
