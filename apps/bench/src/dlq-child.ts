/**
 * One process of `pnpm bench dlq`: runs every selected case on every selected store and prints one
 * JSON line with each sample's wall and CPU time.
 *
 * The parent bundles this file with esbuild, every package left external, and runs it without the
 * `@effect-resilience/source` condition: our packages run their built `dist/`, as a user's would.
 *
 * Cases (each on every store, N items per sample unless said):
 * - `dlq.addAll`: dead letters added in calls of 1,000 (what Batch's dead letter writer does);
 * - `dlq.add x64`: single adds, 64 at once (group commit);
 * - `dlq.add x1`: single adds one after the other (N/10 items);
 * - `dlq.replay`: one replay of the N pending entries of a queue through a no-op handler;
 * - `checkpoint.record`: outcomes recorded in chunks of 256 (Batch's default);
 * - `idempotency.once`: `Idempotency.once` of a no-op, one key after the other (N/10 keys);
 * - `idempotency.acquireAll`: keys leased and released in calls of 256 (`acquireAll`, `releaseAll`);
 * - `batch.failing`: `Batch.run` of N/5 items that all fail validation, with the three stores on
 *   the store under test (each item: lease, release, dead letter, checkpoint).
 *
 * Method: every case is first run repeatedly for `--warmup-ms` of wall time, so the JIT, the
 * driver's statement cache and the database's pages are warm; then `--samples` samples are taken,
 * interleaved (sample 1 of every case and store, then sample 2, ...) so that a change in the
 * machine's load hits every case alike. Every sample runs on the same store, in a queue or batch
 * of its own.
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
import * as SqlIdempotency from "@effect-resilience/sql/SqlIdempotency"
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Exit from "effect/Exit"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"

const arg = (args: ReadonlyArray<string>, name: string): string | undefined => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : undefined
}

const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits

const classification = Classification.make({ category: "validation", code: "http.422", message: "Rejected" })
/** A failure of its own for each entry, as Batch makes them (a store may not reuse one's encoding). */
const failureAt = (atMillis: number) =>
  DLQ.failureOf(new Error("upstream said 422"), classification, [
    { attempt: 1, failure: { tag: "HttpError", message: "Rejected" }, classification, atMillis }
  ])

type Services = DLQ.DeadLetterQueue | Checkpoint.CheckpointStore | Idempotency.IdempotencyStore | Classifier.Classifier

/**
 * One case: `setup` prepares `items` items of work (untimed: the inputs built, the entries a replay
 * replays added) and returns the timed part, which resolves when the work is done.
 */
interface Case {
  readonly name: string
  /** Items per sample, as a share of `--items`. */
  readonly share: number
  readonly setup: (
    items: number,
    tag: string
  ) => Effect.Effect<Effect.Effect<void, unknown, Services>, unknown, Services>
}

const inputs = (items: number, queue: string) =>
  Array.from(
    { length: items },
    (_, i): DLQ.EntryInput => ({
      queue,
      payload: { id: `item-${i}`, amount: i, note: "x".repeat(64) },
      failure: failureAt(i),
      idempotencyKey: `${queue}/${i}`
    })
  )

const chunked = <A>(all: ReadonlyArray<A>, size: number): ReadonlyArray<ReadonlyArray<A>> =>
  Array.from({ length: Math.ceil(all.length / size) }, (_, i) => all.slice(i * size, (i + 1) * size))

const Item = Schema.Struct({ id: Schema.String, amount: Schema.Number })
class Rejected extends Schema.TaggedError<Rejected>()("Rejected", { status: Schema.Number }) {}

const cases: ReadonlyArray<Case> = [
  {
    name: "dlq.addAll",
    share: 1,
    setup: (items, tag) =>
      Effect.map(DLQ.DeadLetterQueue, (dlq) => {
        const calls = chunked(inputs(items, tag), 1000)
        return Effect.forEach(calls, (call) => dlq.addAll(call), { discard: true })
      })
  },
  {
    name: "dlq.add x64",
    share: 1,
    setup: (items, tag) =>
      Effect.map(DLQ.DeadLetterQueue, (dlq) => {
        const all = inputs(items, tag)
        return Effect.forEach(all, (input) => dlq.add(input), { concurrency: 64, discard: true })
      })
  },
  {
    name: "dlq.add x1",
    share: 0.1,
    setup: (items, tag) =>
      Effect.map(DLQ.DeadLetterQueue, (dlq) => {
        const all = inputs(items, tag)
        return Effect.forEach(all, (input) => dlq.add(input), { discard: true })
      })
  },
  {
    name: "dlq.replay",
    share: 1,
    // the entries are added in the untimed part
    setup: (items, tag) =>
      Effect.flatMap(DLQ.DeadLetterQueue, (dlq) =>
        Effect.as(
          dlq.addAll(inputs(items, tag)),
          Effect.flatMap(
            dlq.replay({ queue: tag }, () => Effect.void),
            (report) =>
              report.resolved.length === items
                ? Effect.void
                : Effect.dieMessage(`replay resolved ${report.resolved.length} of ${items}`)
          )
        )
      )
  },
  {
    name: "checkpoint.record",
    share: 1,
    setup: (items, tag) =>
      Effect.map(Checkpoint.CheckpointStore, (store) => {
        const entries = Array.from(
          { length: items },
          (_, n): Checkpoint.Entry => ({ key: `item-${n}`, outcome: "succeeded" })
        )
        return Effect.forEach(chunked(entries, 256), (chunk) => store.record(tag, chunk), { discard: true })
      })
  },
  {
    name: "idempotency.once",
    share: 0.1,
    setup: (items, tag) =>
      Effect.sync(() =>
        Effect.forEach(
          Array.from({ length: items }, (_, i) => `${tag}/${i}`),
          (key) => Idempotency.once(key, Effect.succeed(1), { schema: Schema.Number }),
          { discard: true }
        )
      )
  },
  {
    name: "idempotency.acquireAll",
    share: 1,
    // keys leased and released in calls of 256 (a batch's chunk), as one owner
    setup: (items, tag) =>
      Effect.map(Idempotency.IdempotencyStore, (store) => {
        const keys = Array.from({ length: items }, (_, i) => `${tag}/${i}`)
        return Effect.forEach(
          chunked(keys, 256),
          (call) =>
            Effect.flatMap(store.acquireAll(call, { owner: tag, leaseMillis: 30_000 }), (acquired) =>
              acquired.every((a) => a._tag === "Acquired")
                ? store.releaseAll(call, tag)
                : Effect.dieMessage("a new key was not acquired")
            ),
          { discard: true }
        )
      })
  },
  {
    name: "batch.failing",
    share: 0.2,
    setup: (items, tag) =>
      Effect.sync(() => {
        const all = Array.from({ length: items }, (_, n) => ({ id: `item-${n}`, amount: n }))
        return Effect.flatMap(
          Batch.run({
            batchId: tag,
            items: all,
            key: (item) => item.id,
            process: () => Effect.fail(new Rejected({ status: 422 })),
            itemSchema: Item,
            resultSchema: Schema.Number
          }),
          (result) =>
            result.deadLettered.length === items
              ? Effect.void
              : Effect.dieMessage(`dead-lettered ${result.deadLettered.length} of ${items}`)
        )
      })
  }
]

interface Store {
  readonly name: string
  /** The three stores on one database (one SQLite file, one PostgreSQL database). */
  readonly layer: Layer.Layer<Services, unknown>
}

const services = (client: Layer.Layer<SqlClient.SqlClient, unknown>): Layer.Layer<Services, unknown> =>
  Layer.mergeAll(
    DLQ.layer().pipe(Layer.provide(SqlDeadLetterQueue.layerStore)),
    SqlCheckpoint.layerStore,
    SqlIdempotency.layerStore,
    Classifier.layer
  ).pipe(Layer.provide(client))

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "bench-dlq-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const sqliteStore = (synchronous: SqlConnection.Synchronous): Store => ({
  name: synchronous === "normal" ? "sqlite" : "sqlite-full",
  layer: services(
    Layer.unwrapScoped(
      Effect.map(tempDir, (dir) =>
        SqlConnection.layerClient({ dialect: "sqlite", filename: join(dir, "stores.db"), synchronous })
      )
    )
  )
})

const admin = <A, E>(adminUrl: string, f: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>) =>
  Effect.flatMap(SqlClient.SqlClient, f).pipe(
    Effect.provide(SqlConnection.layerClient({ dialect: "pg", url: adminUrl, maxConnections: 1 }))
  )

/** A fresh PostgreSQL database for the run, dropped afterwards. */
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
  layer: services(
    Layer.unwrapScoped(
      Effect.map(pgDatabase(adminUrl), (db) => SqlConnection.layerClient({ dialect: "pg", url: db.url }))
    )
  )
})

const memoryStore: Store = {
  name: "memory",
  layer: Layer.mergeAll(
    DLQ.layer().pipe(Layer.provide(DLQ.layerStoreMemory)),
    Checkpoint.layerStoreMemory,
    Idempotency.layerStoreMemory,
    Classifier.layer
  )
}

interface Sample {
  readonly wallMs: number
  readonly cpuMs: number
}

const main = async (args: ReadonlyArray<string>): Promise<void> => {
  const items = Number(arg(args, "items") ?? 20_000)
  const samples = Number(arg(args, "samples") ?? 5)
  const warmupMs = Number(arg(args, "warmup-ms") ?? 1000)
  const only = arg(args, "only")?.split(",")
  const onlyStores = arg(args, "stores")?.split(",")
  const adminUrl = arg(args, "pg-url") ?? "postgres://postgres@127.0.0.1:5432/postgres"

  const selected = cases.filter((c) => only === undefined || only.includes(c.name))
  const stores = [memoryStore, sqliteStore("normal"), sqliteStore("full"), pgStore(adminUrl)].filter(
    (s) => onlyStores === undefined || onlyStores.includes(s.name)
  )

  let counter = 0
  const nextTag = (name: string) => `${name.replace(/\W/g, "_")}_${counter++}`

  // One scope per store, its services built once and used by every case and sample.
  const opened: Array<{ store: Store; context: Context.Context<Services> } | { store: Store; error: string }> = []
  const scope = Effect.runSync(Scope.make())
  for (const store of stores) {
    const built = await Effect.runPromiseExit(Layer.buildWithScope(store.layer, scope))
    opened.push(Exit.isSuccess(built) ? { store, context: built.value } : { store, error: String(built.cause) })
  }

  const sample = async (c: Case, context: Context.Context<Services>, size: number): Promise<Sample> => {
    const tag = nextTag(c.name)
    const timed = await Effect.runPromise(Effect.provide(c.setup(size, tag), context))
    const cpu = process.cpuUsage()
    const start = performance.now()
    await Effect.runPromise(Effect.provide(timed, context))
    const wallMs = performance.now() - start
    const used = process.cpuUsage(cpu)
    return { wallMs, cpuMs: (used.user + used.system) / 1000 }
  }

  const results = new Map<string, Array<Sample>>()
  const errors = new Map<string, string>()
  const id = (c: Case, store: Store) => `${c.name} ${store.name}`
  const sizeOf = (c: Case) => Math.max(1, Math.round(items * c.share))

  // Warm-up: each case on each store, repeated (at a tenth of its size) until `warmupMs` passed.
  for (const c of selected) {
    for (const o of opened) {
      if ("error" in o) continue
      const until = performance.now() + warmupMs
      try {
        do await sample(c, o.context, Math.max(1, Math.round(sizeOf(c) / 10)))
        while (performance.now() < until)
      } catch (error) {
        errors.set(id(c, o.store), String(error))
      }
    }
  }
  // the 1-minute load at the start of each sample: on a shared machine, read each figure with it
  const loadBySample: Array<number> = []
  for (let s = 1; s <= samples; s++) {
    loadBySample.push(round(loadavg()[0] ?? 0, 2))
    for (const c of selected) {
      for (const o of opened) {
        if ("error" in o || errors.has(id(c, o.store))) continue
        try {
          const r = await sample(c, o.context, sizeOf(c))
          results.set(id(c, o.store), [...(results.get(id(c, o.store)) ?? []), r])
        } catch (error) {
          errors.set(id(c, o.store), String(error))
        }
      }
    }
  }
  await Effect.runPromise(Scope.close(scope, Exit.void))

  const rows: Array<Record<string, unknown>> = []
  for (const c of selected) {
    for (const o of opened) {
      const key = id(c, o.store)
      const error = "error" in o ? o.error : errors.get(key)
      rows.push(
        error === undefined
          ? { case: c.name, store: o.store.name, items: sizeOf(c), samples: results.get(key) ?? [] }
          : { case: c.name, store: o.store.name, error }
      )
    }
  }
  process.stdout.write(`${JSON.stringify({ loadBySample, rows })}\n`)
}

await main(process.argv.slice(2))
