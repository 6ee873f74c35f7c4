/**
 * The docs check (`pnpm docs:check`): every export of a public module (`packages/<pkg>/src/*.ts`)
 * has `@since` and one `@category` of the conventions, its examples are fenced ```ts blocks, and
 * every example (of the JSDoc, of README.md and of each package README) type-checks against the
 * workspace sources, in one run of the project's `tsc`.
 *
 * Each example is written as a module of its own under `build/docs-check/` of its package (so that
 * `effect` and the package's peers resolve from the package's `node_modules`); a generated tsconfig
 * maps `@effect-resilience/<pkg>` (and `<pkg>/<Module>`) to the sources with `paths`. Failures are
 * reported at the line of the example in the source file.
 *
 * Usage: `tsx test/docs/check.ts [path-prefix ...]` (only the files under those paths, e.g.
 * `packages/core/src/Backoff.ts`).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { type CodeBlock, categories, markdownExamples, moduleDoc, moduleExports } from "./extract.js"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const rel = (p: string) => path.relative(root, p)
const started = performance.now()

const filters = process.argv.slice(2).map((f) => path.resolve(f))
const selected = (file: string) => filters.length === 0 || filters.some((f) => file.startsWith(f))

interface Example {
  readonly source: string
  readonly label: string
  readonly block: CodeBlock
  /** Where the example is written: a folder of the package it documents, so that its imports resolve. */
  readonly dir: string
}

const problems: Array<string> = []
const examples: Array<Example> = []

const packagesDir = path.join(root, "packages")
const packages = fs
  .readdirSync(packagesDir)
  .filter((p) => fs.existsSync(path.join(packagesDir, p, "package.json")))
  .sort()

for (const pkg of packages) {
  const dir = path.join(packagesDir, pkg)
  const outDir = path.join(dir, "build", "docs-check")
  const src = path.join(dir, "src")
  const modules = fs.existsSync(src)
    ? fs
        .readdirSync(src)
        .filter((f) => f.endsWith(".ts"))
        .sort()
        .map((f) => path.join(src, f))
    : []
  for (const file of modules.filter(selected)) {
    const text = fs.readFileSync(file, "utf8")
    const header = moduleDoc(text)
    if (header?.since === undefined) problems.push(`${rel(file)}:1: the module has no JSDoc with @since`)
    for (const [i, block] of (header?.examples ?? []).entries()) {
      examples.push({ source: file, label: `module example ${i + 1}`, block, dir: outDir })
    }
    for (const e of moduleExports(text)) {
      const at = `${rel(file)}:${e.line}: ${e.name}`
      if (e.doc === undefined) {
        problems.push(`${at}: no JSDoc`)
        continue
      }
      if (e.since === undefined) problems.push(`${at}: no @since`)
      if (e.category === undefined) problems.push(`${at}: no @category`)
      else if (!categories.includes(e.category)) {
        problems.push(`${at}: @category ${e.category} is not one of ${categories.join(", ")}`)
      }
      for (const p of e.exampleProblems) problems.push(`${rel(file)}:${p.line}: ${e.name}: ${p.message}`)
      for (const [i, block] of e.examples.entries()) {
        examples.push({ source: file, label: `${e.name} example ${i + 1}`, block, dir: outDir })
      }
    }
  }
  const readme = path.join(dir, "README.md")
  if (fs.existsSync(readme) && selected(readme)) {
    for (const [i, block] of markdownExamples(fs.readFileSync(readme, "utf8")).entries()) {
      examples.push({ source: readme, label: `block ${i + 1}`, block, dir: outDir })
    }
  }
}
const rootReadme = path.join(root, "README.md")
if (selected(rootReadme)) {
  for (const [i, block] of markdownExamples(fs.readFileSync(rootReadme, "utf8")).entries()) {
    // The root README's examples use every package: write them where all of them resolve.
    examples.push({
      source: rootReadme,
      label: `block ${i + 1}`,
      block,
      dir: path.join(root, "test", "build", "docs-check")
    })
  }
}

// Write each example as a module of its own and one tsconfig over all of them.
const written = new Map<string, Example>()
for (const dir of new Set(examples.map((e) => e.dir))) fs.rmSync(dir, { recursive: true, force: true })
for (const [i, e] of examples.entries()) {
  fs.mkdirSync(e.dir, { recursive: true })
  const name = `${path.basename(e.source, path.extname(e.source))}.${String(i).padStart(4, "0")}.ts`
  const file = path.join(e.dir, name)
  // `export {}` keeps an example without imports a module of its own.
  fs.writeFileSync(file, `${e.block.code}\nexport {}\n`)
  written.set(path.resolve(file), e)
}

const configDir = path.join(root, "build", "docs-check")
fs.rmSync(configDir, { recursive: true, force: true })
fs.mkdirSync(configDir, { recursive: true })
const toConfig = (p: string) => path.relative(configDir, p)
const paths: Record<string, Array<string>> = {}
for (const pkg of packages) {
  const { name } = JSON.parse(fs.readFileSync(path.join(packagesDir, pkg, "package.json"), "utf8")) as { name: string }
  paths[name] = [toConfig(path.join(packagesDir, pkg, "src", "index.ts"))]
  paths[`${name}/*`] = [toConfig(path.join(packagesDir, pkg, "src", "*.ts"))]
}
const tsconfig = {
  extends: toConfig(path.join(root, "tsconfig.base.json")),
  compilerOptions: {
    composite: false,
    incremental: false,
    declaration: false,
    emitDeclarationOnly: false,
    noEmit: true,
    noUnusedLocals: false,
    noUnusedParameters: false,
    paths
  },
  files: [...written.keys()].map(toConfig)
}
fs.writeFileSync(path.join(configDir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2))

let tscOutput = ""
if (written.size > 0) {
  const tsc = spawnSync(path.join(root, "node_modules", ".bin", "tsc"), ["-p", configDir, "--pretty", "false"], {
    cwd: root,
    encoding: "utf8"
  })
  if (tsc.error) throw tsc.error
  tscOutput = `${tsc.stdout}${tsc.stderr}`
  if (tsc.status !== 0 && tscOutput.trim().length === 0) problems.push(`tsc exited with ${tsc.status}`)
}

const sourceErrors = new Set<string>()
// `file(line,col): error TS...: message`, possibly followed by indented continuation lines.
for (const entry of tscOutput.split(/\n(?=\S)/).filter((l) => l.trim().length > 0)) {
  const m = /^(.+?)\((\d+),(\d+)\): (.*)$/s.exec(entry.trim())
  if (m === null) {
    problems.push(entry.trim())
    continue
  }
  const [, file = "", line = "0", , message = ""] = m
  const example = written.get(path.resolve(root, file))
  if (example === undefined) {
    // An error in a source file, which `pnpm typecheck` reports: not the docs' to report.
    sourceErrors.add(rel(path.resolve(root, file)))
    continue
  }
  problems.push(`${rel(example.source)}:${example.block.line + Number(line) - 1}: ${example.label}: ${message}`)
}

const seconds = ((performance.now() - started) / 1000).toFixed(1)
if (sourceErrors.size > 0) {
  console.error(`(type errors in sources, left to pnpm typecheck: ${[...sourceErrors].sort().join(", ")})`)
}
if (problems.length > 0) {
  for (const p of problems) console.error(p)
  console.error(`docs check: ${problems.length} problem(s), ${examples.length} example(s) in ${seconds} s`)
  process.exit(1)
}
console.log(`docs check: ${examples.length} example(s) type-check, every export documented (${seconds} s)`)
