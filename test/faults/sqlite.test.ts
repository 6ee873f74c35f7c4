/**
 * SQLite faults on real files: a disk that fills mid-batch (a size-limited tmpfs), a database
 * locked by another process mid-batch, a file truncated, corrupted or not a database at all, and
 * the dead letter file unavailable while a batch has to dead-letter. Each ends with nothing lost and
 * nothing recorded as done that was neither delivered nor dead-lettered; a failure reads as one line
 * naming the file; a damaged file is never overwritten.
 */
import { execFileSync } from "node:child_process"
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, join } from "node:path"
import * as Checkpoint from "@effect-resilience/durable/Checkpoint"
import * as DeadLetterQueue from "@effect-resilience/durable/DeadLetterQueue"
import { describeStoreError } from "@effect-resilience/demo/Ingest"
import { SqlCheckpoint, SqlDeadLetterQueue, SqlIdempotency } from "@effect-resilience/sql"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import {
  classifier,
  doneButNotDelivered,
  exactlyOnce,
  items,
  makeReceiver,
  type Receiver,
  runBatch,
  sha256,
  startLocker
} from "./support.js"

const stores = (batchFile: string, dlqFile: string) =>
  Layer.mergeAll(
    SqlCheckpoint.layerStoreConfig({ dialect: "sqlite", filename: batchFile }),
    SqlIdempotency.layerStoreConfig({ dialect: "sqlite", filename: batchFile }),
    DeadLetterQueue.layer().pipe(
      Layer.provide(SqlDeadLetterQueue.layerStoreConfig({ dialect: "sqlite", filename: dlqFile }))
    ),
    classifier
  )

/** The checkpoint and the dead letter keys a batch left, read by a fresh connection. */
const readBack = (batchId: string, batchFile: string, dlqFile: string) =>
  Effect.gen(function* () {
    const checkpoint = yield* (yield* Checkpoint.CheckpointStore).load(batchId)
    const letters = (yield* (yield* DeadLetterQueue.DeadLetterQueue).list({ queue: batchId }, { limit: 100_000 }))
      .entries
    return { checkpoint, deadLetterKeys: letters.map((e) => e.idempotencyKey) }
  }).pipe(Effect.provide(stores(batchFile, dlqFile)))

const tempDir = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), prefix))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

/** The state a failed run left: no entry of the checkpoint claims an item that is not done. */
const checkNothingFalselyDone = (batchId: string, receiver: Receiver, batchFile: string, dlqFile: string) =>
  Effect.map(readBack(batchId, batchFile, dlqFile), ({ checkpoint, deadLetterKeys }) => {
    expect(doneButNotDelivered(batchId, receiver, checkpoint, new Set(deadLetterKeys))).toEqual([])
    return checkpoint.length
  })

const isOneLineNaming = (line: string, file: string) => {
  expect(line).not.toContain("\n")
  expect(line).toContain(basename(file))
}

describe("SQLite faults", () => {
  it.live(
    "disk full mid-batch: the batch stops with SQLITE_FULL naming the file, nothing falsely done; with room again it resumes, each item once",
    () =>
      Effect.gen(function* () {
        const dir = yield* Effect.acquireRelease(
          Effect.sync(() => {
            const d = mkdtempSync(join(tmpdir(), "fault-full-"))
            // a 640 KiB file system: the batch's files outgrow it part-way
            execFileSync("mount", ["-t", "tmpfs", "-o", "size=640k", "tmpfs", d])
            return d
          }),
          (d) =>
            Effect.sync(() => {
              execFileSync("umount", [d])
              rmSync(d, { recursive: true, force: true })
            })
        )
        const batchFile = join(dir, "batch.db")
        const dlqFile = join(dir, "dlq.db")
        const list = items(600, 2_000)
        const receiver = makeReceiver()
        const first = yield* Effect.either(
          runBatch("full", receiver, list).pipe(Effect.provide(stores(batchFile, dlqFile)))
        )
        expect(Either.isLeft(first)).toBe(true)
        if (Either.isLeft(first)) {
          const error = first.left
          expect(["CheckpointError", "IdempotencyError", "DeadLetterStoreError"]).toContain(error._tag)
          const line = describeStoreError(batchFile, error)
          isOneLineNaming(line, batchFile)
          expect(line).toMatch(/SQLITE_FULL|full/)
        }
        expect(receiver.processed.size).toBeGreaterThan(0)
        expect(receiver.processed.size).toBeLessThan(list.length)

        // room again: what the failed run recorded is true, and a rerun completes the batch
        execFileSync("mount", ["-o", "remount,size=64m", dir])
        const recorded = yield* checkNothingFalselyDone("full", receiver, batchFile, dlqFile)
        expect(recorded).toBeLessThan(list.length)
        const second = yield* runBatch("full", receiver, list).pipe(Effect.provide(stores(batchFile, dlqFile)))
        expect(second.status).toBe("completed")
        const { deadLetterKeys } = yield* readBack("full", batchFile, dlqFile)
        expect(exactlyOnce("full", receiver, list, deadLetterKeys)).toEqual([])
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "locked by another process mid-batch: the batch stops with SQLITE_BUSY naming the file; once released it resumes, each item once",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir("fault-lock-")
        const batchFile = join(dir, "batch.db")
        const dlqFile = join(dir, "dlq.db")
        // long enough to still be running when the other process has the lock: with the batch's store
        // writes grouped, 300 items could finish before the lock was taken
        const list = items(3_000)
        const receiver = makeReceiver()
        // create the files, then let another process take the batch file once 60 items were delivered,
        // for 15 s: 10 s longer than the driver's 5 s busy timeout, so any statement that starts
        // waiting in the lock's first 10 s fails (with 8 s, a run whose batch, its store writes
        // grouped, went 3 s without a statement got the lock in time and completed; with 5.5 s,
        // one that started more than 0.5 s into the lock). (better-sqlite3 waits synchronously:
        // while it waits the whole process stands still, and each statement already queued waits
        // its own 5 s; the lock going away ends that.)
        yield* readBack("locked", batchFile, dlqFile)
        const locker = startLocker(batchFile)
        yield* Effect.addFinalizer(() => Effect.promise(locker.stop))
        yield* Effect.promise(() => locker.ready)
        const locked = Effect.async<void>((resume) => {
          const stop = receiver.onDelivery((n) => {
            if (n === 60) {
              stop()
              void locker.lockFor(15_000).then(() => resume(Effect.void))
            }
          })
        })
        const [first] = yield* Effect.all(
          [Effect.either(runBatch("locked", receiver, list).pipe(Effect.provide(stores(batchFile, dlqFile)))), locked],
          { concurrency: 2 }
        )
        expect(Either.isLeft(first)).toBe(true)
        if (Either.isLeft(first)) {
          const line = describeStoreError(batchFile, first.left)
          isOneLineNaming(line, batchFile)
          expect(line).toMatch(/SQLITE_BUSY|locked/)
        }
        expect(receiver.processed.size).toBeLessThan(list.length)
        yield* checkNothingFalselyDone("locked", receiver, batchFile, dlqFile)
        const second = yield* runBatch("locked", receiver, list).pipe(Effect.provide(stores(batchFile, dlqFile)))
        expect(second.status).toBe("completed")
        expect(second.skipped.length).toBeGreaterThan(0)
        const { deadLetterKeys } = yield* readBack("locked", batchFile, dlqFile)
        expect(exactlyOnce("locked", receiver, list, deadLetterKeys)).toEqual([])
      }).pipe(Effect.scoped),
    60_000
  )

  for (const damage of ["truncated", "corrupted", "not a database"] as const) {
    it.live(`${damage} batch file: one line naming the file, nothing taken as done, the file left as it was`, () =>
      Effect.gen(function* () {
        const dir = yield* tempDir("fault-corrupt-")
        const batchFile = join(dir, "batch.db")
        const dlqFile = join(dir, "dlq.db")
        const list = items(200, 400)
        const receiver = makeReceiver()
        const done = yield* runBatch("damaged", receiver, list.slice(0, 150)).pipe(
          Effect.provide(stores(batchFile, dlqFile))
        )
        expect(done.status).toBe("completed")
        // a clean copy, then the damage: cut in the middle of a page, pages overwritten, or no header
        const size = statSync(batchFile).size
        expect(size).toBeGreaterThan(16_384)
        if (damage === "truncated") truncateSync(batchFile, Math.floor(size / 2) + 100)
        else if (damage === "corrupted") {
          const bytes = readFileSync(batchFile)
          for (let i = 4096 * 2; i < Math.min(bytes.length, 4096 * 6); i++) bytes[i] = (i * 7919) & 0xff
          writeFileSync(batchFile, bytes)
        } else
          writeFileSync(batchFile, Buffer.from("this is not a database, but a note someone saved here\n".repeat(400)))
        copyFileSync(batchFile, join(dir, "damaged-copy"))
        const before = sha256(batchFile)
        const deliveredBefore = receiver.processed.size

        const rerun = yield* Effect.either(
          runBatch("damaged", receiver, list).pipe(Effect.provide(stores(batchFile, dlqFile)))
        )
        if (Either.isLeft(rerun)) {
          const line = describeStoreError(batchFile, rerun.left)
          isOneLineNaming(line, batchFile)
          expect(line).toMatch(/SQLITE_CORRUPT|SQLITE_NOTADB|malformed|not a SQLite database|not a database/)
        } else {
          // damage SQLite did not notice: whatever it skipped must really be done
          for (const s of rerun.right.skipped) {
            expect(receiver.processed.has(`damaged/${s.key}`) || s.previous === "dead-lettered").toBe(true)
          }
        }
        // the damaged file is never overwritten: a person can still look at it
        expect(sha256(batchFile)).toBe(before)
        expect(receiver.processed.size).toBeGreaterThanOrEqual(deliveredBefore)
      }).pipe(Effect.scoped)
    )
  }

  it.live(
    "the dead letter file unavailable while the batch has to dead-letter: the item is not checkpointed; later it is dead-lettered once",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir("fault-dlq-")
        const batchFile = join(dir, "batch.db")
        const dlqFile = join(dir, "dlq.db")
        const list = items(60)
        const receiver = makeReceiver()
        yield* readBack("dlq-down", batchFile, dlqFile)
        const locker = startLocker(dlqFile)
        yield* Effect.addFinalizer(() => Effect.promise(locker.stop))
        yield* Effect.promise(() => locker.ready)
        yield* Effect.promise(locker.lock)
        const first = yield* Effect.either(
          runBatch("dlq-down", receiver, list).pipe(Effect.provide(stores(batchFile, dlqFile)))
        )
        expect(Either.isLeft(first)).toBe(true)
        if (Either.isLeft(first)) {
          expect(first.left._tag).toBe("DeadLetterStoreError")
          isOneLineNaming(describeStoreError(dlqFile, first.left), dlqFile)
        }
        yield* Effect.promise(locker.release)
        const { checkpoint } = yield* readBack("dlq-down", batchFile, dlqFile)
        // no refused item (id % 10 === 3) is recorded as done: none reached the dead letter queue
        expect(checkpoint.filter((e) => e.outcome === "dead-lettered")).toEqual([])
        expect(doneButNotDelivered("dlq-down", receiver, checkpoint, new Set())).toEqual([])

        const second = yield* runBatch("dlq-down", receiver, list).pipe(Effect.provide(stores(batchFile, dlqFile)))
        expect(second.status).toBe("completed")
        expect(second.deadLettered.length).toBe(6)
        const { deadLetterKeys } = yield* readBack("dlq-down", batchFile, dlqFile)
        expect(exactlyOnce("dlq-down", receiver, list, deadLetterKeys)).toEqual([])
      }).pipe(Effect.scoped),
    60_000
  )
})
