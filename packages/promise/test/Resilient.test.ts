import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Presets } from "@effect-resilience/core"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import {
  AttemptTimeoutError,
  CircuitOpenError,
  HttpStatusError,
  RetriesExhaustedError,
  Resilient,
  resilient,
  resilientFetch,
  resilientWithSignal
} from "../src/index.js"

/** A scripted server: each request to a path takes the next answer of its script (the last repeats). */
type Answer = { readonly status: number; readonly headers?: Record<string, string> } | "hang"

let server: http.Server
let base = ""
const scripts = new Map<string, ReadonlyArray<Answer>>()
const hits = new Map<string, number>()
const closed: Array<string> = []

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = req.url ?? "/"
    const n = hits.get(url) ?? 0
    hits.set(url, n + 1)
    const script = scripts.get(url) ?? [{ status: 200 }]
    const answer = script[Math.min(n, script.length - 1)] as Answer
    if (answer === "hang") {
      req.socket.on("close", () => closed.push(url))
      return
    }
    res.writeHead(answer.status, { "content-type": "text/plain", ...answer.headers })
    res.end(`answer ${n + 1}`)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

beforeEach(() => {
  scripts.clear()
  hits.clear()
  closed.length = 0
})

const fast = { initialDelay: "5 millis", jitter: "none" } as const

describe("resilientFetch", () => {
  it("retries a 503, then returns the 200", async () => {
    scripts.set("/flaky", [{ status: 503 }, { status: 200 }])
    const get = resilientFetch({ operation: "flaky", retry: { ...fast, maxAttempts: 3 } })
    const response = await get(`${base}/flaky`)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe("answer 2")
    expect(hits.get("/flaky")).toBe(2)
  })

  it("does not retry a 400: the response is returned as it is", async () => {
    scripts.set("/bad", [{ status: 400 }])
    const get = resilientFetch({ operation: "bad", retry: { ...fast, maxAttempts: 5 } })
    const response = await get(`${base}/bad`)
    expect(response.status).toBe(400)
    expect(hits.get("/bad")).toBe(1)
  })

  it("honours Retry-After (retry-after-ms) over a shorter backoff", async () => {
    scripts.set("/busy", [{ status: 429, headers: { "retry-after-ms": "120" } }, { status: 200 }])
    const delays: Array<number> = []
    const get = resilientFetch(
      { operation: "busy", retry: { ...fast, throttledInitialDelay: "1 millis", maxAttempts: 2 } },
      { onRetry: (retry) => delays.push(retry.delayMillis) }
    )
    expect((await get(`${base}/busy`)).status).toBe(200)
    // the retry waited what the server asked for, not the 1 ms backoff
    expect(delays.length).toBe(1)
    expect(delays[0]).toBeGreaterThanOrEqual(120)
  })

  it("gives up with RetriesExhaustedError holding the last response", async () => {
    scripts.set("/down", [{ status: 503 }])
    const get = resilientFetch({ operation: "down", retry: { ...fast, maxAttempts: 3 }, breaker: false })
    const error = await get(`${base}/down`).catch((e: unknown) => e)
    if (!(error instanceof RetriesExhaustedError)) return expect.unreachable()
    expect(error.attempts).toBe(3)
    if (!(error.cause instanceof HttpStatusError)) return expect.unreachable()
    expect(error.cause.status).toBe(503)
    expect(hits.get("/down")).toBe(3)
  })

  it("opens the breaker after N failures and rejects with CircuitOpenError without calling", async () => {
    scripts.set("/broken", [{ status: 500 }])
    const get = resilientFetch({
      operation: "broken",
      retry: false,
      breaker: { policy: { _tag: "ConsecutiveFailures", threshold: 3 }, openDuration: "1 minute" }
    })
    for (let i = 0; i < 3; i++) {
      await expect(get(`${base}/broken`)).rejects.toBeInstanceOf(HttpStatusError)
    }
    const refused = await get(`${base}/broken`).catch((e: unknown) => e)
    if (!(refused instanceof CircuitOpenError)) return expect.unreachable()
    expect(refused.breaker).toBe("broken")
    expect(refused.retryAfterMillis).toBeGreaterThan(0)
    expect(hits.get("/broken")).toBe(3)
  })
})

describe("resilient", () => {
  it("aborts the attempt's signal when the attempt times out", async () => {
    scripts.set("/slow", ["hang"])
    const signals: Array<AbortSignal> = []
    const get = resilientWithSignal(
      (signal: AbortSignal, url: string) => {
        signals.push(signal)
        return fetch(url, { signal })
      },
      { operation: "slow", attemptTimeout: "50 millis", retry: { ...fast, maxAttempts: 2 } }
    )
    const error = await get(`${base}/slow`).catch((e: unknown) => e)
    if (!(error instanceof RetriesExhaustedError)) return expect.unreachable()
    expect(error.cause).toBeInstanceOf(AttemptTimeoutError)
    expect(signals).toHaveLength(2)
    expect(signals[0]).not.toBe(signals[1])
    for (const signal of signals) {
      expect(signal.aborted).toBe(true)
      expect(signal.reason).toBeInstanceOf(AttemptTimeoutError)
    }
    await expect.poll(() => closed.length).toBe(2)
  })

  it("keeps the signature, retries a network failure, and rejects a defect with the error itself", async () => {
    let calls = 0
    const add = resilient(
      async (a: number, b: number) => {
        calls += 1
        if (calls === 1) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })
        return a + b
      },
      Presets.cache("add", { retry: { initialDelay: "1 millis" } })
    )
    expect(await add(1, 2)).toBe(3)
    expect(calls).toBe(2)
    const broken = resilient(async () => {
      calls += 1
      throw new TypeError("x is not a function")
    }, Presets.database("broken"))
    calls = 0
    await expect(broken()).rejects.toBeInstanceOf(TypeError)
    expect(calls).toBe(1)
  })

  it("reports the breaker's state, and a bad policy throws at construction naming the field", () => {
    expect(Resilient.make({ operation: "x" }).breakerState()).toBe("closed")
    expect(Resilient.make({ operation: "x", breaker: false }).breakerState()).toBeUndefined()
    expect(() => Resilient.make({ operation: "x", retry: { maxAttempts: 0 } })).toThrow(/maxAttempts/)
    expect(() => Resilient.make({ operation: "x", hedging: { delay: 10, maxHedges: 1 } })).toThrow(/hedging/)
  })

  it("imports nothing from effect on the call path", () => {
    const dir = path.dirname(fileURLToPath(import.meta.url))
    for (const file of ["../src/internal/engine.ts", "../src/Errors.ts"]) {
      const text = fs.readFileSync(path.join(dir, file), "utf8")
      expect(text).not.toMatch(/from "effect/)
      expect(text).not.toMatch(/@effect-resilience\/core"/)
    }
    // and the cores module of core loads no effect module, directly or through its imports
    const core = path.join(dir, "../../core/src")
    const seen = new Set<string>()
    const visit = (file: string): void => {
      if (seen.has(file)) return
      seen.add(file)
      const text = fs.readFileSync(file, "utf8")
      expect(text, file).not.toMatch(/^import (?!type)[^\n]*from "effect/m)
      for (const m of text.matchAll(/^(?:import|export) (?!type)[^\n]*from "(\.[^"]+)\.js"/gm)) {
        visit(path.join(path.dirname(file), `${m[1]}.ts`))
      }
    }
    visit(path.join(core, "Cores.ts"))
    expect(seen.size).toBeGreaterThan(8)
  })
})
