import { execFile } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "@effect/vitest"

const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..")

/**
 * `pnpm bench overhead --quick` still runs end to end: it builds core, runs every case against the
 * built dist in child processes and writes a dated result. Nothing here asserts on speed.
 */
describe("bench overhead --quick", () => {
  // asynchronous: a synchronous child would block the test worker for the whole run
  it("runs every case and writes one dated result", { timeout: 240_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), "overhead-"))
    try {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [
          "--conditions=@effect-resilience/source",
          "--import",
          "tsx",
          "src/main.ts",
          "overhead",
          "--quick",
          "--out-dir",
          out
        ],
        { cwd: benchDir, encoding: "utf8" }
      )
      expect(stdout).toContain("load average before")
      const files = readdirSync(out)
      expect(files).toHaveLength(1)
      expect(files[0]).toMatch(/^overhead-\d{4}-\d{2}-\d{2}T.*\.json$/)
      const result = JSON.parse(readFileSync(join(out, files[0] ?? ""), "utf8"))
      const cases = result.rows.map((r: { case: string }) => r.case)
      for (const name of [
        "bare-tryPromise",
        "pipeline-tryPromise",
        "protect-timeout",
        "pipeline-runPromise",
        "opossum-fire",
        "failure-p-retry"
      ]) {
        expect(cases).toContain(name)
      }
      for (const row of result.rows) {
        expect(row.wallNs).toBeGreaterThan(0)
        expect(row.cpuNs).toBeGreaterThan(0)
      }
      expect(result.heap.map((h: { case: string }) => h.case)).toContain("heap-pipeline-runPromise")
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  })
})
