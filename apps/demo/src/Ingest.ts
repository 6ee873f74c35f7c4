/**
 * The demo's ingest: a generated data set sent to the misbehaving upstream through the resilient
 * HttpClient, run by the batch runner on SQLite stores in the data folder (checkpoint and
 * idempotency in `batch.db`, dead letters in `dlq.db`), with a progress line, a report, tracing and
 * a Prometheus endpoint. The upstream is a child process with its own SQLite file
 * (`upstream-<batch-id>.db`), or one already running (`upstreamUrl`); the report's lost and
 * duplicate counts are computed against what it durably accepted.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as CircuitBreaker from "@effect-resilience/core/CircuitBreaker"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as Events from "@effect-resilience/core/Events"
import * as Batch from "@effect-resilience/durable/Batch"
import * as DeadLetterQueue from "@effect-resilience/durable/DeadLetterQueue"
import { Otel, TraceSummary } from "@effect-resilience/otel"
import { ResilientHttpClient } from "@effect-resilience/platform"
import { SqlCheckpoint, SqlConnection, SqlDeadLetterQueue, SqlIdempotency } from "@effect-resilience/sql"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as Dataset from "./Dataset.js"
import type * as Ops from "./Ops.js"
import * as Progress from "./Progress.js"
import * as Report from "./Report.js"
import type * as Upstream from "./Upstream.js"
import * as UpstreamProcess from "./UpstreamProcess.js"

export interface IngestOptions {
  readonly records: number
  readonly seed: number
  readonly batchId: string
  readonly dataDir: string
  readonly concurrency: number
  readonly mix: Upstream.FaultMix
  readonly malformedRate: number
  /** How late a slow answer of the upstream comes. */
  readonly slow: Duration.DurationInput
  readonly outageAt: number
  /** How long the upstream's outage lasts (zero: none). */
  readonly outage: Duration.DurationInput
  readonly attemptTimeout: Duration.DurationInput
  /** One budget of time per record, retries and waits included. */
  readonly deadline: Duration.DurationInput
  readonly maxAttempts: number
  readonly hedging: boolean
  /** How many delivered records to read back by GET after the ingest (0: none). */
  readonly readBack: number
  readonly metricsPort: number
  readonly reportJson: string | undefined
  readonly progress: Progress.Mode
  readonly traceSummary: boolean
  /** An upstream already running (the crash test's); by default the ingest starts its own. */
  readonly upstreamUrl?: string | undefined
  /**
   * The ops server (`Ops.start`): started on the run's own services before the batch starts;
   * what it returns runs after the report (it keeps the server up for `--ops-linger`).
   */
  readonly ops?: Effect.Effect<Effect.Effect<void>, Error, Ops.Services> | undefined
  /** Trace each record's call (default true); `false` runs the same stack with no spans. */
  readonly tracing?: boolean | undefined
  /** Print nothing (no log lines, no report): for a caller that reads the returned report (the bench). */
  readonly quiet?: boolean | undefined
}

/** The files of a batch in the data folder. */
/** The upstream an ingest run starts: its faults follow the run's options, its state in `db`. */
export const upstreamOptions = (options: IngestOptions, db: string): UpstreamProcess.Options => ({
  db,
  seed: options.seed,
  mix: options.mix,
  slowMillis: Duration.toMillis(options.slow),
  outageAfter: Duration.greaterThan(options.outage, Duration.zero)
    ? Math.max(1, Math.floor(options.records * options.outageAt))
    : undefined,
  outageMillis: Duration.toMillis(options.outage),
  healthy: false
})

export const files = (dataDir: string, batchId: string) => ({
  batch: join(dataDir, "batch.db"),
  dlq: join(dataDir, "dlq.db"),
  upstream: join(dataDir, `upstream-${batchId.replace(/[^A-Za-z0-9._-]/g, "_")}.db`)
})

const firstLine = (text: string): string => text.split("\n")[0] ?? ""

/**
 * One line for a failure of a store, naming its file: what a user reads when a disk fills, a file
 * is locked by another process or is not a database.
 */
export const describeStoreError = (file: string, error: unknown): string => {
  const message =
    typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
      ? error.message
      : String(error)
  const cause =
    typeof error === "object" && error !== null && "cause" in error && error.cause instanceof Error
      ? error.cause.message
      : undefined
  const detail = cause === undefined || message.includes(cause) ? message : `${message.replace(/\.$/, "")}: ${cause}`
  return firstLine(`${file}: ${detail}`)
}

/** The error of a batch store, as one line naming the file it concerns. */
const batchStoreError = (paths: ReturnType<typeof files>) => (error: Batch.BatchError) =>
  new Error(describeStoreError(error._tag === "DeadLetterStoreError" ? paths.dlq : paths.batch, error))

/** The client policy of the demo (per upstream host). */
export const policyOf = (options: IngestOptions): ResilientHttpClient.Options => ({
  policy: {
    attemptTimeout: options.attemptTimeout,
    // one budget of time per record: long enough (30 s by default) to wait out a short outage and the breaker
    deadline: options.deadline,
    retry: {
      // a CircuitOpen rejection counts as an attempt: while an outage keeps the breaker open, a
      // record waiting it out spends an attempt per open period and per probe it does not get, so
      // the limit leaves room for that; the deadline above is the real bound
      maxAttempts: options.maxAttempts,
      initialDelay: "50 millis",
      maxDelay: "2 seconds",
      throttledInitialDelay: "200 millis",
      retryAfterExtra: "3 seconds"
    },
    breaker: {
      // the failure rate over the last 40 calls: random 30 % failures never reach 80 %, an outage does
      policy: { _tag: "CountWindow", size: 40, minimumCalls: 20, failureRateThreshold: 0.8 },
      // short, and longer (up to 1 s) each time a probe fails: with 30 % random failures a probe
      // fails often even when the upstream is back, so a longer cap costs seconds after an outage
      openDuration: "500 millis",
      openBackoff: { multiplier: 2, max: 1_000 },
      halfOpen: { maxProbes: 1, successThreshold: 1 }
    }
  },
  ...(options.hedging
    ? {
        hedging: {
          // half the attempt timeout, in whole milliseconds
          delay: Duration.millis(Math.max(1, Math.round(Duration.toMillis(options.attemptTimeout) / 2))),
          maxHedges: 1
        }
      }
    : {})
})

/** How long a record stays claimed by the run working on it: its deadline and 2 s for the stores. */
export const leaseOf = (options: IngestOptions): Duration.Duration =>
  Duration.sum(options.deadline, Duration.seconds(2))

const stores = (paths: ReturnType<typeof files>) => {
  // the project's SQLite settings (WAL, synchronous=NORMAL: a kill of the process loses no commit);
  // opened bare, SQLite synced the log on every commit (two or three per record) on the event loop
  const batchDb = SqlConnection.layerClient({ dialect: "sqlite", filename: paths.batch })
  return Layer.mergeAll(
    Layer.merge(SqlCheckpoint.layerStore, SqlIdempotency.layerStore).pipe(
      Layer.provide(batchDb),
      Layer.mapError((e) => new Error(describeStoreError(paths.batch, e)))
    ),
    DeadLetterQueue.layer().pipe(
      Layer.provide(SqlDeadLetterQueue.layerStoreConfig({ dialect: "sqlite", filename: paths.dlq })),
      Layer.mapError((e) => new Error(describeStoreError(paths.dlq, e)))
    )
  )
}

/** The classification code of an attempt given up by its timer. */
const attemptTimeoutCode = "resilience.AttemptTimeout"

const describeTransition = (
  t: { readonly breaker: string; readonly from: string; readonly to: string },
  startMillis: number,
  atMillis: number
) => `${((atMillis - startMillis) / 1000).toFixed(1)}s ${t.from}->${t.to}`

const program = (options: IngestOptions) =>
  Effect.gen(function* () {
    const quiet = options.quiet === true
    const tracing = options.tracing !== false
    const log = (line: string) => (quiet ? Effect.void : Effect.sync(() => process.stderr.write(`${line}\n`)))
    const telemetry = yield* Otel.Telemetry
    const records = Dataset.generate({
      records: options.records,
      seed: options.seed,
      malformedRate: options.malformedRate
    })
    const paths = files(options.dataDir, options.batchId)
    const upstream =
      options.upstreamUrl !== undefined
        ? UpstreamProcess.connect(options.upstreamUrl)
        : yield* UpstreamProcess.spawn(upstreamOptions(options, paths.upstream))
    yield* log(
      upstream.pid === undefined
        ? `upstream at ${upstream.url}`
        : `upstream (misbehaving on purpose) at ${upstream.url}, pid ${upstream.pid}, accepted records in ${paths.upstream}`
    )
    yield* log(
      Option.match(telemetry.metricsUrl, {
        onNone: () => "metrics: not served",
        onSome: (url) => `metrics for Prometheus at ${url}`
      })
    )
    yield* log(
      Option.match(telemetry.otlpEndpoint, {
        onNone: () => "traces: kept in memory (set OTEL_EXPORTER_OTLP_ENDPOINT to export them over OTLP)",
        onSome: (url) => `traces: exported over OTLP to ${url}`
      })
    )
    yield* log(`batch ${options.batchId}: ${records.length} records, data in ${options.dataDir}`)
    const afterReport = options.ops === undefined ? Effect.void : yield* options.ops

    const startMillis = yield* Clock.currentTimeMillis
    // CPU time of this process while the batch runs (user + system, every thread: GC included)
    const cpuAtStart = process.cpuUsage()
    // what the runtime decided, from the event hub
    const retries = yield* Ref.make(0)
    // attempts given up by their timer (retried or not): on a healthy upstream there must be none
    const attemptTimeouts = yield* Ref.make(0)
    const hedges = yield* Ref.make(0)
    const transitions = yield* Ref.make<ReadonlyArray<string>>([])
    const breakerState = yield* Ref.make("closed")
    const hub = yield* Events.ResilienceEvents
    const events = yield* hub.subscribe
    yield* Effect.forkScoped(
      Stream.runForEach(events, (event) => {
        switch (event._tag) {
          case "RetryScheduled":
            return event.classification.code === attemptTimeoutCode
              ? Effect.zipRight(
                  Ref.update(retries, (n) => n + 1),
                  Ref.update(attemptTimeouts, (n) => n + 1)
                )
              : Ref.update(retries, (n) => n + 1)
          case "RetryStopped":
            return event.classification.code === attemptTimeoutCode
              ? Ref.update(attemptTimeouts, (n) => n + 1)
              : Effect.void
          case "HedgeStarted":
            return Ref.update(hedges, (n) => n + 1)
          case "BreakerTransition":
            return Effect.zipRight(
              Ref.set(breakerState, event.to),
              Ref.update(transitions, (list) => [...list, describeTransition(event, startMillis, event.atMillis)])
            )
          default:
            return Effect.void
        }
      })
    )
    if (tracing) yield* Otel.traceEvents()

    const client = yield* clientOf(options)
    const latencyByKey = new Map<string, number>()
    const endpoint = `${upstream.url}/records`

    const ingestOne = (record: Dataset.Record, ctx: Batch.ItemContext) =>
      Effect.flatMap(Clock.currentTimeMillis, (start) =>
        client
          .execute(
            HttpClientRequest.post(endpoint).pipe(
              HttpClientRequest.setHeader("idempotency-key", ctx.idempotencyKey),
              HttpClientRequest.bodyUnsafeJson(record)
            )
          )
          .pipe(
            Effect.flatMap(HttpClientResponse.schemaBodyJson(Dataset.Receipt)),
            Effect.ensuring(
              Effect.flatMap(Clock.currentTimeMillis, (end) =>
                Effect.sync(() => latencyByKey.set(ctx.idempotencyKey, end - start))
              )
            )
          )
      ).pipe(
        Effect.annotateSpans({ "record.key": record.id }),
        // the batch runs with tracing off (below): trace the call, not every store statement
        Effect.withTracerEnabled(tracing)
      )

    const handle = yield* Batch.start({
      batchId: options.batchId,
      items: records,
      key: (r) => r.id,
      process: ingestOne,
      itemSchema: Dataset.Record,
      resultSchema: Dataset.Receipt,
      concurrency: options.concurrency,
      // a record's lease outlasts its deadline, so no run takes over a record another still works
      // on; after a kill -9 the records that were in flight wait out their lease, then run again
      lease: leaseOf(options)
    }).pipe(
      // @effect/sql makes a span per statement: three per record here, more than the calls themselves
      Effect.withTracerEnabled(false)
    )
    const lastProgress = yield* Ref.make<Option.Option<Batch.Progress>>(Option.none())
    yield* Effect.forkScoped(Stream.runForEach(handle.progress, (p) => Ref.set(lastProgress, Option.some(p))))
    const renderer = yield* Progress.start(options.progress, {
      total: records.length,
      progress: Ref.get(lastProgress),
      retries: Ref.get(retries),
      breaker: Ref.get(breakerState)
    })

    const result = yield* handle.result.pipe(
      Effect.mapError(batchStoreError(paths)),
      Effect.onInterrupt(() =>
        Effect.zipRight(
          renderer.stop,
          Effect.flatMap(Ref.get(lastProgress), (p) =>
            log(
              `\ninterrupted after ${Option.match(p, { onNone: () => 0, onSome: (x) => x.done })}/${records.length} records; ` +
                `resume with: pnpm demo --batch-id ${options.batchId} --records ${options.records} --seed ${options.seed}`
            )
          )
        )
      )
    )
    const cpu = process.cpuUsage(cpuAtStart)
    yield* renderer.stop
    const elapsedMs = (yield* Clock.currentTimeMillis) - startMillis
    // read deliveries back: GETs are safe to repeat, so they are retried, and hedged with --hedging
    const sample = result.succeeded.slice(0, options.readBack)
    const readLatencies: Array<number> = []
    const found = yield* Effect.forEach(
      sample,
      (outcome) =>
        Effect.flatMap(Clock.currentTimeMillis, (start) =>
          client
            .get(`${upstream.url}/records/${encodeURIComponent(Batch.idempotencyKey(options.batchId, outcome.key))}`)
            .pipe(
              Effect.flatMap(HttpClientResponse.schemaBodyJson(Dataset.Receipt)),
              Effect.map((receipt) => receipt.id === outcome.item.id),
              Effect.orElseSucceed(() => false),
              Effect.ensuring(
                Effect.flatMap(Clock.currentTimeMillis, (end) => Effect.sync(() => readLatencies.push(end - start)))
              )
            )
        ),
      { concurrency: options.concurrency }
    )
    const readBack = Report.readBack(found.filter(Boolean).length, yield* Ref.get(hedges), readLatencies)
    // what the upstream durably accepted (its SQLite file, every run of this batch) is the truth
    // the report is checked against
    const { requestsByKey, ...stats } = yield* upstream.stats
    const ledger = yield* upstream.ledger
    const report = Report.make({
      readBack,
      batchId: options.batchId,
      records,
      result,
      idempotencyKey: (r) => Batch.idempotencyKey(options.batchId, r.id),
      requestsByKey: new Map(Object.entries(requestsByKey)),
      latencyByKey,
      acceptedIds: new Set(ledger.entries.map((e) => e.id)),
      duplicates: ledger.duplicates,
      upstream: stats,
      retries: yield* Ref.get(retries),
      attemptTimeouts: yield* Ref.get(attemptTimeouts),
      cpuMillis: (cpu.user + cpu.system) / 1000,
      breakerTransitions: yield* Ref.get(transitions),
      elapsedMs
    })
    if (!quiet) process.stdout.write(`${Report.format(report)}\n`)
    if (options.reportJson !== undefined) {
      writeFileSync(options.reportJson, `${JSON.stringify(report, null, 2)}\n`)
      yield* log(`report written to ${options.reportJson}`)
    }
    if (options.traceSummary && tracing && !quiet) {
      // give the breaker-transition spans (traced by a fiber of their own) a moment to end
      yield* Effect.sleep("20 millis")
      const summary = TraceSummary.summarize(yield* telemetry.finishedSpans)
      process.stdout.write(`\nTrace summary\n${TraceSummary.format(summary)}\n`)
    }
    if (report.deadLettered.total > 0) {
      yield* log(
        `\ndead letters: pnpm cli dlq list --db ${join(options.dataDir, "dlq.db")} --queue ${options.batchId}` +
          `\nreplay them against a healed upstream: pnpm demo upstream --healthy --port 8080, then` +
          `\n  pnpm cli dlq replay --db ${join(options.dataDir, "dlq.db")} --queue ${options.batchId} --target http://127.0.0.1:8080/records --operator you`
      )
    }
    yield* afterReport
    return report
  }).pipe(Effect.scoped)

/**
 * The HttpClient the ingest sends with (the bench's bare loop uses the same): undici's own
 * request API, with a connection pool of its own for the run. `fetch` (`FetchHttpClient`) cost
 * about 0.8 ms more CPU per record: WHATWG streams, `Request`/`Response` objects and an
 * `AbortSignal` per request.
 */
export const transportLayer: Layer.Layer<HttpClient.HttpClient> = NodeHttpClient.layerUndici

/** The resilience services of the ingest: a breaker registry, the event hub and the default Classifier. */
export const resilienceLayer = CircuitBreaker.layerRegistry().pipe(
  Layer.provideMerge(Events.layer({ capacity: 65_536 })),
  Layer.merge(Classifier.layer)
)

/**
 * The ingest's resilient client: the HttpClient in context under {@link policyOf}. The transport
 * makes no span of its own: each call already has its `resilience` span (and each retry an
 * attempt span), and a second span per request doubled what tracing cost and kept in memory.
 */
export const clientOf = (options: IngestOptions) =>
  Effect.flatMap(HttpClient.HttpClient, (raw) =>
    ResilientHttpClient.make(
      HttpClient.withTracerDisabledWhen(raw, () => true),
      policyOf(options)
    )
  )

/** Runs the demo's ingest and returns its report. */
export const run = (options: IngestOptions) =>
  Effect.suspend(() => {
    mkdirSync(options.dataDir, { recursive: true })
    const telemetry = Otel.layer({
      serviceName: "effect-resilience-demo",
      // without tracing no span is kept, and then (without OTLP) no tracer is installed at all
      keepSpans: options.tracing !== false && process.env.DEMO_KEEP_SPANS !== "0",
      prometheus: { port: options.metricsPort }
    })
    return program(options).pipe(
      Effect.provide(Layer.mergeAll(resilienceLayer, stores(files(options.dataDir, options.batchId)), transportLayer)),
      Effect.provide(telemetry)
    )
  })
