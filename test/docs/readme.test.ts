/**
 * The READMEs' examples, run from the READMEs themselves: every ```ts block of README.md and of
 * each package's README.md is written to a module of its own and imported, so a block that throws
 * (or whose `assert` fails) fails here. A block marked ```ts no-run (one that needs a server of its
 * own) is only type-checked, by `pnpm docs:check`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { markdownExamples } from "./extract.js"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const outDir = path.join(root, "test", "build", "readme")

const readmes = [
  path.join(root, "README.md"),
  ...fs
    .readdirSync(path.join(root, "packages"))
    .sort()
    .map((p) => path.join(root, "packages", p, "README.md"))
    .filter((p) => fs.existsSync(p))
]

fs.rmSync(outDir, { recursive: true, force: true })
fs.mkdirSync(outDir, { recursive: true })

for (const readme of readmes) {
  const name = path.relative(root, readme)
  const blocks = markdownExamples(fs.readFileSync(readme, "utf8"))
  describe(name, () => {
    it("has examples", () => {
      expect(blocks.length).toBeGreaterThan(0)
    })
    for (const [i, block] of blocks.entries()) {
      const title = `block ${i + 1} (line ${block.line})`
      // a no-run block needs a server of the reader's; `pnpm docs:check` type-checks it
      if (block.flags.includes("no-run")) continue
      it(title, async () => {
        const file = path.join(outDir, `${name.replaceAll("/", "_").replace(/\.md$/, "")}.${i + 1}.ts`)
        fs.writeFileSync(file, `${block.code}\nexport {}\n`)
        await import(pathToFileURL(file).href)
      })
    }
  })
}
