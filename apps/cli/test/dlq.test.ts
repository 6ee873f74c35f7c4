/**
 * Runs the real CLI (`tsx apps/cli/src/main.ts`) against temporary SQLite files.
 */
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { createServer, type IncomingMessage, type Server } from "node:http"
import { tmpdir, userInfo } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Classification from "@effect-resilience/core/Classification"
import type * as AuditLog from "@effect-resilience/durable/AuditLog"
import * as DLQ from "@effect-resilience/durable/DeadLetterQueue"
import * as SqlDeadLetterQueue from "@effect-resilience/sql/SqlDeadLetterQueue"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const tsx = join(root, "node_modules/.bin/tsx")
const main = join(root, "apps/cli/src/main.ts")

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const cli = (...args: ReadonlyArray<string>): Promise<Run> =>
  new Promise((done) => {
    execFile(tsx, [main, ...args], { cwd: root, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
      done({ code, stdout: String(stdout), stderr: String(stderr) })
    })
  })

const lastLine = (s: string) => s.trimEnd().split("\n").at(-1) ?? ""

let dir = ""
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "dlq-cli-"))
})
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })

const seed = (filename: string, items: ReadonlyArray<{ id: string; category: Classification.Category }>) =>
  Effect.runPromise(
    Effect.forEach(items, (item) =>
      DLQ.deadLetter(Order, {
        queue: "orders",
        payload: { id: item.id, amount: 10 },
        failure: new Error("upstream failed"),
        classification: Classification.make({
          category: item.category,
          code: `test.${item.category}`,
          message: "Upstream failed"
        }),
        history: [],
        idempotencyKey: `order:${item.id}`
      })
    ).pipe(
      Effect.provide(
        DLQ.layer().pipe(Layer.provide(SqlDeadLetterQueue.layerStoreConfig({ dialect: "sqlite", filename })))
      )
    )
  )

const read = (filename: string, id: string) =>
  Effect.runPromise(
    Effect.flatMap(DLQ.DeadLetterQueue, (dlq) => dlq.get(id)).pipe(
      Effect.map(Option.getOrThrow),
      Effect.provide(
        DLQ.layer().pipe(Layer.provide(SqlDeadLetterQueue.layerStoreConfig({ dialect: "sqlite", filename })))
      )
    )
  )

describe("pnpm cli dlq", () => {
  it("stats on a file that does not exist yet creates an empty store and prints zero counts", async () => {
    const filename = join(dir, "new.db")
    expect(existsSync(filename)).toBe(false)
    const run = await cli("dlq", "stats", "--db", filename, "--json")
    expect(run.code).toBe(0)
    expect(JSON.parse(lastLine(run.stdout))).toEqual({
      total: 0,
      byStatus: { pending: 0, replaying: 0, resolved: 0, discarded: 0 },
      byQueue: {},
      byCategory: {},
      manualReview: 0
    })
    expect(existsSync(filename)).toBe(true)
  }, 600_000)

  it("list and show print readable text and JSON", async () => {
    const filename = join(dir, "list.db")
    const [a, b] = await seed(filename, [
      { id: "o-1", category: "network" },
      { id: "o-2", category: "validation" }
    ])
    // one after the other: CI machines have two cores
    const text = await cli("dlq", "list", "--db", filename)
    const filtered = await cli("dlq", "list", "--db", filename, "--category", "validation", "--json")
    const review = await cli("dlq", "list", "--db", filename, "--review", "--json")
    const show = await cli("dlq", "show", a!.id, "--db", filename)
    const showJson = await cli("dlq", "show", b!.id, "--db", filename, "--json")
    const missing = await cli("dlq", "show", "dl_nope", "--db", filename)
    expect(text.code).toBe(0)
    expect(text.stdout).toContain("STATUS")
    expect(text.stdout).toContain(a!.id)
    expect(text.stdout).toContain("1-2 of 2")

    const page = JSON.parse(lastLine(filtered.stdout))
    expect(page.total).toBe(1)
    expect(page.entries[0].id).toBe(b!.id)

    expect(JSON.parse(lastLine(review.stdout)).entries.map((e: { id: string }) => e.id)).toEqual([b!.id])

    expect(show.code).toBe(0)
    expect(show.stdout).toContain("Idempotency key  order:o-1")
    expect(show.stdout).toContain('"amount": 10')
    const shown = JSON.parse(lastLine(showJson.stdout))
    expect(shown.id).toBe(b!.id)
    expect(shown.payload).toEqual({ id: "o-2", amount: 10 })

    expect(missing.code).toBe(1)
    expect(missing.stderr.trim()).toBe('error: No dead letter has the id "dl_nope"')
  }, 600_000)

  it("discard records the operator (or the OS user without --operator) in the notes and the audit trail", async () => {
    const filename = join(dir, "discard.db")
    const [entry, other] = await seed(filename, [
      { id: "o-1", category: "business" },
      { id: "o-2", category: "business" }
    ])
    const asOsUser = await cli("dlq", "discard", other!.id, "--db", filename, "--json")
    expect(asOsUser.code).toBe(0)
    expect((await read(filename, other!.id)).notes.at(-1)).toMatchObject({
      operator: userInfo().username,
      action: "discarded"
    })

    const done = await cli(
      "dlq",
      "discard",
      entry!.id,
      "--db",
      filename,
      "--operator",
      "alice",
      "--note",
      "duplicate",
      "--json"
    )
    expect(done.code).toBe(0)
    expect(JSON.parse(lastLine(done.stdout)).status).toBe("discarded")
    const stored = await read(filename, entry!.id)
    expect(stored.status).toBe("discarded")
    expect(stored.notes.at(-1)).toMatchObject({ operator: "alice", action: "discarded", text: "duplicate" })

    const again = await cli("dlq", "discard", entry!.id, "--db", filename, "--operator", "alice")
    expect(again.code).toBe(1)

    const purged = await cli(
      "dlq",
      "purge",
      "--db",
      filename,
      "--older-than",
      "0 millis",
      "--operator",
      "alice",
      "--json"
    )
    expect(JSON.parse(lastLine(purged.stdout))).toMatchObject({ purged: 2, operator: "alice" })

    // the trail, newest first: the purge, alice's discard, the OS user's discard; the refused
    // second discard of an entry no longer pending changed nothing and wrote nothing
    const trail = JSON.parse(lastLine((await cli("audit", "--db", filename, "--json")).stdout))
    expect(trail.total).toBe(3)
    expect(trail.entries.map((e: AuditLog.Entry) => [e.actor, e.action, e.target])).toEqual([
      ["alice", "dead-letter.purge", "resolved,discarded"],
      ["alice", "dead-letter.discard", entry!.id],
      [userInfo().username, "dead-letter.discard", other!.id]
    ])
    expect(trail.entries[0].after).toMatchObject({ purged: 2 })
    expect(trail.entries[1].before).toMatchObject({ status: "pending", version: 0 })
    expect(trail.entries[1].after).toMatchObject({ status: "discarded", version: 1 })
  }, 600_000)

  it("bulk discard by filter discards every pending match, each audited; audit filters and pages", async () => {
    const filename = join(dir, "bulk.db")
    const seeded = await seed(filename, [
      { id: "o-1", category: "validation" },
      { id: "o-2", category: "network" },
      { id: "o-3", category: "validation" },
      { id: "o-4", category: "validation" },
      { id: "o-5", category: "network" }
    ])
    const validation = [seeded[0]!, seeded[2]!, seeded[3]!].map((e) => e.id)
    const unfiltered = await cli("dlq", "discard", "--db", filename, "--operator", "carol")
    expect(unfiltered.code).toBe(1)
    expect(unfiltered.stderr).toContain("--all")

    const bulk = await cli(
      "dlq",
      "discard",
      "--db",
      filename,
      "--category",
      "validation",
      "--operator",
      "carol",
      "--json"
    )
    expect(bulk.code).toBe(0)
    expect(JSON.parse(lastLine(bulk.stdout))).toEqual({ discarded: validation, skipped: [], operator: "carol" })
    for (const id of validation) expect((await read(filename, id)).status).toBe("discarded")
    expect((await read(filename, seeded[1]!.id)).status).toBe("pending")

    const one = await cli("dlq", "discard", seeded[1]!.id, "--db", filename, "--operator", "dave", "--json")
    expect(one.code).toBe(0)

    // one run after the other: CI machines have two cores
    const all = JSON.parse(lastLine((await cli("audit", "--db", filename, "--json")).stdout))
    const carols = JSON.parse(lastLine((await cli("audit", "--db", filename, "--actor", "carol", "--json")).stdout))
    const paged = JSON.parse(
      lastLine((await cli("audit", "--db", filename, "--limit", "2", "--offset", "1", "--json")).stdout)
    )
    const future = JSON.parse(
      lastLine((await cli("audit", "--db", filename, "--since", "2999-01-01", "--json")).stdout)
    )
    const byAction = JSON.parse(
      lastLine((await cli("audit", "--db", filename, "--action", "dead-letter.replay", "--json")).stdout)
    )
    const text = await cli("audit", "--db", filename, "--target", seeded[1]!.id)
    const bad = await cli("audit", "--db", filename, "--since", "soon")

    expect(all.total).toBe(4)
    expect(all.entries.map((e: AuditLog.Entry) => e.actor)).toEqual(["dave", "carol", "carol", "carol"])
    expect(carols.total).toBe(3)
    expect(carols.entries.map((e: AuditLog.Entry) => e.target).sort()).toEqual([...validation].sort())
    expect(carols.entries.every((e: AuditLog.Entry) => e.action === "dead-letter.discard")).toBe(true)
    expect(paged).toMatchObject({ total: 4, limit: 2, offset: 1 })
    expect(paged.entries.map((e: AuditLog.Entry) => e.id)).toEqual(
      all.entries.slice(1, 3).map((e: AuditLog.Entry) => e.id)
    )
    expect(future).toEqual({ entries: [], total: 0, limit: 50, offset: 0 })
    expect(byAction.total).toBe(0)
    expect(text.code).toBe(0)
    expect(text.stdout).toContain("ACTOR")
    expect(text.stdout).toContain("dave")
    expect(text.stdout).toContain('{"status":"discarded"')
    expect(text.stdout).toContain("1-1 of 1")
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain("--since")
  }, 600_000)

  it("replay POSTs each payload with its idempotency key to --target; failures go back to pending", async () => {
    const filename = join(dir, "replay.db")
    const [ok, bad] = await seed(filename, [
      { id: "o-1", category: "network" },
      { id: "o-2", category: "network" }
    ])
    const received: Array<{ key: string | undefined; body: unknown }> = []
    const server: Server = createServer((req: IncomingMessage, res) => {
      let body = ""
      req.on("data", (chunk) => {
        body += chunk
      })
      req.on("end", () => {
        const parsed = JSON.parse(body)
        received.push({ key: req.headers["idempotency-key"]?.toString(), body: parsed })
        res.statusCode = parsed.id === "o-2" ? 503 : 200
        res.end()
      })
    })
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()))
    const address = server.address()
    if (address === null || typeof address === "string") throw new Error("no port")
    const target = `http://127.0.0.1:${address.port}/orders`
    try {
      const refused = await cli("dlq", "replay", "--db", filename, "--operator", "bob")
      expect(refused.code).toBe(1)
      expect(refused.stderr).toContain("--target")
      expect(received).toEqual([])

      const run = await cli(
        "dlq",
        "replay",
        "--db",
        filename,
        "--queue",
        "orders",
        "--target",
        target,
        "--operator",
        "bob",
        "--json"
      )
      expect(run.code).toBe(0)
      const report = JSON.parse(lastLine(run.stdout))
      expect(report.resolved).toEqual([ok!.id])
      expect(report.failed.map((f: { id: string }) => f.id)).toEqual([bad!.id])
      expect(report.failed[0].classification.category).toBe("unavailable")
      expect(received.map((r) => r.key).sort()).toEqual(["order:o-1", "order:o-2"])
      expect(received.find((r) => r.key === "order:o-1")?.body).toEqual({ id: "o-1", amount: 10 })

      const resolved = await read(filename, ok!.id)
      expect(resolved.status).toBe("resolved")
      expect(resolved.notes.at(-1)).toMatchObject({ operator: "bob", action: "replayed" })
      const failed = await read(filename, bad!.id)
      expect(failed.status).toBe("pending")
      expect(failed.failure.history.at(-1)?.classification.code).toContain("503")

      const trail = JSON.parse(
        lastLine((await cli("audit", "--db", filename, "--action", "dead-letter.replay", "--json")).stdout)
      )
      expect(trail.total).toBe(2)
      const byTarget = new Map(trail.entries.map((e: AuditLog.Entry) => [e.target, e]))
      expect(byTarget.get(ok!.id)).toMatchObject({
        actor: "bob",
        before: { status: "pending" },
        after: { status: "resolved", replays: 1 }
      })
      expect(byTarget.get(bad!.id)).toMatchObject({ actor: "bob", after: { status: "pending", replays: 1 } })
    } finally {
      server.close()
    }
  }, 600_000)

  it("a foreign file gives a clear error and no stack trace", async () => {
    const run = await cli("dlq", "stats", "--db", join(root, "package.json"), "--json")
    expect(run.code).toBe(1)
    expect(JSON.parse(lastLine(run.stdout))).toEqual({
      error: {
        tag: "DeadLetterStoreError",
        message: `"${join(root, "package.json")}" is not a SQLite database (is it the right file?)`
      }
    })
    expect(run.stderr).not.toMatch(/\n\s+at /)
  }, 600_000)

  it("an unreachable PostgreSQL says so without the password", async () => {
    const run = await cli("dlq", "stats", "--url", "postgres://ops:hunter2@127.0.0.1:1/dlq")
    expect(run.code).toBe(1)
    expect(run.stderr.trim()).toMatch(/^error: Cannot reach PostgreSQL: /)
    expect(run.stderr).not.toContain("hunter2")
  }, 600_000)
})
