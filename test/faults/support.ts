/**
 * What the fault tests share: an idempotent receiver (counts what it processed per key, answers a
 * key it has seen from memory), the items and the batch run against it, and a child process that
 * holds a SQLite file locked.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import * as Classification from "@effect-resilience/core/Classification"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as Batch from "@effect-resilience/durable/Batch"
import type * as Checkpoint from "@effect-resilience/durable/Checkpoint"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

export const root = resolve(__dirname, "../..")

export const Item = Schema.Struct({ id: Schema.Number, body: Schema.String })
export type Item = typeof Item.Type
export const Receipt = Schema.Struct({ receipt: Schema.String, body: Schema.String })

/** Refused for good by the receiver (a validation failure): these end as dead letters. */
export const refused = (id: number): boolean => id % 10 === 3

export class Refused extends Schema.TaggedError<Refused>()("Refused", { id: Schema.Number }) {}

export const classifier = Classifier.layerFrom((failure) =>
  failure instanceof Refused
    ? Classification.make({ category: "validation", code: "refused", message: "Refused by the receiver" })
    : Classification.unknown
)

export const items = (count: number, bodyBytes = 16): ReadonlyArray<Item> =>
  Array.from({ length: count }, (_, id) => ({ id, body: `${id}:`.padEnd(bodyBytes, "x") }))

/** An idempotent receiver: processes a key once, answers it again from memory. */
export const makeReceiver = () => {
  const processed = new Map<string, number>()
  let deliveries = 0
  let redeliveries = 0
  const listeners = new Set<(deliveries: number) => void>()
  const deliver = (item: Item, ctx: Batch.ItemContext) =>
    Effect.suspend(() => {
      deliveries++
      for (const listener of listeners) listener(deliveries)
      if (refused(item.id)) return Effect.fail(new Refused({ id: item.id }))
      if (processed.has(ctx.idempotencyKey)) redeliveries++
      else processed.set(ctx.idempotencyKey, 1)
      return Effect.succeed({ receipt: `r-${item.id}`, body: item.body })
    }).pipe(Effect.delay("2 millis"))
  return {
    processed,
    deliver,
    get deliveries() {
      return deliveries
    },
    get redeliveries() {
      return redeliveries
    },
    onDelivery: (listener: (deliveries: number) => void) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    }
  }
}
export type Receiver = ReturnType<typeof makeReceiver>

export const runBatch = (
  batchId: string,
  receiver: Receiver,
  list: ReadonlyArray<Item>,
  options: { readonly concurrency?: number } = {}
) =>
  Batch.run({
    batchId,
    items: list,
    key: (item) => `item-${item.id}`,
    process: receiver.deliver,
    itemSchema: Item,
    resultSchema: Receipt,
    concurrency: options.concurrency ?? 4,
    lease: "200 millis"
  })

/**
 * Nothing lost, nothing recorded as done that was neither delivered nor dead-lettered: for every
 * checkpoint entry, the receiver processed the item (succeeded) or it is a dead letter.
 */
export const doneButNotDelivered = (
  batchId: string,
  receiver: Receiver,
  checkpoint: ReadonlyArray<Checkpoint.Entry>,
  deadLetterKeys: ReadonlySet<string>
): ReadonlyArray<string> =>
  checkpoint
    .filter((e) =>
      e.outcome === "succeeded"
        ? receiver.processed.get(Batch.idempotencyKey(batchId, e.key)) !== 1
        : !deadLetterKeys.has(Batch.idempotencyKey(batchId, e.key))
    )
    .map((e) => `${e.key} (${e.outcome})`)

/** After a complete run: each item processed exactly once or dead-lettered exactly once. */
export const exactlyOnce = (
  batchId: string,
  receiver: Receiver,
  list: ReadonlyArray<Item>,
  deadLetterKeys: ReadonlyArray<string>
): ReadonlyArray<string> => {
  const letters = new Map<string, number>()
  for (const k of deadLetterKeys) letters.set(k, (letters.get(k) ?? 0) + 1)
  const problems: Array<string> = []
  for (const item of list) {
    const key = Batch.idempotencyKey(batchId, `item-${item.id}`)
    const processed = receiver.processed.get(key) ?? 0
    const dead = letters.get(key) ?? 0
    if (processed + dead !== 1) problems.push(`${key}: processed ${processed}, dead letters ${dead}`)
    if (refused(item.id) && dead !== 1) problems.push(`${key}: should be a dead letter`)
  }
  return problems
}

export const sha256 = (file: string): string => createHash("sha256").update(readFileSync(file)).digest("hex")

/**
 * Another process holding a SQLite file: `lock()` takes an exclusive lock (BEGIN EXCLUSIVE) and
 * keeps it until `release()`; `lockFor(ms)` releases it by itself after `ms` (the process under
 * test may be blocked meanwhile: better-sqlite3 waits for a lock synchronously); `stop()` ends the
 * process.
 */
export const startLocker = (file: string) => {
  const script = `
    const Database = require(${JSON.stringify(join(root, "apps/demo/node_modules/better-sqlite3"))})
    const db = new Database(${JSON.stringify(file)})
    process.stdin.setEncoding("utf8")
    let buffer = ""
    process.stdin.on("data", (chunk) => {
      buffer += chunk
      let i
      while ((i = buffer.indexOf("\\n")) >= 0) {
        const line = buffer.slice(0, i)
        buffer = buffer.slice(i + 1)
        if (line === "lock") db.exec("BEGIN EXCLUSIVE")
        if (line === "release") db.exec("COMMIT")
        if (line.startsWith("lock-for ")) {
          db.exec("BEGIN EXCLUSIVE")
          setTimeout(() => db.exec("COMMIT"), Number(line.slice(9)))
        }
        process.stdout.write(line + "ed\\n")
      }
    })
    process.stdin.on("end", () => process.exit(0))
    process.stdout.write("ready\\n")
  `
  const child: ChildProcess = spawn(process.execPath, ["-e", script], { stdio: ["pipe", "pipe", "inherit"] })
  let out = ""
  const waiters: Array<{ readonly word: string; readonly done: () => void }> = []
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString()
    for (const w of [...waiters]) {
      if (out.includes(`${w.word}\n`)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.done()
      }
    }
  })
  const waitFor = (word: string) =>
    new Promise<void>((done) => {
      if (out.includes(`${word}\n`)) done()
      else waiters.push({ word, done })
    })
  const command = (line: string) => {
    child.stdin?.write(`${line}\n`)
    return waitFor(`${line}ed`).then(() => {
      out = out.replace(`${line}ed\n`, "")
    })
  }
  return {
    ready: waitFor("ready"),
    lock: () => command("lock"),
    release: () => command("release"),
    lockFor: (millis: number) => command(`lock-for ${millis}`),
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done()
        child.once("exit", () => done())
        child.stdin?.end()
      })
  }
}
