/**
 * `pnpm bench overhead [--quick] [--rounds N] [--only a,b] [--out-dir DIR]`: what protection costs,
 * measured on the built `dist/` of `@effect-resilience/core`, against bare Effect loops and the
 * peers (opossum, cockatiel, p-retry), all in the same run; and the Promise facade
 * (`@effect-resilience/promise`'s `resilient(fn, policy)`, built `dist/` too) against cockatiel and opossum.
 *
 * Method (docs/overhead.md says why):
 * - `packages/core` is built (`tsc -b`), and `overhead-child.ts` is bundled with esbuild without
 *   `keepNames` and with every package external, so the children import core's `dist/` through
 *   its `exports` (the `@effect-resilience/source` condition is removed from their `NODE_OPTIONS`).
 * - Every case runs in a process of its own (so that one case's JIT state cannot slow or speed
 *   another, the baseline included), with a time-based warm-up until steady state and several
 *   samples; wall and CPU time per call are both recorded.
 * - Rounds interleave the cases (the order rotates each round), so a change of load hits every
 *   case alike; the table gives the median over the rounds' processes and the spread.
 * - The machine's load average is printed before and after. Results go to a dated file
 *   `apps/bench/results/overhead-<date>.json`, which git ignores: a result is a record of one run,
 *   never the current truth.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { buildPackages, bundleChild, childEnv, load, median } from "./support.js"

const here = dirname(fileURLToPath(import.meta.url))
const benchDir = join(here, "..")
const childBundle = join(benchDir, "build", "overhead-child.mjs")

/** What each case is compared with (the goals of docs/overhead.md). */
const reference: Record<string, string> = {
  "bare-succeed": "bare-tryPromise",
  "bare-fork": "bare-tryPromise",
  "bare-observed": "bare-tryPromise",
  "bare-observed-clock": "bare-tryPromise",
  "bare-timeout": "bare-tryPromise",
  "pipeline-tryPromise": "bare-tryPromise",
  "protect-timeout": "bare-tryPromise",
  "protect-no-timeout": "bare-tryPromise",
  "pipeline-runPromise": "opossum-fire",
  "pipeline-runPromise-1000": "opossum-fire-1000",
  cockatiel: "opossum-fire",
  "p-retry": "opossum-fire",
  "failure-effect-retry": "failure-p-retry",
  "failure-pipeline-tryPromise": "failure-p-retry",
  "failure-pipeline-runPromise": "failure-p-retry",
  "failure-cockatiel": "failure-p-retry",
  facade: "opossum-fire",
  "facade-1000": "opossum-fire-1000",
  "cockatiel-1000": "opossum-fire-1000"
}

/** Issue 14: the Promise facade beats cockatiel and is within 1.5x of opossum, per call (CPU time). */
const facadeGoals: ReadonlyArray<{ readonly facade: string; readonly peer: string; readonly atMost: number }> = [
  { facade: "facade", peer: "cockatiel", atMost: 1 },
  { facade: "facade", peer: "opossum-fire", atMost: 1.5 },
  { facade: "facade-1000", peer: "cockatiel-1000", atMost: 1 },
  { facade: "facade-1000", peer: "opossum-fire-1000", atMost: 1.5 }
]

/** The goals of issue 10: at most this ratio to the reference. */
const goals: Record<string, number> = {
  "pipeline-tryPromise": 2,
  "protect-timeout": 3,
  "protect-no-timeout": 1.5,
  "pipeline-runPromise": 1.5,
  "pipeline-runPromise-1000": 2,
  "failure-pipeline-runPromise": 1,
  facade: 1.5,
  "facade-1000": 1.5
}

interface Options {
  readonly quick: boolean
  readonly rounds: number
  readonly heapRounds: number
  readonly only: ReadonlyArray<string> | undefined
  readonly outDir: string
  readonly child: ReadonlyArray<string>
}

const parse = (args: ReadonlyArray<string>): Options => {
  const quick = args.includes("--quick")
  let rounds = quick ? 1 : 5
  let only: ReadonlyArray<string> | undefined
  let outDir = join(benchDir, "results")
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]
    const value = args[i + 1]
    if (flag === "--quick") continue
    if (flag === "--rounds" && Number.isInteger(Number(value)) && Number(value) > 0) rounds = Number(value)
    else if (flag === "--only" && value !== undefined) only = value.split(",")
    else if (flag === "--out-dir" && value !== undefined) outDir = value
    else throw new Error(`unknown or bad flag: ${flag} ${value ?? ""}`)
    i++
  }
  const child = quick
    ? ["--warmup-ms", "100", "--sample-ms", "20", "--samples", "3"]
    : ["--warmup-ms", "1000", "--sample-ms", "100", "--samples", "8"]
  return { quick, rounds, heapRounds: quick ? 1 : 3, only, outDir, child }
}

/** Builds core's and the Promise facade's dist (incrementally; from scratch when missing) and bundles the child. */
const build = async () => {
  buildPackages(["core", "promise"])
  await bundleChild(join(here, "overhead-child.ts"), childBundle)
}

const runChild = (args: ReadonlyArray<string>): Record<string, unknown> => {
  const out = execFileSync(process.execPath, ["--expose-gc", childBundle, ...args], {
    encoding: "utf8",
    cwd: benchDir,
    env: childEnv(),
    stdio: ["ignore", "pipe", "inherit"]
  })
  return JSON.parse(out.trim().split("\n").pop() ?? "{}")
}

interface SpeedSample {
  readonly wallNs: number
  readonly cpuNs: number
  readonly steady: boolean
}

const fmt = (n: number) => Math.round(n).toLocaleString("en")
const ratio = (a: number, b: number | undefined) => (b === undefined || b === 0 ? "" : (a / b).toFixed(2))

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const options = parse(args)
  const started = new Date()
  const loadBefore = load()
  await build()
  const list = runChild(["--list"]) as { speed: Array<string>; heap: Array<string> }
  const selected = (names: ReadonlyArray<string>) =>
    names.filter((n) => options.only === undefined || options.only.includes(n))
  const speedNames = selected(list.speed)
  const heapNames = selected(list.heap)
  const cpu = cpus()
  process.stderr.write(
    `node ${process.version}, ${cpu.length} x ${cpu[0]?.model ?? "?"}; load average (1, 5, 15 min) before: ${loadBefore}\n`
  )

  const samples = new Map<string, Array<SpeedSample>>(speedNames.map((n) => [n, []]))
  for (let r = 0; r < options.rounds; r++) {
    const order = speedNames.map((_, i) => speedNames[(i + r) % speedNames.length] as string)
    for (const name of order) {
      const s = runChild(["--case", name, ...options.child]) as unknown as SpeedSample
      samples.get(name)?.push(s)
      process.stderr.write(
        `round ${r + 1}/${options.rounds} ${name}: wall ${fmt(s.wallNs)} ns, cpu ${fmt(s.cpuNs)} ns${s.steady ? "" : " (not steady)"} [load ${load()}]\n`
      )
    }
  }
  const heapSamples = new Map<string, Array<number>>(heapNames.map((n) => [n, []]))
  for (let r = 0; r < options.heapRounds; r++) {
    for (const name of heapNames) {
      const { bytesPerCall } = runChild(["--case", name]) as { bytesPerCall: number }
      heapSamples.get(name)?.push(bytesPerCall)
    }
  }
  const loadAfter = load()

  const rows = speedNames.map((name) => {
    const xs = samples.get(name) ?? []
    const walls = xs.map((s) => s.wallNs)
    return {
      case: name,
      wallNs: median(walls),
      cpuNs: median(xs.map((s) => s.cpuNs)),
      wallMin: Math.min(...walls),
      wallMax: Math.max(...walls),
      unsteady: xs.filter((s) => !s.steady).length,
      processes: xs.length
    }
  })
  const byName = new Map(rows.map((r) => [r.case, r]))
  const heap = heapNames.map((name) => ({ case: name, bytesPerCall: median(heapSamples.get(name) ?? []) }))

  const table = [
    "| case | wall ns/call | cpu ns/call | vs | x (wall) | x (cpu) | goal | wall spread | processes |",
    "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ...rows.map((r) => {
      const ref = reference[r.case]
      const base = ref === undefined ? undefined : byName.get(ref)
      const goal = goals[r.case]
      return `| ${r.case} | ${fmt(r.wallNs)} | ${fmt(r.cpuNs)} | ${ref ?? ""} | ${ratio(r.wallNs, base?.wallNs)} | ${ratio(
        r.cpuNs,
        base?.cpuNs
      )} | ${goal === undefined ? "" : `<= ${goal}`} | ${fmt(r.wallMin)}-${fmt(r.wallMax)} | ${r.processes}${
        r.unsteady > 0 ? ` (${r.unsteady} not steady)` : ""
      } |`
    })
  ]
  const facadeLines = facadeGoals.flatMap(({ facade, peer, atMost }) => {
    const a = byName.get(facade)
    const b = byName.get(peer)
    if (a === undefined || b === undefined) return []
    const x = a.cpuNs / b.cpuNs
    return [
      `${facade} / ${peer}: ${x.toFixed(2)} (cpu), ${(a.wallNs / b.wallNs).toFixed(2)} (wall); goal <= ${atMost}: ${x <= atMost ? "met" : "NOT met"}`
    ]
  })
  const bareHeap = heap.find((h) => h.case === "heap-bare-tryPromise")?.bytesPerCall
  const heapTable = [
    "| heap, 10,000 calls in flight | bytes/call | over bare tryPromise |",
    "|---|---:|---:|",
    ...heap.map(
      (h) => `| ${h.case} | ${fmt(h.bytesPerCall)} | ${bareHeap === undefined ? "" : fmt(h.bytesPerCall - bareHeap)} |`
    )
  ]
  const meta = {
    date: started.toISOString(),
    node: process.version,
    cpus: `${cpu.length} x ${cpu[0]?.model ?? "?"}`,
    loadBefore,
    loadAfter,
    quick: options.quick,
    rounds: options.rounds,
    childSettings: options.child.join(" ")
  }
  mkdirSync(options.outDir, { recursive: true })
  const file = join(options.outDir, `overhead-${started.toISOString().replace(/[:.]/g, "-")}.json`)
  writeFileSync(file, `${JSON.stringify({ meta, rows, heap }, null, 2)}\n`)
  process.stdout.write(
    [
      `${meta.date}, node ${meta.node}, ${meta.cpus}; load average before ${loadBefore}, after ${loadAfter}`,
      `${options.rounds} process(es) per case${options.quick ? " (--quick: a smoke run, not a measurement)" : ""}; medians over processes`,
      "",
      ...table,
      "",
      ...(facadeLines.length > 0 ? ["Promise facade (issue 14), same run:", ...facadeLines, ""] : []),
      ...heapTable,
      "",
      `wrote ${file}`,
      ""
    ].join("\n")
  )
}
