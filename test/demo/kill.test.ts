/**
 * The demo under `kill -9`: the upstream is a child process with its own SQLite file, so a hard
 * kill of the demo loses nothing the upstream accepted, leaves no upstream running behind it, and a
 * resumed run reports lost and duplicates against what the upstream durably accepted. Then the
 * demo's own crash test (`--crash-test 3`): SIGKILLed at three seeded points, resumed each time,
 * every record delivered exactly once or dead-lettered. The two go side by side (each mostly waits
 * on its child processes), each in a data folder of its own.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import type { CrashTestReport } from "@effect-resilience/demo/CrashTest"
import type { Report } from "@effect-resilience/demo/Report"

const root = resolve(__dirname, "../..")
const main = join(root, "apps/demo/src/main.ts")

interface Run {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

const runDemo = (args: ReadonlyArray<string>, killWhen?: (stderr: string) => boolean) =>
  new Promise<Run>((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", main, ...args], {
      cwd: root,
      env: process.env,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString()
    })
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString()
      if (killWhen?.(stderr) === true) child.kill("SIGKILL")
    })
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      fail(new Error(`demo did not finish in time\n${stderr}`))
    }, 100_000)
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      done({ code, signal, stdout, stderr })
    })
  })

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const waitGone = async (pid: number, millis: number): Promise<boolean> => {
  const end = Date.now() + millis
  while (Date.now() < end) {
    if (!alive(pid)) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return !alive(pid)
}

describe("pnpm demo under kill -9", () => {
  const dir = mkdtempSync(join(tmpdir(), "demo-kill-"))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it.concurrent("a SIGKILLed demo takes its upstream with it; the resumed run's report is true (lost 0, duplicates 0)", async () => {
    const args = [
      ...["--records", "150", "--seed", "11", "--batch-id", "killtest", "--outage-ms", "0", "--transient-rate", "0.1"],
      // records in flight at the kill wait out their lease (the deadline and 2 s) before the rerun takes them
      ...["--deadline-ms", "5000"],
      ...["--data-dir", join(dir, "kill"), "--progress", "lines", "--no-trace-summary", "--read-back", "0"]
    ]
    const first = await runDemo(args, (stderr) =>
      Array.from(stderr.matchAll(/^(\d+)\/150 /gm), (m) => Number(m[1])).some((n) => n >= 30)
    )
    expect(first.signal).toBe("SIGKILL")
    const pid = Number(/pid (\d+)/.exec(first.stderr)?.[1])
    expect(pid).toBeGreaterThan(0)
    // the upstream child noticed its parent died (its stdin closed) and exited: no orphan
    expect(await waitGone(pid, 5_000)).toBe(true)

    const second = await runDemo([...args, "--report-json", join(dir, "resumed.json")])
    expect(second.code, second.stderr).toBe(0)
    const report: Report = JSON.parse(readFileSync(join(dir, "resumed.json"), "utf8"))
    expect(report.skipped).toBeGreaterThanOrEqual(30)
    expect(report.succeeded + report.deadLettered.total).toBe(150)
    // checked against the upstream's file: the deliveries before the kill are there
    expect(report.lost).toBe(0)
    expect(report.duplicates).toBe(0)
    const secondPid = Number(/pid (\d+)/.exec(second.stderr)?.[1])
    expect(await waitGone(secondPid, 5_000)).toBe(true)
  }, 120_000)

  it.concurrent("--crash-test 3: killed at three seeded points and resumed, every record delivered once or dead-lettered", async () => {
    const run = await runDemo([
      ...["--crash-test", "3", "--records", "120", "--seed", "5", "--batch-id", "crash", "--outage-ms", "0"],
      ...["--transient-rate", "0.1", "--deadline-ms", "5000"],
      ...["--malformed-rate", "0.05", "--data-dir", join(dir, "crash"), "--report-json", join(dir, "crash.json")]
    ])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain("Crash test of batch crash: PASSED")
    const report: CrashTestReport = JSON.parse(readFileSync(join(dir, "crash.json"), "utf8"))
    expect(report.kills.length).toBe(3)
    expect(report.runs).toBe(4)
    expect(report.records).toBe(120)
    expect(report.lost).toBe(0)
    expect(report.duplicated).toBe(0)
    expect(report.checkpointDisagrees).toBe(0)
    // a record accepted upstream whose answer came after its last attempt is counted apart
    expect(report.deliveredOnce + report.deadLettered + report.deliveredAndDeadLettered).toBe(120)
    expect(report.deadLettered).toBeGreaterThan(0)
    expect(report.finalReport).toEqual({ lost: 0, duplicates: 0, agrees: true })
    expect(report.problems).toEqual([])
  }, 120_000)
})
