/**
 * Type-level proof that `Classifier.exhaustive` is exhaustive: the project's own compiler
 * (TypeScript 7 native, node_modules/.bin/tsc) accepts a mapping that names every tag of the union
 * and rejects one that leaves a tag out, naming that tag.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const tsc = fileURLToPath(new URL("../../../node_modules/.bin/tsc", import.meta.url))
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/exhaustive/tsconfig.${name}.json`, import.meta.url))

const compile = (name: string) =>
  new Promise<{ readonly code: number; readonly output: string }>((resolve) => {
    execFile(tsc, ["--noEmit", "-p", fixture(name)], { cwd: root }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
      resolve({ code, output: `${stdout}${stderr}` })
    })
  })

describe("Classifier.exhaustive (type level)", () => {
  it("uses the project's TypeScript compiler", () => {
    expect(existsSync(tsc)).toBe(true)
  })

  it("a mapping naming every tag compiles", async () => {
    const result = await compile("complete")
    expect(result.output).toBe("")
    expect(result.code).toBe(0)
  })

  it("a mapping missing a tag fails to compile, naming the missing tag", async () => {
    const result = await compile("missing")
    expect(result.code).not.toBe(0)
    expect(result.output).toContain("missing.ts")
    expect(result.output).toMatch(/error TS2741: Property 'FraudSuspected' is missing/)
    // Only the missing tag is reported: the tags that are there are fine.
    expect(result.output).not.toMatch(/'PaymentDeclined' is missing|'InventoryLow' is missing/)
  })
})
