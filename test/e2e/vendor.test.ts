/**
 * The dashboard ships uPlot's built files in packages/ops/dashboard/vendor (so that the ops
 * package needs no dependency at run time and the page no build step). They must be the files of
 * the uPlot version the ops package pins: after `pnpm --filter @effect-resilience/ops add -D -E
 * uplot@X`, copy `dist/uPlot.iife.min.js`, `dist/uPlot.min.css` and `LICENSE` (as
 * `uPlot.LICENSE.txt`) from the package into that folder, or this test fails.
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join, resolve } from "node:path"
import { describe, expect, it } from "@effect/vitest"

const root = resolve(__dirname, "../..")
const ops = join(root, "packages/ops")
const vendor = join(ops, "dashboard/vendor")
const uplot = dirname(createRequire(join(ops, "package.json")).resolve("uplot/package.json"))

describe("the dashboard's copy of uPlot", () => {
  it("is the pinned version's build, byte for byte", () => {
    const pinned: unknown = JSON.parse(readFileSync(join(ops, "package.json"), "utf8"))
    const installed: unknown = JSON.parse(readFileSync(join(uplot, "package.json"), "utf8"))
    const version = (json: unknown, key: "devDependencies" | "version") => {
      if (typeof json !== "object" || json === null) return undefined
      const value: unknown = Reflect.get(json, key)
      return key === "version"
        ? value
        : typeof value === "object" && value !== null
          ? Reflect.get(value, "uplot")
          : undefined
    }
    expect(version(installed, "version")).toBe(version(pinned, "devDependencies"))
    for (const [copy, original] of [
      ["uPlot.iife.min.js", "dist/uPlot.iife.min.js"],
      ["uPlot.min.css", "dist/uPlot.min.css"],
      ["uPlot.LICENSE.txt", "LICENSE"]
    ] as const) {
      expect(readFileSync(join(vendor, copy)).equals(readFileSync(join(uplot, original))), copy).toBe(true)
    }
  })
})
