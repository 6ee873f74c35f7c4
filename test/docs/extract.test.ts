import { describe, expect, it } from "@effect/vitest"
import { markdownExamples, moduleDoc, moduleExports } from "./extract.js"

const source = [
  "/**",
  " * A module.",
  " *",
  " * @since 0.1.0",
  " */",
  'import { Effect } from "effect"',
  "",
  "/**",
  " * Doubles.",
  " *",
  " * @example",
  " * ```ts",
  ' * import { M } from "@effect-resilience/core"',
  " * const four = M.double(2)",
  " * ```",
  " *",
  " * @since 0.1.0",
  " * @category utils",
  " */",
  "export function double(n: number): number",
  "export function double(n: number): number {",
  "  return n * 2",
  "}",
  "",
  "/**",
  " * @example",
  " * const x = 1",
  " *",
  " * @since 0.1.0",
  " */",
  "export const unfenced = 1",
  "",
  "export const bare = Effect.void",
  "",
  "/**",
  " * @since 0.1.0",
  " * @category models",
  " */",
  "export declare namespace N {",
  "  /**",
  "   * @since 0.1.0",
  "   */",
  "  export interface Inner {}",
  "}",
  'export * as Other from "./Other.js"'
].join("\n")

describe("docs extraction", () => {
  it("lists each export once with its tags and fenced examples at their source lines", () => {
    const exports = moduleExports(source)
    expect(exports.map((e) => e.name)).toEqual(["double", "unfenced", "bare", "N", "N.Inner"])
    const [double, unfenced, bare, , inner] = exports
    expect(double).toMatchObject({ line: 20, since: "0.1.0", category: "utils", exampleProblems: [] })
    expect(double?.examples).toEqual([
      { line: 13, flags: [], code: 'import { M } from "@effect-resilience/core"\nconst four = M.double(2)' }
    ])
    expect(unfenced?.exampleProblems).toEqual([{ line: 26, message: "an @example must hold only fenced ```ts blocks" }])
    expect(unfenced?.category).toBeUndefined()
    expect(bare?.doc).toBeUndefined()
    expect(inner).toMatchObject({ since: "0.1.0", category: undefined })
    expect(moduleDoc(source)?.since).toBe("0.1.0")
  })

  it("finds the ts blocks of Markdown with their flags", () => {
    const md = ["# T", "", "```sh", "pnpm i", "```", "", "```ts no-run", "const a = 1", "```", "```ts", "b()", "```"]
    expect(markdownExamples(md.join("\n"))).toEqual([
      { line: 8, flags: ["no-run"], code: "const a = 1" },
      { line: 11, flags: [], code: "b()" }
    ])
  })
})
