/**
 * `pnpm bench breaker [--runs N] [--iterations N] [--out FILE]`: what the circuit breaker alone
 * adds to a call on the success path.
 *
 * Every case is a loop of `iterations` calls inside one Effect; the baseline loop only yields
 * `Effect.succeed(42)`. Cases run interleaved in each of `runs` rounds after a warm-up; each case's
 * figure is its median over the rounds, and "added" is that median minus the baseline's median.
 *
 * - `breaker-decision`: the breaker's Strategy face as a pipeline calls it, default consecutive
 *   policy: `admit(now)`, run `Effect.succeed(42)`, settle the ticket with a success (the time is
 *   read once outside the loop: the pipeline reads the clock for its own needs, and a closed
 *   consecutive-failures breaker reads no time).
 * - `breaker-decision-clocked`: the same with the Clock read before and after, as a window policy
 *   needs; `-count-window` / `-time-window`: clocked, with those policies.
 * - `two-clock-reads-only`: the two Clock reads alone (not a breaker cost; to read the above).
 * - `clockWith-matchCauseEffect-only`: two Effect operators around the call without a breaker
 *   (not a breaker cost: what wrapping any call in Effect operators costs on this runtime).
 * - `breaker-protect`: `breaker.protect(Effect.succeed(42))`, the generic strategy `protect`
 *   (Classifier, Clock, Deadline and a seed read, admission, an `onExit` that settles). This is the
 *   price of an Effect-level combinator; a pipeline uses the synchronous face instead.
 *
 * Writes `apps/bench/results/breaker.json` as `[{ case, nsPerOp }]`: the baseline's absolute
 * ns/op, then the ns/op each breaker case adds to it.
 */
import { CircuitBreaker, Classification, Classifier, type Strategy } from "@effect-resilience/core"
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { median, parseRunArgs } from "./support.js"

const parseArgs = (args: ReadonlyArray<string>) => parseRunArgs(args, { runs: 9, iterations: 200_000, name: "breaker" })

interface Case {
  readonly name: string
  readonly loop: (n: number) => Effect.Effect<number>
}

const succeed42 = Effect.succeed(42)
const success: Strategy.Outcome = { _tag: "Success" }

const baseline = (n: number): Effect.Effect<number> =>
  Effect.gen(function* () {
    let acc = 0
    for (let i = 0; i < n; i++) acc += yield* succeed42
    return acc
  })

/**
 * The pipeline's way: the synchronous Strategy face around the call, no Effect allocated for the
 * breaker. `clocked` reads the Clock before and after, as a window policy needs.
 */
const decisionLoop =
  (breaker: CircuitBreaker.CircuitBreaker, clock: Clock.Clock, clocked: boolean) =>
  (n: number): Effect.Effect<number> =>
    Effect.gen(function* () {
      let acc = 0
      const fixed = clock.unsafeCurrentTimeMillis()
      for (let i = 0; i < n; i++) {
        const start = clocked ? clock.unsafeCurrentTimeMillis() : fixed
        const ticket = breaker.admit(start, Math.random)
        if (ticket._tag === "Rejected") return yield* Effect.die("the breaker should stay closed")
        acc += yield* succeed42
        const end = clocked ? clock.unsafeCurrentTimeMillis() : fixed
        ticket.settle(success, end - start, end)
      }
      return acc
    })

/** Two Clock reads and nothing else: the part of the clocked cases that is not the breaker. */
const clockLoop =
  (clock: Clock.Clock) =>
  (n: number): Effect.Effect<number> =>
    Effect.gen(function* () {
      let acc = 0
      let t = 0
      for (let i = 0; i < n; i++) {
        t += clock.unsafeCurrentTimeMillis()
        acc += yield* succeed42
        t -= clock.unsafeCurrentTimeMillis()
      }
      return t > 1e15 ? 0 : acc
    })

const protectLoop =
  (breaker: CircuitBreaker.CircuitBreaker) =>
  (n: number): Effect.Effect<number> =>
    Effect.gen(function* () {
      let acc = 0
      const step = breaker.protect(succeed42)
      for (let i = 0; i < n; i++) acc += yield* step
      return acc
    }).pipe(Effect.orDie, Effect.provide(Classifier.layerFrom(() => Classification.unknown)))

/** Two Effect operators around the call, without a breaker: what wrapping any call costs. */
const wrapperOnlyLoop = (n: number): Effect.Effect<number> =>
  Effect.gen(function* () {
    let acc = 0
    const step = Effect.clockWith(() =>
      Effect.matchCauseEffect(succeed42, { onSuccess: (a) => Effect.succeed(a), onFailure: Effect.failCause })
    )
    for (let i = 0; i < n; i++) acc += yield* step
    return acc
  })

const timeLoop = (loop: Effect.Effect<number>, iterations: number): number => {
  const start = process.hrtime.bigint()
  const result = Effect.runSync(loop)
  const elapsed = Number(process.hrtime.bigint() - start)
  if (result !== 42 * iterations) throw new Error(`unexpected result ${result}`)
  return elapsed / iterations
}

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const options = parseArgs(args)
  const cases = await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const clock = yield* Effect.clock
        const consecutive = yield* CircuitBreaker.make({ name: "bench" })
        const count = yield* CircuitBreaker.make({ name: "bench-count", policy: { _tag: "CountWindow" } })
        const time = yield* CircuitBreaker.make({ name: "bench-time", policy: { _tag: "TimeWindow" } })
        const guarded = yield* CircuitBreaker.make({ name: "bench-protect" })
        const list: ReadonlyArray<Case> = [
          { name: "baseline-succeed", loop: baseline },
          { name: "breaker-decision", loop: decisionLoop(consecutive, clock, false) },
          { name: "breaker-decision-clocked", loop: decisionLoop(consecutive, clock, true) },
          { name: "breaker-decision-count-window", loop: decisionLoop(count, clock, true) },
          { name: "breaker-decision-time-window", loop: decisionLoop(time, clock, true) },
          { name: "two-clock-reads-only", loop: clockLoop(clock) },
          { name: "breaker-protect", loop: protectLoop(guarded) },
          { name: "clockWith-matchCauseEffect-only", loop: wrapperOnlyLoop }
        ]
        return list
      })
    )
  )
  const loops = cases.map((c) => c.loop(options.iterations))
  // warm-up
  for (let w = 0; w < 3; w++) for (const loop of loops) timeLoop(loop, options.iterations)
  const samples = cases.map((): Array<number> => [])
  for (let r = 0; r < options.runs; r++) {
    loops.forEach((loop, i) => {
      samples[i]?.push(timeLoop(loop, options.iterations))
    })
  }
  const medians = samples.map(median)
  const base = medians[0] ?? 0
  const rows = cases.map((c, i) => {
    const ns = medians[i] ?? 0
    return { case: c.name, total: ns, added: i === 0 ? ns : ns - base }
  })
  console.log(
    `breaker success path: ${options.iterations} calls per loop, median of ${options.runs} runs (Node ${process.version})\n`
  )
  console.log(`${"case".padEnd(32)} ${"ns/op".padStart(8)} ${"added".padStart(8)} ${"x base".padStart(7)}`)
  for (const row of rows) {
    console.log(
      `${row.case.padEnd(32)} ${row.total.toFixed(1).padStart(8)} ${(row.case === "baseline-succeed" ? "-" : row.added.toFixed(1)).padStart(8)} ${(row.total / base).toFixed(2).padStart(7)}`
    )
  }
  const decision = rows.find((r) => r.case === "breaker-decision")
  if (decision !== undefined) {
    console.log(`\nbreaker-decision adds ${decision.added.toFixed(1)} ns per call (goal: at most 250 ns)`)
  }
  mkdirSync(dirname(options.out), { recursive: true })
  writeFileSync(
    options.out,
    `${JSON.stringify(
      rows.map((r) => ({ case: r.case, nsPerOp: Number(r.added.toFixed(1)) })),
      null,
      2
    )}\n`
  )
  console.log(`wrote ${options.out}`)
}
