import * as Classification from "@effect-resilience/core/Classification"
import { Classifier } from "@effect-resilience/core/Classifier"
import { type AttemptRecord, RetriesExhausted } from "@effect-resilience/core/Errors"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type * as Batch from "../../Batch.js"
import * as Checkpoint from "../../Checkpoint.js"
import * as DeadLetterQueue from "../../DeadLetterQueue.js"
import * as Idempotency from "../../Idempotency.js"
import { randomOwner } from "../idempotency/memory.js"
import * as Once from "../idempotency/once.js"
import { makeInFlight, makeWriter } from "./groupCommit.js"
import * as Leases from "./leases.js"
import { DuplicateItemKey, idempotencyKey } from "./key.js"

type Outcome<Item, A> = Batch.ItemOutcome<Item, A>

const defaultCheckpointBatchSize = 256

/** How often, at most, progress is published: 100 ms. */
const defaultProgressInterval = Duration.millis(100)

/**
 * How long the checkpoint writer waits for more entries before a write that is not full (a
 * flush, at the batch's end, writes at once): at 600 items a second, about 12 a write. A crash
 * loses the entries not written: those items are answered from the idempotency store on restart.
 */
const checkpointLinger = Duration.millis(20)

/** @internal */
export const initialProgress = (batchId: string, total: number): Batch.Progress => ({
  batchId,
  total,
  done: 0,
  succeeded: 0,
  failed: 0,
  deadLettered: 0,
  skipped: 0,
  elapsedMillis: 0,
  rate: 0,
  etaMillis: Option.none(),
  finished: false
})

interface Counters {
  done: number
  succeeded: number
  failed: number
  deadLettered: number
  skipped: number
}

const progressOf = (
  batchId: string,
  total: number,
  counters: Counters,
  elapsedMillis: number,
  finished: boolean
): Batch.Progress => {
  const ran = counters.done - counters.skipped
  const rate = elapsedMillis > 0 ? (ran * 1000) / elapsedMillis : 0
  const remaining = total - counters.done
  return {
    batchId,
    total,
    done: counters.done,
    succeeded: counters.succeeded,
    failed: counters.failed,
    deadLettered: counters.deadLettered,
    skipped: counters.skipped,
    elapsedMillis,
    rate,
    etaMillis:
      remaining === 0 ? Option.some(0) : rate > 0 ? Option.some(Math.round((remaining / rate) * 1000)) : Option.none(),
    finished
  }
}

/** A failed item waiting for the dead letter writer. */
interface DeadLetterRequest {
  readonly index: number
  readonly input: DeadLetterQueue.EntryInput
  readonly classification: Classification.Classification
}

/** How many dead letters wait for the writer before failing items wait for it. */
const deadLetterCapacity = 4096

/** The idempotency keys of the batch's items that sit in the dead letter queue, pending or replaying. */
const keysInDeadLetterQueue = (
  dlq: DeadLetterQueue.DeadLetterQueue,
  queue: string,
  wanted: ReadonlySet<string>
): Effect.Effect<ReadonlySet<string>, DeadLetterQueue.DeadLetterStoreError> =>
  Effect.gen(function* () {
    const found = new Set<string>()
    const limit = 500
    let offset = 0
    while (true) {
      const page = yield* dlq.list({ queue, status: ["pending", "replaying"] }, { limit, offset })
      for (const entry of page.entries) if (wanted.has(entry.idempotencyKey)) found.add(entry.idempotencyKey)
      offset += page.entries.length
      if (page.entries.length === 0 || offset >= page.total) return found
    }
  })

const classifyFailure = (
  classify: (failure: unknown) => Classification.Classification,
  error: unknown
): { readonly classification: Classification.Classification; readonly history: ReadonlyArray<AttemptRecord> } => {
  if (error instanceof RetriesExhausted) {
    return { classification: error.lastClassification ?? classify(error), history: error.attempts }
  }
  return { classification: classify(error), history: [] }
}

const errorOf = (cause: Cause.Cause<unknown>): unknown =>
  Option.getOrElse(Cause.failureOption(cause), () => Cause.squash(cause))

const payloadNotEncodable = Classification.make({
  category: "validation",
  code: "batch.payload-not-encodable",
  message: "The item could not be encoded for the dead letter queue"
})

const resultUnavailable = Classification.make({
  category: "data-integrity",
  code: "batch.result-unavailable",
  message: "The stored result of a completed item could not be read, so it could not be compensated"
})

const execute = <Item, I, A, AI, E, R, R2, EC, RC>(
  options: Batch.Options<Item, I, A, AI, E, R, R2, EC, RC>,
  items: ReadonlyArray<Item>,
  progress: SubscriptionRef.SubscriptionRef<Batch.Progress>
): Effect.Effect<Batch.BatchResult<Item, A>, Batch.BatchError, R | R2 | RC | Batch.Services> =>
  Effect.gen(function* () {
    const classifier = yield* Classifier
    const checkpoints = yield* Checkpoint.CheckpointStore
    const idempotency = yield* Idempotency.IdempotencyStore
    const dlq = yield* DeadLetterQueue.DeadLetterQueue
    const { batchId } = options
    const mode = options.mode ?? "best-effort"
    const concurrency = Math.max(1, Math.floor(options.concurrency ?? 1))
    const queue = options.queue ?? batchId
    const lease = options.lease ?? Idempotency.defaultLease
    const resultSchema = options.resultSchema
    const policy = options.policy
    const processItem = (item: Item, ctx: Batch.ItemContext): Effect.Effect<A, unknown, R | R2> =>
      policy === undefined ? options.process(item, ctx) : policy(options.process(item, ctx))

    const total = items.length
    const keys = items.map(options.key)
    const idempotencyKeys = keys.map((key) => idempotencyKey(batchId, key))
    const indexOfKey = new Map<string, number>()
    for (let i = 0; i < total; i++) {
      const key = keys[i]!
      if (indexOfKey.has(key)) return yield* new DuplicateItemKey({ batchId, key })
      indexOfKey.set(key, i)
    }

    const startedAt = yield* Clock.currentTimeMillis
    const owner = yield* randomOwner
    const previous = yield* checkpoints.load(batchId)
    const previousOutcome = new Map(previous.map((entry) => [entry.key, entry.outcome]))
    const notCheckpointed = new Set(idempotencyKeys.filter((_, i) => !previousOutcome.has(keys[i]!)))
    const alreadyDeadLettered =
      notCheckpointed.size === 0 ? new Set<string>() : yield* keysInDeadLetterQueue(dlq, queue, notCheckpointed)

    // Checkpoint entries are written in groups, after a short wait for more (`checkpointLinger`);
    // an entry is offered only once its item's outcome is durable elsewhere (its result in the
    // idempotency store, or its dead letter), and items do not wait for it; the batch's end does.
    const writer = yield* makeWriter(
      (entries: ReadonlyArray<Checkpoint.Entry>) => checkpoints.record(batchId, entries),
      { size: options.checkpointBatchSize ?? defaultCheckpointBatchSize, linger: checkpointLinger }
    )
    const outcomes: Array<Outcome<Item, A> | undefined> = new Array(total)
    const completionOrder: Array<number> = []
    const counters: Counters = { done: 0, succeeded: 0, failed: 0, deadLettered: 0, skipped: 0 }
    let stopped = false

    const progressEvery = Duration.toMillis(options.progressInterval ?? defaultProgressInterval)
    let lastPublished = Number.NEGATIVE_INFINITY
    const publishAt = (now: number, finished: boolean) => {
      lastPublished = now
      return SubscriptionRef.set(progress, progressOf(batchId, total, counters, now - startedAt, finished))
    }
    /** The progress, unless one was published less than `progressInterval` ago (the final one always is). */
    const publish = (finished: boolean) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        finished || now - lastPublished >= progressEvery ? publishAt(now, finished) : Effect.void
      )

    const settle = (i: number, outcome: Outcome<Item, A>, entry: Checkpoint.Outcome | undefined) =>
      Effect.suspend(() => {
        outcomes[i] = outcome
        counters.done++
        switch (outcome._tag) {
          case "Succeeded":
            counters.succeeded++
            completionOrder.push(i)
            break
          case "DeadLettered":
            counters.deadLettered++
            counters.failed++
            break
          case "Failed":
            counters.failed++
            break
          case "Skipped":
            counters.skipped++
            break
        }
        const write = entry === undefined ? Effect.void : writer.offer({ key: keys[i]!, outcome: entry })
        return Effect.zipRight(write, publish(false))
      })

    const encodeItem = Schema.encodeEither(options.itemSchema)
    const deadLetters = yield* makeWriter(
      (requests: ReadonlyArray<DeadLetterRequest>) =>
        Effect.flatMap(
          dlq.addAll(requests.map((r) => r.input)),
          (entries): Effect.Effect<void> =>
            Effect.forEach(
              requests,
              (request, n) =>
                settle(
                  request.index,
                  {
                    _tag: "DeadLettered",
                    key: keys[request.index]!,
                    item: items[request.index]!,
                    classification: request.classification,
                    message: request.classification.message,
                    deadLetterId: entries[n]!.id
                  },
                  "dead-lettered"
                ),
              { discard: true }
            )
        ),
      { size: deadLetterCapacity, capacity: deadLetterCapacity }
    )

    const pending: Array<number> = []
    for (let i = 0; i < total; i++) {
      const key = keys[i]!
      const before = previousOutcome.get(key)
      if (before !== undefined) {
        outcomes[i] = { _tag: "Skipped", key, item: items[i]!, previous: before }
        counters.done++
        counters.skipped++
      } else if (alreadyDeadLettered.has(idempotencyKeys[i]!)) {
        // Dead-lettered by a run that crashed before its checkpoint entry was written.
        yield* writer.offer({ key, outcome: "dead-lettered" })
        outcomes[i] = { _tag: "Skipped", key, item: items[i]!, previous: "dead-lettered" }
        counters.done++
        counters.skipped++
      } else {
        pending.push(i)
      }
    }
    yield* publish(false)

    const onItemFailure = (i: number, cause: Cause.Cause<unknown>) => {
      const key = keys[i]!
      const item = items[i]!
      const error = errorOf(cause)
      const { classification, history } = classifyFailure(classifier.classify, error)
      if (mode === "all-or-nothing") {
        stopped = true
        return settle(
          i,
          { _tag: "Failed", key, item, classification, message: classification.message, cause },
          undefined
        )
      }
      const payload = encodeItem(item)
      if (Either.isLeft(payload)) {
        return settle(
          i,
          {
            _tag: "Failed",
            key,
            item,
            classification: payloadNotEncodable,
            message: payloadNotEncodable.message,
            cause
          },
          undefined
        )
      }
      // The item does not wait for its dead letter: the writer adds it with the others failed
      // meanwhile (one write), then settles the item and queues its checkpoint entry.
      return deadLetters.offer({
        index: i,
        classification,
        input: {
          queue,
          payload: payload.right,
          failure: DeadLetterQueue.failureOf(error, classification, history),
          idempotencyKey: idempotencyKeys[i]!
        }
      })
    }

    const inFlight = yield* makeInFlight
    // the items' leases, taken ahead in windows of the concurrency (positions in `pending`)
    const leases = yield* Leases.make({
      store: idempotency,
      owner,
      leaseMillis: Duration.toMillis(lease),
      keys: pending.map((i) => idempotencyKeys[i]!),
      window: concurrency,
      inFlight: inFlight.active
    })
    const pollMillis = Math.max(1, Duration.toMillis(Idempotency.defaultPollInterval))
    // added after every fiber of the shared calls and writers: the batch's end waits for the
    // items still using them (an interrupted item releases its key through them)
    yield* Effect.addFinalizer(() => inFlight.close)

    /** `Idempotency.once` of the item that starts `position`-th, with the leases taken ahead. */
    const once = <E3, R3>(position: number, key: string, body: (attempt: number) => Effect.Effect<A, E3, R3>) =>
      Once.run(
        {
          first: leases.take(position),
          again: () => leases.acquire(key),
          release: () => leases.release(key),
          complete: (result) => leases.complete(key, result),
          encode: (value) => Idempotency.encodeResult(resultSchema, value),
          decode: (result) => Idempotency.decodeResult(resultSchema, result),
          pollMillis
        },
        body
      )

    const runItem = (i: number, position: number): Effect.Effect<void, Batch.BatchError, R | R2> =>
      Effect.suspend(() => {
        const key = keys[i]!
        const item = items[i]!
        if (stopped) return settle(i, { _tag: "Cancelled", key, item }, undefined)
        const ik = idempotencyKeys[i]!
        const body = (attempt: number) =>
          Effect.sandbox(processItem(item, { batchId, key, idempotencyKey: ik, attempt }))
        return inFlight.track(once(position, ik, body)).pipe(
          Effect.matchCauseEffect({
            onSuccess: ({ replayed, value }) =>
              settle(i, { _tag: "Succeeded", key, item, result: value, replayed }, "succeeded"),
            onFailure: (cause): Effect.Effect<void, Batch.BatchError> => {
              const failure = Cause.failureOption(cause)
              if (Option.isNone(failure)) return Effect.failCause(Cause.stripFailures(cause))
              const error = failure.value
              if (!Cause.isCause(error)) return Effect.fail(error)
              if (Cause.isInterruptedOnly(error)) return Effect.interrupt
              return onItemFailure(i, error)
            }
          })
        )
      })

    yield* Effect.raceFirst(
      Effect.zipRight(
        Effect.forEach(pending, (i, position) => runItem(i, position), { concurrency, discard: true }),
        deadLetters.flush
      ),
      Effect.raceFirst(writer.failure, deadLetters.failure)
    )

    let status: Batch.BatchResult<Item, A>["status"] = "completed"
    if (stopped) {
      const compensate = options.compensate
      if (compensate === undefined) {
        status = "stopped"
      } else {
        // Reverse order of completion: this run's items (latest first), then earlier runs' items.
        const thisRun = [...completionOrder].reverse()
        const earlier = previous
          .filter((entry) => entry.outcome === "succeeded")
          .map((entry) => indexOfKey.get(entry.key))
          .filter((i): i is number => i !== undefined)
          .reverse()
        let allCompensated = true
        const compensationFailed = (
          i: number,
          error: unknown,
          classification: Classification.Classification,
          history: ReadonlyArray<AttemptRecord>
        ) =>
          DeadLetterQueue.deadLetter(options.itemSchema, {
            queue: `${queue}.compensation`,
            payload: items[i]!,
            failure: error,
            classification,
            history,
            idempotencyKey: idempotencyKeys[i]!,
            note: "compensation failed: the item succeeded but could not be undone"
          }).pipe(
            Effect.provideService(DeadLetterQueue.DeadLetterQueue, dlq),
            Effect.option,
            Effect.map(
              (entry): Outcome<Item, A> => ({
                _tag: "CompensationFailed",
                key: keys[i]!,
                item: items[i]!,
                classification,
                message: classification.message,
                deadLetterId: Option.map(entry, (e) => e.id)
              })
            )
          )
        for (const i of [...thisRun, ...earlier]) {
          const key = keys[i]!
          const item = items[i]!
          const known = outcomes[i]
          const stored: Option.Option<A> =
            known?._tag === "Succeeded"
              ? Option.some(known.result)
              : yield* Effect.flatMap(idempotency.get(idempotencyKeys[i]!), (record) =>
                  Option.isSome(record) && record.value.status === "completed" && record.value.result !== undefined
                    ? Effect.option(Idempotency.decodeResult(resultSchema, record.value.result))
                    : Effect.succeedNone
                )
          if (Option.isNone(stored)) {
            outcomes[i] = yield* compensationFailed(i, resultUnavailable, resultUnavailable, [])
            allCompensated = false
            continue
          }
          const result = stored.value
          outcomes[i] = yield* Effect.sandbox(compensate(item, result)).pipe(
            Effect.matchEffect({
              onSuccess: () =>
                Effect.as(writer.offer({ key, outcome: "compensated" }), {
                  _tag: "Compensated",
                  key,
                  item,
                  result
                } satisfies Outcome<Item, A>),
              onFailure: (cause) => {
                allCompensated = false
                const error = errorOf(cause)
                const { classification, history } = classifyFailure(classifier.classify, error)
                return compensationFailed(i, error, classification, history)
              }
            })
          )
        }
        status = allCompensated ? "rolled-back" : "stopped"
      }
    }

    yield* Effect.raceFirst(writer.flush, writer.failure)
    yield* publish(true)
    return resultOf(batchId, mode, status, outcomes, keys, items)
  }).pipe(
    Effect.scoped,
    Effect.onExit((exit) =>
      exit._tag === "Success" ? Effect.void : SubscriptionRef.update(progress, (p) => ({ ...p, finished: true }))
    )
  )

const resultOf = <Item, A>(
  batchId: string,
  mode: Batch.Mode,
  status: Batch.BatchResult<Item, A>["status"],
  slots: ReadonlyArray<Outcome<Item, A> | undefined>,
  keys: ReadonlyArray<string>,
  items: ReadonlyArray<Item>
): Batch.BatchResult<Item, A> => {
  const outcomes: Array<Outcome<Item, A>> = []
  const succeeded: Array<Batch.Succeeded<Item, A>> = []
  const failed: Array<Batch.Failed<Item>> = []
  const deadLettered: Array<Batch.DeadLettered<Item>> = []
  const skipped: Array<Batch.Skipped<Item>> = []
  const compensated: Array<Batch.Compensated<Item, A>> = []
  const compensationFailed: Array<Batch.CompensationFailed<Item>> = []
  const cancelled: Array<Batch.Cancelled<Item>> = []
  for (let i = 0; i < slots.length; i++) {
    const outcome: Outcome<Item, A> = slots[i] ?? { _tag: "Cancelled", key: keys[i]!, item: items[i]! }
    outcomes.push(outcome)
    switch (outcome._tag) {
      case "Succeeded":
        succeeded.push(outcome)
        break
      case "Failed":
        failed.push(outcome)
        break
      case "DeadLettered":
        deadLettered.push(outcome)
        break
      case "Skipped":
        skipped.push(outcome)
        break
      case "Compensated":
        compensated.push(outcome)
        break
      case "CompensationFailed":
        compensationFailed.push(outcome)
        break
      case "Cancelled":
        cancelled.push(outcome)
        break
    }
  }
  return {
    batchId,
    mode,
    status,
    outcomes,
    succeeded,
    failed,
    deadLettered,
    skipped,
    compensated,
    compensationFailed,
    cancelled
  }
}

/** @internal */
export const run = <Item, I, A, AI, E, R, R2, EC, RC>(
  options: Batch.Options<Item, I, A, AI, E, R, R2, EC, RC>
): Effect.Effect<Batch.BatchResult<Item, A>, Batch.BatchError, R | R2 | RC | Batch.Services> =>
  Effect.suspend(() => {
    const items = Array.from(options.items)
    return Effect.flatMap(SubscriptionRef.make(initialProgress(options.batchId, items.length)), (progress) =>
      // every line logged while the batch runs (retries, dead letters) carries its id
      Effect.annotateLogs(execute(options, items, progress), "batchId", options.batchId)
    )
  })

/** @internal */
export const start = <Item, I, A, AI, E, R, R2, EC, RC>(
  options: Batch.Options<Item, I, A, AI, E, R, R2, EC, RC>
): Effect.Effect<Batch.BatchHandle<Item, A>, never, R | R2 | RC | Batch.Services | Scope.Scope> =>
  Effect.gen(function* () {
    const items = Array.from(options.items)
    const progress = yield* SubscriptionRef.make(initialProgress(options.batchId, items.length))
    const fiber = yield* Effect.forkScoped(
      Effect.annotateLogs(execute(options, items, progress), "batchId", options.batchId)
    )
    return {
      progress: Stream.takeUntil(progress.changes, (p) => p.finished),
      result: Fiber.join(fiber)
    }
  })
