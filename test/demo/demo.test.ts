/**
 * End to end: `pnpm demo` at a small size as a child process, exporting its traces over OTLP/HTTP
 * to a collector run by the test on 127.0.0.1. Checks the report's invariants (nothing lost, no
 * duplicate delivery, recovery rate, dead-letter categories), that retries and breaker transitions
 * reached the collector as spans, and that a second run of the same batch id resumes from the
 * checkpoint (every record skipped, nothing sent again). The first two runs go side by side (each
 * mostly waits on its child processes and on retry delays), each in a data folder of its own.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { Report } from "@effect-resilience/demo/Report"

const root = resolve(__dirname, "../..")
const main = join(root, "apps/demo/src/main.ts")

interface OtlpSpan {
  readonly name: string
  readonly events?: ReadonlyArray<{ readonly name: string }>
  readonly attributes?: ReadonlyArray<{ readonly key: string }>
}

/** A minimal OTLP/HTTP JSON collector: keeps every span it is sent. */
const collector = () => {
  const spans: Array<OtlpSpan> = []
  const contentTypes = new Set<string>()
  const server: Server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      contentTypes.add(String(req.headers["content-type"]))
      if (req.url === "/v1/traces") {
        const body: {
          resourceSpans?: ReadonlyArray<{ scopeSpans?: ReadonlyArray<{ spans?: ReadonlyArray<OtlpSpan> }> }>
        } = JSON.parse(Buffer.concat(chunks).toString("utf8"))
        for (const rs of body.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []))
      }
      res.writeHead(200, { "content-type": "application/json" })
      res.end("{}")
    })
  })
  return { server, spans, contentTypes }
}

const runDemo = (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  onStderr?: (stderr: string, signal: (name: NodeJS.Signals) => void) => void
) =>
  new Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", main, ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString()
    })
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString()
      onStderr?.(stderr, (name) => child.kill(name))
    })
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      fail(new Error(`demo did not finish in time\n${stderr}`))
    }, 100_000)
    child.on("exit", (code) => {
      clearTimeout(timer)
      done({ code, stdout, stderr })
    })
  })

describe("pnpm demo, end to end", () => {
  const otlp = collector()
  const dir = mkdtempSync(join(tmpdir(), "demo-e2e-"))
  let endpoint = ""

  beforeAll(
    () =>
      new Promise<void>((done) => {
        otlp.server.listen(0, "127.0.0.1", () => {
          const address: AddressInfo | string | null = otlp.server.address()
          endpoint = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
          done()
        })
      })
  )
  afterAll(() => {
    otlp.server.closeAllConnections()
    otlp.server.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const args = (reportFile: string) => [
    "--records",
    "300",
    "--seed",
    "7",
    "--batch-id",
    "e2e",
    "--malformed-rate",
    "0.03",
    "--outage-at",
    "0.3",
    "--outage-ms",
    "1000",
    "--slow-ms",
    "1200",
    "--data-dir",
    dir,
    "--report-json",
    join(dir, reportFile),
    "--progress",
    "off",
    "--metrics-port",
    "0",
    "--hedging"
  ]

  it.concurrent("ingests through a misbehaving upstream: nothing lost, no duplicate, transient failures recovered, spans exported", async () => {
    const run = await runDemo(args("report.json"), { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint })
    expect(run.stderr).toContain("traces: exported over OTLP")
    expect(run.stderr).toMatch(/metrics for Prometheus at http:\/\/127\.0\.0\.1:\d+\/metrics/)
    expect(run.code).toBe(0)
    const report: Report = JSON.parse(readFileSync(join(dir, "report.json"), "utf8"))

    // every record has exactly one final outcome, and the upstream agrees
    expect(report.records).toBe(300)
    expect(report.succeeded + report.deadLettered.total).toBe(300)
    expect(report.succeededFirstTry + report.recoveredAfterRetry).toBe(report.succeeded)
    expect(report.lost).toBe(0)
    expect(report.duplicates).toBe(0)
    // the upstream did misbehave, and retries recovered what was transient
    expect(report.upstream.faults["5xx"]).toBeGreaterThan(0)
    expect(report.upstream.faults["429"]).toBeGreaterThan(0)
    expect(report.upstream.faults.outage).toBeGreaterThan(0)
    expect(report.transientAffected).toBeGreaterThan(50)
    expect(report.recoveryRate).toBeGreaterThan(0.95)
    expect(report.attemptsPerRecord.max).toBeGreaterThan(1)
    // malformed records are dead-lettered as validation failures, not retried into oblivion
    expect(report.deadLettered.byCategory.validation).toBeGreaterThan(0)
    const transientDead = report.deadLettered.total - (report.deadLettered.byCategory.validation ?? 0)
    expect(transientDead).toBeLessThanOrEqual(report.transientAffected * 0.05)
    // the outage opened the breaker
    expect(report.breakerTransitions).toBeGreaterThanOrEqual(2)
    expect(report.latencyMs.p99).toBeGreaterThanOrEqual(report.latencyMs.p50)
    // every delivered record reads back from the upstream by its key, through retries and hedges
    expect(report.readBack.requested).toBe(report.succeeded)
    expect(report.readBack.found).toBe(report.readBack.requested)
    expect(report.readBack.hedges).toBeGreaterThan(0)

    // traces reached the collector: calls with retry events, attempt spans, breaker transitions
    expect([...otlp.contentTypes].some((t) => t.includes("json"))).toBe(true)
    const calls = otlp.spans.filter((s) => s.name.startsWith("resilience http "))
    expect(calls.length).toBeGreaterThanOrEqual(300)
    expect(calls.some((s) => (s.events ?? []).some((e) => e.name === "resilience.retry"))).toBe(true)
    expect(otlp.spans.some((s) => s.name.startsWith("resilience.attempt "))).toBe(true)
    const transitions = otlp.spans.filter((s) => s.name.startsWith("resilience.breaker "))
    // traced by a subscriber of the event hub: each transition of the report, but one made in the
    // last moments of a run may not have been exported yet when the SDK shut down
    expect(transitions.length).toBeGreaterThanOrEqual(2)
    expect(transitions.length).toBeLessThanOrEqual(report.breakerTransitions)
    expect(transitions.some((s) => s.name.endsWith("closed -> open"))).toBe(true)
    expect(transitions.every((s) => (s.events ?? []).some((e) => e.name === "resilience.breaker.transition"))).toBe(
      true
    )
  }, 120_000)

  it.concurrent("stops cleanly on SIGTERM and resumes from the checkpoint: nothing lost, nothing delivered twice", async () => {
    const interruptedArgs = [
      "--records",
      "300",
      "--seed",
      "11",
      "--batch-id",
      "e2e-interrupted",
      "--outage-ms",
      "0",
      "--data-dir",
      join(dir, "interrupted"),
      "--progress",
      "lines",
      "--no-trace-summary",
      "--read-back",
      "0"
    ]
    let sent = false
    const first = await runDemo(interruptedArgs, {}, (stderr, signal) => {
      const done = Array.from(stderr.matchAll(/^(\d+)\/300 /gm), (m) => Number(m[1]))
      if (!sent && done.some((n) => n >= 20)) {
        sent = true
        signal("SIGTERM")
      }
    })
    expect(sent).toBe(true)
    expect(first.code).toBe(130)
    expect(first.stderr).toMatch(
      /interrupted after \d+\/300 records; resume with: pnpm demo --batch-id e2e-interrupted/
    )
    expect(first.stdout).not.toContain("Report for batch")

    const second = await runDemo([...interruptedArgs, "--report-json", join(dir, "report-resumed.json")], {})
    expect(second.code, second.stderr).toBe(0)
    const report: Report = JSON.parse(readFileSync(join(dir, "report-resumed.json"), "utf8"))
    expect(report.skipped).toBeGreaterThanOrEqual(20)
    expect(report.skipped).toBeLessThan(300)
    expect(report.succeeded + report.deadLettered.total).toBe(300)
    expect(report.lost).toBe(0)
    expect(report.duplicates).toBe(0)
  }, 120_000)

  it("resumes the same batch id from the checkpoint: every record skipped, nothing sent again", async () => {
    const run = await runDemo(args("report-2.json"), {})
    expect(run.code).toBe(0)
    const report: Report = JSON.parse(readFileSync(join(dir, "report-2.json"), "utf8"))
    expect(report.skipped).toBe(300)
    // this run's upstream (a new process on the batch's file) was sent nothing: no POST, no read
    expect(report.upstream.requests).toBe(0)
    expect(report.lost).toBe(0)
    expect(report.duplicates).toBe(0)
    expect(report.succeeded + report.deadLettered.total).toBe(300)
  }, 120_000)
})
