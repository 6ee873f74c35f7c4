/**
 * `pnpm bench dlq [--items N] [--samples N] [--processes N] [--warmup-ms N] [--only a,b] [--stores a,b] [--pg-url URL] [--cpu-prof DIR]`:
 * what the durable stores sustain, in items per second, on memory, a SQLite file (`synchronous`
 * normal, the default, and full) and PostgreSQL. The cases are listed in `dlq-child.ts`.
 *
 * Method:
 * - The packages are built (`tsc -b`) and `dlq-child.ts` is bundled with every package external;
 *   the children resolve our packages without the `@effect-resilience/source` condition, so they
 *   run the built `dist/`, as a user would.
 * - `--processes` (default 3) processes, one after the other, each running every case on every
 *   store: a time-based warm-up (`--warmup-ms`, default 1,000, per case and store), then
 *   `--samples` (default 5) interleaved samples. The disk is synced before each process.
 * - Each figure is the median over processes of each process's median; the range is that of the
 *   process medians; CPU is the process's user + system time per item (median). The load average is
 *   printed before, at each process, and after; a figure means little without it.
 * - The goals of issue 10 are printed next to the figures they concern, with the ratio.
 *
 * Results are printed and written to `apps/bench/results/dlq-<date>.json` (git-ignored), a dated
 * record of one run on one machine: never read one as the current state of the code.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { buildPackages, bundleChild, childEnv, load, median, resultsFile } from "./support.js"

const here = dirname(fileURLToPath(import.meta.url))
const benchDir = join(here, "..")
const childBundle = join(benchDir, "build", "dlq-child.mjs")

/** Issue 10's goals, in items per second, by case and store. */
const goals: Record<string, Record<string, number>> = {
  "dlq.addAll": { memory: 500_000, sqlite: 50_000, postgres: 20_000 },
  "dlq.add x64": { sqlite: 10_000 },
  "dlq.replay": { sqlite: 10_000 },
  "checkpoint.record": { memory: 500_000, sqlite: 50_000, postgres: 20_000 },
  "idempotency.acquireAll": { memory: 500_000, sqlite: 50_000, postgres: 20_000 }
}

const childFlags = ["items", "samples", "warmup-ms", "only", "stores", "pg-url"]

const arg = (args: ReadonlyArray<string>, name: string): string | undefined => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : undefined
}

interface ChildRow {
  readonly case: string
  readonly store: string
  readonly items?: number
  readonly samples?: ReadonlyArray<{ readonly wallMs: number; readonly cpuMs: number }>
  readonly error?: string
}

const fmt = (n: number) => Math.round(n).toLocaleString("en")

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  for (let i = 0; i < args.length; i += 2) {
    const flag = (args[i] ?? "").replace(/^--/, "")
    if (![...childFlags, "processes", "out", "cpu-prof"].includes(flag) || args[i + 1] === undefined) {
      throw new Error(`unknown or bad flag: ${args[i]} ${args[i + 1] ?? ""}`)
    }
  }
  const processes = Number(arg(args, "processes") ?? 3)
  const cpuProf = arg(args, "cpu-prof")
  const started = new Date()
  const out = arg(args, "out") ?? resultsFile(`dlq-${started.toISOString().slice(0, 19).replace(/:/g, "-")}`)
  const loadBefore = load()

  buildPackages(["core", "durable", "sql"])
  await bundleChild(join(here, "dlq-child.ts"), childBundle)

  const cpu = cpus()
  process.stderr.write(`node ${process.version}, ${cpu.length} x ${cpu[0]?.model ?? "?"}; load before: ${loadBefore}\n`)
  const forward = childFlags.flatMap((f) => {
    const v = arg(args, f)
    return v === undefined ? [] : [`--${f}`, v]
  })
  const runs: Array<{
    readonly load: string
    readonly loadBySample: ReadonlyArray<number>
    readonly rows: ReadonlyArray<ChildRow>
  }> = []
  for (let p = 1; p <= processes; p++) {
    // what the last process wrote reaches the disk now, not during this one's samples
    execFileSync("sync")
    const at = load()
    const nodeArgs =
      cpuProf === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", cpuProf, "--cpu-prof-name", `dlq-${p}.cpuprofile`]
    const stdout = execFileSync(process.execPath, [...nodeArgs, childBundle, ...forward], {
      encoding: "utf8",
      cwd: benchDir,
      env: childEnv(),
      stdio: ["ignore", "pipe", "inherit"],
      maxBuffer: 64 * 1024 * 1024
    })
    const result = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as {
      loadBySample: ReadonlyArray<number>
      rows: ReadonlyArray<ChildRow>
    }
    runs.push({ load: at, ...result })
    process.stderr.write(
      `process ${p}/${processes} done (load at its start ${at}, at its samples ${result.loadBySample.join(" ")})\n`
    )
  }
  const loadAfter = load()

  const keys = runs[0]?.rows.map((r) => ({ case: r.case, store: r.store })) ?? []
  const rows = keys.map((k) => {
    const per = runs.map((r) => r.rows.find((x) => x.case === k.case && x.store === k.store))
    const error = per.find((r) => r?.error !== undefined)?.error
    if (error !== undefined) return { ...k, error }
    const items = per[0]?.items ?? 0
    const perSec = per.map((r) => median((r?.samples ?? []).map((s) => (items / s.wallMs) * 1000)))
    const cpuMicros = per.map((r) => median((r?.samples ?? []).map((s) => (s.cpuMs * 1000) / items)))
    const goal = goals[k.case]?.[k.store]
    const perSecMedian = median(perSec)
    return {
      ...k,
      items,
      perSecMedian,
      perSecMin: Math.min(...perSec),
      perSecMax: Math.max(...perSec),
      cpuMicrosPerItem: median(cpuMicros),
      ...(goal === undefined ? {} : { goal, ratioToGoal: perSecMedian / goal })
    }
  })

  const method = {
    processes,
    items: Number(arg(args, "items") ?? 20_000),
    samples: Number(arg(args, "samples") ?? 5),
    warmupMs: Number(arg(args, "warmup-ms") ?? 1000),
    statistic: "median over processes of each process's median of interleaved samples",
    code: "built dist/ of core, durable, sql"
  }
  const machine = { node: process.version, cpus: `${cpu.length} x ${cpu[0]?.model ?? "?"}`, loadBefore, loadAfter }
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(
    out,
    `${JSON.stringify({ bench: "dlq", date: started.toISOString(), machine, method, rows, runs }, null, 2)}\n`
  )

  const table = rows.map((r) =>
    "error" in r
      ? `| ${r.case} | ${r.store} | error: ${String(r.error).split("\n")[0]} | | | | |`
      : `| ${r.case} | ${r.store} | ${fmt(r.perSecMedian)} | ${fmt(r.perSecMin)}-${fmt(r.perSecMax)} | ${r.cpuMicrosPerItem.toFixed(1)} | ${
          r.goal === undefined ? "" : fmt(r.goal)
        } | ${r.ratioToGoal === undefined ? "" : `${r.ratioToGoal.toFixed(2)}${r.ratioToGoal >= 1 ? " met" : " NOT met"}`} |`
  )
  process.stdout.write(
    [
      `${started.toISOString()}, node ${process.version}, ${machine.cpus}; load average before ${loadBefore}, at each process ${runs.map((r) => r.load.split(" ")[0]).join(", ")}, after ${loadAfter}`,
      `built dist/; ${processes} processes x ${method.samples} interleaved samples of ${method.items} items (after ${method.warmupMs} ms of warm-up per case and store); medians over processes`,
      "",
      "| case | store | items/s | range over processes | CPU us/item | goal | x goal |",
      "|---|---|---:|---:|---:|---:|---|",
      ...table,
      "",
      `wrote ${out} (a dated record of this run, not the current state)`,
      ""
    ].join("\n")
  )
}
