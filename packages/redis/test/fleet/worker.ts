/**
 * One process of a test fleet, driven by JSON lines on stdin (`{ id, key, op, ... }`) and
 * answering JSON lines on stdout (`{ id, result }`). `make` builds a breaker on a Redis store of
 * its own config under `key` (a process serves several tests, one after the other, since a
 * process takes seconds to start); `dispose` ends it. WORKER in the environment names the process
 * (sent to the upstream as `x-worker`).
 */
import { CircuitBreaker, Classification, Classifier, RetryBudget } from "@effect-resilience/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Metric from "effect/Metric"
import { createInterface } from "node:readline"
import { RedisCircuitBreakerStore, RedisRetryBudgetStore } from "../../src/index.js"

const worker = process.env.WORKER ?? "w"
const serverError = Classification.make({ category: "server", code: "http.503", message: "Service unavailable" })

type Live = CircuitBreaker.CircuitBreaker | Classifier.Classifier

/** One breaker per key, each on a store of its own config, living until `dispose`. */
const instances = new Map<string, ManagedRuntime.ManagedRuntime<Live, unknown>>()

const makeInstance = (breaker: CircuitBreaker.ConfigInput, store: RedisCircuitBreakerStore.ConfigInput) => {
  const live = CircuitBreaker.layer(breaker).pipe(
    Layer.provide(RedisCircuitBreakerStore.layer(store)),
    Layer.merge(Classifier.layerFrom(() => serverError))
  )
  return ManagedRuntime.make(live)
}

interface Counts {
  ok: number
  failed: number
  rejected: number
  /** anything else: an error that leaked from the store would land here */
  other: number
}
const counts = (): Counts => ({ ok: 0, failed: 0, rejected: 0, other: 0 })

const tally = <A>(c: Counts, exit: Exit.Exit<A, unknown>) => {
  if (Exit.isSuccess(exit)) c.ok++
  else if (exit.cause._tag !== "Fail") c.other++
  else if (exit.cause.error === "boom") c.failed++
  else if (typeof exit.cause.error === "object" && exit.cause.error !== null && "_tag" in exit.cause.error) {
    if (exit.cause.error._tag === "CircuitOpen") c.rejected++
    else c.other++
  } else c.other++
}

const upstream = (url: string) =>
  Effect.tryPromise({
    try: (signal) => fetch(url, { headers: { "x-worker": worker }, signal }),
    catch: () => "boom" as const
  }).pipe(
    Effect.flatMap((res) => (res.ok ? Effect.asVoid(Effect.promise(() => res.text())) : Effect.fail("boom" as const)))
  )

const calls = (n: number, gapMs: number, effect: Effect.Effect<unknown, "boom">) =>
  Effect.gen(function* () {
    const breaker = yield* CircuitBreaker.CircuitBreaker
    const c = counts()
    for (let i = 0; i < n; i++) {
      tally(c, yield* Effect.exit(breaker.protect(effect)))
      if (gapMs > 0) yield* Effect.sleep(gapMs)
    }
    return c
  })

// background loops of successful calls, for the Redis-down test
const loops = new Map<string, { running: boolean; counts: Counts }>()

/** Tries `n` retries on a budget of the Redis store, one every `gapMs`; each paid retry is a request to `url`. */
const retries = (command: {
  readonly budget: RetryBudget.ConfigInput
  readonly store: RedisRetryBudgetStore.ConfigInput
  readonly n: number
  readonly gapMs: number
  readonly url: string
}) =>
  Effect.gen(function* () {
    const budget = yield* RetryBudget.make(command.budget)
    let paid = 0
    for (let i = 0; i < command.n; i++) {
      if (budget.tryWithdraw(serverError)) {
        paid++
        yield* Effect.ignore(upstream(command.url))
      }
      yield* Effect.sleep(command.gapMs)
    }
    return paid
  }).pipe(Effect.scoped, Effect.provide(RedisRetryBudgetStore.layer(command.store)))

type Command = { readonly key: string } & (
  | {
      readonly id: number
      readonly op: "retries"
      readonly budget: RetryBudget.ConfigInput
      readonly store: RedisRetryBudgetStore.ConfigInput
      readonly n: number
      readonly gapMs: number
      readonly url: string
    }
  | {
      readonly id: number
      readonly op: "make"
      readonly breaker: CircuitBreaker.ConfigInput
      readonly store: RedisCircuitBreakerStore.ConfigInput
    }
  | {
      readonly id: number
      readonly op: "calls"
      readonly n: number
      readonly outcome: "success" | "failure"
      readonly gapMs?: number
    }
  | { readonly id: number; readonly op: "http"; readonly n: number; readonly url: string; readonly gapMs?: number }
  | {
      readonly id: number
      readonly op: "state" | "forceOpen" | "forceClosed" | "fallbacks" | "loopStart" | "loopStop" | "dispose"
    }
)

const handle = (command: Command): Effect.Effect<unknown, unknown, Live> => {
  switch (command.op) {
    case "make":
    case "dispose":
    case "retries":
      return Effect.void
    case "calls":
      return calls(
        command.n,
        command.gapMs ?? 0,
        command.outcome === "success" ? Effect.void : Effect.fail("boom" as const)
      )
    case "http":
      return calls(command.n, command.gapMs ?? 0, upstream(command.url))
    case "state":
      return Effect.flatMap(CircuitBreaker.CircuitBreaker, (b) => b.snapshot)
    case "forceOpen":
      return Effect.flatMap(CircuitBreaker.CircuitBreaker, (b) => b.forceOpen)
    case "forceClosed":
      return Effect.flatMap(CircuitBreaker.CircuitBreaker, (b) => b.forceClosed)
    case "fallbacks":
      return Effect.map(Metric.snapshot, (pairs) =>
        pairs
          .filter((p) => p.metricKey.name === "resilience_store_fallback_total")
          .reduce((sum, p) => sum + ("count" in p.metricState ? Number(p.metricState.count) : 0), 0)
      )
    case "loopStart": {
      const loop = { running: true, counts: counts() }
      loops.set(command.key, loop)
      return Effect.asVoid(
        Effect.forkDaemon(
          Effect.gen(function* () {
            const breaker = yield* CircuitBreaker.CircuitBreaker
            while (loop.running) {
              tally(loop.counts, yield* Effect.exit(breaker.protect(Effect.void)))
              yield* Effect.sleep(5)
            }
          })
        )
      )
    }
    case "loopStop": {
      const loop = loops.get(command.key)
      if (loop === undefined) return Effect.die("no loop")
      loop.running = false
      return Effect.succeed(loop.counts)
    }
  }
}

const send = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`)

const run = async (command: Command): Promise<unknown> => {
  if (command.op === "retries") return Effect.runPromise(retries(command))
  if (command.op === "make") {
    const runtime = makeInstance(command.breaker, command.store)
    instances.set(command.key, runtime)
    return runtime.runPromise(Effect.void)
  }
  const runtime = instances.get(command.key)
  if (runtime === undefined) throw new Error(`no instance ${command.key}`)
  if (command.op === "dispose") {
    instances.delete(command.key)
    const loop = loops.get(command.key)
    if (loop !== undefined) loop.running = false
    return runtime.dispose()
  }
  return runtime.runPromise(handle(command))
}

send({ ready: true })
createInterface({ input: process.stdin }).on("line", (line) => {
  const command = JSON.parse(line) as Command
  run(command).then(
    (result) => send({ id: command.id, result: result ?? null }),
    (error: unknown) => send({ id: command.id, error: String(error) })
  )
})
process.stdin.on("end", () => {
  Promise.all(Array.from(instances.values(), (runtime) => runtime.dispose())).then(() => process.exit(0))
})
