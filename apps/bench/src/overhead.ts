/**
 * `pnpm bench overhead`: what protection costs on the success path, against a baseline run in the
 * same process, and against peers (cockatiel, opossum, p-retry).
 *
 * Each case runs in a fresh child process (`--child CASE`), several times; the parent reports the
 * median ns/op of the runs and the ratio to `tryPromise-loop`, and writes
 * `apps/bench/results/overhead.json` (`[{ case, nsPerOp, ratio }]`) plus the heap per call with
 * 10,000 calls in flight and the failure path (fail twice, then succeed, zero delay).
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { NodeSdk } from "@effect/opentelemetry"
import * as esbuild from "esbuild"
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader
} from "@opentelemetry/sdk-metrics"
import { BatchSpanProcessor, InMemorySpanExporter } from "@opentelemetry/sdk-trace-base"
import * as Classification from "@effect-resilience/core/Classification"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as CircuitBreaker from "@effect-resilience/core/CircuitBreaker"
import * as Resilience from "@effect-resilience/core/Resilience"
import type * as Strategy from "@effect-resilience/core/Strategy"
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
import { Effect, Layer, ManagedRuntime, Schedule } from "effect"
import Opossum from "opossum"
import pRetry from "p-retry"
import { median } from "./support.js"

const here = dirname(fileURLToPath(import.meta.url))
const resultsDir = join(here, "..", "results")

const op = async () => 42

/** Everything is transient for the failure-path cases (the op throws plain Errors). */
const retryEverything = Classifier.layerFrom(() =>
  Classification.make({ category: "unavailable", code: "bench.transient", message: "transient" })
)

const pipelinePolicy: Resilience.PolicyInput = {
  operation: "bench",
  attemptTimeout: "1 second",
  retry: { maxAttempts: 4 },
  bulkhead: { maxConcurrent: 10_000, maxQueue: 0 }
}

const otelLayer = NodeSdk.layer(() => ({
  resource: { serviceName: "bench" },
  spanProcessor: new BatchSpanProcessor(new InMemorySpanExporter()),
  metricReader: new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 60_000
  })
}))

const loop = (n: number, body: () => Effect.Effect<unknown, unknown>) =>
  Effect.gen(function* () {
    for (let i = 0; i < n; i++) yield* body()
  })

/**
 * CPU time of this process (user + system) in nanoseconds. The machines here are shared and
 * noisy: wall time counts the time the process waited for a core, CPU time does not, and every
 * case is CPU-bound (the operations resolve at once).
 */
const cpuNanos = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) * 1000
}

const timeLoop = (n: number, body: () => Effect.Effect<unknown, unknown>) =>
  Effect.gen(function* () {
    yield* loop(Math.min(n, 5_000), body) // warm-up
    const t0 = cpuNanos()
    yield* loop(n, body)
    return (cpuNanos() - t0) / n
  })

const timeAsync = async (n: number, body: () => Promise<unknown>) => {
  for (let i = 0; i < Math.min(n, 5_000); i++) await body()
  const t0 = cpuNanos()
  for (let i = 0; i < n; i++) await body()
  return (cpuNanos() - t0) / n
}

/** Fails twice, then succeeds: a new one per call. */
const flaky = () => {
  let calls = 0
  return async () => {
    calls += 1
    if (calls <= 2) throw new Error("transient")
    return 42
  }
}

const N = 20_000

const cases: Record<string, () => Promise<number>> = {
  "tryPromise-loop": () => Effect.runPromise(timeLoop(N, () => Effect.tryPromise(op))),
  "naive-effect-loop": () => {
    const schedule = Schedule.exponential("100 millis").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(3)))
    return Effect.runPromise(
      timeLoop(N, () => Effect.tryPromise(op).pipe(Effect.retry(schedule), Effect.timeout("1 second")))
    )
  },
  "pipeline-loop": () =>
    Effect.runPromise(
      Effect.gen(function* () {
        const pipeline = yield* Resilience.make(pipelinePolicy)
        return yield* timeLoop(N, () => pipeline.tryPromise(op))
      }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
    ),
  "pipeline-loop-effect": () =>
    Effect.runPromise(
      Effect.gen(function* () {
        const pipeline = yield* Resilience.make(pipelinePolicy)
        return yield* timeLoop(N, () => pipeline.protect(Effect.tryPromise(op)))
      }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
    ),
  "pipeline-loop-otel": () =>
    Effect.runPromise(
      Effect.gen(function* () {
        const pipeline = yield* Resilience.make(pipelinePolicy)
        return yield* timeLoop(N, () => pipeline.tryPromise(op))
      }).pipe(Effect.scoped, Effect.provide(Layer.merge(Classifier.layer, otelLayer)))
    ),
  "withSpan-loop-otel": () =>
    Effect.runPromise(
      timeLoop(N, () => Effect.withSpan(Effect.tryPromise(op), "span")).pipe(Effect.provide(otelLayer))
    ),
  "pipeline-promise": async () => {
    const runtime = ManagedRuntime.make(Classifier.layer)
    const pipeline = await runtime.runPromise(Resilience.make(pipelinePolicy).pipe(Effect.scoped))
    const ns = await timeAsync(N, () => pipeline.runPromise(op))
    await runtime.dispose()
    return ns
  },
  cockatiel: () => {
    const policy = wrap(
      retry(handleAll, { maxAttempts: 3, backoff: new ExponentialBackoff() }),
      circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
      timeout(1000, TimeoutStrategy.Aggressive)
    )
    return timeAsync(N, () => policy.execute(op))
  },
  opossum: () => {
    const breaker = new Opossum(op, { timeout: 1000 })
    return timeAsync(N, () => breaker.fire())
  },
  "p-retry": () => timeAsync(N, () => pRetry(op, { retries: 3 })),
  "succeed-loop": () => {
    const succeed = Effect.succeed(42)
    return Effect.runPromise(timeLoop(N * 5, () => succeed))
  },
  // the breaker's decision as the pipeline makes it: ask, then record the success
  "breaker-loop": () =>
    Effect.runPromise(
      Effect.gen(function* () {
        const breaker = yield* CircuitBreaker.make({ name: "bench" })
        const succeed = Effect.succeed(42)
        // the pipeline reads the clock for its latency metric anyway; the breaker adds no read of its own
        const now = Date.now()
        const success: Strategy.Outcome = { _tag: "Success" }
        return yield* timeLoop(N * 5, () => {
          const ticket = breaker.admit(now, Math.random)
          if (ticket._tag === "Admitted") ticket.settle(success, 0, now)
          return succeed
        })
      }).pipe(Effect.scoped)
    ),
  "failure-tryPromise-naive": () => {
    const schedule = Schedule.intersect(Schedule.forever, Schedule.recurs(3))
    return Effect.runPromise(
      timeLoop(N / 4, () => {
        const f = flaky()
        return Effect.tryPromise(f).pipe(Effect.retry(schedule), Effect.timeout("1 second"))
      })
    )
  },
  "failure-pipeline-loop": () =>
    Effect.runPromise(
      Effect.gen(function* () {
        const pipeline = yield* Resilience.make({
          ...pipelinePolicy,
          retry: { maxAttempts: 4, initialDelay: 0, throttledInitialDelay: 0, jitter: "none" },
          breaker: { policy: { _tag: "ConsecutiveFailures", threshold: 1_000_000 } }
        })
        return yield* timeLoop(N / 4, () => pipeline.tryPromise(flaky()))
      }).pipe(Effect.scoped, Effect.provide(retryEverything))
    ),
  "failure-cockatiel": () => {
    const policy = wrap(
      retry(handleAll, { maxAttempts: 3, backoff: new ExponentialBackoff({ initialDelay: 0, maxDelay: 0 }) }),
      circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(1_000_000) }),
      timeout(1000, TimeoutStrategy.Aggressive)
    )
    return timeAsync(N / 4, () => policy.execute(flaky()))
  }
}

/** Bytes of heap per call with 10,000 calls in flight (needs --expose-gc). */
const heapCases: Record<string, () => Promise<number>> = {
  "heap-tryPromise": () => heapInFlight((gate) => Effect.runFork(Effect.tryPromise(() => gate))),
  "heap-pipeline": async () => {
    const runtime = ManagedRuntime.make(Classifier.layer)
    const pipeline = await runtime.runPromise(Resilience.make(pipelinePolicy).pipe(Effect.scoped))
    const bytes = await heapInFlight((gate) => runtime.runFork(pipeline.tryPromise(() => gate)))
    await runtime.dispose()
    return bytes
  }
}

const heapInFlight = async (start: (gate: Promise<number>) => unknown): Promise<number> => {
  const gc = globalThis.gc
  if (gc === undefined) throw new Error("run with --expose-gc")
  const inFlight = 10_000
  let open: (n: number) => void = () => {}
  const gate = new Promise<number>((resolve) => {
    open = resolve
  })
  gc()
  const before = process.memoryUsage().heapUsed
  const handles: Array<unknown> = []
  for (let i = 0; i < inFlight; i++) handles.push(start(gate))
  await new Promise((r) => setTimeout(r, 10))
  gc()
  const after = process.memoryUsage().heapUsed
  open(42)
  await new Promise((r) => setTimeout(r, 50))
  return (after - before) / inFlight
}

/**
 * The children run a bundle made by esbuild, as a service would ship: `tsx` compiles with
 * `keepNames`, which wraps every closure made per call in a `__name` call and so taxes this
 * project's TypeScript (but not Effect's compiled JavaScript) on every call.
 */
const bundle = join(here, "..", "build", "bench.mjs")

const build = () =>
  esbuild.build({
    entryPoints: [join(here, "overhead.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile: bundle,
    logLevel: "warning",
    // the workspace's packages resolve to their sources (see the exports of packages/*/package.json)
    conditions: ["@effect-resilience/source"],
    // npm packages load from node_modules; only the workspace's TypeScript is bundled
    plugins: [
      {
        name: "external-npm",
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (args) =>
            args.path.startsWith("@effect-resilience/") ? undefined : { path: args.path, external: true }
          )
        }
      }
    ]
  })

const runChild = (name: string): number => {
  const out = execFileSync(process.execPath, ["--expose-gc", bundle, "--child", name], {
    encoding: "utf8",
    cwd: join(here, ".."),
    stdio: ["ignore", "pipe", "inherit"]
  })
  const last = out.trim().split("\n").pop() ?? ""
  return Number(JSON.parse(last).value)
}

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  if (args[0] === "--child") {
    const name = args[1] ?? ""
    const f = cases[name] ?? heapCases[name]
    if (f === undefined) throw new Error(`unknown case ${name}`)
    const value = await f()
    process.stdout.write(`${JSON.stringify({ case: name, value })}\n`)
    process.exit(0)
  }
  const runsArg = args.indexOf("--runs")
  const runs = runsArg >= 0 ? Number(args[runsArg + 1]) : 5
  const only = args.indexOf("--only") >= 0 ? (args[args.indexOf("--only") + 1] ?? "").split(",") : undefined
  const names = Object.keys(cases).filter((n) => only === undefined || only.includes(n))
  await build()
  const samples = new Map<string, Array<number>>()
  for (let r = 0; r < runs; r++) {
    for (const name of names) {
      const v = runChild(name)
      samples.set(name, [...(samples.get(name) ?? []), v])
      process.stderr.write(`run ${r + 1}/${runs} ${name}: ${v.toFixed(0)} ns/op\n`)
    }
  }
  const medians = new Map(Array.from(samples, ([k, v]) => [k, median(v)] as const))
  const base = medians.get("tryPromise-loop")
  const rows: Array<{ case: string; nsPerOp: number; ratio?: number; runs: number }> = []
  for (const [name, ns] of medians) {
    rows.push({
      case: name,
      nsPerOp: Math.round(ns),
      ...(base === undefined ? {} : { ratio: Number((ns / base).toFixed(2)) }),
      runs
    })
  }
  const succeed = medians.get("succeed-loop")
  const breaker = medians.get("breaker-loop")
  if (succeed !== undefined && breaker !== undefined) {
    rows.push({ case: "breaker-decision", nsPerOp: Math.round(breaker - succeed), runs })
  }
  const heap: Array<{ case: string; bytesPerCall: number }> = []
  if (only === undefined || only.includes("heap")) {
    for (const name of Object.keys(heapCases)) {
      const values = Array.from({ length: 3 }, () => runChild(name))
      heap.push({ case: name, bytesPerCall: Math.round(median(values)) })
    }
  }
  mkdirSync(resultsDir, { recursive: true })
  writeFileSync(join(resultsDir, "overhead.json"), `${JSON.stringify([...rows, ...heap], null, 2)}\n`)
  const lines = [
    "| case | ns/op (median) | x tryPromise-loop |",
    "|---|---:|---:|",
    ...rows.map((r) => `| ${r.case} | ${r.nsPerOp.toLocaleString("en")} | ${r.ratio ?? ""} |`),
    ...heap.map((h) => `| ${h.case} (bytes per call, 10,000 in flight) | ${h.bytesPerCall.toLocaleString("en")} | |`)
  ]
  process.stdout.write(`${lines.join("\n")}\n\nwrote ${join(resultsDir, "overhead.json")}\n`)
}

// The bundled children start here (`node build/bench.mjs --child CASE`).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run(process.argv.slice(2))
}
