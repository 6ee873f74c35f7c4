/**
 * One process of `pnpm bench overhead`: measures ONE case and prints one JSON line.
 *
 * The parent bundles this file with esbuild (no `keepNames`, every package external), so that
 * `@effect-resilience/core` resolves through its `exports` WITHOUT the `@effect-resilience/source`
 * condition: the children run the built `dist/`, as a user would.
 *
 * Method for a speed case: calibrate a batch size, warm up for at least `warmupMs` of wall time and
 * then until the mean of the last five batches is within 3 % of the five before (steady state, at
 * most three times `warmupMs`), then take `samples` batches of about `sampleMs` each. Every sample
 * records wall time (`process.hrtime`) and CPU time (`process.cpuUsage`, user + system) per call;
 * the process reports the median of each.
 *
 * A heap case (needs `--expose-gc`) starts 10,000 calls on an operation that does not settle yet
 * and reports the growth of the heap per call.
 */
import { Classification, Classifier, Resilience } from "@effect-resilience/core"
import { resilient } from "@effect-resilience/promise"
import {
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleAll,
  retry,
  TimeoutStrategy,
  timeout,
  wrap
} from "cockatiel"
import type { UnknownException } from "effect/Cause"
import { Clock, Context, Effect, Fiber, ManagedRuntime, Runtime, Schedule } from "effect"
import Opossum from "opossum"
import pRetry from "p-retry"

const op = async () => 42

/** Fails twice, then succeeds: a new one per call. */
const flaky = () => {
  let calls = 0
  return async () => {
    calls += 1
    if (calls <= 2) throw new Error("transient")
    return 42
  }
}

/** Everything is transient for the failure-path cases (the operation throws plain Errors). */
const retryEverything = Classifier.layerFrom(() =>
  Classification.make({ category: "unavailable", code: "bench.transient", message: "transient" })
)

/** The default pipeline: attempt timeout (10 s), retry, breaker, classification, metrics. */
const defaultPolicy: Resilience.PolicyInput = { operation: "bench" }

const failurePolicy: Resilience.PolicyInput = {
  operation: "bench",
  retry: { maxAttempts: 4, initialDelay: 0, throttledInitialDelay: 0, jitter: "none" },
  // two failures in three attempts would open a rate-based breaker: the failure path measures retrying
  breaker: { policy: { _tag: "ConsecutiveFailures", threshold: 1_000_000 } }
}

/**
 * The Promise facade's policy, matched to the peers' below: an attempt timeout of 1 s, 3 retries
 * with no delay that a success would reach, a breaker that opens after 5 consecutive failures.
 */
const facadePolicy: Resilience.PolicyInput = {
  operation: "bench",
  attemptTimeout: "1 second",
  retry: { maxAttempts: 4 },
  breaker: { policy: { _tag: "ConsecutiveFailures", threshold: 5 }, openDuration: "10 seconds" }
}

/** Runs `n` calls; resolves when all are done. */
type Batch = (n: number) => Promise<void>

interface SpeedCase {
  readonly setup: () => Promise<{ readonly batch: Batch; readonly close?: () => Promise<void> }>
  /** The smallest batch that measures the case (the cases with 1,000 calls in flight need 1,000). */
  readonly minBatch?: number
}

/** One Effect program that makes `n` calls one after another (the loop a user writes). */
const effectLoop =
  (body: () => Effect.Effect<unknown, unknown>): Batch =>
  (n) =>
    Effect.runPromise(
      Effect.gen(function* () {
        for (let i = 0; i < n; i++) yield* body()
      })
    )

/** `n` awaited calls, one at a time. */
const asyncLoop =
  (call: () => Promise<unknown>): Batch =>
  async (n) => {
    for (let i = 0; i < n; i++) await call()
  }

/** `n` calls with `width` in flight at any time. */
const inFlight =
  (width: number, call: () => Promise<unknown>): Batch =>
  async (n) => {
    let started = 0
    const worker = async () => {
      while (started < n) {
        started += 1
        await call()
      }
    }
    await Promise.all(Array.from({ length: Math.min(width, n) }, worker))
  }

/** A pipeline built once in a runtime of its own, with a classifier layer. */
const withPipeline = async (
  policy: Resilience.PolicyInput,
  classifier: typeof Classifier.layer,
  use: (pipeline: Resilience.Pipeline) => Batch
) => {
  const runtime = ManagedRuntime.make(classifier)
  const pipeline = await runtime.runPromise(Resilience.make(policy).pipe(Effect.scoped))
  return { batch: use(pipeline), close: () => runtime.dispose() }
}

const cockatielPolicy = (threshold: number, backoff: ExponentialBackoff<unknown>) =>
  wrap(
    retry(handleAll, { maxAttempts: 3, backoff }),
    circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(threshold) }),
    timeout(1000, TimeoutStrategy.Aggressive)
  )

/** Every speed case. The parent runs them in the order given, rotated each round. */
const speedCases: Record<string, SpeedCase> = {
  // baselines
  "bare-tryPromise": { setup: async () => ({ batch: effectLoop(() => Effect.tryPromise(op)) }) },
  "bare-succeed": {
    setup: async () => {
      const succeed = Effect.succeed(42)
      return { batch: effectLoop(() => succeed) }
    }
  },
  // the primitives an Effect attempt with a timeout stands on (Effect 3): a fiber per attempt
  "bare-fork": {
    // what effectWithTimer needs at least: fork the attempt, await it, interrupt it if the caller is
    setup: async () => ({
      batch: effectLoop(() =>
        Effect.flatMap(Effect.runtime<never>(), (runtime) =>
          Effect.async<number, UnknownException>((resume) => {
            const fiber = Runtime.runFork(runtime)(Effect.tryPromise(op))
            fiber.addObserver(resume)
            return Fiber.interrupt(fiber)
          })
        )
      )
    })
  },
  "bare-observed": {
    // the least an Effect wrapper that sees each outcome costs: read the fiber, match the exit
    setup: async () => ({
      batch: effectLoop(() =>
        Effect.withFiberRuntime(() =>
          Effect.matchCauseEffect(Effect.tryPromise(op), { onFailure: Effect.failCause, onSuccess: Effect.succeed })
        )
      )
    })
  },
  "bare-observed-clock": {
    // bare-observed plus what timing an outcome needs at least: the clock read when the call starts
    // and when it ends (a breaker's slow-call rule and the latency histogram need both)
    setup: async () => {
      let sink = 0
      return {
        batch: effectLoop(() =>
          Effect.withFiberRuntime((fiber) => {
            const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
            const start = clock.unsafeCurrentTimeMillis()
            return Effect.matchCauseEffect(Effect.tryPromise(op), {
              onFailure: Effect.failCause,
              onSuccess: (a) => {
                sink += clock.unsafeCurrentTimeMillis() - start
                return Effect.succeed(a + (sink & 0))
              }
            })
          })
        )
      }
    }
  },
  "bare-timeout": {
    setup: async () => ({ batch: effectLoop(() => Effect.timeout(Effect.tryPromise(op), "10 seconds")) })
  },
  // ours, one call at a time in an Effect loop
  "pipeline-tryPromise": {
    setup: () => withPipeline(defaultPolicy, Classifier.layer, (p) => effectLoop(() => p.tryPromise(op)))
  },
  "protect-timeout": {
    setup: () =>
      withPipeline(defaultPolicy, Classifier.layer, (p) => effectLoop(() => p.protect(Effect.tryPromise(op))))
  },
  "protect-no-timeout": {
    setup: () =>
      withPipeline({ ...defaultPolicy, attemptTimeout: false }, Classifier.layer, (p) =>
        effectLoop(() => p.protect(Effect.tryPromise(op)))
      )
  },
  // ours and opossum from Promise code
  "pipeline-runPromise": {
    setup: () => withPipeline(defaultPolicy, Classifier.layer, (p) => asyncLoop(() => p.runPromise(op)))
  },
  "opossum-fire": {
    setup: async () => {
      const breaker = new Opossum(op, { timeout: 1000 })
      return { batch: asyncLoop(() => breaker.fire()) }
    }
  },
  "pipeline-runPromise-1000": {
    setup: () => withPipeline(defaultPolicy, Classifier.layer, (p) => inFlight(1000, () => p.runPromise(op))),
    minBatch: 1000
  },
  "opossum-fire-1000": {
    setup: async () => {
      const breaker = new Opossum(op, { timeout: 1000 })
      return { batch: inFlight(1000, () => breaker.fire()) }
    },
    minBatch: 1000
  },
  cockatiel: {
    setup: async () => {
      const policy = cockatielPolicy(5, new ExponentialBackoff())
      return { batch: asyncLoop(() => policy.execute(op)) }
    }
  },
  // the Promise facade (@effect-resilience/promise): retry + breaker + attempt timeout, as cockatiel's wrap
  facade: {
    setup: async () => {
      const call = resilient(op, facadePolicy)
      return { batch: asyncLoop(call) }
    }
  },
  "facade-1000": {
    setup: async () => {
      const call = resilient(op, facadePolicy)
      return { batch: inFlight(1000, call) }
    },
    minBatch: 1000
  },
  "cockatiel-1000": {
    setup: async () => {
      const policy = cockatielPolicy(5, new ExponentialBackoff())
      return { batch: inFlight(1000, () => policy.execute(op)) }
    },
    minBatch: 1000
  },
  "p-retry": { setup: async () => ({ batch: asyncLoop(() => pRetry(op, { retries: 3 })) }) },
  // the failure path: fail twice, then succeed, no delay between attempts
  "failure-effect-retry": {
    setup: async () => {
      const schedule = Schedule.recurs(3)
      return { batch: effectLoop(() => Effect.retry(Effect.tryPromise(flaky()), schedule)) }
    }
  },
  "failure-pipeline-tryPromise": {
    setup: () => withPipeline(failurePolicy, retryEverything, (p) => effectLoop(() => p.tryPromise(flaky())))
  },
  "failure-pipeline-runPromise": {
    setup: () => withPipeline(failurePolicy, retryEverything, (p) => asyncLoop(() => p.runPromise(flaky())))
  },
  "failure-p-retry": {
    setup: async () => ({ batch: asyncLoop(() => pRetry(flaky(), { retries: 3, minTimeout: 0, maxTimeout: 0 })) })
  },
  "failure-cockatiel": {
    setup: async () => {
      const policy = cockatielPolicy(1_000_000, new ExponentialBackoff({ initialDelay: 0, maxDelay: 0 }))
      return { batch: asyncLoop(() => policy.execute(flaky())) }
    }
  }
}

/** Heap cases: start one call on an operation that waits for `gate`; what stays reachable counts. */
const heapCases: Record<string, () => Promise<(gate: Promise<number>) => unknown>> = {
  "heap-bare-tryPromise": async () => (gate) => Effect.runFork(Effect.tryPromise(() => gate)),
  "heap-pipeline-tryPromise": async () => {
    const runtime = ManagedRuntime.make(Classifier.layer)
    const pipeline = await runtime.runPromise(Resilience.make(defaultPolicy).pipe(Effect.scoped))
    return (gate) => runtime.runFork(pipeline.tryPromise(() => gate))
  },
  "heap-pipeline-runPromise": async () => {
    const runtime = ManagedRuntime.make(Classifier.layer)
    const pipeline = await runtime.runPromise(Resilience.make(defaultPolicy).pipe(Effect.scoped))
    return (gate) => pipeline.runPromise(() => gate)
  },
  "heap-opossum-fire": async () => {
    const breaker = new Opossum((gate: Promise<number>) => gate, { timeout: 1000 })
    return (gate) => breaker.fire(gate)
  }
}

interface Settings {
  readonly warmupMs: number
  readonly sampleMs: number
  readonly samples: number
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}

const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length

/** Wall and CPU nanoseconds per call of one batch of `n`. */
const timed = async (batch: Batch, n: number) => {
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  await batch(n)
  const wall = Number(process.hrtime.bigint() - t0)
  const cpu = process.cpuUsage(cpu0)
  return { wall: wall / n, cpu: ((cpu.user + cpu.system) * 1000) / n }
}

const measureSpeed = async (c: SpeedCase, settings: Settings) => {
  const { batch, close } = await c.setup()
  // calibrate: the batch size that takes about a tenth of a sample
  let n = c.minBatch ?? 16
  for (;;) {
    const { wall } = await timed(batch, n)
    if (wall * n >= (settings.sampleMs * 1e6) / 10 || n >= 1 << 22) break
    n *= 2
  }
  const warmStart = Date.now()
  const recent: Array<number> = []
  let steady = false
  for (;;) {
    recent.push((await timed(batch, n)).wall)
    if (recent.length > 10) recent.shift()
    const elapsed = Date.now() - warmStart
    if (elapsed >= settings.warmupMs && recent.length === 10) {
      const before = mean(recent.slice(0, 5))
      const after = mean(recent.slice(5))
      if (Math.abs(after - before) / before < 0.03) {
        steady = true
        break
      }
    }
    if (elapsed >= settings.warmupMs * 3) break
  }
  const warmupMs = Date.now() - warmStart
  const perSample = Math.max(n, Math.round((settings.sampleMs * 1e6) / Math.max(1, recent[recent.length - 1] ?? 1)))
  const walls: Array<number> = []
  const cpus: Array<number> = []
  for (let i = 0; i < settings.samples; i++) {
    const s = await timed(batch, perSample)
    walls.push(s.wall)
    cpus.push(s.cpu)
  }
  await close?.()
  return { wallNs: median(walls), cpuNs: median(cpus), callsPerSample: perSample, warmupMs, steady }
}

const measureHeap = async (make: () => Promise<(gate: Promise<number>) => unknown>) => {
  const gc = globalThis.gc
  if (gc === undefined) throw new Error("heap cases need --expose-gc")
  const start = await make()
  const calls = 10_000
  // warm the path once so that what is compiled or cached on first use is not counted
  {
    let open: (n: number) => void = () => {}
    const gate = new Promise<number>((resolve) => {
      open = resolve
    })
    for (let i = 0; i < 100; i++) start(gate)
    open(42)
    await new Promise((r) => setTimeout(r, 20))
  }
  let open: (n: number) => void = () => {}
  const gate = new Promise<number>((resolve) => {
    open = resolve
  })
  gc()
  const before = process.memoryUsage().heapUsed
  const handles: Array<unknown> = []
  for (let i = 0; i < calls; i++) handles.push(start(gate))
  await new Promise((r) => setTimeout(r, 10))
  gc()
  const after = process.memoryUsage().heapUsed
  open(42)
  await new Promise((r) => setTimeout(r, 50))
  return { bytesPerCall: (after - before) / calls, held: handles.length }
}

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const name = arg("case") ?? ""
const settings: Settings = {
  warmupMs: Number(arg("warmup-ms") ?? 1000),
  sampleMs: Number(arg("sample-ms") ?? 100),
  samples: Number(arg("samples") ?? 8)
}
const speed = speedCases[name]
const heap = heapCases[name]
if (process.argv.includes("--list")) {
  process.stdout.write(`${JSON.stringify({ speed: Object.keys(speedCases), heap: Object.keys(heapCases) })}\n`)
} else if (speed !== undefined) {
  const result = await measureSpeed(speed, settings)
  process.stdout.write(`${JSON.stringify({ case: name, ...result })}\n`)
} else if (heap !== undefined) {
  const result = await measureHeap(heap)
  process.stdout.write(`${JSON.stringify({ case: name, bytesPerCall: result.bytesPerCall })}\n`)
} else {
  process.stderr.write(`unknown case: ${name}\n`)
  process.exitCode = 1
}
process.exit()
