/**
 * The Redis side of the stores: two ioredis connections (commands, and pub/sub), every command
 * bounded by a time budget, and the fallback bookkeeping: a command that fails or runs out of time
 * is counted in `resilience_store_fallback_total`, the first of a series is logged, and the first
 * success after it is logged as the return of Redis. Callers get `Option.none()`, never an error.
 *
 * @internal
 */
import { createHash } from "node:crypto"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"

/** A Lua script, run by its SHA1 (loaded again when Redis answers NOSCRIPT, after a restart). */
export interface Script {
  readonly lua: string
  readonly sha: string
  readonly keys: number
}

/** @internal */
export const script = (lua: string, keys: number): Script => ({
  lua,
  keys,
  sha: createHash("sha1").update(lua).digest("hex")
})

/** What the stores share: the connections, the time budget, the fallback state. */
export interface Connection {
  readonly processId: string
  readonly commandTimeoutMillis: number
  /** Runs a script within the time budget; `None` when Redis failed or was too slow (counted and logged). */
  readonly eval: (
    store: string,
    operation: string,
    script: Script,
    args: ReadonlyArray<string | number>
  ) => Effect.Effect<Option.Option<unknown>>
  /** Listens to `channel` for the lifetime of the scope (re-subscribed after a reconnect). */
  readonly subscribe: (channel: string, onMessage: (message: string) => void) => Effect.Effect<void, never, Scope.Scope>
  /** Whether the last command failed (decisions are local until one succeeds). */
  readonly degraded: () => boolean
}

/** Counts store commands that failed or ran out of time: the store decided locally instead. */
export const fallbackTotal = Metric.counter("resilience_store_fallback_total", {
  description: "Redis commands of the resilience stores that failed or timed out; decisions fell back to local state",
  incremental: true
})

/** Options of the connections. */
export interface Options {
  readonly url: string
  readonly commandTimeoutMillis: number
  readonly processId: string
}

const quiet = (redis: Redis): Redis => {
  // connection errors are reported through the commands that fail; an unheard "error" event would be logged by ioredis
  redis.on("error", () => {})
  return redis
}

/** Opens the connections for the lifetime of the scope. Never fails: Redis may come later. */
export const make = (options: Options): Effect.Effect<Connection, never, Scope.Scope> =>
  Effect.gen(function* () {
    const timeout = options.commandTimeoutMillis
    const common = {
      // reconnect forever, quickly at first, at most every second
      retryStrategy: (times: number) => Math.min(times * 50, 1000),
      connectTimeout: Math.max(timeout, 1000),
      maxRetriesPerRequest: 0
    }
    const commands = yield* Effect.acquireRelease(
      Effect.sync(() =>
        quiet(
          new Redis(options.url, {
            ...common,
            // no queue while disconnected: a command fails at once and the decision stays local
            enableOfflineQueue: false,
            commandTimeout: timeout
          })
        )
      ),
      (redis) => Effect.sync(() => redis.disconnect())
    )
    // a store that starts reads the fleet's state first: give the connection up to a second (or the
    // command budget, when longer) to come up; a refused connection, or no answer by then, and the
    // store starts local
    yield* Effect.async<void>((resume) => {
      if (commands.status === "ready") return resume(Effect.void)
      const done = () => resume(Effect.void)
      commands.once("ready", done)
      commands.once("error", done)
      return Effect.sync(() => {
        commands.off("ready", done)
        commands.off("error", done)
      })
    }).pipe(
      Effect.timeoutTo({
        duration: Duration.millis(Math.max(timeout, 1000)),
        onTimeout: () => undefined,
        onSuccess: () => undefined
      })
    )
    // the pub/sub connection is opened by the first subscription (a retry budget needs none)
    const handlers = new Map<string, Set<(message: string) => void>>()
    let subscriber: Redis | undefined
    yield* Effect.addFinalizer(() => Effect.sync(() => subscriber?.disconnect()))
    const subscriberConnection = (): Redis => {
      if (subscriber !== undefined) return subscriber
      const redis = quiet(new Redis(options.url, { ...common, enableOfflineQueue: true, autoResubscribe: true }))
      redis.on("message", (channel: string, message: string) => {
        const set = handlers.get(channel)
        if (set !== undefined) for (const handler of set) handler(message)
      })
      subscriber = redis
      return redis
    }

    let degraded = false
    const failed = (store: string, operation: string, cause: unknown) =>
      Effect.suspend(() => {
        const first = !degraded
        degraded = true
        const counted = Metric.increment(
          Metric.tagged(Metric.tagged(fallbackTotal, "store", store), "operation", operation)
        )
        return first
          ? Effect.zipRight(
              counted,
              Effect.logWarning(
                `${store} store: Redis failed (${operation}); deciding on local state until it returns`
              ).pipe(Effect.annotateLogs({ cause: cause instanceof Error ? cause.message : String(cause) }))
            )
          : counted
      })
    const succeeded = (store: string) =>
      Effect.suspend(() => {
        if (!degraded) return Effect.void
        degraded = false
        return Effect.logInfo(`${store} store: Redis is back; state re-synced`)
      })

    const run = (args: ReadonlyArray<string | number>, s: Script) =>
      commands.evalsha(s.sha, s.keys, ...args).catch((error: unknown) => {
        if (error instanceof Error && error.message.startsWith("NOSCRIPT")) return commands.eval(s.lua, s.keys, ...args)
        throw error
      })

    const evalScript: Connection["eval"] = (store, operation, s, args) =>
      Effect.tryPromise({
        try: () => run(args, s),
        catch: (error) => (error instanceof Error ? error : new Error(String(error)))
      }).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(timeout),
          onTimeout: () => new Error(`timed out after ${timeout} ms`)
        }),
        Effect.matchEffect({
          onFailure: (cause) => Effect.as(failed(store, operation, cause), Option.none()),
          onSuccess: (value) => Effect.as(succeeded(store), Option.some(value))
        })
      )

    const subscribe: Connection["subscribe"] = (channel, onMessage) =>
      Effect.acquireRelease(
        Effect.suspend(() => {
          let set = handlers.get(channel)
          const first = set === undefined
          if (set === undefined) {
            set = new Set()
            handlers.set(channel, set)
          }
          set.add(onMessage)
          if (!first) return Effect.void
          // queued until connected, and subscribed again after every reconnect; waited for (within
          // the start-up budget) so that a store reads the state after it listens, and misses nothing
          const connection = subscriberConnection()
          return Effect.promise(() =>
            connection.subscribe(channel).then(
              () => undefined,
              () => undefined
            )
          ).pipe(
            Effect.timeoutTo({
              duration: Duration.millis(Math.max(timeout, 1000)),
              onTimeout: () => undefined,
              onSuccess: () => undefined
            })
          )
        }),
        () =>
          Effect.sync(() => {
            const set = handlers.get(channel)
            set?.delete(onMessage)
            if (set !== undefined && set.size === 0) {
              handlers.delete(channel)
              subscriber?.unsubscribe(channel).catch(() => {})
            }
          })
      )

    return {
      processId: options.processId,
      commandTimeoutMillis: timeout,
      eval: evalScript,
      subscribe,
      degraded: () => degraded
    }
  })
