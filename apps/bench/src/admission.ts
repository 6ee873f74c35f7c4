/**
 * `pnpm bench admission [--runs N] [--iterations N] [--out FILE]`: nanoseconds per call added by
 * each synchronous admission core (retry budget check + refund; the strategies' `admit` + `settle`
 * for the bulkhead, the rate limiter, the adaptive throttle and adaptive concurrency, with the time
 * passed in as a pipeline does once per call) inside an Effect loop, against a baseline loop that
 * only runs `Effect.succeed` in the same process; then the same for each Effect-level combinator
 * (`protect` / `withdraw`) wrapping `Effect.succeed`.
 * Each case is the median of `runs` timed loops of `iterations` calls after a warm-up, cases
 * interleaved within a run. Writes `apps/bench/results/admission.json` (`[{ case, nsPerOp }]`) and
 * prints a table with the added cost (case median minus baseline median).
 */
import {
  AdaptiveConcurrency,
  AdaptiveThrottle,
  Bulkhead,
  Classification,
  Classifier,
  RateLimiter,
  RetryBudget,
  type Strategy
} from "@effect-resilience/core"
import * as Effect from "effect/Effect"
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { median, parseRunArgs } from "./support.js"

const parseArgs = (args: ReadonlyArray<string>) =>
  parseRunArgs(args, { runs: 9, iterations: 200_000, name: "admission" })

const server = Classification.make({ category: "server", code: "http.500", message: "Server error" })

interface Case {
  readonly name: string
  readonly group: "baseline" | "reference" | "sync core" | "combinator"
  /** A loop of `n` calls as one Effect. */
  readonly loop: (n: number) => Effect.Effect<number>
}

/** A loop whose step runs `core` synchronously and then `Effect.succeed`. */
const coreLoop =
  (core: () => number) =>
  (n: number): Effect.Effect<number> =>
    Effect.gen(function* () {
      let acc = 0
      for (let i = 0; i < n; i++) {
        acc += core()
        acc += yield* Effect.succeed(1)
      }
      return acc
    })

/** A loop whose step runs `wrap(Effect.succeed(1))` (with the default `Classifier`). */
const combinatorLoop =
  (classifier: Classifier.Classifier["Type"]) =>
  <E>(wrap: (self: Effect.Effect<number>) => Effect.Effect<number, E, Classifier.Classifier>) =>
  (n: number): Effect.Effect<number> =>
    Effect.gen(function* () {
      let acc = 0
      const step = Effect.orDie(Effect.provideService(wrap(Effect.succeed(1)), Classifier.Classifier, classifier))
      for (let i = 0; i < n; i++) acc += yield* step
      return acc
    })

const success: Strategy.Outcome = { _tag: "Success" }
const random = () => 0.5

/** One admission through `strategy` at `now`, settled as a success: 0 when admitted. */
const admitSettle = (strategy: Strategy.Strategy<unknown>, now: number): number => {
  const decision = strategy.admit(now, random)
  if (decision._tag !== "Admitted") return 1
  decision.settle(success, 1, now)
  return 0
}

const makeCases = Effect.gen(function* () {
  const aws = yield* RetryBudget.make()
  const ratio = yield* RetryBudget.make({ mode: "ratio" })
  const bulkhead = yield* Bulkhead.make({ maxConcurrent: 10 })
  const bucket = yield* RateLimiter.make({ limit: 1e12, window: "1 second" })
  const fixed = yield* RateLimiter.make({ algorithm: "fixed-window", limit: 1e12, window: "1 second" })
  const throttle = yield* AdaptiveThrottle.make()
  const concurrency = yield* AdaptiveConcurrency.make()
  const clock = yield* Effect.clock
  const classifier = yield* Effect.provide(Classifier.Classifier, Classifier.layer)
  const combinator = combinatorLoop(classifier)
  // the time a pipeline reads once per call and hands to every strategy
  const now = clock.unsafeCurrentTimeMillis()
  const cases: ReadonlyArray<Case> = [
    { name: "baseline: Effect.succeed", group: "baseline", loop: coreLoop(() => 0) },
    // what one read of the Clock costs: the cores that need time read it once per call
    {
      name: "reference: one Clock read",
      group: "reference",
      loop: coreLoop(() => clock.unsafeCurrentTimeMillis() & 1)
    },
    {
      name: "budget (AWS) tryWithdraw + onSuccess refund",
      group: "sync core",
      loop: coreLoop(() => {
        const ok = aws.tryWithdraw(server)
        aws.onSuccess(false, server)
        return ok ? 0 : 1
      })
    },
    {
      name: "budget (AWS) onSuccess(firstTry)",
      group: "sync core",
      loop: coreLoop(() => {
        aws.onSuccess(true)
        return 0
      })
    },
    {
      name: "budget (ratio) onRequest + tryWithdraw",
      group: "sync core",
      loop: coreLoop(() => {
        ratio.onRequest()
        return ratio.tryWithdraw(server) ? 0 : 1
      })
    },
    { name: "bulkhead admit + settle", group: "sync core", loop: coreLoop(() => admitSettle(bulkhead, now)) },
    { name: "token bucket admit + settle", group: "sync core", loop: coreLoop(() => admitSettle(bucket, now)) },
    { name: "fixed window admit + settle", group: "sync core", loop: coreLoop(() => admitSettle(fixed, now)) },
    {
      name: "adaptive throttle admit + settle",
      group: "sync core",
      loop: coreLoop(() => admitSettle(throttle, now))
    },
    {
      name: "adaptive concurrency admit + settle",
      group: "sync core",
      loop: coreLoop(() => admitSettle(concurrency, now))
    },
    {
      name: "RetryBudget withdraw (Effect) + onSuccess",
      group: "combinator",
      loop: combinator((self) =>
        Effect.zipRight(
          aws.withdraw(server, "bench"),
          Effect.map(self, (a) => {
            aws.onSuccess(false, server)
            return a
          })
        )
      )
    },
    { name: "Bulkhead.protect", group: "combinator", loop: combinator(Bulkhead.protect(bulkhead)) },
    {
      name: "RateLimiter.protect (token bucket)",
      group: "combinator",
      loop: combinator(RateLimiter.protect(bucket, { key: "k" }))
    },
    { name: "AdaptiveThrottle.protect", group: "combinator", loop: combinator(AdaptiveThrottle.protect(throttle)) },
    {
      name: "AdaptiveConcurrency.protect",
      group: "combinator",
      loop: combinator(AdaptiveConcurrency.protect(concurrency))
    }
  ]
  return cases
})

const time = (loop: Effect.Effect<number>, iterations: number, sink: { value: number }): number => {
  const start = process.hrtime.bigint()
  sink.value += Effect.runSync(loop)
  return Number(process.hrtime.bigint() - start) / iterations
}

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const options = parseArgs(args)
  const cases = Effect.runSync(Effect.orDie(Effect.scoped(makeCases)))
  const sink = { value: 0 }
  const loops = cases.map((c) => c.loop(options.iterations))
  // warm-up: let the JIT settle on every loop
  for (let w = 0; w < 3; w++) for (const loop of loops) time(loop, options.iterations, sink)
  const samples = cases.map(() => [] as Array<number>)
  for (let r = 0; r < options.runs; r++) {
    for (let i = 0; i < loops.length; i++) samples[i]!.push(time(loops[i]!, options.iterations, sink))
  }
  const results = cases.map((c, i) => ({ case: c.name, nsPerOp: Math.round(median(samples[i]!) * 10) / 10 }))
  const baseline = results[0]!.nsPerOp
  const rows = results.map((r, i) => ({
    ...r,
    group: cases[i]!.group,
    added: Math.round((r.nsPerOp - baseline) * 10) / 10
  }))
  const width = Math.max(...rows.map((r) => r.case.length))
  process.stdout.write(
    `admission cores: median of ${options.runs} runs x ${options.iterations} calls (sink ${sink.value % 7})\n\n`
  )
  process.stdout.write(
    `${"case".padEnd(width)}  ${"group".padEnd(10)}  ${"ns/op".padStart(8)}  ${"added".padStart(8)}\n`
  )
  for (const r of rows) {
    process.stdout.write(
      `${r.case.padEnd(width)}  ${r.group.padEnd(10)}  ${r.nsPerOp.toFixed(1).padStart(8)}  ${(r.group === "baseline" ? "" : r.added.toFixed(1)).padStart(8)}\n`
    )
  }
  mkdirSync(dirname(options.out), { recursive: true })
  writeFileSync(options.out, `${JSON.stringify(results, null, 2)}\n`)
  process.stdout.write(`\nwrote ${options.out}\n`)
}
