import * as CircuitBreaker from "@effect-resilience/core/CircuitBreaker"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as Failures from "@effect-resilience/core/Failures"
import type * as Resilience from "@effect-resilience/core/Resilience"
import { PolicyFile } from "@effect-resilience/platform"
import { describe, expect, it } from "@effect/vitest"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"

const env = Layer.merge(NodeContext.layer, Classifier.layer)

/** A fresh directory with the policy file written in it; its path. */
const setup = (text: string, name = "policies.yaml") =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "policy-file-" })
    const file = path.join(dir, name)
    yield* fs.writeFileString(file, text)
    return file
  })

let saves = 0
/** Saves as editors do: a new file next to it, renamed over it. */
const save = (file: string, text: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const temporary = `${file}.${++saves}.tmp`
    yield* fs.writeFileString(temporary, text)
    yield* fs.rename(temporary, file)
  })

/** Saves and waits for the event the watcher reports for it (liveness: no time bound is asserted). */
const saveAndWait = (changes: Stream.Stream<PolicyFile.ReloadEvent>, file: string, text: string) =>
  Effect.gen(function* () {
    const next = yield* Effect.fork(Stream.runHead(changes))
    yield* save(file, text)
    const event = yield* Fiber.join(next)
    return Option.getOrThrow(event)
  })

const noPoll = { poll: false, debounce: "20 millis" } as const

const breakerOf = (pipeline: Resilience.Pipeline): CircuitBreaker.CircuitBreaker => {
  if (pipeline.breaker === undefined) throw new Error("no breaker")
  return pipeline.breaker
}

const pipelineOf = (version: PolicyFile.Version, name: string): Resilience.Pipeline => {
  const pipeline = version.pipeline(name)
  if (pipeline === undefined) throw new Error(`no policy ${name} in version ${version.number}`)
  return pipeline
}

const failure = () => new Failures.NetworkError({ code: "ECONNRESET" })

describe("PolicyFile", () => {
  it.scoped("a bad file at start-up fails with every problem and its path", () =>
    Effect.gen(function* () {
      const file = yield* setup(
        [
          "policies:",
          "  payments:",
          "    retry: { maxAttempts: 0, backoff: weird }",
          "    attemptTimeout: soon",
          "    retyr: 3",
          "  users:",
          "    preset: databse",
          "  orders:",
          "    preset: http",
          "    overrides:",
          "      retry: { maxAttempts: 0 }",
          "  inventory:",
          "    preset: http",
          "    overrides:",
          "      breaker: { policy: { _tag: CountWindow, size: 10, minimumCalls: 50 } }",
          "  fine:",
          "    retry: { maxAttempts: 2 }",
          ""
        ].join("\n")
      )
      const failed = yield* Effect.flip(PolicyFile.make(file, noPoll))
      expect(failed).toBeInstanceOf(PolicyFile.PolicyFileError)
      const paths = failed.problems.map((p) => p.path).sort()
      expect(paths).toEqual(
        [
          "policies.inventory.overrides.breaker.policy.minimumCalls",
          "policies.orders.overrides.retry.maxAttempts",
          "policies.payments.attemptTimeout",
          "policies.payments.retry.backoff",
          "policies.payments.retry.maxAttempts",
          "policies.payments.retyr",
          "policies.users.preset"
        ].sort()
      )
      expect(failed.message).toContain(file)
      expect(failed.message).toContain(
        'policies.payments.attemptTimeout: Expected DurationInput | false, actual "soon"'
      )
      expect(failed.message).toContain("policies.payments.retry.maxAttempts: Expected a number between 1 and 1000")
      expect(failed.message).toContain("minimumCalls (50) cannot exceed the window size (10)")
    }).pipe(Effect.provide(env))
  )

  it.scoped("a file that is not YAML, or has no policies, is refused with where", () =>
    Effect.gen(function* () {
      const broken = yield* setup("policies:\n  payments: [\n")
      const error = yield* Effect.flip(PolicyFile.make(broken, noPoll))
      expect(error.problems[0]?.message).toMatch(/^not YAML \(line \d+, column \d+\)/)
      const empty = yield* setup("{}", "policies.json")
      const missing = yield* Effect.flip(PolicyFile.make(empty, noPoll))
      expect(missing.problems).toEqual([{ path: "policies", message: "is missing" }])
    }).pipe(Effect.provide(env))
  )

  it.live("a valid change applies to new calls; a call in flight finishes under the old policy", () =>
    Effect.gen(function* () {
      const file = yield* setup(
        "policies:\n  payments:\n    retry: { maxAttempts: 2, initialDelay: 1 }\n    breaker: false\n"
      )
      const policies = yield* PolicyFile.make(file, noPoll)
      const changes = yield* policies.subscribe
      const payments = yield* policies.pipeline("payments")

      // a call blocked in its first attempt while the file changes
      const entered = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      const attempts = yield* Ref.make(0)
      const inFlight = yield* Effect.fork(
        payments.use((pipeline, version) =>
          pipeline
            .protect(
              Effect.gen(function* () {
                const n = yield* Ref.updateAndGet(attempts, (a) => a + 1)
                if (n === 1) {
                  yield* Deferred.succeed(entered, undefined)
                  yield* Deferred.await(gate)
                }
                return yield* Effect.fail(failure())
              })
            )
            .pipe(
              Effect.flip,
              Effect.map((error) => ({ version, error }))
            )
        )
      )
      yield* Deferred.await(entered)
      const event = yield* saveAndWait(
        changes,
        file,
        "policies:\n  payments:\n    retry: { maxAttempts: 4, initialDelay: 1 }\n    breaker: false\n"
      )
      expect(event).toMatchObject({ _tag: "Applied", version: 2, changed: ["payments"], added: [], removed: [] })
      yield* Deferred.succeed(gate, undefined)
      const old = yield* Fiber.join(inFlight)
      expect(old.version).toBe(1)
      expect(yield* Ref.get(attempts)).toBe(2) // the old policy's two attempts

      yield* Ref.set(attempts, 0)
      const fresh = yield* payments.use((pipeline, version) =>
        Effect.map(
          Effect.flip(
            pipeline.protect(
              Effect.zipRight(
                Ref.update(attempts, (a) => a + 1),
                Effect.fail(failure())
              )
            )
          ),
          () => version
        )
      )
      expect(fresh).toBe(2)
      expect(yield* Ref.get(attempts)).toBe(4)
      expect(yield* policies.version).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live(
    "a breaker whose name and config are unchanged keeps its state across a reload; a changed one starts closed",
    () =>
      Effect.gen(function* () {
        const breaker = "breaker: { policy: { _tag: ConsecutiveFailures, threshold: 2 }, openDuration: 1 hour }"
        const file = yield* setup(`policies:\n  payments:\n    retry: false\n    ${breaker}\n`)
        const policies = yield* PolicyFile.make(file, noPoll)
        const changes = yield* policies.subscribe
        const payments = yield* policies.pipeline("payments")
        for (let i = 0; i < 2; i++) yield* Effect.flip(payments.protect(Effect.fail(failure())))
        const opened = yield* payments.current
        expect(yield* breakerOf(opened).currentState).toBe("open")

        // the attempt timeout changes, the breaker does not: same breaker, still open
        const event = yield* saveAndWait(
          changes,
          file,
          `policies:\n  payments:\n    retry: false\n    attemptTimeout: 3 seconds\n    ${breaker}\n`
        )
        expect(event).toMatchObject({ _tag: "Applied", version: 2, changed: ["payments"] })
        const after = yield* payments.current
        expect(after).not.toBe(opened)
        expect(after.breaker).toBe(opened.breaker)
        const refused = yield* Effect.flip(payments.protect(Effect.succeed("not called")))
        expect(refused._tag).toBe("CircuitOpen")

        // the breaker's threshold changes: a new breaker, closed
        yield* saveAndWait(
          changes,
          file,
          "policies:\n  payments:\n    retry: false\n    breaker: { policy: { _tag: ConsecutiveFailures, threshold: 3 }, openDuration: 1 hour }\n"
        )
        const changed = yield* payments.current
        expect(changed.breaker).not.toBe(opened.breaker)
        expect(yield* breakerOf(changed).currentState).toBe("closed")
        expect(yield* payments.protect(Effect.succeed("called"))).toBe("called")
      }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("under a sharing registry the breaker is the registry's, and a changed config for its name is refused", () =>
    Effect.gen(function* () {
      const file = yield* setup(
        "policies:\n  payments:\n    retry: false\n    breaker: { policy: { _tag: ConsecutiveFailures, threshold: 2 } }\n"
      )
      const policies = yield* PolicyFile.make(file, noPoll)
      const changes = yield* policies.subscribe
      const registry = yield* CircuitBreaker.Registry
      const shared = yield* registry.get("payments")
      const payments = yield* policies.pipeline("payments")
      expect((yield* payments.current).breaker).toBe(shared)
      const event = yield* saveAndWait(
        changes,
        file,
        "policies:\n  payments:\n    retry: false\n    breaker: { policy: { _tag: ConsecutiveFailures, threshold: 9 } }\n"
      )
      expect(event._tag).toBe("Rejected")
      if (event._tag !== "Rejected") return
      expect(event.version).toBe(1)
      expect(event.problems.map((p) => p.path)).toEqual(["policies.payments.breaker"])
      expect(event.problems[0]?.message).toContain('breaker "payments" is shared by name')
      expect((yield* payments.current).breaker).toBe(shared)
    }).pipe(Effect.scoped, Effect.provide(Layer.merge(env, CircuitBreaker.layerRegistry())))
  )

  it.live(
    "an invalid change keeps the running config and reports every problem; removing a policy in use is refused",
    () =>
      Effect.gen(function* () {
        const audit = yield* Ref.make<ReadonlyArray<PolicyFile.ReloadEvent>>([])
        const file = yield* setup(
          "policies:\n  payments:\n    retry: { maxAttempts: 3 }\n  users:\n    preset: cache\n"
        )
        const policies = yield* PolicyFile.make(file, {
          ...noPoll,
          onReload: (event) => Ref.update(audit, (events) => [...events, event])
        })
        const changes = yield* policies.subscribe
        const payments = yield* policies.pipeline("payments")

        const bad = yield* saveAndWait(
          changes,
          file,
          "policies:\n  payments:\n    retry: { maxAttempts: -1 }\n    deadline: never\n"
        )
        expect(bad._tag).toBe("Rejected")
        if (bad._tag !== "Rejected") return
        expect(bad.problems.map((p) => p.path).sort()).toEqual([
          "policies.payments.deadline",
          "policies.payments.retry.maxAttempts"
        ])
        expect(bad.sha256).toMatch(/^[0-9a-f]{64}$/)
        expect((yield* payments.current).policy.retry).toMatchObject({ maxAttempts: 3 })
        expect(yield* policies.version).toBe(1)

        const removal = yield* saveAndWait(changes, file, "policies:\n  users:\n    preset: cache\n")
        expect(removal).toMatchObject({ _tag: "Rejected", problems: [{ path: "policies.payments" }] })

        const good = yield* saveAndWait(changes, file, "policies:\n  payments:\n    retry: { maxAttempts: 3 }\n")
        expect(good).toMatchObject({ _tag: "Applied", version: 2, removed: ["users"], changed: [], added: [] })
        expect((yield* audit.get).map((e) => e._tag)).toEqual(["Rejected", "Rejected", "Applied"])
      }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live(
    "reload under load: every call completes and runs under exactly one whole version",
    () =>
      Effect.gen(function* () {
        // version n: two policies whose timeouts both name n, and n % 3 + 1 attempts each
        const text = (n: number) =>
          [
            "policies:",
            "  a:",
            `    attemptTimeout: ${10_000 + n}`,
            `    retry: { maxAttempts: ${(n % 3) + 1}, initialDelay: 1, jitter: none, backoff: constant }`,
            "    breaker: false",
            "    retryBudget: false",
            "  b:",
            `    attemptTimeout: ${20_000 + n}`,
            `    retry: { maxAttempts: ${(n % 3) + 1}, initialDelay: 1, jitter: none }`,
            "    breaker: false",
            "    retryBudget: false",
            ""
          ].join("\n")
        const file = yield* setup(text(1))
        const policies = yield* PolicyFile.make(file, noPoll)
        const changes = yield* policies.subscribe
        yield* policies.pipeline("a")
        yield* policies.pipeline("b")

        interface Seen {
          readonly version: number
          readonly a: number
          readonly b: number
          readonly attemptsA: number
          readonly attemptsB: number
          readonly endVersion: number
        }
        const seen: Array<Seen> = []
        const started = yield* Ref.make(0)
        const stop = yield* Deferred.make<void>()
        const call = policies.use((version) =>
          Effect.gen(function* () {
            const a = pipelineOf(version, "a")
            const b = pipelineOf(version, "b")
            let attemptsA = 0
            let attemptsB = 0
            const failing = (count: () => void) =>
              Effect.flatMap(Effect.sync(count), () =>
                Effect.zipRight(Effect.sleep(Duration.millis(1)), Effect.fail(failure()))
              )
            yield* Effect.flip(a.protect(failing(() => attemptsA++)))
            yield* Effect.flip(b.protect(failing(() => attemptsB++)))
            const record: Seen = {
              version: version.number,
              a:
                Duration.toMillis(a.policy.attemptTimeout === false ? Duration.zero : a.policy.attemptTimeout) - 10_000,
              b:
                Duration.toMillis(b.policy.attemptTimeout === false ? Duration.zero : b.policy.attemptTimeout) - 20_000,
              attemptsA,
              attemptsB,
              endVersion: yield* policies.version
            }
            seen.push(record)
          })
        )
        const workers = 8
        const loop = Effect.gen(function* () {
          while (!(yield* Deferred.isDone(stop))) {
            yield* Ref.update(started, (n) => n + 1)
            yield* call
          }
        })
        const fibers = yield* Effect.forEach(Array.from({ length: workers }), () => Effect.fork(loop))
        const rewrites = 8
        for (let n = 2; n <= rewrites + 1; n++) {
          const event = yield* saveAndWait(changes, file, text(n))
          expect(event).toMatchObject({ _tag: "Applied", version: n })
        }
        yield* Deferred.succeed(stop, undefined)
        yield* Fiber.joinAll(fibers)

        const all = seen
        expect(all.length).toBe(yield* Ref.get(started)) // no call lost
        for (const s of all) {
          // the file's version n is the n-th applied: both policies from it, each with its attempts
          expect([s.a, s.b]).toEqual([s.version, s.version])
          expect([s.attemptsA, s.attemptsB]).toEqual([(s.version % 3) + 1, (s.version % 3) + 1])
        }
        const versions = new Set(all.map((s) => s.version))
        expect(versions.size).toBeGreaterThan(1)
        // some calls were still running under a version when the next was applied
        expect(all.some((s) => s.endVersion > s.version)).toBe(true)
      }).pipe(Effect.scoped, Effect.provide(env)),
    // a liveness bound for a loaded machine, not a measurement
    120_000
  )

  it("check validates a file's text without running anything", () => {
    const ok = PolicyFile.check('{"policies":{"payments":{"preset":"http"}}}', "json")
    expect(ok).toEqual(Either.right(["payments"]))
    const bad = PolicyFile.check("policies:\n  payments:\n    retry: { maxAttempts: 0 }\n", "yaml")
    expect(Either.isLeft(bad) && bad.left.map((p) => p.path)).toEqual(["policies.payments.retry.maxAttempts"])
  })
})

describe("PolicyFile polling", () => {
  it.live("a deleted file is reported once and the running policies are kept; the poll sees it come back", () =>
    Effect.gen(function* () {
      const file = yield* setup("policies:\n  payments:\n    retry: { maxAttempts: 3 }\n")
      const fs = yield* FileSystem.FileSystem
      // the poll alone finds both changes (watch events are still delivered: the first one wins)
      const policies = yield* PolicyFile.make(file, { poll: "20 millis", debounce: "20 millis" })
      const changes = yield* policies.subscribe
      const next = yield* Effect.fork(Stream.runCollect(Stream.take(changes, 2)))
      yield* fs.remove(file)
      // a second poll of the missing file says nothing new: only one Rejected before the Applied
      yield* Effect.sleep("100 millis")
      yield* fs.writeFileString(file, "policies:\n  payments:\n    retry: { maxAttempts: 4 }\n")
      const [gone, back] = Array.from(yield* Fiber.join(next))
      expect(gone).toMatchObject({ _tag: "Rejected", version: 1, problems: [{ path: "" }] })
      expect(gone?._tag === "Rejected" && gone.problems[0]?.message).toContain("could not read the file")
      expect(back).toMatchObject({ _tag: "Applied", version: 2, changed: ["payments"] })
      expect(yield* policies.reload).toBeUndefined() // nothing new since
    }).pipe(Effect.scoped, Effect.provide(env))
  )
})

describe("PolicyFile lifetimes", () => {
  it.live("what a retired version alone used is closed when its last call ends, not before", () =>
    Effect.gen(function* () {
      // the registry in context makes breakers (as the default one does) and says when each is closed
      const closed: Array<string> = []
      let made = 0
      const registry: CircuitBreaker.RegistryService = {
        shared: false,
        get: (name, config) =>
          Effect.gen(function* () {
            const id = `${name}#${++made}`
            yield* Effect.addFinalizer(() => Effect.sync(() => closed.push(id)))
            return yield* CircuitBreaker.make({ ...config, name })
          }),
        all: Effect.succeed([]),
        snapshots: Effect.succeed([])
      }
      const file = yield* setup("policies:\n  payments:\n    retry: false\n    breaker: { openDuration: 1 hour }\n")
      const policies = yield* PolicyFile.make(file, noPoll).pipe(
        Effect.provideService(CircuitBreaker.Registry, registry)
      )
      const changes = yield* policies.subscribe
      const payments = yield* policies.pipeline("payments")

      const entered = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      const inFlight = yield* Effect.fork(
        payments.protect(Effect.zipRight(Deferred.succeed(entered, undefined), Deferred.await(gate)))
      )
      yield* Deferred.await(entered)
      yield* saveAndWait(
        changes,
        file,
        "policies:\n  payments:\n    retry: false\n    breaker: { openDuration: 2 hours }\n"
      )
      expect(closed).toEqual([]) // version 1's breaker still serves the call in flight
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(inFlight)
      expect(closed).toEqual(["payments#1"])

      // a change that leaves the breaker alone closes nothing of it
      yield* saveAndWait(
        changes,
        file,
        "policies:\n  payments:\n    retry: false\n    attemptTimeout: 1 second\n    breaker: { openDuration: 2 hours }\n"
      )
      expect(closed).toEqual(["payments#1"])
      expect(made).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(env))
  )
})
