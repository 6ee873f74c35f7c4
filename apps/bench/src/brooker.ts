/**
 * `pnpm bench brooker [--seed N] [--trials N] [--clients 10,20,...] [--model brooker|oneway]
 * [--base MS] [--cap MS] [--workers N] [--out FILE]`: reproduces the contention
 * experiment of Marc Brooker's "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015) with
 * our `Backoff` schedules (see brooker-sim.ts), writes `apps/bench/results/brooker.json` and prints
 * markdown tables of calls and completion time.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { availableParallelism } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import type { Job } from "./brooker-worker.js"
import { type Model, type Row, runPoint, type Strategy, strategies } from "./brooker-sim.js"

const defaults = {
  seed: 2015,
  trials: 100,
  clients: Array.from({ length: 19 }, (_, i) => 10 * (i + 1)),
  base: 5,
  cap: 2000,
  model: "brooker" as Model,
  workers: Math.max(1, Math.min(availableParallelism(), 8))
}

const parseArgs = (args: ReadonlyArray<string>) => {
  const options = { ...defaults, out: join(dirname(fileURLToPath(import.meta.url)), "..", "results", "brooker.json") }
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]
    const value = args[i + 1]
    const number = Number(value)
    if (flag === "--seed" && Number.isInteger(number)) options.seed = number
    else if (flag === "--trials" && Number.isInteger(number) && number > 0) options.trials = number
    else if (flag === "--clients" && value !== undefined) options.clients = value.split(",").map(Number)
    else if (flag === "--out" && value !== undefined) options.out = value
    else if (flag === "--base" && number > 0) options.base = number
    else if (flag === "--cap" && number > 0) options.cap = number
    else if (flag === "--workers" && Number.isInteger(number) && number > 0) options.workers = number
    else if (flag === "--model" && (value === "brooker" || value === "oneway")) options.model = value
    else throw new Error(`unknown or bad flag: ${flag} ${value ?? ""}`)
    i++
  }
  return options
}

const table = (rows: ReadonlyArray<Row>, clients: ReadonlyArray<number>, field: "calls" | "completionMs"): string => {
  const cell = (strategy: Strategy, n: number) => {
    const row = rows.find((r) => r.strategy === strategy && r.clients === n)
    return row === undefined ? "" : Math.round(row[field]).toString()
  }
  const header = `| clients | ${strategies.join(" | ")} |`
  const rule = `|---:|${strategies.map(() => "---:").join("|")}|`
  const body = clients.map((n) => `| ${n} | ${strategies.map((s) => cell(s, n)).join(" | ")} |`)
  return [header, rule, ...body].join("\n")
}

/** Worker threads do not inherit tsx's hooks on Node 20: the worker imports its module through tsx's API. */
const workerBootstrap = `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((tsx) => tsx.tsImport(${JSON.stringify(
  new URL("./brooker-worker.ts", import.meta.url).href
)}, ${JSON.stringify(import.meta.url)}))`

/**
 * Spreads the points over worker threads (they load tsx to run TypeScript) and returns
 * the rows in job order.
 */
const runJobs = (jobs: ReadonlyArray<Job>, workers: number): Promise<Array<Row>> =>
  new Promise((resolve, reject) => {
    const rows: Array<Row | undefined> = jobs.map(() => undefined)
    let next = 0
    let done = 0
    const pool = Array.from(
      { length: Math.min(workers, jobs.length) },
      () => new Worker(workerBootstrap, { eval: true })
    )
    const feed = (worker: Worker) => {
      const job = jobs[next++]
      if (job !== undefined) worker.postMessage(job)
    }
    for (const worker of pool) {
      worker.on("message", (message: { readonly index: number; readonly row: Row }) => {
        rows[message.index] = message.row
        done++
        if (done === jobs.length) {
          for (const w of pool) void w.terminate()
          resolve(rows.filter((r): r is Row => r !== undefined))
        } else feed(worker)
      })
      worker.on("error", (error) => {
        for (const w of pool) void w.terminate()
        reject(error)
      })
      feed(worker)
    }
  })

/** Runs the experiment. */
export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const options = parseArgs(args)
  const started = performance.now()
  const jobs: Array<Job> = strategies
    .flatMap((strategy) =>
      options.clients.map((clients) => ({
        strategy,
        clients,
        trials: options.trials,
        seed: options.seed,
        base: options.base,
        cap: options.cap,
        model: options.model
      }))
    )
    .map((job, index) => ({ ...job, index }))
  const rows = options.workers === 1 ? jobs.map(runPoint) : await runJobs(jobs, options.workers)
  mkdirSync(dirname(options.out), { recursive: true })
  writeFileSync(options.out, `${JSON.stringify(rows, null, 2)}\n`)
  const at100 = strategies.map((s) => rows.find((r) => r.strategy === s && r.clients === 100))
  process.stdout.write(
    [
      `Brooker contention experiment: base ${options.base} ms, cap ${options.cap} ms, ${options.trials} trials per point, seed ${options.seed}, model ${options.model}`,
      "",
      "Mean calls (writes reaching the row):",
      "",
      table(rows, options.clients, "calls"),
      "",
      "Mean completion time (ms, when the last client finished):",
      "",
      table(rows, options.clients, "completionMs"),
      "",
      at100.every((r) => r !== undefined)
        ? `At 100 clients, calls relative to full jitter: ${at100
            .map((r) => `${r.strategy} ${(r.calls / (at100[2]?.calls ?? 1)).toFixed(2)}x`)
            .join(", ")}`
        : "",
      `wrote ${options.out} in ${options.workers} worker(s), ${((performance.now() - started) / 1000).toFixed(1)} s`,
      ""
    ].join("\n")
  )
}
