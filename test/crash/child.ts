/**
 * The crash test's child: runs one batch of deliveries to the upstream with every store in one
 * SQLite file (checkpoint, idempotency keys, dead letters), retrying transient failures with the
 * retry policy. The parent kills it with SIGKILL at random points and starts it again; each start
 * resumes the same batch.
 *
 * Usage: node --import tsx test/crash/child.ts <upstream-url> <sqlite-file> <batch-id> <items> <concurrency> <lease-ms>
 * Prints one JSON line with the batch's counts when it completes.
 */
// Module by module rather than the package indexes: the child starts several times, and loading
// only what it uses keeps each start short.
import * as Classification from "@effect-resilience/core/Classification"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as RetryPolicy from "@effect-resilience/core/RetryPolicy"
import * as Batch from "@effect-resilience/durable/Batch"
import * as DeadLetterQueue from "@effect-resilience/durable/DeadLetterQueue"
import * as SqlCheckpoint from "@effect-resilience/sql/SqlCheckpoint"
import * as SqlIdempotency from "@effect-resilience/sql/SqlIdempotency"
import * as SqlDeadLetterQueue from "@effect-resilience/sql/SqlDeadLetterQueue"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"

const [url = "", filename = "", batchId = "", count = "0", concurrency = "8", leaseMillis = "1500"] =
  process.argv.slice(2)

export const Item = Schema.Struct({ id: Schema.Number, payload: Schema.String })
export type Item = typeof Item.Type
const Receipt = Schema.Struct({ receipt: Schema.String })

/** The upstream answered with an error status (0: no answer). */
class UpstreamError extends Schema.TaggedError<UpstreamError>()("UpstreamError", { status: Schema.Number }) {
  override get message(): string {
    return this.status === 0 ? "The upstream did not answer" : `The upstream answered ${this.status}`
  }
}

const classifier = Classifier.layerFrom((failure) => {
  if (failure instanceof UpstreamError) {
    if (failure.status === 0) return Classification.make({ category: "network", code: "net", message: "No answer" })
    if (failure.status >= 500) {
      return Classification.make({ category: "unavailable", code: `http.${failure.status}`, message: "Unavailable" })
    }
    return Classification.make({ category: "client", code: `http.${failure.status}`, message: "Rejected" })
  }
  return Classification.unknown
})

const deliver = (item: Item, ctx: Batch.ItemContext) =>
  Effect.tryPromise({
    try: (signal) =>
      fetch(`${url}/deliver`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": ctx.idempotencyKey },
        body: JSON.stringify(item),
        signal
      }),
    catch: () => new UpstreamError({ status: 0 })
  }).pipe(
    Effect.flatMap((response) =>
      Effect.tryPromise({ try: () => response.json(), catch: () => new UpstreamError({ status: 0 }) }).pipe(
        Effect.flatMap((body) =>
          response.ok
            ? Schema.decodeUnknown(Receipt)(body).pipe(Effect.mapError(() => new UpstreamError({ status: 0 })))
            : Effect.fail(new UpstreamError({ status: response.status }))
        )
      )
    )
  )

const policy = RetryPolicy.make<UpstreamError>({
  operation: "deliver",
  maxAttempts: 3,
  schedule: Schedule.spaced("10 millis")
})

const Stores = Layer.mergeAll(
  SqlCheckpoint.layerStore,
  SqlIdempotency.layerStore,
  DeadLetterQueue.layer().pipe(Layer.provide(SqlDeadLetterQueue.layerStore))
).pipe(Layer.provide(SqliteClient.layer({ filename })))

const items = Array.from({ length: Number(count) }, (_, id): Item => ({ id, payload: `item-${id}` }))

const program = Effect.flatMap(policy, (policy) =>
  Batch.run({
    batchId,
    items,
    key: (item) => `item-${item.id}`,
    process: deliver,
    policy: RetryPolicy.retry(policy),
    itemSchema: Item,
    resultSchema: Receipt,
    concurrency: Number(concurrency),
    lease: `${Number(leaseMillis)} millis`
  })
).pipe(
  Effect.map((result) => ({
    status: result.status,
    succeeded: result.succeeded.length,
    replayed: result.succeeded.filter((s) => s.replayed).length,
    deadLettered: result.deadLettered.length,
    skipped: result.skipped.length,
    failed: result.failed.length
  })),
  Effect.provide(Layer.merge(Stores, classifier))
)

Effect.runPromise(program).then(
  (summary) => {
    process.stdout.write(`${JSON.stringify(summary)}\n`)
  },
  (error: unknown) => {
    process.stderr.write(`batch failed: ${String(error)}\n`)
    process.exitCode = 1
  }
)
