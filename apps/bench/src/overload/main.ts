/**
 * `pnpm bench overload [--seed N] [--after SECONDS] [--no-real] [--real-after SECONDS]`: the
 * overload experiment. Simulates every configuration of `configs.ts` through Bronson's scenario
 * (`sim.ts`), then a few sensitivity sweeps (the server's queue limit, the number of clients), then
 * the same scenario scaled down on real processes (`real.ts`, about 2.5 minutes; `--no-real`
 * skips it). Writes `apps/bench/results/overload.json` (dated: a record of one run on one machine,
 * not a reference any test reads), SVG plots beside it, and prints the table.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { cpus, platform, release, totalmem } from "node:os"
import { dirname, join } from "node:path"
import { resultsFile } from "../support.js"
import { configurations } from "./configs.js"
import { strategy } from "./cores.js"
import { svg } from "./plot.js"
import { realPolicies, realScenario, runReal } from "./real.js"
import { bronson, type Run, type Scenario, type Summary, simulate } from "./sim.js"

const parseArgs = (args: ReadonlyArray<string>) => {
  const options = { seed: 1, after: 300, real: true, realAfter: 30 }
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]
    const value = Number(args[i + 1])
    if (flag === "--no-real") options.real = false
    else if (flag === "--seed" && Number.isInteger(value)) options.seed = value
    else if (flag === "--after" && value > 0) options.after = value
    else if (flag === "--real-after" && value > 0) options.realAfter = value
    else throw new Error(`unknown or bad flag: ${flag} ${args[i + 1] ?? ""}`)
    if (flag !== "--no-real") i++
  }
  return options
}

const fixed = (x: number, digits = 2): number => Number(x.toFixed(digits))

/** The summary as the JSON and the table keep it. */
const rounded = (s: Summary) => ({
  peakAmplification: fixed(s.peakAmplification),
  meanAmplification: fixed(s.meanAmplification),
  recoverySeconds: s.recoverySeconds,
  wastedRequests: s.wastedRequests,
  wastedShare: fixed(s.wastedShare, 3),
  wastedServerSeconds: fixed(s.wastedServerSeconds, 1),
  failedCalls: s.failedCalls,
  failedShare: fixed(s.failedShare, 3)
})

const table = (runs: ReadonlyArray<Run>): string => {
  const header = ["configuration", "peak ampl.", "mean ampl.", "recovery", "wasted (served late)", "failed calls"]
  const lines = runs.map((r) => {
    const s = r.summary
    return [
      r.configuration,
      `${s.peakAmplification.toFixed(2)}x`,
      `${s.meanAmplification.toFixed(2)}x`,
      s.recoverySeconds === null ? "does not recover" : `${s.recoverySeconds} s`,
      `${s.wastedRequests} (${(s.wastedShare * 100).toFixed(1)} %)`,
      `${(s.failedShare * 100).toFixed(1)} %`
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)))
  return [header, ...lines].map((l) => l.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ")).join("\n")
}

/** The simulation of one configuration, seeded. */
const simulated = (scenario: Scenario, name: string, seed: number): Run => {
  const configuration = configurations.find((c) => c.name === name)
  if (configuration === undefined) throw new Error(`no configuration ${name}`)
  return simulate(scenario, configuration, strategy.seededRandom(seed))
}

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const options = parseArgs(args)
  const scenario: Scenario = { ...bronson, afterMillis: options.after * 1000 }
  const out = resultsFile("overload")
  mkdirSync(dirname(out), { recursive: true })

  process.stdout.write(`simulating ${configurations.length} configurations (seed ${options.seed})\n`)
  const runs = configurations.map((c) => simulate(scenario, c, strategy.seededRandom(options.seed)))
  process.stdout.write(`\n${table(runs)}\n\n`)

  const sweepNames = [
    "no-retries",
    "naive-retries",
    "token-bucket",
    "token-bucket-500",
    "ratio-10",
    "ratio-10-no-reserve"
  ]
  const queueSweep = [250, 500, 1000, Number.POSITIVE_INFINITY].flatMap((queueLimit) =>
    sweepNames.map((name) => ({
      queueLimit: Number.isFinite(queueLimit) ? queueLimit : "unbounded",
      configuration: name,
      ...rounded(simulated({ ...scenario, queueLimit }, name, options.seed).summary)
    }))
  )
  const clientSweep = [1, 10, 100].flatMap((clients) =>
    [
      "token-bucket",
      "token-bucket-500",
      "token-bucket-fleet",
      "ratio-10",
      "ratio-10-finagle",
      "ratio-10-no-reserve"
    ].map((name) => ({
      clients,
      configuration: name,
      ...rounded(simulated({ ...scenario, clients }, name, options.seed).summary)
    }))
  )
  const seedSweep = [1, 2, 3, 4, 5].flatMap((seed) =>
    configurations.map((c) => ({
      seed,
      configuration: c.name,
      recoverySeconds: simulate(scenario, c, strategy.seededRandom(seed)).summary.recoverySeconds
    }))
  )
  process.stdout.write("sensitivity: queue limit\n")
  for (const r of queueSweep) {
    process.stdout.write(
      `  queue ${String(r.queueLimit).padEnd(9)} ${r.configuration.padEnd(20)} peak ${r.peakAmplification}x recovery ${r.recoverySeconds ?? "none"}\n`
    )
  }
  process.stdout.write("sensitivity: clients\n")
  for (const r of clientSweep) {
    process.stdout.write(
      `  clients ${String(r.clients).padEnd(4)} ${r.configuration.padEnd(20)} peak ${r.peakAmplification}x mean ${r.meanAmplification}x recovery ${r.recoverySeconds ?? "none"}\n`
    )
  }

  const byName = (names: ReadonlyArray<string>) => runs.filter((r) => names.includes(r.configuration))
  const plots: Record<string, string> = {
    "overload-retries.svg": await svg(
      "Simulation: retries and retry budgets (capacity 300/s, load 280/s, 100/s for 10 s)",
      scenario,
      byName(["no-retries", "naive-retries", "token-bucket", "token-bucket-500", "ratio-10", "ratio-10-finagle"])
    ),
    "overload-admission.svg": await svg(
      "Simulation: breaker, adaptive throttle, adaptive concurrency (each with naive retries)",
      scenario,
      byName(["breaker", "throttle", "throttle-no-timeouts", "aimd", "gradient2", "pipeline-defaults"])
    )
  }

  let real: ReadonlyArray<Run> = []
  if (options.real) {
    process.stdout.write(`\nreal processes: ${realPolicies.map((p) => p.name).join(", ")}, one at a time\n`)
    const done: Array<Run> = []
    for (const policy of realPolicies) {
      process.stdout.write(`  ${policy.name} ...\n`)
      done.push(await runReal(policy, options.realAfter, options.seed))
    }
    real = done
    process.stdout.write(`\n${table(real)}\n`)
    plots["overload-real.svg"] = await svg(
      "Real processes: capacity 60/s, load 56/s, 20/s for 10 s (Resilience.make over HTTP on 127.0.0.1)",
      realScenario(options.realAfter),
      real
    )
  }

  const cpu = cpus()
  const result = {
    note: "A dated record of one run of `pnpm bench overload` on one machine; not a reference: no test reads it.",
    date: new Date().toISOString(),
    machine: {
      platform: `${platform()} ${release()}`,
      cpus: cpu.length,
      cpuModel: cpu[0]?.model ?? "unknown",
      memoryGiB: fixed(totalmem() / 2 ** 30, 1),
      node: process.version
    },
    seed: options.seed,
    scenario,
    simulation: runs.map((r) => ({
      configuration: r.configuration,
      describe: configurations.find((c) => c.name === r.configuration)?.describe,
      summary: rounded(r.summary),
      bins: r.bins
    })),
    sensitivity: { queueLimit: queueSweep, clients: clientSweep, seeds: seedSweep },
    real: options.real
      ? {
          scenario: realScenario(options.realAfter),
          policies: realPolicies,
          runs: real.map((r) => ({ configuration: r.configuration, summary: rounded(r.summary), bins: r.bins }))
        }
      : null
  }
  writeFileSync(out, `${JSON.stringify(result)}\n`)
  for (const [file, content] of Object.entries(plots)) writeFileSync(join(dirname(out), file), content)
  process.stdout.write(`\nwrote ${out} and ${Object.keys(plots).join(", ")}\n`)
}
