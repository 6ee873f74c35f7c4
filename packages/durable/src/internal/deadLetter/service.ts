import type * as Classification from "@effect-resilience/core/Classification"
import { Classifier } from "@effect-resilience/core/Classifier"
import type { AttemptRecord } from "@effect-resilience/core/Errors"
import * as Log from "@effect-resilience/core/Log"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import type {
  Config,
  DeadLetterQueue,
  DeadLetterQueueStore,
  Entry,
  EntryInput,
  Failure,
  Filter,
  Handler,
  Issue,
  Note,
  ReplayReport,
  Stats,
  Status
} from "../../DeadLetterQueue.js"
import { DeadLetterStoreError, EntryNotFound, InvalidPayload, InvalidStatus, manualReviewCategories } from "./errors.js"
import { normalizePage } from "./filter.js"

type Store = DeadLetterQueueStore["Type"]

const defaultChunk = 256
const casAttempts = 8

const idRandomRange = 36 ** 4
const idRandomSpace = 36 ** 8
/** Coprime with 36, so `(base + i * step) mod 36^8` differs for every i of one call. */
const idRandomStep = 1_000_003

/** The char codes of the base36 digits, `0`-`9` then `a`-`z`. */
const base36 = Array.from({ length: 36 }, (_, n) => n.toString(36).charCodeAt(0))

/** Writes `value` (below 36^4) as 4 base36 digits, zero-padded, into `codes` from `at`. */
const put4 = (codes: Array<number>, at: number, value: number) => {
  codes[at] = base36[Math.floor(value / 46_656)]!
  codes[at + 1] = base36[Math.floor(value / 1296) % 36]!
  codes[at + 2] = base36[Math.floor(value / 36) % 36]!
  codes[at + 3] = base36[value % 36]!
}

/**
 * Time-ordered ids: base36 milliseconds, a per-service sequence (so that ids made in the same
 * millisecond sort in creation order), then 8 base36 characters from the `Random` service (one
 * draw per call, spread over the entries of the call).
 *
 * Each id is made from its character codes in one step: `toString(36)`, `padStart` and the
 * concatenation of three parts per id were most of what an `addAll` of 1,000 cost, and the
 * concatenation left a string the store's map then had to flatten.
 *
 * @internal
 */
export const makeIds = (
  prefix: string,
  nowMillis: number,
  firstSequence: number,
  count: number
): Effect.Effect<ReadonlyArray<string>> =>
  Effect.map(
    Effect.zip(Random.nextIntBetween(0, idRandomRange), Random.nextIntBetween(0, idRandomRange)),
    ([high, low]) => {
      const base = high * idRandomRange + low
      const time = `${prefix}${nowMillis.toString(36).padStart(9, "0")}`
      const at = time.length
      const codes = new Array<number>(at + 12)
      for (let j = 0; j < at; j++) codes[j] = time.charCodeAt(j)
      const ids = new Array<string>(count)
      for (let i = 0; i < count; i++) {
        const random = (base + i * idRandomStep) % idRandomSpace
        const randomHigh = Math.floor(random / idRandomRange)
        put4(codes, at, (firstSequence + i) % idRandomRange)
        put4(codes, at + 4, randomHigh)
        put4(codes, at + 8, random - randomHigh * idRandomRange)
        ids[i] = String.fromCharCode.apply(null, codes)
      }
      return ids
    }
  )

/** The notes of a new entry without one: one frozen empty list shared by all (a failing batch makes thousands). */
const noNotes: ReadonlyArray<Note> = Object.freeze([])

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

/** @internal */
export const failureOf = (
  error: unknown,
  classification: Classification.Classification,
  history: ReadonlyArray<AttemptRecord>
): Failure => {
  const summary = summarize(error, classification)
  return { tag: summary.tag, message: summary.message, classification, history }
}

const summarize = (error: unknown, classification: Classification.Classification) => {
  if (isRecord(error)) {
    if (typeof error.tag === "string" && typeof error.message === "string") {
      return { tag: error.tag, message: error.message }
    }
    if (typeof error._tag === "string") {
      return { tag: error._tag, message: typeof error.message === "string" ? error.message : classification.message }
    }
    if (error instanceof Error) return { tag: error.name, message: classification.message }
  }
  return { tag: typeof error, message: classification.message }
}

/** @internal */
export const issuesOf = (error: ParseResult.ParseError): ReadonlyArray<Issue> =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({ path: issue.path, message: issue.message }))

/** @internal */
export const handler =
  <A, I, R, B, E, R2>(
    schema: Schema.Schema<A, I, R>,
    f: (payload: A, entry: Entry) => Effect.Effect<B, E, R2>
  ): Handler<E | InvalidPayload, R | R2> =>
  (entry) =>
    Schema.decodeUnknown(schema)(entry.payload).pipe(
      Effect.mapError(
        (error) =>
          new InvalidPayload({
            id: entry.id,
            issues: issuesOf(error).map((i) => ({
              path: i.path.map((p) => (typeof p === "symbol" ? String(p) : p)),
              message: i.message
            })),
            message: ParseResult.TreeFormatter.formatErrorSync(error)
          })
      ),
      Effect.flatMap((payload) => f(payload, entry))
    )

const withNote = (entry: Entry, note: Note): ReadonlyArray<Note> => [...entry.notes, note]

const note = (atMillis: number, action: string, text: string, operator: string | undefined): Note =>
  operator === undefined ? { atMillis, action, text } : { atMillis, action, text, operator }

const released = (entry: Entry, nowMillis: number): Entry => {
  const { claimedAtMillis: _, ...rest } = entry
  return { ...rest, status: "pending", updatedAtMillis: nowMillis, version: entry.version + 1 }
}

const emptyByStatus = (): Record<Status, number> => ({ pending: 0, replaying: 0, resolved: 0, discarded: 0 })

/** An entry a replay handled: what it becomes and what to report. */
interface Handled {
  readonly entry: Entry
  readonly next: Entry
  readonly outcome:
    | { readonly _tag: "resolved" }
    | { readonly _tag: "invalid"; readonly issues: ReadonlyArray<Issue> }
    | { readonly _tag: "failed"; readonly classification: Classification.Classification }
}

/**
 * One caller's inputs waiting for a write. The writer makes their entries (ids, timestamps) when it
 * takes them, and settles the caller with its entries, the write's failure, or the writer's role.
 */
interface Pending {
  readonly inputs: ReadonlyArray<EntryInput>
  /** The caller's continuation, once it waits (set synchronously right after it is queued). */
  resume: ((effect: Effect.Effect<ReadonlyArray<Entry>, DeadLetterStoreError>) => void) | undefined
  /** What the caller is to continue with, when it was settled before it started to wait. */
  settled: Effect.Effect<ReadonlyArray<Entry>, DeadLetterStoreError> | undefined
  /** `told`: handed the writer's role but not yet writing; `leading`: writing. */
  role: "waiting" | "told" | "leading" | "gone"
}

/** @internal */
export const make = (store: Store, config: Config): Effect.Effect<DeadLetterQueue> =>
  Effect.sync(() => {
    // The sequence of this service's ids and the callers waiting for a write: both owned by the
    // service made here, changed only in synchronous steps.
    let sequence = 0
    const log = Log.unsafeMakeEmitter()
    const waiting: Array<Pending> = []
    let writerActive = false
    const nextIds = (prefix: string, nowMillis: number, count: number) => {
      const first = sequence
      sequence = (sequence + count) % idRandomRange
      return makeIds(prefix, nowMillis, first, count)
    }
    const nextId = (prefix: string, nowMillis: number) => Effect.map(nextIds(prefix, nowMillis, 1), (ids) => ids[0]!)
    const leaseMillis = Duration.toMillis(config.lease)

    const settle = (pending: Pending, effect: Effect.Effect<ReadonlyArray<Entry>, DeadLetterStoreError>) => {
      if (pending.role === "gone") return
      if (pending.resume === undefined) pending.settled = effect
      else pending.resume(effect)
    }

    /**
     * Group commit. A caller queues its inputs; when no write is under way it becomes the writer,
     * otherwise it waits (no Effect per entry, no Deferred per caller: a callback). The writer
     * yields once (so that callers ready to run, which a synchronous driver such as SQLite's gives
     * no other chance, queue theirs too), makes the entries of everything queued (one clock read,
     * one random draw), writes them in one `insertAll`, settles each caller with its entries or the
     * failure, and hands the writer's role to the first caller still waiting, if any: no caller
     * waits for more than the write under way and its own. When a shared write fails, each
     * caller's entries are written again on their own, so one caller's bad entry never fails
     * another's.
     */
    const lead = (mine: Pending): Effect.Effect<ReadonlyArray<Entry>, DeadLetterStoreError> =>
      Effect.uninterruptible(
        Effect.suspend(() => {
          mine.role = "leading"
          return Effect.zipRight(Effect.yieldNow(), Clock.currentTimeMillis)
        }).pipe(
          Effect.flatMap((now) => {
            const group = waiting.splice(0)
            let count = 0
            for (const pending of group) count += pending.inputs.length
            return Effect.flatMap(nextIds("dl_", now, count), (ids) => {
              const all: Array<Entry> = new Array(count)
              const own: Array<ReadonlyArray<Entry>> = new Array(group.length)
              let k = 0
              for (let g = 0; g < group.length; g++) {
                const inputs = group[g]!.inputs
                const start = k
                for (const input of inputs) {
                  all[k] = entryOf(input, ids[k]!, now)
                  k++
                }
                // a group of one caller (an `addAll` on its own) returns the written list itself
                own[g] = group.length === 1 ? all : all.slice(start, k)
              }
              // the writer's own outcome is kept apart: it returns it instead of being settled
              let result: Effect.Effect<ReadonlyArray<Entry>, DeadLetterStoreError> = Effect.succeed([])
              const tell = (g: number, exit: Exit.Exit<void, DeadLetterStoreError>) => {
                const outcome: Effect.Effect<ReadonlyArray<Entry>, DeadLetterStoreError> = Exit.isSuccess(exit)
                  ? Effect.succeed(own[g]!)
                  : Effect.failCause(exit.cause)
                if (group[g] === mine) result = outcome
                else settle(group[g]!, outcome)
              }
              return Effect.flatMap(Effect.exit(store.insertAll(all)), (exit) => {
                if (Exit.isSuccess(exit) || group.length === 1) {
                  for (let g = 0; g < group.length; g++) tell(g, exit)
                  return Effect.as(handOver, result)
                }
                return Effect.as(
                  Effect.forEach(
                    own,
                    (entries, g) => Effect.map(Effect.exit(store.insertAll(entries)), (alone) => tell(g, alone)),
                    { discard: true }
                  ),
                  result
                ).pipe(Effect.zipLeft(handOver))
              })
            })
          })
        )
      ).pipe(Effect.flatten)

    /** Passes the writer's role to the first waiting caller, or ends it when nobody waits. */
    const handOver = Effect.sync(() => {
      const next = waiting[0]
      if (next === undefined) {
        writerActive = false
        return
      }
      next.role = "told"
      settle(next, lead(next))
    })

    const commit = (inputs: ReadonlyArray<EntryInput>): Effect.Effect<ReadonlyArray<Entry>, DeadLetterStoreError> =>
      Effect.suspend(() => {
        const mine: Pending = { inputs, resume: undefined, settled: undefined, role: "waiting" }
        waiting.push(mine)
        if (!writerActive) {
          writerActive = true
          return lead(mine)
        }
        return Effect.async<ReadonlyArray<Entry>, DeadLetterStoreError>((resume) => {
          if (mine.settled !== undefined) return resume(mine.settled)
          mine.resume = resume
          // interrupted while waiting: leave the queue (a write that took the inputs still stores them)
          return Effect.sync(() => {
            const i = waiting.indexOf(mine)
            if (i >= 0) waiting.splice(i, 1)
          })
        }).pipe(
          Effect.onInterrupt(() =>
            Effect.suspend(() => {
              const told = mine.role === "told"
              mine.role = "gone"
              const i = waiting.indexOf(mine)
              if (i >= 0) waiting.splice(i, 1)
              // handed the writer's role just as it was interrupted, before writing: pass it on
              return told ? handOver : Effect.void
            })
          )
        )
      })

    /** Reads, changes and compare-and-sets an entry, retrying when another writer got there first. */
    const modify = <E>(
      id: string,
      f: (entry: Entry, nowMillis: number) => Effect.Effect<Entry, E>
    ): Effect.Effect<Entry, E | DeadLetterStoreError | EntryNotFound> =>
      Effect.gen(function* () {
        for (let i = 0; i < casAttempts; i++) {
          const current = yield* store.get(id)
          if (Option.isNone(current)) return yield* new EntryNotFound({ id })
          const now = yield* Clock.currentTimeMillis
          const next = yield* f(current.value, now)
          if (yield* store.update(next, current.value.version)) return next
        }
        return yield* new DeadLetterStoreError({
          reason: "conflict",
          message: `Dead letter "${id}" kept changing while it was being updated; try again`
        })
      })

    const entryOf = (input: EntryInput, id: string, now: number): Entry => ({
      id,
      queue: input.queue,
      idempotencyKey: input.idempotencyKey ?? id,
      payload: input.payload,
      failure: input.failure,
      status: "pending",
      createdAtMillis: now,
      updatedAtMillis: now,
      replays: 0,
      version: 0,
      notes: input.note === undefined ? noNotes : [note(now, "note", input.note, undefined)]
    })

    const addAll: DeadLetterQueue["addAll"] = (inputs) =>
      inputs.length === 0 ? Effect.succeed([]) : Effect.tap(commit(inputs), logAdded)

    /** One line per queue and failure code of what was just dead-lettered (a wholesale failure is a few lines). */
    const logAdded = (entries: ReadonlyArray<Entry>): Effect.Effect<void> => {
      // entries of one call mostly share their queue and code: a key is made only when they change
      if (entries.length === 1) return logGroup(entries[0]!, 1)
      const groups = new Map<string, { readonly first: Entry; count: number }>()
      let last: { readonly first: Entry; count: number } | undefined
      for (const entry of entries) {
        if (
          last !== undefined &&
          last.first.queue === entry.queue &&
          last.first.failure.classification.code === entry.failure.classification.code
        ) {
          last.count++
          continue
        }
        const key = `${entry.queue}\u0000${entry.failure.classification.code}`
        last = groups.get(key)
        if (last === undefined) {
          last = { first: entry, count: 1 }
          groups.set(key, last)
        } else last.count++
      }
      return groups.size === 1 && last !== undefined
        ? logGroup(last.first, last.count)
        : Effect.forEach(groups.values(), ({ count, first }) => logGroup(first, count), { discard: true })
    }

    const logGroup = (first: Entry, count: number) =>
      log.emit(
        LogLevel.Warning,
        `dead-letter:${first.queue}:${first.failure.classification.code}`,
        count === 1
          ? `dead-lettered ${first.id} to ${first.queue}: ${first.failure.classification.code}`
          : `dead-lettered ${count} items to ${first.queue}: ${first.failure.classification.code}`,
        {
          queue: first.queue,
          id: first.id,
          count,
          category: first.failure.classification.category,
          code: first.failure.classification.code
        }
      )

    const add: DeadLetterQueue["add"] = (input) => Effect.map(addAll([input]), (entries) => entries[0]!)

    const list: DeadLetterQueue["list"] = (filter, page) => store.list(filter ?? {}, normalizePage(page))

    const recoverStale: DeadLetterQueue["recoverStale"] = (olderThan) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const lease = olderThan === undefined ? leaseMillis : Duration.toMillis(olderThan)
        const cutoff = now - lease
        const { entries } = yield* store.list({ status: "replaying" }, { limit: 10_000, offset: 0 })
        let recovered = 0
        for (const entry of entries) {
          if ((entry.claimedAtMillis ?? entry.updatedAtMillis) > cutoff) continue
          const next: Entry = {
            ...released(entry, now),
            notes: withNote(
              entry,
              note(now, "lease-expired", `Replay claim older than ${lease} ms returned to pending`, undefined)
            )
          }
          if (yield* store.update(next, entry.version)) recovered++
        }
        return recovered
      })

    const replayOne = <E, R>(entry: Entry, run: Handler<E, R>, operator: string | undefined) =>
      Effect.gen(function* () {
        const exit = yield* Effect.exit(
          run(entry).pipe(
            Effect.onInterrupt(() =>
              Effect.flatMap(Clock.currentTimeMillis, (now) =>
                store.update(
                  {
                    ...released(entry, now),
                    notes: withNote(entry, note(now, "replay-interrupted", "Replay was interrupted", operator))
                  },
                  entry.version
                )
              ).pipe(Effect.ignore)
            )
          )
        )
        const now = yield* Clock.currentTimeMillis
        const replays = entry.replays + 1
        if (Exit.isSuccess(exit)) {
          const { claimedAtMillis: _, ...rest } = entry
          const next: Entry = {
            ...rest,
            status: "resolved",
            replays,
            updatedAtMillis: now,
            version: entry.version + 1,
            notes: withNote(entry, note(now, "replayed", "Replay succeeded", operator))
          }
          return { next, outcome: { _tag: "resolved" } } as const
        }
        if (Cause.isInterruptedOnly(exit.cause)) return yield* Effect.interrupt
        const error = Cause.squash(exit.cause)
        if (error instanceof InvalidPayload) {
          const next: Entry = {
            ...released(entry, now),
            replays,
            notes: withNote(
              entry,
              note(now, "replay-rejected", `The payload no longer decodes:\n${error.message}`, operator)
            )
          }
          return { next, outcome: { _tag: "invalid", issues: error.issues } } as const
        }
        const classifier = yield* Classifier
        const classification = classifier.classify(error)
        const summary = summarize(error, classification)
        const attempt: AttemptRecord = {
          attempt: entry.failure.history.length + 1,
          failure: summary,
          classification,
          atMillis: now
        }
        const next: Entry = {
          ...released(entry, now),
          replays,
          failure: {
            tag: summary.tag,
            message: summary.message,
            classification,
            history: [...entry.failure.history, attempt]
          },
          notes: withNote(entry, note(now, "replay-failed", summary.message, operator))
        }
        return { next, outcome: { _tag: "failed", classification } } as const
      })

    const replay: DeadLetterQueue["replay"] = (selector, run, replayOptions) =>
      Effect.gen(function* () {
        yield* recoverStale()
        const filter: Filter = typeof selector === "string" ? { ids: [selector] } : selector
        const startedAt = yield* Clock.currentTimeMillis
        const runId = yield* nextId("run_", startedAt)
        const chunk = Math.max(1, replayOptions?.chunk ?? defaultChunk)
        let remaining = replayOptions?.limit ?? Number.POSITIVE_INFINITY
        const resolved: Array<string> = []
        const failed: Array<ReplayReport["failed"][number]> = []
        const invalid: Array<ReplayReport["invalid"][number]> = []
        const skipped: Array<ReplayReport["skipped"][number]> = []
        while (remaining > 0) {
          const now = yield* Clock.currentTimeMillis
          const claimed = yield* store.claim(filter, runId, Math.min(chunk, remaining), now)
          if (claimed.length === 0) break
          remaining -= claimed.length
          // The outcomes of a claim are written together, in one `updateAll`, when its last entry
          // was handled, or when the replay is interrupted part-way (so that what was handled is
          // not handled again after the lease).
          const done: Array<Handled> = []
          const write = Effect.suspend(() => {
            const batch = done.splice(0)
            return Effect.map(
              store.updateAll(batch.map((h) => ({ entry: h.next, expectedVersion: h.entry.version }))),
              (written) => batch.map((h, k) => ({ ...h, written: written[k] === true }))
            )
          })
          yield* Effect.forEach(
            claimed,
            (entry) =>
              Effect.map(replayOne(entry, run, replayOptions?.operator), (handled) => {
                done.push({ entry, ...handled })
              }),
            { discard: true }
          ).pipe(Effect.onInterrupt(() => Effect.ignore(write)))
          for (const { entry, outcome, written } of yield* write) {
            switch (outcome._tag) {
              case "resolved":
                if (written) resolved.push(entry.id)
                else skipped.push({ id: entry.id, status: "replaying" })
                break
              case "invalid":
                invalid.push({ id: entry.id, issues: outcome.issues })
                break
              case "failed":
                failed.push({ id: entry.id, classification: outcome.classification })
                break
            }
          }
        }
        if (typeof selector === "string" && resolved.length + failed.length + invalid.length + skipped.length === 0) {
          const current = yield* store.get(selector)
          if (Option.isNone(current)) return yield* new EntryNotFound({ id: selector })
          skipped.push({ id: selector, status: current.value.status })
        }
        yield* log.emit(
          LogLevel.Info,
          `replay:${runId}`,
          `replayed dead letters: ${resolved.length} resolved, ${failed.length} failed again, ${invalid.length} invalid, ${skipped.length} skipped`,
          {
            replayRun: runId,
            operator: replayOptions?.operator ?? "",
            resolved: resolved.length,
            failed: failed.length,
            invalid: invalid.length,
            skipped: skipped.length
          }
        )
        return { resolved, failed, invalid, skipped }
      })

    const discard: DeadLetterQueue["discard"] = (id, operator, text) =>
      Effect.tap(discardEntry(id, operator, text), (entry) =>
        log.emit(LogLevel.Info, "discard", `dead letter ${entry.id} in ${entry.queue} discarded`, {
          queue: entry.queue,
          id: entry.id,
          operator: operator ?? ""
        })
      )

    const discardEntry: DeadLetterQueue["discard"] = (id, operator, text) =>
      modify(id, (entry, now) =>
        entry.status !== "pending"
          ? Effect.fail(new InvalidStatus({ id, status: entry.status, operation: "discard" }))
          : Effect.succeed<Entry>({
              ...entry,
              status: "discarded",
              updatedAtMillis: now,
              version: entry.version + 1,
              notes: withNote(entry, note(now, "discarded", text ?? "Discarded", operator))
            })
      )

    const annotate: DeadLetterQueue["annotate"] = (id, operator, text) =>
      modify(id, (entry, now) =>
        Effect.succeed<Entry>({
          ...entry,
          updatedAtMillis: now,
          version: entry.version + 1,
          notes: withNote(entry, note(now, "note", text, operator))
        })
      )

    const purge: DeadLetterQueue["purge"] = (olderThan, purgeOptions) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        store.purge(
          now - Duration.toMillis(Duration.decode(olderThan)),
          purgeOptions?.statuses ?? ["resolved", "discarded"]
        )
      )

    const stats: DeadLetterQueue["stats"] = Effect.map(store.counts, (rows): Stats => {
      const byStatus = emptyByStatus()
      const byQueue: Record<string, Record<Status, number>> = {}
      const byCategory: Record<string, number> = {}
      let total = 0
      let manualReview = 0
      for (const row of rows) {
        total += row.count
        byStatus[row.status] += row.count
        const queue = byQueue[row.queue] ?? emptyByStatus()
        queue[row.status] += row.count
        byQueue[row.queue] = queue
        byCategory[row.category] = (byCategory[row.category] ?? 0) + row.count
        if (row.status === "pending" && manualReviewCategories.some((c) => c === row.category)) {
          manualReview += row.count
        }
      }
      return { total, byStatus, byQueue, byCategory, manualReview }
    })

    const reviewQueue: DeadLetterQueue["reviewQueue"] = (page) =>
      list({ status: "pending", category: manualReviewCategories }, page)

    return {
      config,
      add,
      addAll,
      list,
      get: store.get,
      replay,
      discard,
      annotate,
      purge,
      stats,
      reviewQueue,
      recoverStale
    }
  })
