/**
 * PostgreSQL stopped mid-batch: a dedicated cluster (initdb in a temp dir, a free port on
 * 127.0.0.1) holds the checkpoint, idempotency and dead letter stores; the cluster is stopped while
 * the batch runs and started again. The batch stops with a classified store error, nothing is
 * recorded as done that was neither delivered nor dead-lettered, and a rerun completes the batch
 * with each item delivered once or dead-lettered once.
 */
import { execFile } from "node:child_process"
import { chmodSync, chownSync, mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import * as Checkpoint from "@effect-resilience/durable/Checkpoint"
import * as DeadLetterQueue from "@effect-resilience/durable/DeadLetterQueue"
import { SqlCheckpoint, SqlDeadLetterQueue, SqlIdempotency } from "@effect-resilience/sql"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { classifier, doneButNotDelivered, exactlyOnce, items, makeReceiver, runBatch } from "./support.js"

const run = promisify(execFile)
const bin = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin"

/** As root, PostgreSQL's tools run as the postgres user. */
const pg = (tool: string, args: ReadonlyArray<string>) => {
  const asRoot = process.getuid?.() === 0
  const [command, ...rest] = asRoot
    ? ["runuser", "-u", "postgres", "--", join(bin, tool), ...args]
    : [join(bin, tool), ...args]
  return run(command ?? tool, rest, { timeout: 60_000 })
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** A cluster of our own for the test's lifetime. */
const cluster = Effect.acquireRelease(
  Effect.promise(async () => {
    const dir = mkdtempSync(join(tmpdir(), "fault-pg-"))
    chmodSync(dir, 0o777)
    if (process.getuid?.() === 0) {
      const { stdout } = await run("id", ["-u", "postgres"])
      const { stdout: gid } = await run("id", ["-g", "postgres"])
      chownSync(dir, Number(stdout.trim()), Number(gid.trim()))
    }
    const data = join(dir, "data")
    await pg("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
    const port = await freePort()
    const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`
    const start = () => pg("pg_ctl", ["-D", data, "-o", options, "-l", join(dir, "log"), "-w", "start"])
    const stop = (mode: "fast" | "immediate") => pg("pg_ctl", ["-D", data, "-m", mode, "-w", "stop"])
    await start()
    return { dir, url: `postgres://postgres@127.0.0.1:${port}/postgres`, start, stop }
  }),
  (c) =>
    Effect.promise(async () => {
      await c.stop("immediate").catch(() => undefined)
      rmSync(c.dir, { recursive: true, force: true })
    })
)

const stores = (url: string) => {
  const config = { dialect: "pg", url, maxConnections: 4, connectTimeout: "2 seconds" } as const
  return Layer.mergeAll(
    SqlCheckpoint.layerStoreConfig(config),
    SqlIdempotency.layerStoreConfig(config),
    DeadLetterQueue.layer().pipe(Layer.provide(SqlDeadLetterQueue.layerStoreConfig(config))),
    classifier
  )
}

const readBack = (batchId: string, url: string) =>
  Effect.gen(function* () {
    const checkpoint = yield* (yield* Checkpoint.CheckpointStore).load(batchId)
    const letters = (yield* (yield* DeadLetterQueue.DeadLetterQueue).list({ queue: batchId }, { limit: 100_000 }))
      .entries
    return { checkpoint, deadLetterKeys: letters.map((e) => e.idempotencyKey) }
  }).pipe(Effect.provide(stores(url)))

describe("PostgreSQL faults", () => {
  it.live(
    "stopped mid-batch: the batch stops with a classified store error; started again, a rerun completes each item once",
    () =>
      Effect.gen(function* () {
        const pgCluster = yield* cluster
        const list = items(300)
        const receiver = makeReceiver()
        yield* readBack("pg-stop", pgCluster.url)
        const stopped = Effect.async<void>((resume) => {
          const off = receiver.onDelivery((n) => {
            if (n === 80) {
              off()
              void pgCluster.stop("fast").then(() => resume(Effect.void))
            }
          })
        })
        const [first] = yield* Effect.all(
          [
            Effect.either(runBatch("pg-stop", receiver, list).pipe(Effect.provide(stores(pgCluster.url)))).pipe(
              Effect.timeout("30 seconds")
            ),
            stopped
          ],
          { concurrency: 2 }
        )
        expect(Either.isLeft(first)).toBe(true)
        if (Either.isLeft(first)) {
          // a store error of the batch, saying what it was doing, without the URL
          expect(["CheckpointError", "IdempotencyError", "DeadLetterStoreError"]).toContain(first.left._tag)
          expect(first.left.message).not.toContain(pgCluster.url)
          expect(first.left.message.length).toBeGreaterThan(0)
        }
        expect(receiver.processed.size).toBeLessThan(list.length)

        yield* Effect.promise(pgCluster.start)
        const after = yield* readBack("pg-stop", pgCluster.url)
        expect(doneButNotDelivered("pg-stop", receiver, after.checkpoint, new Set(after.deadLetterKeys))).toEqual([])
        const second = yield* runBatch("pg-stop", receiver, list).pipe(Effect.provide(stores(pgCluster.url)))
        expect(second.status).toBe("completed")
        const { deadLetterKeys, checkpoint } = yield* readBack("pg-stop", pgCluster.url)
        expect(checkpoint.length).toBe(list.length)
        expect(exactlyOnce("pg-stop", receiver, list, deadLetterKeys)).toEqual([])
      }).pipe(Effect.scoped),
    90_000
  )
})
