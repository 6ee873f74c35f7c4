/**
 * `pnpm demo --crash-test N`: the ingest, killed with SIGKILL at N seeded points and resumed each
 * time, then checked against what the upstream durably accepted.
 *
 * One upstream child (its own SQLite file) lives through every run; each run is a fresh ingest
 * process on the same batch id and data folder. A kill point is a number of records accepted by
 * the upstream (drawn from the seed, increasing), so kills land while requests are in flight. After
 * the last kill a final run completes the batch, and every record is checked: delivered exactly
 * once (the upstream's file) or dead-lettered exactly once (the dead letter file), never neither,
 * never twice, and the checkpoint agrees; both at once (accepted, but the answer came after the
 * last attempt gave up) is counted apart: not lost, and safe to replay under its idempotency key.
 * The final run's own report must say the same.
 */
import { spawn as spawnChild } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as DeadLetterQueue from "@effect-resilience/durable/DeadLetterQueue"
import { SqlCheckpoint, SqlDeadLetterQueue } from "@effect-resilience/sql"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Dataset from "./Dataset.js"
import * as Ingest from "./Ingest.js"
import { prng } from "./Prng.js"
import type * as Report from "./Report.js"
import * as UpstreamProcess from "./UpstreamProcess.js"

export interface CrashTestOptions {
  readonly kills: number
  readonly ingest: Ingest.IngestOptions
  /** The flags of each ingest run (the user's, less --crash-test and the report file). */
  readonly ingestArgs: ReadonlyArray<string>
}

export interface CrashTestReport {
  readonly batchId: string
  readonly records: number
  readonly kills: ReadonlyArray<{ readonly afterAccepted: number; readonly killedAtAccepted: number }>
  readonly runs: number
  readonly deliveredOnce: number
  readonly deadLettered: number
  readonly lost: number
  readonly duplicated: number
  readonly deliveredAndDeadLettered: number
  readonly checkpointDisagrees: number
  readonly replayedByUpstream: number
  readonly finalReport: { readonly lost: number; readonly duplicates: number; readonly agrees: boolean }
  readonly problems: ReadonlyArray<string>
  readonly passed: boolean
}

const mainPath = fileURLToPath(new URL("./main.ts", import.meta.url))

interface Running {
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  readonly kill: () => void
  readonly stderr: () => string
}

const startIngest = (args: ReadonlyArray<string>): Running => {
  const child = spawnChild(process.execPath, [...process.execArgv, mainPath, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: process.env
  })
  let stderr = ""
  child.stderr?.on("data", (c: Buffer) => {
    stderr = (stderr + c.toString("utf8")).slice(-4000)
  })
  const exited = new Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal }))
  )
  return { exited, kill: () => child.kill("SIGKILL"), stderr: () => stderr }
}

/** Kill points: `kills` increasing numbers of accepted records in [1, 90 % of the records]. */
export const killPoints = (seed: number, records: number, kills: number): ReadonlyArray<number> => {
  const random = prng(seed ^ 0x6b111)
  const top = Math.max(kills, Math.floor(records * 0.9))
  const points = new Set<number>()
  while (points.size < Math.min(kills, top)) points.add(1 + Math.floor(random() * top))
  return [...points].sort((a, b) => a - b)
}

/** Reads the dead letters and the checkpoint the runs left in the data folder. */
const readStores = (paths: ReturnType<typeof Ingest.files>, batchId: string) =>
  Effect.gen(function* () {
    const dlq = yield* DeadLetterQueue.DeadLetterQueue
    const letters = existsSync(paths.dlq) ? (yield* dlq.list({ queue: batchId }, { limit: 1_000_000 })).entries : []
    const checkpoint = yield* Effect.flatMap(SqlCheckpoint.makeStore, (store) => store.load(batchId)).pipe(
      Effect.provide(SqliteClient.layer({ filename: paths.batch }))
    )
    return { letters, checkpoint }
  }).pipe(
    Effect.provide(
      DeadLetterQueue.layer().pipe(
        Layer.provide(SqlDeadLetterQueue.layerStoreConfig({ dialect: "sqlite", filename: paths.dlq }))
      )
    )
  )

/** Runs the crash test; prints its report, and fails when a record was lost or duplicated. */
export const run = (options: CrashTestOptions) =>
  Effect.gen(function* () {
    const o = options.ingest
    const log = (line: string) => Effect.sync(() => process.stderr.write(`${line}\n`))
    const paths = Ingest.files(o.dataDir, o.batchId)
    const upstream = yield* UpstreamProcess.spawn(Ingest.upstreamOptions(o, paths.upstream))
    const points = killPoints(o.seed, o.records, options.kills)
    yield* log(
      `crash test of batch ${o.batchId}: ${o.records} records, SIGKILL after ${points.join(", ")} accepted; upstream at ${upstream.url} (pid ${upstream.pid}, ${paths.upstream})`
    )
    const common = [...options.ingestArgs, "--upstream-url", upstream.url, "--progress", "off", "--no-trace-summary"]
    const kills: Array<{ afterAccepted: number; killedAtAccepted: number }> = []
    let runs = 0
    for (const point of points) {
      runs++
      const ingest = startIngest([...common, "--read-back", "0"])
      let exited = false
      void ingest.exited.then(() => {
        exited = true
      })
      let accepted = yield* upstream.count
      // a point the earlier runs already passed still waits for this run's own deliveries
      const target = Math.max(point, accepted + 5)
      while (!exited && accepted < target) {
        yield* Effect.sleep("10 millis")
        accepted = yield* upstream.count
      }
      if (exited) {
        const end = yield* Effect.promise(() => ingest.exited)
        yield* log(
          `run ${runs} ended by itself (${end.signal ?? end.code}) before ${point} accepted\n${ingest.stderr()}`
        )
        break
      }
      ingest.kill()
      yield* Effect.promise(() => ingest.exited)
      const after = yield* upstream.count
      kills.push({ afterAccepted: point, killedAtAccepted: after })
      yield* log(`kill ${kills.length}/${points.length}: SIGKILL at ${after} records accepted`)
    }
    runs++
    const reportFile = `${paths.upstream}.crash-final-report.json`
    const final = startIngest([...common, "--report-json", reportFile])
    const end = yield* Effect.promise(() => final.exited)
    if (end.code !== 0) return yield* Effect.fail(new Error(`the final run failed (${end.code}):\n${final.stderr()}`))
    // the final run's report, as a user would read it (JSON from our own process)
    const finalReport = JSON.parse(readFileSync(reportFile, "utf8")) as Report.Report

    // the truth: the upstream's file, the dead letter file, the checkpoint
    const ledger = yield* upstream.ledger
    const stats = yield* upstream.stats
    const { letters, checkpoint } = yield* readStores(paths, o.batchId)
    const records = Dataset.generate({ records: o.records, seed: o.seed, malformedRate: o.malformedRate })
    const deliveredById = new Map<string, number>()
    for (const e of ledger.entries) deliveredById.set(e.id, (deliveredById.get(e.id) ?? 0) + 1)
    const lettersByKey = new Map<string, number>()
    for (const e of letters) lettersByKey.set(e.idempotencyKey, (lettersByKey.get(e.idempotencyKey) ?? 0) + 1)
    const outcomeByKey = new Map(checkpoint.map((e) => [e.key, e.outcome]))
    let deliveredOnce = 0
    let deadLettered = 0
    let lost = 0
    let duplicated = 0
    let both = 0
    let checkpointDisagrees = 0
    const problems: Array<string> = []
    for (const record of records) {
      const delivered = deliveredById.get(record.id) ?? 0
      const dead = lettersByKey.get(`${o.batchId}/${record.id}`) ?? 0
      if (delivered === 0 && dead === 0) {
        lost++
        problems.push(`${record.id}: lost (neither delivered nor dead-lettered)`)
      } else if (delivered > 1 || dead > 1) {
        duplicated++
        problems.push(`${record.id}: delivered ${delivered} times, dead-lettered ${dead} times`)
      } else if (delivered === 1 && dead === 1) {
        // accepted, but the answer came after the last attempt gave up: delivered once, and the
        // dead letter replays safely (same idempotency key, the upstream answers from its file)
        both++
      } else if (delivered === 1) deliveredOnce++
      else deadLettered++
      const expected = dead > 0 ? "dead-lettered" : "succeeded"
      const recorded = outcomeByKey.get(record.id)
      if (recorded !== expected) {
        checkpointDisagrees++
        problems.push(`${record.id}: the checkpoint says ${recorded ?? "nothing"}, expected ${expected}`)
      }
    }
    const agrees =
      finalReport.lost === lost &&
      finalReport.duplicates === ledger.duplicates &&
      finalReport.deliveredAndDeadLettered === both
    if (!agrees) {
      problems.push(
        `the final report says lost ${finalReport.lost}, duplicates ${finalReport.duplicates}, delivered and dead-lettered ${finalReport.deliveredAndDeadLettered}; ` +
          `the stores say ${lost}, ${ledger.duplicates}, ${both}`
      )
    }
    const report: CrashTestReport = {
      batchId: o.batchId,
      records: records.length,
      kills,
      runs,
      deliveredOnce,
      deadLettered,
      lost,
      duplicated: duplicated + ledger.duplicates,
      deliveredAndDeadLettered: both,
      checkpointDisagrees,
      replayedByUpstream: stats.replayed,
      finalReport: { lost: finalReport.lost, duplicates: finalReport.duplicates, agrees },
      problems: problems.slice(0, 50),
      passed: problems.length === 0 && ledger.duplicates === 0 && kills.length === points.length
    }
    process.stdout.write(`${format(report)}\n`)
    if (o.reportJson !== undefined) writeFileSync(o.reportJson, `${JSON.stringify(report, null, 2)}\n`)
    if (!report.passed) return yield* Effect.fail(new Error("crash test failed: see the problems above"))
    return report
  }).pipe(Effect.scoped)

export const format = (r: CrashTestReport): string => {
  const lines: Array<string> = []
  const row = (label: string, value: string | number) => lines.push(`  ${label.padEnd(34)} ${value}`)
  lines.push(`Crash test of batch ${r.batchId}: ${r.passed ? "PASSED" : "FAILED"}`)
  row(
    "kills survived (SIGKILL)",
    `${r.kills.length} (at ${r.kills.map((k) => k.killedAtAccepted).join(", ")} accepted)`
  )
  row("runs", r.runs)
  row("records", r.records)
  row("delivered exactly once", r.deliveredOnce)
  row("dead-lettered exactly once", r.deadLettered)
  row("lost", r.lost)
  row("duplicated", r.duplicated)
  row("delivered and dead-lettered", `${r.deliveredAndDeadLettered} (accepted upstream, answer too late; replay-safe)`)
  row("checkpoint disagreeing", r.checkpointDisagrees)
  row("answers replayed by key (upstream)", r.replayedByUpstream)
  row(
    "the final run's report",
    `lost ${r.finalReport.lost}, duplicates ${r.finalReport.duplicates} (${r.finalReport.agrees ? "agrees with the stores" : "DISAGREES with the stores"})`
  )
  for (const p of r.problems) lines.push(`  ! ${p}`)
  return lines.join("\n")
}
