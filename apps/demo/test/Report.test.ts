import type * as Batch from "@effect-resilience/durable/Batch"
import * as Classification from "@effect-resilience/core/Classification"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Dataset from "../src/Dataset.js"
import * as Report from "../src/Report.js"
import type { UpstreamStats } from "../src/Upstream.js"

const records = Dataset.generate({ records: 6, seed: 1, malformedRate: 0 })
const at = (i: number): Dataset.Record => {
  const record = records[i]
  if (record === undefined) throw new Error(`no record ${i}`)
  return record
}
const [a, b, c, d, e, f] = [at(0), at(1), at(2), at(3), at(4), at(5)]

const upstream: Omit<UpstreamStats, "requestsByKey"> = {
  requests: 0,
  accepted: 0,
  duplicates: 0,
  replayed: 0,
  faults: { "5xx": 0, "429": 0, slow: 0, reset: 0, outage: 0, "400": 0, "422": 0 },
  outageStartedAtMillis: undefined,
  reads: { total: 0, slow: 0 }
}

const succeeded = (item: Dataset.Record): Batch.Succeeded<Dataset.Record, Dataset.Receipt> => ({
  _tag: "Succeeded",
  key: item.id,
  item,
  result: { id: item.id, receipt: "r" },
  replayed: false
})

const deadLettered = (item: Dataset.Record, category: Classification.Category): Batch.DeadLettered<Dataset.Record> => ({
  _tag: "DeadLettered",
  key: item.id,
  item,
  classification: Classification.make({ category, code: "test", message: "test" }),
  message: "test",
  deadLetterId: `dl-${item.id}`
})

const resultOf = (
  outcomes: ReadonlyArray<Batch.ItemOutcome<Dataset.Record, Dataset.Receipt>>
): Batch.BatchResult<Dataset.Record, Dataset.Receipt> => ({
  batchId: "b",
  mode: "best-effort",
  status: "completed",
  outcomes,
  succeeded: outcomes.filter((o) => o._tag === "Succeeded"),
  failed: outcomes.filter((o) => o._tag === "Failed"),
  deadLettered: outcomes.filter((o) => o._tag === "DeadLettered"),
  skipped: outcomes.filter((o) => o._tag === "Skipped"),
  compensated: [],
  compensationFailed: [],
  cancelled: []
})

const key = (r: Dataset.Record) => `b/${r.id}`

describe("Report", () => {
  it("counts first tries, recoveries, dead letters by category, and lost records against the upstream", () => {
    const outcomes: Array<Batch.ItemOutcome<Dataset.Record, Dataset.Receipt>> = [
      succeeded(a), // first try
      succeeded(b), // recovered after 3 attempts
      deadLettered(c, "validation"), // permanent: not a transient failure
      deadLettered(d, "unavailable"), // transient, not recovered; accepted upstream after all (late answer)
      succeeded(e), // the batch says succeeded but the upstream never accepted it: lost
      {
        _tag: "Failed",
        key: f.id,
        item: f,
        classification: Classification.make({ category: "unknown", code: "x", message: "x" }),
        message: "x",
        cause: Cause.fail("x")
      } // no final outcome: lost
    ]
    const report = Report.make({
      batchId: "b",
      records,
      result: resultOf(outcomes),
      idempotencyKey: key,
      requestsByKey: new Map([
        [key(a), 1],
        [key(b), 3],
        [key(c), 1],
        [key(d), 10],
        [key(e), 1]
      ]),
      latencyByKey: new Map([
        [key(a), 10],
        [key(b), 30],
        [key(c), 5]
      ]),
      acceptedIds: new Set([a.id, b.id, d.id]),
      duplicates: 2,
      upstream: { ...upstream, duplicates: 2 },
      retries: 11,
      breakerTransitions: ["1.0s closed->open"],
      elapsedMs: 1000
    })
    expect(report.records).toBe(6)
    expect(report.succeeded).toBe(3)
    expect(report.succeededFirstTry).toBe(2)
    expect(report.recoveredAfterRetry).toBe(1)
    expect(report.transientAffected).toBe(2)
    expect(report.recoveryRate).toBe(0.5)
    expect(report.deadLettered).toEqual({ total: 2, byCategory: { validation: 1, unavailable: 1 } })
    expect(report.lost).toBe(2)
    // dead-lettered, and accepted by the upstream after its last attempt gave up: its own line
    expect(report.deliveredAndDeadLettered).toBe(1)
    expect(Report.format(report)).toMatch(/ {2}delivered and dead-lettered +1 \(accepted upstream/)
    expect(report.duplicates).toBe(2)
    expect(report.attemptsPerRecord.max).toBe(10)
    expect(report.latencyMs.p50).toBe(10)
    expect(report.latencyMs.max).toBe(30)
    expect(report.breakerTransitions).toBe(1)
    expect(Report.format(report)).toContain("lost                               2")
  })

  it("counts records done in an earlier run as skipped, with their earlier outcome", () => {
    const outcomes: Array<Batch.ItemOutcome<Dataset.Record, Dataset.Receipt>> = records.map((item, i) => ({
      _tag: "Skipped",
      key: item.id,
      item,
      previous: i === 0 ? "dead-lettered" : "succeeded"
    }))
    const report = Report.make({
      batchId: "b",
      records,
      result: resultOf(outcomes),
      idempotencyKey: key,
      requestsByKey: new Map(),
      latencyByKey: new Map(),
      acceptedIds: new Set(records.slice(1).map((r) => r.id)),
      duplicates: 0,
      upstream,
      retries: 0,
      breakerTransitions: [],
      elapsedMs: 10
    })
    expect(report.skipped).toBe(6)
    expect(report.succeeded).toBe(5)
    expect(report.deadLettered).toEqual({ total: 1, byCategory: { "earlier run": 1 } })
    expect(report.lost).toBe(0)
    expect(report.deliveredAndDeadLettered).toBe(0)
    expect(report.recoveryRate).toBe(1)
  })
})
