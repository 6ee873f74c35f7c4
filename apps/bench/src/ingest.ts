/**
 * `pnpm bench ingest [--quick] [--rounds N] [--records N] [--concurrency N] [--only a,b] [--out-dir DIR]`:
 * is the demo's ingest bound by its upstream or by us? The same records, the same upstream and
 * the same concurrency through:
 *
 * - `fetch`: a bare `fetch` loop (the reference the issue measured);
 * - `bare`: (a) a bare `@effect/platform` `HttpClient` loop;
 * - `full`: (b) the demo's full stack (`Ingest.run`, imported from the demo, not copied);
 * - `no-tracing`: (c) the full stack without tracing.
 *
 * Method (docs/overhead.md says why):
 * - The packages are built (`tsc -b`) and `ingest-child.ts` is bundled with esbuild without
 *   `keepNames`; the children resolve our packages without the `@effect-resilience/source`
 *   condition, so they run the built `dist/`, as a user would.
 * - The upstream is the demo's own (`pnpm demo upstream --healthy`: no faults), started as a
 *   process of its own for each client process, on a fresh SQLite file, so that the client's CPU
 *   time is the client's alone and every case meets the same upstream state.
 * - Each client case runs in a process of its own; rounds interleave the cases (the order rotates
 *   each round and is reversed every other round), so a change of load hits every case alike; the
 *   disk is synced before each process, so one does not flush what the one before wrote. A
 *   process warms up with batches of its own until a time is up, then measures one batch, and
 *   reports how long its event loop was blocked at most (`monitorEventLoopDelay`).
 * - The load average is printed with every number. Results go to a dated file
 *   `apps/bench/results/ingest-<date>.json`, which git ignores.
 */
import { execFileSync, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { cpus, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import * as UpstreamProcess from "@effect-resilience/demo/UpstreamProcess"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { buildPackages, bundleChild, childEnv, load, median } from "./support.js"

const here = dirname(fileURLToPath(import.meta.url))
const benchDir = join(here, "..")
const childBundle = join(benchDir, "build", "ingest-child.mjs")

/** The packages the demo's ingest runs on, built to `dist/`. */
const packages = ["core", "durable", "sql", "platform", "otel"]

/** What each case is compared with, and the goal (issue 10: the full stack at least half of the bare loop's throughput). */
const reference: Record<string, string> = { full: "bare", "no-tracing": "bare", bare: "fetch" }

interface Options {
  readonly quick: boolean
  readonly rounds: number
  readonly records: number
  readonly concurrency: number
  readonly only: ReadonlyArray<string> | undefined
  readonly outDir: string
  readonly warmupMs: number
  readonly cpuProf: string | undefined
}

const parse = (args: ReadonlyArray<string>): Options => {
  const quick = args.includes("--quick")
  let rounds = quick ? 1 : 3
  let records = quick ? 2000 : 5000
  let concurrency = 64
  let only: ReadonlyArray<string> | undefined
  let outDir = join(benchDir, "results")
  let cpuProf: string | undefined
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]
    const value = args[i + 1]
    const n = Number(value)
    if (flag === "--quick") continue
    if (flag === "--rounds" && Number.isInteger(n) && n > 0) rounds = n
    else if (flag === "--records" && Number.isInteger(n) && n > 0) records = n
    else if (flag === "--concurrency" && Number.isInteger(n) && n > 0) concurrency = n
    else if (flag === "--only" && value !== undefined) only = value.split(",")
    else if (flag === "--out-dir" && value !== undefined) outDir = value
    else if (flag === "--cpu-prof" && value !== undefined) cpuProf = value
    else throw new Error(`unknown or bad flag: ${flag} ${value ?? ""}`)
    i++
  }
  return { quick, rounds, records, concurrency, only, outDir, warmupMs: quick ? 1000 : 3000, cpuProf }
}

/** Builds the packages' dist (incrementally) and bundles the child. */
const build = async () => {
  buildPackages(packages)
  await bundleChild(join(here, "ingest-child.ts"), childBundle, [
    {
      // the demo's code is bundled from its source; every other package stays a package, imported
      // by its absolute path as Node resolves it without the source condition (our dist/)
      name: "packages-as-built",
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, async (args) => {
          if (args.path.startsWith("@effect-resilience/demo/")) return undefined
          if (args.pluginData === "inner") return undefined
          if (args.path.startsWith("node:")) return { path: args.path, external: true }
          const resolved = await b.resolve(args.path, {
            kind: args.kind,
            resolveDir: args.resolveDir,
            importer: args.importer,
            pluginData: "inner"
          })
          if (resolved.errors.length > 0) return { errors: resolved.errors }
          return { path: resolved.path, external: true }
        })
      }
    }
  ])
}

/** Starts the demo's healthy upstream as a process of its own on a fresh SQLite file. */
const startUpstream = async () => {
  const dir = mkdtempSync(join(tmpdir(), "ingest-upstream-"))
  const scope = Effect.runSync(Scope.make())
  const client = await Effect.runPromise(
    UpstreamProcess.spawn({
      db: join(dir, "upstream.db"),
      seed: 42,
      mix: { transientRate: 0, weights: { "5xx": 1, "429": 1, slow: 1, reset: 1 } },
      slowMillis: 1500,
      outageAfter: undefined,
      outageMillis: 0,
      healthy: true
    }).pipe(Scope.extend(scope))
  )
  return {
    url: client.url,
    stop: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

const runChild = (
  args: ReadonlyArray<string>,
  nodeArgs: ReadonlyArray<string> = []
): Promise<Record<string, unknown>> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, childBundle, ...args], {
      cwd: benchDir,
      env: childEnv(),
      stdio: ["ignore", "pipe", "inherit"]
    })
    let out = ""
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8")
    })
    child.once("error", reject)
    child.once("exit", (code) => {
      if (code !== 0) reject(new Error(`ingest child ${args.join(" ")} exited with ${code}`))
      else resolve(JSON.parse(out.trim().split("\n").pop() ?? "{}"))
    })
  })

interface Sample {
  readonly case: string
  readonly recordsPerSecond: number
  readonly cpuMsPerRecord: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly failed: number
  readonly retries: number
  readonly attemptTimeouts: number
  readonly loopDelayMaxMs: number
  readonly load: string
}

const f1 = (n: number) => n.toFixed(1)
const f3 = (n: number) => n.toFixed(3)

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const options = parse(args)
  const started = new Date()
  const loadBefore = load()
  await build()
  const list = (await runChild(["--list"])) as { cases: Array<string> }
  const names = list.cases.filter((n) => options.only === undefined || options.only.includes(n))
  const cpu = cpus()
  process.stderr.write(
    `node ${process.version}, ${cpu.length} x ${cpu[0]?.model ?? "?"}; load average (1, 5, 15 min) before: ${loadBefore}\n` +
      `${options.records} records, ${options.concurrency} in flight, healthy upstream in a process of its own; ${options.rounds} process(es) per case\n`
  )
  const childArgs = [
    "--records",
    String(options.records),
    "--concurrency",
    String(options.concurrency),
    "--warmup-ms",
    String(options.warmupMs)
  ]
  const samples = new Map<string, Array<Sample>>(names.map((n) => [n, []]))
  for (let r = 0; r < options.rounds; r++) {
    // rotated each round, and reversed every other round: a case does not always follow the same one
    // (the one before leaves its disk writes to flush, and its upstream's files to remove)
    const rotated = names.map((_, i) => names[(i + r) % names.length] as string)
    const order = r % 2 === 1 ? rotated.reverse() : rotated
    for (const name of order) {
      // what the last process wrote reaches the disk now, not during this one's measurement
      execFileSync("sync")
      const upstream = await startUpstream()
      try {
        const nodeArgs =
          options.cpuProf === undefined
            ? []
            : ["--cpu-prof", "--cpu-prof-dir", options.cpuProf, "--cpu-prof-name", `ingest-${name}-${r + 1}.cpuprofile`]
        const s = (await runChild(
          ["--case", name, "--upstream", upstream.url, ...childArgs],
          nodeArgs
        )) as unknown as Omit<Sample, "load">
        const sample = { ...s, load: load() }
        samples.get(name)?.push(sample)
        process.stderr.write(
          `round ${r + 1}/${options.rounds} ${name}: ${f1(s.recordsPerSecond)} records/s, cpu ${f3(s.cpuMsPerRecord)} ms/record, p50 ${f1(s.p50Ms)} ms, p99 ${f1(s.p99Ms)} ms, failed ${s.failed}, retries ${s.retries}, attempt timeouts ${s.attemptTimeouts}, event loop blocked up to ${f1(s.loopDelayMaxMs)} ms [load ${sample.load}]\n`
        )
      } finally {
        await upstream.stop()
      }
    }
  }
  const loadAfter = load()
  const rows = names.map((name) => {
    const xs = samples.get(name) ?? []
    const rates = xs.map((s) => s.recordsPerSecond)
    return {
      case: name,
      recordsPerSecond: median(rates),
      rateMin: Math.min(...rates),
      rateMax: Math.max(...rates),
      cpuMsPerRecord: median(xs.map((s) => s.cpuMsPerRecord)),
      p50Ms: median(xs.map((s) => s.p50Ms)),
      p99Ms: median(xs.map((s) => s.p99Ms)),
      failed: xs.reduce((a, s) => a + s.failed, 0),
      retries: xs.reduce((a, s) => a + s.retries, 0),
      attemptTimeouts: xs.reduce((a, s) => a + s.attemptTimeouts, 0),
      loopDelayMaxMs: Math.max(...xs.map((s) => s.loopDelayMaxMs)),
      processes: xs.length
    }
  })
  const byName = new Map(rows.map((r) => [r.case, r]))
  const table = [
    "| case | records/s | spread | CPU ms/record | p50 ms | p99 ms | throughput x ref | CPU x ref | vs | failed | retries | attempt timeouts | loop blocked max ms | processes |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ...rows.map((r) => {
      const ref = reference[r.case]
      const base = ref === undefined ? undefined : byName.get(ref)
      return `| ${r.case} | ${f1(r.recordsPerSecond)} | ${f1(r.rateMin)}-${f1(r.rateMax)} | ${f3(r.cpuMsPerRecord)} | ${f1(r.p50Ms)} | ${f1(r.p99Ms)} | ${
        base === undefined ? "" : (r.recordsPerSecond / base.recordsPerSecond).toFixed(2)
      } | ${base === undefined ? "" : (r.cpuMsPerRecord / base.cpuMsPerRecord).toFixed(2)} | ${ref ?? ""} | ${r.failed} | ${r.retries} | ${r.attemptTimeouts} | ${f1(r.loopDelayMaxMs)} | ${r.processes} |`
    })
  ]
  const full = byName.get("full")
  const bare = byName.get("bare")
  const goals =
    full === undefined || bare === undefined
      ? []
      : [
          `goal: full >= 50 % of bare's throughput: ${((full.recordsPerSecond / bare.recordsPerSecond) * 100).toFixed(0)} % ${
            full.recordsPerSecond >= bare.recordsPerSecond / 2 ? "(met)" : "(NOT met)"
          }`,
          `goal: no attempt timeout and no retry on a healthy upstream: ${full.attemptTimeouts} attempt timeouts, ${full.retries} retries ${
            full.attemptTimeouts === 0 && full.retries === 0 ? "(met)" : "(NOT met)"
          }`
        ]
  const meta = {
    date: started.toISOString(),
    node: process.version,
    cpus: `${cpu.length} x ${cpu[0]?.model ?? "?"}`,
    loadBefore,
    loadAfter,
    quick: options.quick,
    rounds: options.rounds,
    records: options.records,
    concurrency: options.concurrency,
    warmupMs: options.warmupMs
  }
  mkdirSync(options.outDir, { recursive: true })
  const file = join(options.outDir, `ingest-${started.toISOString().replace(/[:.]/g, "-")}.json`)
  writeFileSync(file, `${JSON.stringify({ meta, rows, samples: Object.fromEntries(samples.entries()) }, null, 2)}\n`)
  process.stdout.write(
    [
      `${meta.date}, node ${meta.node}, ${meta.cpus}; load average before ${loadBefore}, after ${loadAfter}`,
      `${options.records} records, ${options.concurrency} in flight, one healthy upstream process per client process; ${options.rounds} process(es) per case${options.quick ? " (--quick: a smoke run, not a measurement)" : ""}; medians over processes, failures/retries/timeouts summed`,
      "",
      ...table,
      "",
      ...goals,
      "",
      `wrote ${file}`,
      ""
    ].join("\n")
  )
}
