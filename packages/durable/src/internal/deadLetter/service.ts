import type * as Classification from "@effect-resilience/core/Classification"
import { Classifier } from "@effect-resilience/core/Classifier"
import type { AttemptRecord } from "@effect-resilience/core/Errors"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type {
  Config,
  DeadLetterQueue,
  DeadLetterQueueStore,
  Entry,
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

const defaultChunk = 16
const casAttempts = 8

const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

/**
 * A time-ordered id: base36 milliseconds, a per-service sequence (so that ids made in the same
 * millisecond sort in creation order), then 8 random base36 characters.
 */
const makeId = (prefix: string, nowMillis: number, sequence: number): Effect.Effect<string> =>
  Effect.map(
    Effect.forEach(Array.from({ length: 8 }), () => Random.nextIntBetween(0, alphabet.length)),
    (digits) =>
      `${prefix}${nowMillis.toString(36).padStart(9, "0")}${(sequence % 36 ** 4).toString(36).padStart(4, "0")}${digits
        .map((d) => alphabet[d])
        .join("")}`
  )

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

/** @internal */
export const make = (store: Store, config: Config): Effect.Effect<DeadLetterQueue> =>
  Effect.map(Ref.make(0), (counter) => {
    const nextId = (prefix: string, nowMillis: number) =>
      Effect.flatMap(
        Ref.getAndUpdate(counter, (n) => n + 1),
        (n) => makeId(prefix, nowMillis, n)
      )
    const leaseMillis = Duration.toMillis(config.lease)

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

    const add: DeadLetterQueue["add"] = (input) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const id = yield* nextId("dl_", now)
        const entry: Entry = {
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
          notes: input.note === undefined ? [] : [note(now, "note", input.note, undefined)]
        }
        yield* store.insert(entry)
        return entry
      })

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
          const ok = yield* store.update(next, entry.version)
          return ok ? ({ _tag: "resolved" } as const) : ({ _tag: "lost" } as const)
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
          yield* store.update(next, entry.version)
          return { _tag: "invalid", issues: error.issues } as const
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
        yield* store.update(next, entry.version)
        return { _tag: "failed", classification } as const
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
          for (const entry of claimed) {
            const outcome = yield* replayOne(entry, run, replayOptions?.operator)
            switch (outcome._tag) {
              case "resolved":
                resolved.push(entry.id)
                break
              case "lost":
                skipped.push({ id: entry.id, status: "replaying" })
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
        return { resolved, failed, invalid, skipped }
      })

    const discard: DeadLetterQueue["discard"] = (id, operator, text) =>
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
