/**
 * Text rendering of dead letters for a terminal.
 */
import type * as AuditLog from "@effect-resilience/durable/AuditLog"
import type * as DLQ from "@effect-resilience/durable/DeadLetterQueue"

const time = (millis: number) => new Date(millis).toISOString().replace(".000Z", "Z")

const pad = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n))

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.min(48, Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length))))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, i) => pad(c, widths[i] ?? c.length))
      .join("  ")
      .trimEnd()
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n")
}

/** A page of entries as a table. */
export const list = (result: DLQ.ListResult, page: { readonly limit: number; readonly offset: number }): string => {
  if (result.total === 0) return "No dead letters match."
  const rows = result.entries.map((e) => [
    e.id,
    e.queue,
    e.status,
    e.failure.classification.category,
    e.failure.classification.code,
    String(e.replays),
    time(e.createdAtMillis),
    e.failure.message
  ])
  const from = result.entries.length === 0 ? 0 : page.offset + 1
  return `${table(["ID", "QUEUE", "STATUS", "CATEGORY", "CODE", "REPLAYS", "CREATED", "MESSAGE"], rows)}\n\n${from}-${
    page.offset + result.entries.length
  } of ${result.total}`
}

/** One entry in full. */
export const entry = (e: DLQ.Entry): string => {
  const c = e.failure.classification
  const lines = [
    `ID               ${e.id}`,
    `Queue            ${e.queue}`,
    `Status           ${e.status}`,
    `Idempotency key  ${e.idempotencyKey}`,
    `Created          ${time(e.createdAtMillis)}`,
    `Updated          ${time(e.updatedAtMillis)}`,
    `Replays          ${e.replays}`,
    "",
    `Failure          ${e.failure.tag}: ${e.failure.message}`,
    `Classification   ${c.category} (${c.code}), severity ${c.severity}, ${c.retryable ? "retryable" : "not retryable"}`,
    "",
    `Attempts (${e.failure.history.length})`,
    ...e.failure.history.map(
      (a) =>
        `  #${a.attempt}  ${time(a.atMillis)}  ${a.classification.category}/${a.classification.code}  ${a.failure.tag}: ${a.failure.message}`
    ),
    "",
    `Notes (${e.notes.length})`,
    ...e.notes.map((n) => `  ${time(n.atMillis)}  ${n.action}${n.operator ? ` by ${n.operator}` : ""}: ${n.text}`),
    "",
    "Payload",
    JSON.stringify(e.payload, null, 2)
  ]
  return lines.join("\n")
}

/** What a replay did. */
export const replay = (r: DLQ.ReplayReport): string => {
  const lines = [
    `Resolved ${r.resolved.length}, failed ${r.failed.length}, invalid payload ${r.invalid.length}, skipped ${r.skipped.length}`
  ]
  for (const f of r.failed)
    lines.push(
      `  failed   ${f.id}: ${f.classification.category} (${f.classification.code}) ${f.classification.message}`
    )
  for (const i of r.invalid)
    for (const issue of i.issues)
      lines.push(`  invalid  ${i.id}: at ${issue.path.map(String).join(".") || "(root)"}: ${issue.message}`)
  for (const s of r.skipped) lines.push(`  skipped  ${s.id}: ${s.status}`)
  return lines.join("\n")
}

/** Counts. */
export const stats = (s: DLQ.Stats): string => {
  const statuses = ["pending", "replaying", "resolved", "discarded"] as const
  const lines = [
    `Total ${s.total}: ${statuses.map((k) => `${k} ${s.byStatus[k]}`).join(", ")}`,
    `Manual review (pending validation/authentication/business): ${s.manualReview}`
  ]
  const queues = Object.entries(s.byQueue)
  if (queues.length > 0) {
    lines.push(
      "",
      table(
        ["QUEUE", ...statuses.map((k) => k.toUpperCase())],
        queues.map(([q, c]) => [q, ...statuses.map((k) => String(c[k]))])
      )
    )
  }
  const cats = Object.entries(s.byCategory)
  if (cats.length > 0) {
    lines.push(
      "",
      table(
        ["CATEGORY", "COUNT"],
        cats.map(([k, n]) => [k, String(n)])
      )
    )
  }
  return lines.join("\n")
}

/** A state kept in the audit trail, on one line. */
const state = (value: unknown): string => (value === undefined ? "-" : JSON.stringify(value))

/** A page of the audit trail as a table. */
export const audit = (page: AuditLog.Page, at: { readonly limit: number; readonly offset: number }): string => {
  if (page.total === 0) return "No audit entries match."
  const rows = page.entries.map((e) => [time(e.atMillis), e.actor, e.action, e.target, state(e.before), state(e.after)])
  const from = page.entries.length === 0 ? 0 : at.offset + 1
  return `${table(["TIME", "ACTOR", "ACTION", "TARGET", "BEFORE", "AFTER"], rows)}\n\n${from}-${
    at.offset + page.entries.length
  } of ${page.total}`
}
