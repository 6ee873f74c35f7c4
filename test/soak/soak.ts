/**
 * Soak: N records (default 100,000) through the batch runner on SQLite stores, sent over HTTP
 * through the resilient client to the demo's upstream with faults on (502/503, 429, connection
 * resets; no slow answers, which only add waiting). Samples the heap (after a GC) and the open file
 * descriptors every 2 s, and prints their slopes; then checks every record against the upstream's
 * file and the dead letters: delivered once or dead-lettered, none lost.
 *
 *   pnpm bench soak [records] [transient-rate]
 *   node --expose-gc --conditions=@effect-resilience/source --import tsx test/soak/soak.ts [records] [transient-rate]
 */
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as CircuitBreaker from "@effect-resilience/core/CircuitBreaker"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as Batch from "@effect-resilience/durable/Batch"
import * as DeadLetterQueue from "@effect-resilience/durable/DeadLetterQueue"
import * as Dataset from "@effect-resilience/demo/Dataset"
import * as Upstream from "@effect-resilience/demo/Upstream"
import { ResilientHttpClient } from "@effect-resilience/platform"
import { SqlCheckpoint, SqlDeadLetterQueue, SqlIdempotency } from "@effect-resilience/sql"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const records = Number(process.argv[2] ?? 100_000)
const transientRate = Number(process.argv[3] ?? 0.1)
const concurrency = 64
const dir = mkdtempSync(join(tmpdir(), "soak-"))
const batchFile = join(dir, "batch.db")
const dlqFile = join(dir, "dlq.db")

const fds = (): number => readdirSync("/proc/self/fd").length
/** Open descriptors by kind: sockets, SQLite files (and their WAL/SHM), pipes, the rest. */
const fdKinds = (): Record<string, number> => {
  const kinds: Record<string, number> = {}
  for (const fd of readdirSync("/proc/self/fd")) {
    let target = ""
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`)
    } catch {
      continue
    }
    const kind = target.startsWith("socket:")
      ? "socket"
      : target.startsWith("pipe:")
        ? "pipe"
        : target.startsWith("anon_inode:")
          ? "anon"
          : target.includes(".db")
            ? "db"
            : "other"
    kinds[kind] = (kinds[kind] ?? 0) + 1
  }
  return kinds
}
const formatKinds = (kinds: Record<string, number>): string =>
  Object.entries(kinds)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ")
const heapMb = (): number => {
  globalThis.gc?.()
  return process.memoryUsage().heapUsed / 1024 / 1024
}
/** Least-squares slope of y over x. */
const slope = (points: ReadonlyArray<readonly [number, number]>): number => {
  const n = points.length
  if (n < 2) return 0
  const mx = points.reduce((s, [x]) => s + x, 0) / n
  const my = points.reduce((s, [, y]) => s + y, 0) / n
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0)
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0)
  return den === 0 ? 0 : num / den
}

const program = Effect.gen(function* () {
  const upstream = yield* Upstream.start({
    seed: 1,
    mix: { transientRate, weights: { "5xx": 5, "429": 2, slow: 0, reset: 2 } },
    slow: "1 second",
    outageAfter: undefined,
    outage: 0,
    healthy: false,
    db: join(dir, "upstream.db")
  })
  const client = yield* ResilientHttpClient.make(yield* HttpClient.HttpClient, {
    policy: {
      attemptTimeout: "2 seconds",
      deadline: "30 seconds",
      retry: { maxAttempts: 20, initialDelay: "10 millis", maxDelay: "500 millis", retryAfterExtra: "0 millis" },
      breaker: { policy: { _tag: "CountWindow", size: 100, minimumCalls: 50, failureRateThreshold: 0.9 } }
    }
  })
  const list = Dataset.generate({ records, seed: 3, malformedRate: 0.001 })
  const samples: Array<readonly [number, number, number, number]> = []
  let maxSockets = 0
  let done = 0
  const t0 = Date.now()
  const sample = () => {
    samples.push([(Date.now() - t0) / 1000, heapMb(), fds(), done])
    const [t, h, f] = samples[samples.length - 1] ?? [0, 0, 0]
    const kinds = fdKinds()
    maxSockets = Math.max(maxSockets, kinds.socket ?? 0)
    process.stderr.write(
      `${t.toFixed(0)} s: ${done}/${records} done, heap ${h.toFixed(1)} MB, ${f} fds (${formatKinds(kinds)})\n`
    )
  }
  sample()
  const timer = setInterval(sample, 2_000)
  const result = yield* Batch.run({
    batchId: "soak",
    items: list,
    key: (r) => r.id,
    process: (record, ctx) =>
      client
        .execute(
          HttpClientRequest.post(`${upstream.url}/records`).pipe(
            HttpClientRequest.setHeader("idempotency-key", ctx.idempotencyKey),
            HttpClientRequest.bodyUnsafeJson(record)
          )
        )
        .pipe(
          Effect.flatMap(HttpClientResponse.schemaBodyJson(Dataset.Receipt)),
          Effect.ensuring(Effect.sync(() => done++))
        ),
    itemSchema: Dataset.Record,
    resultSchema: Dataset.Receipt,
    concurrency
  }).pipe(Effect.ensuring(Effect.sync(() => clearInterval(timer))))
  sample()
  const ledger = upstream.ledger()
  const letters = (yield* (yield* DeadLetterQueue.DeadLetterQueue).list({ queue: "soak" }, { limit: 1_000_000 }))
    .entries
  const delivered = new Map<string, number>()
  for (const e of ledger.entries) delivered.set(e.id, (delivered.get(e.id) ?? 0) + 1)
  const dead = new Set(letters.map((l) => l.idempotencyKey))
  let lost = 0
  let both = 0
  for (const r of list) {
    const d = delivered.get(r.id) ?? 0
    const q = dead.has(Batch.idempotencyKey("soak", r.id)) ? 1 : 0
    if (d + q === 0) lost++
    // accepted, but its answer came too late (attempt timeouts, the deadline) and it was dead-lettered:
    // not lost, not delivered twice; a replay of the dead letter gets the stored answer
    if (d > 0 && q > 0) both++
  }
  // skip the first 20 % (warm-up: JIT, caches, the stores' first pages)
  const steady = samples.filter(([t]) => t >= (samples.at(-1)?.[0] ?? 0) * 0.2)
  const heapSlope = slope(steady.map(([t, h]) => [t, h] as const))
  const fdSlope = slope(steady.map(([t, , f]) => [t, f] as const))
  const elapsed = (Date.now() - t0) / 1000
  const faults = upstream.stats().faults
  process.stdout.write(
    `soak: ${records} records in ${elapsed.toFixed(0)} s (${(records / elapsed).toFixed(0)}/s), status ${result.status}; ` +
      `succeeded ${result.succeeded.length}, dead-lettered ${result.deadLettered.length}, failed ${result.failed.length}; ` +
      `upstream accepted ${ledger.entries.length}, duplicates ${ledger.duplicates}; lost ${lost}, delivered and dead-lettered ${both}; ` +
      `faults injected 5xx ${faults["5xx"]}, 429 ${faults["429"]}, reset ${faults.reset}; ` +
      `heap ${samples[0]?.[1].toFixed(1)} -> ${samples.at(-1)?.[1].toFixed(1)} MB, steady slope ${(heapSlope * 60).toFixed(2)} MB/min; ` +
      `fds ${samples[0]?.[2]} -> ${samples.at(-1)?.[2]}, slope ${(fdSlope * 60).toFixed(2)}/min\n`
  )
  if (lost > 0 || ledger.duplicates > 0) process.exitCode = 1
  return { baselineFds: samples[0]?.[2] ?? 0, baselineHeap: samples[0]?.[1] ?? 0, maxSockets }
}).pipe(
  Effect.scoped,
  Effect.provide(
    Layer.mergeAll(
      SqlCheckpoint.layerStoreConfig({ dialect: "sqlite", filename: batchFile }),
      SqlIdempotency.layerStoreConfig({ dialect: "sqlite", filename: batchFile }),
      DeadLetterQueue.layer().pipe(
        Layer.provide(SqlDeadLetterQueue.layerStoreConfig({ dialect: "sqlite", filename: dlqFile }))
      ),
      Classifier.layer,
      CircuitBreaker.layerRegistry(),
      FetchHttpClient.layer
    )
  ),
  Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
)

/**
 * Once the program has ended: the upstream has stopped and closed its connections, so the client's
 * end of each has closed too, and the batch's result (an outcome per record, returned at the end),
 * the upstream's counts per key and every fiber are gone. What is still open, or still on the heap,
 * beyond the start's figures is what a leak would have kept.
 */
const afterTheRun = (run: {
  readonly baselineFds: number
  readonly baselineHeap: number
  readonly maxSockets: number
}) =>
  new Promise<void>((done) =>
    setTimeout(() => {
      const after = fds()
      const leaked = Math.max(0, after - run.baselineFds)
      const heapAfter = heapMb()
      process.stdout.write(
        `heap after the run, its result and the upstream released: ${heapAfter.toFixed(1)} MB (${run.baselineHeap.toFixed(1)} MB at the start)\n` +
          `fds after the upstream closed its connections: ${after} (${formatKinds(fdKinds())}), ${leaked} more than at the start; ` +
          `sockets peaked at ${run.maxSockets}: both ends of every connection live in this process, at most ${concurrency} ` +
          "requests are in flight, and a connection reset or abandoned at an attempt timeout is replaced while the " +
          "idle ones wait out the server's keep-alive (30 s), so the count moves with the faults and is not a leak\n"
      )
      if (leaked > 5) {
        process.stdout.write(`LEAK: ${leaked} descriptors still open after every connection closed\n`)
        process.exitCode = 1
      }
      done()
    }, 1_000)
  )

Effect.runPromise(program)
  .then(afterTheRun)
  .catch((e: unknown) => {
    process.stderr.write(`soak failed: ${String(e)}\n`)
    process.exitCode = 1
  })
