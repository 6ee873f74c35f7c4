/**
 * One process of `pnpm bench ingest`: runs ONE client case against an upstream already running in
 * a process of its own (`--upstream URL`) and prints one JSON line.
 *
 * The parent bundles this file with esbuild (no `keepNames`); the demo's own code
 * (`@effect-resilience/demo/Ingest`) is bundled from its source, and every other package is
 * imported from where Node would find it WITHOUT the `@effect-resilience/source` condition: our
 * packages run their built `dist/`, as a user's would.
 *
 * Cases, all with the same records (the demo's data set), concurrency and upstream:
 * - `fetch`: a bare `fetch` loop (the reference of the issue);
 * - `bare`: a bare `@effect/platform` `HttpClient` loop (`FetchHttpClient`), `Effect.forEach` at
 *   the demo's concurrency, each record POSTed with its `Idempotency-Key`, the JSON answer read;
 * - `resilient`: the same loop through the demo's resilient client (no batch runner, no stores,
 *   no tracing): what the client alone costs;
 * - `full`: the demo's ingest (`Ingest.run`: resilient client, batch runner on SQLite, events,
 *   OpenTelemetry with spans kept in memory, Prometheus metrics), as `pnpm demo` runs it;
 * - `no-tracing`: the same with `tracing: false`.
 *
 * Method: warm-up batches (of `--warmup-records`) until `--warmup-ms` of wall time has passed, then
 * one measured batch of `--records`: records/s, CPU ms per record (`process.cpuUsage`, user +
 * system, all threads), latency percentiles, retries and attempts given up by their timeout.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { monitorEventLoopDelay } from "node:perf_hooks"
import * as Events from "@effect-resilience/core/Events"
import * as Dataset from "@effect-resilience/demo/Dataset"
import * as Ingest from "@effect-resilience/demo/Ingest"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"

interface Settings {
  readonly upstream: string
  readonly records: number
  readonly concurrency: number
  readonly warmupMs: number
  readonly warmupRecords: number
  readonly attemptTimeoutMs: number
}

const percentile = (sorted: ReadonlyArray<number>, p: number): number => {
  if (sorted.length === 0) return 0
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index] ?? 0
}

const cpuNow = () => {
  const c = process.cpuUsage()
  return (c.user + c.system) / 1000
}

const recordsOf = (n: number, seed: number) => Dataset.generate({ records: n, seed, malformedRate: 0 })

/** `fetch`: the bare global fetch loop, `concurrency` records in flight. */
const fetchBatch = async (s: Settings, records: ReadonlyArray<Dataset.Record>, batchId: string) => {
  const url = `${s.upstream}/records`
  const latencies: Array<number> = []
  let failed = 0
  let next = 0
  const cpu0 = cpuNow()
  const t0 = performance.now()
  const worker = async () => {
    while (next < records.length) {
      const record = records[next++] as Dataset.Record
      const start = performance.now()
      try {
        const response = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": `${batchId}/${record.id}` },
          body: JSON.stringify(record)
        })
        await response.json()
        if (!response.ok) failed++
      } catch {
        failed++
      }
      latencies.push(performance.now() - start)
    }
  }
  await Promise.all(Array.from({ length: s.concurrency }, worker))
  return { records: records.length, wallMs: performance.now() - t0, cpuMs: cpuNow() - cpu0, latencies, failed }
}

/** The demo's ingest options for these settings (a healthy upstream already running). */
const ingestOptions = (
  s: Settings,
  records: number,
  batchId: string,
  seed: number,
  dataDir: string,
  tracing: boolean
): Ingest.IngestOptions => ({
  records,
  seed,
  batchId,
  dataDir,
  concurrency: s.concurrency,
  mix: { transientRate: 0, weights: { "5xx": 1, "429": 1, slow: 1, reset: 1 } },
  malformedRate: 0,
  slow: Duration.millis(1500),
  outageAt: 0.4,
  outage: Duration.zero,
  attemptTimeout: Duration.millis(s.attemptTimeoutMs),
  deadline: Duration.seconds(30),
  maxAttempts: 20,
  hedging: false,
  readBack: 0,
  metricsPort: 0,
  reportJson: undefined,
  progress: "off",
  traceSummary: false,
  upstreamUrl: s.upstream,
  tracing,
  quiet: true
})

/**
 * A loop of `client` at the concurrency (`Effect.forEach`), each record POSTed with its
 * `Idempotency-Key`, the JSON answer read.
 */
const clientLoop = (
  s: Settings,
  records: ReadonlyArray<Dataset.Record>,
  batchId: string,
  client: HttpClient.HttpClient.With<unknown>
) =>
  Effect.gen(function* () {
    const url = `${s.upstream}/records`
    const latencies: Array<number> = []
    let failed = 0
    const cpu0 = cpuNow()
    const t0 = performance.now()
    yield* Effect.forEach(
      records,
      (record) => {
        const start = performance.now()
        return client
          .execute(
            HttpClientRequest.post(url).pipe(
              HttpClientRequest.setHeader("idempotency-key", `${batchId}/${record.id}`),
              HttpClientRequest.bodyUnsafeJson(record)
            )
          )
          .pipe(
            Effect.flatMap((response) =>
              Effect.map(response.json, () => {
                if (response.status >= 300) failed++
              })
            ),
            Effect.catchAll(() => Effect.sync(() => failed++)),
            Effect.ensuring(Effect.sync(() => latencies.push(performance.now() - start)))
          )
      },
      { concurrency: s.concurrency, discard: true }
    )
    return { records: records.length, wallMs: performance.now() - t0, cpuMs: cpuNow() - cpu0, latencies, failed }
  })

/** `bare`: (a) the demo's HttpClient (its transport layer) in a bare loop. */
const bareBatch = (s: Settings, records: ReadonlyArray<Dataset.Record>, batchId: string) =>
  Effect.flatMap(HttpClient.HttpClient, (client) => clientLoop(s, records, batchId, client)).pipe(
    Effect.provide(Ingest.transportLayer),
    Effect.runPromise
  )

/**
 * `resilient`: the same loop through the demo's resilient client (its policy, breaker registry,
 * event hub, classifier), without the batch runner, its stores and tracing: what the client costs.
 */
const resilientBatch = (s: Settings, records: ReadonlyArray<Dataset.Record>, batchId: string, seed: number) =>
  Effect.gen(function* () {
    // retries and attempt timeouts, from the event hub as the demo counts them
    const counts = { retries: 0, attemptTimeouts: 0 }
    const events = yield* (yield* Events.ResilienceEvents).subscribe
    yield* Effect.forkScoped(
      Stream.runForEach(events, (event) =>
        Effect.sync(() => {
          if (event._tag === "RetryScheduled") counts.retries++
          if (
            (event._tag === "RetryScheduled" || event._tag === "RetryStopped") &&
            event.classification.code === "resilience.AttemptTimeout"
          )
            counts.attemptTimeouts++
        })
      )
    )
    const client = yield* Ingest.clientOf(ingestOptions(s, records.length, batchId, seed, "", false))
    const measured = yield* clientLoop(s, records, batchId, client)
    yield* Effect.sleep("20 millis") // the last events reach the subscriber
    return { ...measured, ...counts }
  }).pipe(
    Effect.withTracerEnabled(false),
    Effect.scoped,
    Effect.provide(Layer.merge(Ingest.transportLayer, Ingest.resilienceLayer)),
    Effect.runPromise
  )

/** `full` / `no-tracing`: the demo's own ingest against the upstream already running. */
const ingestBatch =
  (tracing: boolean) => async (s: Settings, records: ReadonlyArray<Dataset.Record>, batchId: string, seed: number) => {
    const dataDir = mkdtempSync(join(tmpdir(), "ingest-bench-"))
    try {
      const t0 = performance.now()
      const report = await Effect.runPromise(
        Ingest.run(ingestOptions(s, records.length, batchId, seed, dataDir, tracing))
      )
      const total = performance.now() - t0
      return {
        records: report.records,
        wallMs: report.elapsedMs,
        cpuMs: report.cpuMsPerRecord * report.records,
        latencyMs: report.latencyMs,
        failed: report.records - report.succeeded,
        retries: report.retries,
        attemptTimeouts: report.attemptTimeouts,
        breakerTransitions: report.breakerTransitions,
        setupAndReportMs: total - report.elapsedMs
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  }

type Measured = {
  readonly records: number
  readonly wallMs: number
  readonly cpuMs: number
  readonly failed: number
  readonly latencies?: ReadonlyArray<number>
  readonly latencyMs?: { readonly p50: number; readonly p99: number }
  readonly retries?: number
  readonly attemptTimeouts?: number
}

const cases: Record<
  string,
  (s: Settings, records: ReadonlyArray<Dataset.Record>, batchId: string, seed: number) => Promise<Measured>
> = {
  fetch: fetchBatch,
  bare: bareBatch,
  resilient: resilientBatch,
  full: ingestBatch(true),
  "no-tracing": ingestBatch(false)
}

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const name = arg("case") ?? ""
const run = cases[name]
if (process.argv.includes("--list")) {
  process.stdout.write(`${JSON.stringify({ cases: Object.keys(cases) })}\n`)
} else if (run === undefined) {
  process.stderr.write(`unknown case: ${name}\n`)
  process.exitCode = 1
} else {
  const settings: Settings = {
    upstream: arg("upstream") ?? "",
    records: Number(arg("records") ?? 5000),
    concurrency: Number(arg("concurrency") ?? 64),
    warmupMs: Number(arg("warmup-ms") ?? 3000),
    warmupRecords: Number(arg("warmup-records") ?? 500),
    attemptTimeoutMs: Number(arg("attempt-timeout-ms") ?? 1000)
  }
  const tag = `${name}-${process.pid}`
  // warm-up: batches of their own (other keys) until the time is up
  const warmStart = performance.now()
  let warmupBatches = 0
  while (performance.now() - warmStart < settings.warmupMs) {
    await run(settings, recordsOf(settings.warmupRecords, 1000 + warmupBatches), `${tag}-warm-${warmupBatches}`, 1000)
    warmupBatches++
  }
  const warmupMs = performance.now() - warmStart
  // how long the event loop was blocked (a disk sync, a long GC, a synchronous statement): every
  // attempt in flight waits that long, and past 1 s its timer fires on a healthy upstream
  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  const m = await run(settings, recordsOf(settings.records, 42), `${tag}-measured`, 42)
  loop.disable()
  const sorted = m.latencies === undefined ? undefined : [...m.latencies].sort((a, b) => a - b)
  process.stdout.write(
    `${JSON.stringify({
      case: name,
      records: m.records,
      recordsPerSecond: (m.records * 1000) / m.wallMs,
      cpuMsPerRecord: m.cpuMs / m.records,
      p50Ms: sorted === undefined ? (m.latencyMs?.p50 ?? 0) : percentile(sorted, 50),
      p99Ms: sorted === undefined ? (m.latencyMs?.p99 ?? 0) : percentile(sorted, 99),
      failed: m.failed,
      retries: m.retries ?? 0,
      attemptTimeouts: m.attemptTimeouts ?? 0,
      loopDelayP99Ms: loop.percentile(99) / 1e6,
      loopDelayMaxMs: loop.max / 1e6,
      warmupMs,
      warmupBatches
    })}\n`
  )
}
process.exit()
