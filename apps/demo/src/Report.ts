/**
 * The demo's end-of-run report: what happened to every record, checked against what the upstream
 * durably accepted in every run of the batch (a record is lost when it neither reached the upstream
 * nor the dead letter queue; a duplicate is a record the upstream accepted twice).
 */
import type * as Batch from "@effect-resilience/durable/Batch"
import type { Category } from "@effect-resilience/core/Classification"
import type { Record as DataRecord, Receipt } from "./Dataset.js"
import type { UpstreamStats } from "./Upstream.js"

export interface Report {
  readonly batchId: string
  readonly status: "completed" | "interrupted"
  readonly records: number
  readonly succeeded: number
  readonly succeededFirstTry: number
  readonly recoveredAfterRetry: number
  /** Of the records that met a transient failure, the share that still succeeded. */
  readonly recoveryRate: number
  readonly transientAffected: number
  readonly deadLettered: { readonly total: number; readonly byCategory: Readonly<Record<string, number>> }
  /**
   * Dead-lettered records the upstream had accepted all the same: its answer came after the last
   * attempt's timeout (or the deadline). Not lost and not delivered twice: the upstream keeps the
   * record under its idempotency key, so replaying the dead letter gets the stored answer back.
   */
  readonly deliveredAndDeadLettered: number
  readonly skipped: number
  readonly lost: number
  readonly duplicates: number
  readonly replayedByUpstream: number
  readonly attemptsPerRecord: {
    readonly mean: number
    readonly max: number
    readonly histogram: Readonly<Record<string, number>>
  }
  readonly retries: number
  /** Attempts given up by the attempt timeout (retried or not). */
  readonly attemptTimeouts: number
  /** CPU time of the ingest's process per record while the batch ran (user + system, GC included). */
  readonly cpuMsPerRecord: number
  readonly breakerTransitions: number
  readonly breakerTransitionList: ReadonlyArray<string>
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number }
  readonly elapsedMs: number
  readonly throughputPerSecond: number
  readonly upstream: Omit<UpstreamStats, "requestsByKey">
  /** Deliveries read back by GET after the ingest (hedged with `--hedging`). */
  readonly readBack: ReadBack
}

export interface ReadBack {
  readonly requested: number
  readonly found: number
  readonly hedges: number
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number }
}

/** Categories a retry cannot fix: a record dead-lettered for these was never a transient failure. */
const permanent: ReadonlySet<Category> = new Set([
  "validation",
  "client",
  "authentication",
  "authorization",
  "business",
  "configuration",
  "data-integrity"
])

const percentile = (sorted: ReadonlyArray<number>, p: number): number => {
  if (sorted.length === 0) return 0
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return Math.round(sorted[index] ?? 0)
}

export interface ReportInput {
  readonly batchId: string
  readonly records: ReadonlyArray<DataRecord>
  readonly result: Batch.BatchResult<DataRecord, Receipt> | undefined
  readonly idempotencyKey: (record: DataRecord) => string
  readonly requestsByKey: ReadonlyMap<string, number>
  readonly latencyByKey: ReadonlyMap<string, number>
  /** The record ids the upstream durably accepted (every run of the batch). */
  readonly acceptedIds: ReadonlySet<string>
  /** Records the upstream accepted more than once, from its durable state. */
  readonly duplicates: number
  readonly upstream: Omit<UpstreamStats, "requestsByKey">
  readonly retries: number
  readonly attemptTimeouts?: number | undefined
  /** CPU milliseconds of this process while the batch ran. */
  readonly cpuMillis?: number | undefined
  readonly breakerTransitions: ReadonlyArray<string>
  readonly elapsedMs: number
  readonly readBack?: ReadBack | undefined
}

/** Read-back figures from the latencies of the GETs. */
export const readBack = (found: number, hedges: number, latencies: ReadonlyArray<number>): ReadBack => {
  const sorted = [...latencies].sort((a, b) => a - b)
  return {
    requested: latencies.length,
    found,
    hedges,
    latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: percentile(sorted, 100) }
  }
}

export const make = (input: ReportInput): Report => {
  const result = input.result
  const byCategory: Record<string, number> = {}
  let deadLettered = 0
  let succeeded = 0
  let succeededFirstTry = 0
  let recovered = 0
  let transientDeadLettered = 0
  let skipped = 0
  let lost = 0
  const deadLetteredIds = new Set<string>()
  const succeededIds = new Set<string>()
  const attempts: Array<number> = []
  const histogram: Record<string, number> = {}

  const attemptsOf = (record: DataRecord): number => input.requestsByKey.get(input.idempotencyKey(record)) ?? 0

  for (const outcome of result?.outcomes ?? []) {
    const n = attemptsOf(outcome.item)
    switch (outcome._tag) {
      case "Succeeded": {
        succeeded++
        succeededIds.add(outcome.item.id)
        if (n <= 1) succeededFirstTry++
        else recovered++
        break
      }
      case "DeadLettered": {
        deadLettered++
        deadLetteredIds.add(outcome.item.id)
        const category = outcome.classification.category
        byCategory[category] = (byCategory[category] ?? 0) + 1
        if (!permanent.has(category)) transientDeadLettered++
        break
      }
      case "Skipped": {
        skipped++
        if (outcome.previous === "dead-lettered") {
          deadLettered++
          deadLetteredIds.add(outcome.item.id)
          byCategory["earlier run"] = (byCategory["earlier run"] ?? 0) + 1
        } else {
          succeeded++
          succeededIds.add(outcome.item.id)
        }
        break
      }
      default:
        break
    }
    if (outcome._tag === "Succeeded" || outcome._tag === "DeadLettered") {
      attempts.push(n)
      histogram[String(n)] = (histogram[String(n)] ?? 0) + 1
    }
  }
  let deliveredAndDeadLettered = 0
  if (result !== undefined) {
    for (const record of input.records) {
      const delivered = input.acceptedIds.has(record.id)
      if (delivered && deadLetteredIds.has(record.id)) deliveredAndDeadLettered++
      // a success the upstream never saw, or a record with no outcome at all, is lost
      if (succeededIds.has(record.id) ? !delivered : !deadLetteredIds.has(record.id)) lost++
    }
  }
  const latencies = Array.from(input.latencyByKey.values()).sort((a, b) => a - b)
  const transientAffected = recovered + transientDeadLettered
  const ran = succeeded + deadLettered - skipped
  return {
    batchId: input.batchId,
    status: result === undefined ? "interrupted" : "completed",
    records: input.records.length,
    succeeded,
    succeededFirstTry,
    recoveredAfterRetry: recovered,
    recoveryRate: transientAffected === 0 ? 1 : recovered / transientAffected,
    transientAffected,
    deadLettered: { total: deadLettered, byCategory },
    deliveredAndDeadLettered,
    skipped,
    lost,
    duplicates: input.duplicates,
    replayedByUpstream: input.upstream.replayed,
    attemptsPerRecord: {
      mean: attempts.length === 0 ? 0 : Math.round((attempts.reduce((a, b) => a + b, 0) / attempts.length) * 100) / 100,
      max: attempts.reduce((a, b) => Math.max(a, b), 0),
      histogram
    },
    retries: input.retries,
    attemptTimeouts: input.attemptTimeouts ?? 0,
    cpuMsPerRecord: ran <= 0 || input.cpuMillis === undefined ? 0 : Math.round((input.cpuMillis / ran) * 1000) / 1000,
    breakerTransitions: input.breakerTransitions.length,
    breakerTransitionList: input.breakerTransitions,
    latencyMs: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: percentile(latencies, 100)
    },
    elapsedMs: Math.round(input.elapsedMs),
    throughputPerSecond: input.elapsedMs <= 0 ? 0 : Math.round((ran / input.elapsedMs) * 1000 * 10) / 10,
    upstream: input.upstream,
    readBack: input.readBack ?? readBack(0, 0, [])
  }
}

const pct = (x: number): string => `${(x * 100).toFixed(2)} %`

export const format = (r: Report): string => {
  const lines: Array<string> = []
  const row = (label: string, value: string | number) => lines.push(`  ${label.padEnd(34)} ${value}`)
  lines.push(`Report for batch ${r.batchId} (${r.status})`)
  row("records", r.records)
  row("succeeded", r.succeeded)
  row("  on the first try", r.succeededFirstTry)
  row("  recovered after retries", r.recoveredAfterRetry)
  if (r.skipped > 0) row("  done in an earlier run (skipped)", r.skipped)
  row("recovery rate of transient failures", `${pct(r.recoveryRate)} (${r.recoveredAfterRetry}/${r.transientAffected})`)
  const categories = Object.entries(r.deadLettered.byCategory)
    .map(([c, n]) => `${c} ${n}`)
    .join(", ")
  row("dead-lettered", `${r.deadLettered.total}${categories === "" ? "" : ` (${categories})`}`)
  row(
    "  delivered and dead-lettered",
    `${r.deliveredAndDeadLettered} (accepted upstream, answer too late; replay-safe)`
  )
  row("lost", r.lost)
  row("duplicate deliveries (upstream)", r.duplicates)
  row("answers replayed by key (upstream)", r.replayedByUpstream)
  row("retries scheduled", r.retries)
  row("attempts timed out", r.attemptTimeouts)
  row(
    "attempts per record",
    `mean ${r.attemptsPerRecord.mean}, max ${r.attemptsPerRecord.max} (${Object.entries(r.attemptsPerRecord.histogram)
      .map(([n, c]) => `${n}: ${c}`)
      .join(", ")})`
  )
  row(
    "breaker transitions",
    `${r.breakerTransitions}${r.breakerTransitions === 0 ? "" : ` (${r.breakerTransitionList.join("; ")})`}`
  )
  row(
    "latency per record (ms)",
    `p50 ${r.latencyMs.p50}, p90 ${r.latencyMs.p90}, p99 ${r.latencyMs.p99}, max ${r.latencyMs.max}`
  )
  row("elapsed", `${(r.elapsedMs / 1000).toFixed(1)} s (${r.throughputPerSecond} records/s)`)
  if (r.cpuMsPerRecord > 0) row("CPU per record (this process)", `${r.cpuMsPerRecord.toFixed(3)} ms`)
  if (r.readBack.requested > 0) {
    const b = r.readBack
    row(
      "read back by GET",
      `${b.found}/${b.requested} found, ${b.hedges} hedges, p50 ${b.latencyMs.p50} ms, p99 ${b.latencyMs.p99} ms, max ${b.latencyMs.max} ms`
    )
  }
  const f = r.upstream.faults
  row(
    "upstream faults injected",
    `5xx ${f["5xx"]}, 429 ${f["429"]}, slow ${f.slow}, reset ${f.reset}, outage 503 ${f.outage}, 400 ${f["400"]}, 422 ${f["422"]}`
  )
  return lines.join("\n")
}
