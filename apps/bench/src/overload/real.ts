/**
 * The overload run on real processes, small scale: a server child (`real-server.ts`) and a client
 * child (`real-client.ts`) on 127.0.0.1, one configuration at a time, each bounded in time. The
 * scenario is the simulation's scaled to this machine: capacity 60/s, load 56/s (the same 93 %),
 * 1 s timeout, the capacity down to 20/s for 10 s, a queue of 100 (as 500 at 300/s: 1.7 s of
 * work when healthy).
 */
import type { Resilience } from "@effect-resilience/core"
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { ClientBin, ClientOptions } from "./real-client.js"
import type { ServerBin, ServerOptions } from "./real-server.js"
import { type Bin, type Run, type Scenario, summarize } from "./sim.js"

/** The scaled scenario (the simulation's fields, so `summarize` reads it). */
export const realScenario = (afterSeconds: number): Scenario => ({
  capacity: 60,
  degradedCapacity: 20,
  load: 56,
  clients: 1,
  timeoutMillis: 1000,
  queueLimit: 100,
  networkMillis: 0,
  triggerAtMillis: 10_000,
  triggerMillis: 10_000,
  afterMillis: afterSeconds * 1000,
  binMillis: 1000
})

/** The policies run for real: the simulation's no-retries, naive-retries and token-bucket. */
export const realPolicies: ReadonlyArray<{ readonly name: string; readonly policy: Resilience.PolicyInput }> = [
  {
    name: "no-retries",
    policy: { operation: "overload", attemptTimeout: 1000, retry: false, retryBudget: false, breaker: false }
  },
  {
    name: "naive-retries",
    policy: {
      operation: "overload",
      attemptTimeout: 1000,
      retry: { maxAttempts: 3, initialDelay: 100, factor: 2, jitter: "full" },
      retryBudget: false,
      breaker: false
    }
  },
  {
    name: "token-bucket",
    policy: {
      operation: "overload",
      attemptTimeout: 1000,
      retry: { maxAttempts: 3, initialDelay: 100, factor: 2, jitter: "full" },
      retryBudget: {},
      breaker: false
    }
  }
]

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url))

const child = (file: string, argument: unknown, onLine?: (line: string) => void): Promise<void> =>
  new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...process.execArgv, here(file), JSON.stringify(argument)], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    let buffered = ""
    p.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString()
      for (let i = buffered.indexOf("\n"); i >= 0; i = buffered.indexOf("\n")) {
        onLine?.(buffered.slice(0, i))
        buffered = buffered.slice(i + 1)
      }
    })
    p.on("error", reject)
    p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${file} exited with ${code}`))))
  })

/** Runs one policy for real; `afterSeconds` after the trigger. */
export const runReal = async (
  configuration: (typeof realPolicies)[number],
  afterSeconds: number,
  seed: number
): Promise<Run> => {
  const scenario = realScenario(afterSeconds)
  const durationSeconds = (scenario.triggerAtMillis + scenario.triggerMillis + scenario.afterMillis) / 1000
  const dir = mkdtempSync(join(tmpdir(), "overload-"))
  try {
    const t0 = Date.now() + 3000
    const serverOptions: ServerOptions = {
      t0,
      durationSeconds,
      capacity: scenario.capacity,
      degraded: scenario.degradedCapacity,
      triggerAtSeconds: scenario.triggerAtMillis / 1000,
      triggerSeconds: scenario.triggerMillis / 1000,
      queueLimit: scenario.queueLimit,
      seed,
      out: join(dir, "server.json")
    }
    let client: Promise<void> | undefined
    const server = child("real-server.ts", serverOptions, (line) => {
      const port = /^port (\d+)$/.exec(line)?.[1]
      if (port === undefined || client !== undefined) return
      const clientOptions: ClientOptions = {
        t0,
        durationSeconds,
        rate: scenario.load,
        url: `http://127.0.0.1:${port}/`,
        policy: configuration.policy,
        seed: seed + 1,
        out: join(dir, "client.json")
      }
      client = child("real-client.ts", clientOptions)
    })
    await server
    await client
    const s: ReadonlyArray<ServerBin> = JSON.parse(readFileSync(serverOptions.out, "utf8"))
    const c: ReadonlyArray<ClientBin> = JSON.parse(readFileSync(join(dir, "client.json"), "utf8"))
    const bins: ReadonlyArray<Bin> = s.map((sb, i) => {
      const cb = c[i] ?? { requests: 0, succeeded: 0, goodput: 0 }
      return {
        t: i,
        requests: cb.requests,
        serverArrivals: sb.arrivals,
        goodput: cb.goodput,
        succeeded: cb.succeeded,
        // the server sees no client timeouts; a request served after its client left is one
        attemptsEnded: sb.served + sb.refused,
        timeouts: sb.wasted,
        wasted: sb.wasted,
        served: sb.served,
        queue: sb.queue
      }
    })
    return { configuration: configuration.name, bins, summary: summarize(scenario, bins, 0) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
