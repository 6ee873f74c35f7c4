/**
 * Crash test: a child process runs a batch of deliveries against an HTTP upstream on 127.0.0.1,
 * with its checkpoint, idempotency keys and dead letters in one SQLite file. The parent kills it
 * with SIGKILL at seeded random points (after a random number of deliveries, so kills land while
 * requests are in flight), restarts it, and finally lets it finish. Then:
 *
 * - every item was processed by the upstream exactly once, or sits in the dead letter queue
 *   exactly once, never both, never neither (none lost, none doubled);
 * - the items the upstream rejects for good (400) and those it never serves (503 on every
 *   delivery) are the dead letters, with their classification and attempt history;
 * - redeliveries of a key the upstream already processed (answered from its idempotency cache, not
 *   processed again) are bounded by kills x concurrency: only items in flight at a kill are sent
 *   again; completed items are skipped (checkpoint) or replayed from the idempotency store.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { DeadLetterQueue } from "@effect-resilience/durable"
import { SqlCheckpoint, SqlDeadLetterQueue } from "@effect-resilience/sql"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { prng } from "@effect-resilience/demo/Prng"

const ITEMS = 200
const CONCURRENCY = 8
const KILLS = 5
const SEED = 20240611
const LEASE_MS = 500
const batchId = "crash-batch"

const root = fileURLToPath(new URL("../../", import.meta.url))
const childPath = fileURLToPath(new URL("./child.ts", import.meta.url))

/** FNV-1a, to seed the upstream's randomness per delivery. */
const hash = (s: string) => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** What the child prints when its batch completes. */
const Summary = Schema.parseJson(
  Schema.Struct({
    status: Schema.String,
    succeeded: Schema.Number,
    replayed: Schema.Number,
    deadLettered: Schema.Number,
    skipped: Schema.Number,
    failed: Schema.Number
  })
)

const permanent = (id: number) => id % 10 === 3 // 400 on every delivery
const neverServed = (id: number) => id % 23 === 5 // 503 on every delivery: retries exhausted
const flakyOnce = (id: number) => id % 4 === 1 // 503 on the first delivery only

/**
 * The upstream: an idempotent receiver. It processes a key once, remembers the answer, and answers
 * a later delivery of the same key from that memory (counting it as a redelivery). It processes
 * before it answers, and answers after a few milliseconds, so a kill can land after the work was
 * done and before the client heard of it.
 */
const makeUpstream = () => {
  const deliveries = new Map<string, number>()
  const processed = new Map<string, number>()
  const answers = new Map<string, string>()
  let total = 0
  let redeliveries = 0
  const listeners = new Set<() => void>()
  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const key = String(req.headers["idempotency-key"] ?? "")
    const parsed: unknown = JSON.parse(body)
    const id =
      typeof parsed === "object" && parsed !== null && "id" in parsed && typeof parsed.id === "number" ? parsed.id : -1
    const n = (deliveries.get(key) ?? 0) + 1
    // Seeded per (key, delivery): the same deliveries fail whatever the interleaving.
    const random = prng(hash(`${SEED}:${key}:${n}`))
    deliveries.set(key, n)
    total++
    for (const listener of listeners) listener()
    const reply = (status: number, payload: unknown) =>
      setTimeout(
        () => {
          res.writeHead(status, { "content-type": "application/json" })
          res.end(JSON.stringify(payload))
        },
        2 + Math.floor(random() * 8)
      )
    const cached = answers.get(key)
    if (cached !== undefined) {
      redeliveries++
      return reply(200, { receipt: cached })
    }
    if (permanent(id)) return reply(400, { error: "rejected" })
    if (neverServed(id) || (flakyOnce(id) && n === 1) || random() < 0.03) return reply(503, { error: "busy" })
    processed.set(key, (processed.get(key) ?? 0) + 1)
    const receipt = `r-${id}`
    answers.set(key, receipt)
    return reply(200, { receipt })
  }
  const server = createServer((req, res) => {
    let body = ""
    req.on("data", (chunk) => {
      body += chunk
    })
    req.on("end", () => handle(req, res, body))
  })
  return {
    server,
    processed,
    deliveries,
    get total() {
      return total
    },
    get redeliveries() {
      return redeliveries
    },
    onDelivery: (listener: () => void) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    }
  }
}

type Upstream = ReturnType<typeof makeUpstream>

interface Run {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Starts the child; kills it with SIGKILL after `killAfter` more deliveries (if given). */
const runChild = (upstream: Upstream, url: string, file: string, killAfter: number | undefined) =>
  new Promise<Run>((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", childPath, url, file, batchId, String(ITEMS), String(CONCURRENCY), String(LEASE_MS)],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] }
    )
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => {
      stdout += d
    })
    child.stderr.on("data", (d) => {
      stderr += d
    })
    const start = upstream.total
    const stop =
      killAfter === undefined
        ? () => true
        : upstream.onDelivery(() => {
            if (upstream.total - start >= killAfter) child.kill("SIGKILL")
          })
    child.on("exit", (code, signal) => {
      stop()
      resolve({ code, signal, stdout, stderr })
    })
  })

describe("Batch crash test", () => {
  it.live(
    "SIGKILLed and restarted several times, every item succeeds exactly once or sits in the DLQ",
    () =>
      Effect.gen(function* () {
        const random = prng(SEED)
        const upstream = makeUpstream()
        yield* Effect.acquireRelease(
          Effect.async<void>((resume) => {
            upstream.server.listen(0, "127.0.0.1", () => resume(Effect.void))
          }),
          () =>
            Effect.async<void>((resume) => {
              upstream.server.closeAllConnections()
              upstream.server.close(() => resume(Effect.void))
            })
        )
        const address = upstream.server.address()
        const url = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
        const dir = yield* Effect.acquireRelease(
          Effect.sync(() => mkdtempSync(join(tmpdir(), "crash-test-"))),
          (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
        )
        const file = join(dir, "batch.db")

        const kills: Array<number> = []
        const durations: Array<number> = []
        const timed = <A>(f: () => Promise<A>) =>
          Effect.promise(async () => {
            const t0 = Date.now()
            const a = await f()
            durations.push(Date.now() - t0)
            return a
          })
        for (let i = 0; i < KILLS; i++) {
          const killAfter = 5 + Math.floor(random() * 40)
          const run = yield* timed(() => runChild(upstream, url, file, killAfter))
          expect(run.signal, `run ${i} should have been killed, it ended: ${run.stderr}`).toBe("SIGKILL")
          kills.push(killAfter)
        }
        const last = yield* timed(() => runChild(upstream, url, file, undefined))
        expect(last.code, last.stderr).toBe(0)
        const summary = yield* Schema.decodeUnknown(Summary)(last.stdout.trim().split("\n").at(-1) ?? "")
        expect(summary.status).toBe("completed")
        expect(summary.failed).toBe(0)
        expect(summary.succeeded + summary.deadLettered + summary.skipped).toBe(ITEMS)

        // Read what the child left in its SQLite file.
        const { checkpoint, letters } = yield* Effect.gen(function* () {
          const dlq = yield* DeadLetterQueue.DeadLetterQueue
          const letters = (yield* dlq.list({}, { limit: 10_000 })).entries
          const checkpoint = yield* Effect.flatMap(SqlCheckpoint.makeStore, (s) => s.load(batchId))
          return { checkpoint, letters }
        }).pipe(
          Effect.provide(
            DeadLetterQueue.layer().pipe(
              Layer.provide(SqlDeadLetterQueue.layerStore),
              Layer.provideMerge(SqliteClient.layer({ filename: file }))
            )
          )
        )

        const lettersByKey = new Map<string, number>()
        for (const e of letters) lettersByKey.set(e.idempotencyKey, (lettersByKey.get(e.idempotencyKey) ?? 0) + 1)
        const outcomeByKey = new Map(checkpoint.map((e) => [e.key, e.outcome]))

        const problems: Array<string> = []
        for (let id = 0; id < ITEMS; id++) {
          const key = `${batchId}/item-${id}`
          const processed = upstream.processed.get(key) ?? 0
          const inDlq = lettersByKey.get(key) ?? 0
          if (processed + inDlq !== 1) problems.push(`${key}: processed ${processed}, dead letters ${inDlq}`)
          if ((permanent(id) || neverServed(id)) && inDlq !== 1) problems.push(`${key}: should be a dead letter`)
          const expected = processed === 1 ? "succeeded" : "dead-lettered"
          if (outcomeByKey.get(`item-${id}`) !== expected) {
            problems.push(`${key}: checkpoint says ${outcomeByKey.get(`item-${id}`)}, expected ${expected}`)
          }
        }
        expect(problems).toEqual([])
        expect(checkpoint.length).toBe(ITEMS)

        for (const e of letters) {
          const id = Number(e.idempotencyKey.split("item-")[1])
          expect(e.payload).toEqual({ id, payload: `item-${id}` })
          if (permanent(id)) {
            expect(e.failure.classification).toMatchObject({ category: "client", retryable: false })
          } else {
            expect(e.failure.tag).toBe("RetriesExhausted")
            expect(e.failure.history.length).toBe(3)
          }
        }

        // Only items in flight at a kill can be delivered again.
        expect(upstream.redeliveries).toBeLessThanOrEqual(KILLS * CONCURRENCY)
        const deliveredTwice = [...upstream.deliveries.values()].filter((n) => n > 1).length
        console.log(
          `crash test: ${KILLS} kills after ${kills.join(", ")} deliveries; ${upstream.total} deliveries in all; ` +
            `${upstream.processed.size} processed once, ${letters.length} dead letters; ` +
            `${upstream.redeliveries} redeliveries of processed keys (answered from the upstream's cache); ` +
            `${deliveredTwice} keys delivered more than once (retries included); last run: ${JSON.stringify(summary)}; ` +
            `child runs took ${durations.join(", ")} ms`
        )
      }).pipe(Effect.scoped),
    120_000
  )
})
