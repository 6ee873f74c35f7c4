/**
 * The running side of a policy file: versions of the whole set of pipelines, swapped atomically;
 * pipelines, breakers and retry budgets kept across versions by identity (reference counted, so
 * what no version uses any more is closed once the last call that ran under it ends); the watcher
 * with its debounce and its poll.
 *
 * @internal
 */
import * as CircuitBreaker from "@effect-resilience/core/CircuitBreaker"
import type { Classifier } from "@effect-resilience/core/Classifier"
import * as Resilience from "@effect-resilience/core/Resilience"
import * as RetryBudget from "@effect-resilience/core/RetryBudget"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import * as Exit from "effect/Exit"
import * as Hash from "effect/Hash"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as PubSub from "effect/PubSub"
import * as RcMap from "effect/RcMap"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as PolicyFile from "../../PolicyFile.js"
import { canonical, decode, type Entry, type Problem, parse, problemsOf } from "./decode.js"

/** A key compared by its text; it carries what the lookup needs to build its value. */
class Keyed<A> implements Equal.Equal {
  constructor(
    readonly id: string,
    readonly value: A
  ) {}
  [Equal.symbol](that: Equal.Equal): boolean {
    return that instanceof Keyed && that.id === this.id
  }
  [Hash.symbol](): number {
    return Hash.string(this.id)
  }
}

/** One version of the whole file: every pipeline of it, and the calls running under it. */
interface Version {
  readonly number: number
  readonly entries: ReadonlyMap<string, Entry>
  readonly pipelines: ReadonlyMap<string, Resilience.Pipeline>
  /** Holds this version's references to its pipelines; closed when retired and no call runs under it. */
  readonly scope: Scope.CloseableScope
  inFlight: number
  retired: boolean
}

/** A name that two configs claim: the registry handed back the instance that runs with the other one. */
const conflict = (field: "breaker" | "retryBudget", name: string, input: unknown): ParseResult.ParseError =>
  new ParseResult.ParseError({
    issue: new ParseResult.Pointer(
      field,
      input,
      new ParseResult.Forbidden(
        Schema.Unknown.ast,
        input,
        `${field === "breaker" ? "breaker" : "retry budget"} "${name}" is shared by name through its registry and runs with another config; a running ${field === "breaker" ? "breaker" : "budget"}'s config cannot change (give the changed one a new name, or restart)`
      )
    )
  })

interface Shared<A> {
  readonly name: string
  readonly canon: string
  readonly instance: A
}

/**
 * Instances (breakers, budgets) by (policy, name, config): the same key gives the same instance
 * while any pipeline holds it, so a reload that leaves a breaker's name and config alone keeps its
 * state. The registry in context makes them: the default one makes a new instance per key, a
 * sharing one returns the instance of the name, whose config must then be the same.
 */
const sharedBy = <A, C>(
  field: "breaker" | "retryBudget",
  make: (name: string, config: C | undefined) => Effect.Effect<A, ParseResult.ParseError, Scope.Scope>
) =>
  Effect.gen(function* () {
    const live = new Map<string, Shared<A>>()
    const map = yield* RcMap.make({
      lookup: (key: Keyed<{ readonly name: string; readonly canon: string; readonly config: C | undefined }>) =>
        Effect.gen(function* () {
          const instance = yield* make(key.value.name, key.value.config)
          live.set(key.id, { name: key.value.name, canon: key.value.canon, instance })
          yield* Effect.addFinalizer(() => Effect.sync(() => live.delete(key.id)))
          return instance
        })
    })
    return (
      policy: string,
      name: string,
      config: C | undefined
    ): Effect.Effect<A, ParseResult.ParseError, Scope.Scope> => {
      const canon = canonical(config ?? {})
      const id = JSON.stringify([policy, name, canon])
      return Effect.flatMap(RcMap.get(map, new Keyed(id, { name, canon, config })), (instance) => {
        for (const [otherId, other] of live) {
          if (otherId !== id && other.name === name && other.canon !== canon && other.instance === instance) {
            return Effect.fail(conflict(field, name, config))
          }
        }
        return Effect.succeed(instance)
      })
    }
  })

const sha256 = (text: string): Effect.Effect<string> =>
  Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))).pipe(
    Effect.map((digest) => Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join(""))
  )

const names = (map: ReadonlyMap<string, Entry>) => Array.from(map.keys())

/** @internal */
export const make = (
  file: string,
  options: PolicyFile.Options | undefined,
  events: {
    readonly applied: (fields: Omit<PolicyFile.Applied, "_tag">) => PolicyFile.ReloadEvent
    readonly rejected: (fields: Omit<PolicyFile.Rejected, "_tag">) => PolicyFile.ReloadEvent
    readonly error: (problems: ReadonlyArray<Problem>) => PolicyFile.PolicyFileError
    readonly notFound: (name: string) => PolicyFile.PolicyNotFound
  }
): Effect.Effect<
  PolicyFile.PolicyFile,
  PolicyFile.PolicyFileError,
  FileSystem.FileSystem | Path.Path | Classifier | Scope.Scope
> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const absolute = path.resolve(file)
    const directory = path.dirname(absolute)
    const base = path.basename(absolute)
    const format = options?.format ?? (path.extname(absolute).toLowerCase() === ".json" ? "json" : "yaml")
    const debounce = Duration.decode(options?.debounce ?? "100 millis")
    const poll = options?.poll === false ? undefined : Duration.decode(options?.poll ?? "5 seconds")
    const annotations = { policyFile: file }

    // ---- reading ------------------------------------------------------------------------------

    interface Read {
      readonly text: string
      readonly sha256: string
      readonly owner: number | undefined
      readonly modifiedAtMillis: number | undefined
    }
    const read: Effect.Effect<Read, ReadonlyArray<Problem>> = Effect.gen(function* () {
      const text = yield* fs.readFileString(absolute)
      const info = yield* Effect.option(fs.stat(absolute))
      return {
        text,
        sha256: yield* sha256(text),
        owner: Option.getOrUndefined(Option.flatMap(info, (i) => i.uid)),
        modifiedAtMillis: Option.getOrUndefined(
          Option.map(
            Option.flatMap(info, (i) => i.mtime),
            (d) => d.getTime()
          )
        )
      }
    }).pipe(
      Effect.mapError((error) => [
        { path: "", message: `could not read the file (${error._tag === "SystemError" ? error.reason : error._tag})` }
      ])
    )
    const entriesOf = (text: string) =>
      Either.flatMap(parse(text, format), (data) => decode(data)).pipe(Either.mapLeft((p): ReadonlyArray<Problem> => p))

    // ---- building -----------------------------------------------------------------------------

    const outerBreakers = yield* CircuitBreaker.Registry
    const outerBudgets = yield* RetryBudget.Registry
    const breakers = yield* sharedBy<CircuitBreaker.CircuitBreaker, CircuitBreaker.ConfigInput>(
      "breaker",
      (name, config) => outerBreakers.get(name, config)
    )
    const budgets = yield* sharedBy<RetryBudget.RetryBudget, RetryBudget.ConfigInput>("retryBudget", (name, config) =>
      outerBudgets.get(name, config)
    )
    const pipelines = yield* RcMap.make({
      lookup: (key: Keyed<Entry>) =>
        Resilience.make(key.value.input).pipe(
          Effect.provideService(CircuitBreaker.Registry, {
            shared: outerBreakers.shared,
            get: (name, config) => breakers(key.value.name, name, config),
            all: outerBreakers.all,
            snapshots: outerBreakers.snapshots
          }),
          Effect.provideService(RetryBudget.Registry, {
            get: (name, config) => budgets(key.value.name, name, config)
          })
        )
    })

    const build = (
      number: number,
      entries: ReadonlyMap<string, Entry>
    ): Effect.Effect<Version, ReadonlyArray<Problem>> =>
      Effect.flatMap(Scope.make(), (scope) =>
        Effect.gen(function* () {
          const built = yield* Effect.forEach(entries.values(), (entry) =>
            RcMap.get(pipelines, new Keyed(JSON.stringify([entry.name, entry.key]), entry)).pipe(
              Scope.extend(scope),
              Effect.mapError((error) => problemsOf(error, ["policies", entry.name])),
              Effect.map((pipeline) => [entry.name, pipeline] as const),
              Effect.either
            )
          )
          const problems = built.flatMap((b) => (Either.isLeft(b) ? b.left : []))
          if (problems.length > 0) return yield* Effect.fail(problems)
          const ready = new Map(built.flatMap((b) => (Either.isRight(b) ? [b.right] : [])))
          const version: Version = { number, entries, pipelines: ready, scope, inFlight: 0, retired: false }
          return version
        }).pipe(
          // a version that is not returned (refused, or interrupted while built) gives its references back
          Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Scope.close(scope, Exit.void)))
        )
      )

    // ---- the current version ------------------------------------------------------------------

    const first = yield* read.pipe(
      Effect.flatMap((r) => Effect.map(entriesOf(r.text), (entries) => ({ read: r, entries }))),
      Effect.flatMap(({ read, entries }) => Effect.map(build(1, entries), (version) => ({ read, version }))),
      Effect.mapError(events.error)
    )
    /** The only mutable state: the current version (read and swapped in single synchronous steps), the last text seen. */
    const state: { current: Version; lastText: string | undefined; lastUnreadable: string | undefined } = {
      current: first.version,
      lastText: first.read.text,
      lastUnreadable: undefined
    }
    const inUse = new Set<string>()

    const release = (version: Version): Effect.Effect<void> =>
      version.retired && version.inFlight === 0 ? Scope.close(version.scope, Exit.void) : Effect.void

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        state.current.retired = true
        return Scope.close(state.current.scope, Exit.void)
      })
    )

    /**
     * Runs `f` under the version current when the call starts. Taking the version and counting the
     * call in it is one synchronous step, so a swap cannot fall between them; the version stays
     * open until the call ends, whatever was swapped in meanwhile.
     */
    const use = <A, E, R>(f: (version: Version) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.acquireUseRelease(
        Effect.sync(() => {
          const version = state.current
          version.inFlight++
          return version
        }),
        f,
        (version) =>
          Effect.suspend(() => {
            version.inFlight--
            return release(version)
          })
      )

    const swap = (next: Version): Effect.Effect<void> =>
      Effect.suspend(() => {
        const previous = state.current
        state.current = next
        previous.retired = true
        return release(previous)
      })

    // ---- reloading ----------------------------------------------------------------------------

    const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<PolicyFile.ReloadEvent>(), PubSub.shutdown)

    const announce = (event: PolicyFile.ReloadEvent): Effect.Effect<PolicyFile.ReloadEvent> =>
      Effect.gen(function* () {
        if (event._tag === "Applied") {
          yield* Effect.logInfo("policy file applied").pipe(
            Effect.annotateLogs({
              version: event.version,
              added: event.added.join(","),
              changed: event.changed.join(","),
              removed: event.removed.join(","),
              sha256: event.sha256
            })
          )
        } else {
          yield* Effect.logWarning("policy file rejected; the running policies are kept").pipe(
            Effect.annotateLogs({
              version: event.version,
              problems: event.problems.map((p) => (p.path === "" ? p.message : `${p.path}: ${p.message}`)).join("\n")
            })
          )
        }
        yield* PubSub.publish(pubsub, event)
        if (options?.onReload !== undefined) {
          yield* options
            .onReload(event)
            .pipe(Effect.catchAllCause((cause) => Effect.logWarning("policy file: onReload failed", cause)))
        }
        return event
      }).pipe(Effect.annotateLogs(annotations))

    const lock = yield* Effect.makeSemaphore(1)

    const reload: Effect.Effect<PolicyFile.ReloadEvent | undefined> = lock.withPermits(1)(
      Effect.gen(function* () {
        const atMillis = yield* Clock.currentTimeMillis
        const running = state.current
        const r = yield* Effect.either(read)
        // what was read last (a text, or the reason it could not be read): seen again, it was
        // already applied or reported, so a poll of an unchanged file says nothing
        const seen = Either.isRight(r) ? r.right.text : undefined
        const unreadable = Either.isLeft(r) ? (r.left[0]?.message ?? "unreadable") : undefined
        if (seen !== undefined ? seen === state.lastText : unreadable === state.lastUnreadable) return undefined
        state.lastText = seen
        state.lastUnreadable = unreadable
        const about = Either.isRight(r)
          ? {
              sha256: r.right.sha256,
              ...(r.right.owner === undefined ? {} : { fileOwner: r.right.owner }),
              ...(r.right.modifiedAtMillis === undefined ? {} : { modifiedAtMillis: r.right.modifiedAtMillis })
            }
          : {}
        const reject = (problems: ReadonlyArray<Problem>) =>
          announce(events.rejected({ file, version: running.number, problems, atMillis, ...about }))
        if (Either.isLeft(r)) return yield* reject(r.left)
        const entries = entriesOf(r.right.text)
        if (Either.isLeft(entries)) return yield* reject(entries.left)
        const next = entries.right
        const removed = names(running.entries).filter((n) => !next.has(n))
        const stillUsed = removed.filter((n) => inUse.has(n))
        if (stillUsed.length > 0) {
          return yield* reject(
            stillUsed.map((n) => ({
              path: `policies.${n}`,
              message: "is in use by the running program and cannot be removed (calls are made through it)"
            }))
          )
        }
        const added = names(next).filter((n) => !running.entries.has(n))
        const changed = names(next).filter((n) => {
          const before = running.entries.get(n)
          return before !== undefined && before.key !== next.get(n)?.key
        })
        if (added.length + changed.length + removed.length === 0) return undefined // comments, layout
        // swapped in as soon as it is built (no interruption between the two: a scope closing
        // meanwhile then closes the version that is current); the build itself stays interruptible,
        // so the fibers its pipelines fork can be interrupted when they are closed
        const built = yield* Effect.uninterruptibleMask((restore) =>
          Effect.either(Effect.tap(restore(build(running.number + 1, next)), swap))
        )
        if (Either.isLeft(built)) return yield* reject(built.left)
        return yield* announce(
          events.applied({ file, version: built.right.number, added, changed, removed, atMillis, ...about })
        )
      })
    )

    // ---- watching -----------------------------------------------------------------------------

    // the directory, not the file: an editor that saves by writing a new file and renaming it over
    // the old one leaves a watch on the old file looking at nothing
    const watched = fs.watch(directory).pipe(
      Stream.filter((event) => path.basename(event.path) === base),
      Stream.debounce(debounce),
      Stream.runForEach(() => reload),
      Effect.tapErrorCause((cause) =>
        Effect.logWarning("policy file: watching failed; watching again in 1 second", cause)
      ),
      Effect.retry(Schedule.spaced("1 second")),
      Effect.annotateLogs(annotations)
    )
    yield* Effect.forkScoped(watched)
    if (poll !== undefined) {
      yield* Effect.forkScoped(Effect.repeat(Effect.delay(reload, poll), Schedule.forever))
    }

    const view = (version: Version): PolicyFile.Version => ({
      number: version.number,
      names: names(version.entries),
      pipeline: (name) => version.pipelines.get(name)
    })

    const pipelineIn = (version: Version, name: string): Resilience.Pipeline => {
      const pipeline = version.pipelines.get(name)
      // a reload that drops a name in use is refused, so every version has it
      if (pipeline === undefined) throw new Error(`policy "${name}" is missing from version ${version.number}`)
      return pipeline
    }

    const reloadable = (name: string): PolicyFile.Reloadable => ({
      name,
      current: Effect.sync(() => pipelineIn(state.current, name)),
      use: (f) => use((version) => Effect.suspend(() => f(pipelineIn(version, name), version.number))),
      protect: (self) => use((version) => Effect.suspend(() => pipelineIn(version, name).protect(self)))
    })

    return {
      file,
      version: Effect.sync(() => state.current.number),
      current: Effect.sync(() => view(state.current)),
      use: (f) => use((version) => f(view(version))),
      // under the reload's lock: a reload that drops the name is either refused or applied before
      pipeline: (name) =>
        lock.withPermits(1)(
          Effect.suspend(() => {
            if (!state.current.pipelines.has(name)) return Effect.fail(events.notFound(name))
            inUse.add(name)
            return Effect.succeed(reloadable(name))
          })
        ),
      reload,
      changes: Stream.fromPubSub(pubsub),
      subscribe: Effect.map(PubSub.subscribe(pubsub), (queue) => Stream.fromQueue(queue))
    }
  })

/** @internal */
export const check = (
  text: string,
  format: "yaml" | "json"
): Either.Either<ReadonlyArray<string>, ReadonlyArray<Problem>> =>
  Either.flatMap(parse(text, format), (data) => decode(data)).pipe(
    Either.map((entries) => names(entries)),
    Either.mapLeft((problems): ReadonlyArray<Problem> => problems)
  )
