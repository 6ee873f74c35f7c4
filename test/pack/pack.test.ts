/**
 * The packages as a user gets them: builds the workspace, packs every published package
 * (`pnpm pack`), installs the tarballs with npm into a project outside the workspace next to only
 * `effect` and the peers from the registry, type-checks `fixture/main.ts` there with `tsc`
 * (`nodenext`: Node's own resolution of our `exports` and `.d.ts`) and runs it with plain `node`.
 *
 * The registry part of that project (better-sqlite3 compiles for about two minutes when no
 * prebuilt binary can be downloaded) is installed once per set of versions into a cache folder in
 * the OS temp dir, keyed by a hash of the versions, Node and npm; each run copies it into a fresh
 * project and installs the new tarballs on top. npm's own cache is shared there too. Set
 * `EFFECT_RESILIENCE_PACK_CACHE` to put the cache elsewhere (e.g. a folder CI keeps).
 */
import { execFile } from "node:child_process"
import { createHash } from "node:crypto"
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync
} from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
const fixture = join(dirname(fileURLToPath(import.meta.url)), "fixture")
const tsc = join(root, "node_modules", ".bin", "tsc")
const cacheRoot = process.env.EFFECT_RESILIENCE_PACK_CACHE ?? join(tmpdir(), "effect-resilience-pack-cache")
const npmCache = join(cacheRoot, "npm")

interface Manifest {
  readonly name: string
  readonly version: string
  readonly private?: boolean
  readonly peerDependencies?: Record<string, string>
  readonly peerDependenciesMeta?: Record<string, { readonly optional?: boolean }>
  readonly devDependencies?: Record<string, string>
}

const readManifest = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))

/** Every package under packages/ that is published. */
const published = readdirSync(join(root, "packages"))
  .map((name) => join(root, "packages", name))
  .filter((dir) => existsSync(join(dir, "package.json")) && readManifest(dir).private !== true)
  .map((dir) => ({ dir, manifest: readManifest(dir) }))

/**
 * What the project installs from the registry: every required peer of our packages, the SQLite
 * driver (an optional peer of the sql package, the one this program uses), the peers that
 * `@effect/sql` itself needs, and Node's types for `tsc`. Versions are the workspace's.
 */
const registryDependencies = (): Record<string, string> => {
  const versions: Record<string, string> = {}
  // the exact versions the workspace develops against
  for (const { manifest } of published) Object.assign(versions, manifest.peerDependencies, manifest.devDependencies)
  const names = new Set(["@effect/sql-sqlite-node", "@effect/experimental", "@effect/platform"])
  for (const { manifest } of published) {
    for (const name of Object.keys(manifest.peerDependencies ?? {})) {
      if (manifest.peerDependenciesMeta?.[name]?.optional !== true) names.add(name)
    }
  }
  const deps: Record<string, string> = {}
  for (const name of [...names].sort()) {
    const version = versions[name]
    if (version === undefined) throw new Error(`no workspace version for ${name}`)
    deps[name] = version
  }
  const rootManifest = readManifest(root)
  deps["@types/node"] = rootManifest.devDependencies?.["@types/node"] ?? "20"
  return deps
}

/** The environment of the tools run here: no workspace-only Node condition, no pnpm settings. */
const env = (): NodeJS.ProcessEnv => {
  const clean: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (key === "NODE_OPTIONS" || (key.startsWith("npm_") && key !== "npm_config_registry")) continue
    clean[key] = value
  }
  return clean
}

const run = (file: string, args: ReadonlyArray<string>, cwd: string) =>
  new Promise<string>((resolve, reject) => {
    execFile(file, [...args], { cwd, env: env(), maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout)
      else reject(new Error(`${file} ${args.join(" ")} (in ${cwd}) failed: ${error.message}\n${stdout}\n${stderr}`))
    })
  })

const npm = (args: ReadonlyArray<string>, cwd: string) =>
  run("npm", [...args, "--cache", npmCache, "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], cwd)

/** The registry dependencies, installed once per set of versions (then copied). */
const installedDependencies = async (): Promise<string> => {
  const deps = registryDependencies()
  const npmVersion = (await run("npm", ["--version"], root)).trim()
  const key = createHash("sha256")
    .update(JSON.stringify({ deps, node: process.version, arch: process.arch, platform: process.platform, npmVersion }))
    .digest("hex")
    .slice(0, 16)
  const dir = join(cacheRoot, `deps-${key}`)
  if (existsSync(join(dir, "node_modules"))) return dir
  mkdirSync(cacheRoot, { recursive: true })
  const staging = mkdtempSync(join(cacheRoot, `deps-${key}-staging-`))
  try {
    const manifest = { name: "effect-resilience-pack-check", private: true, type: "module", dependencies: deps }
    writeFileSync(join(staging, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`)
    await npm(["install"], staging)
    renameSync(staging, dir)
    // the installs of earlier versions are of no more use
    for (const name of readdirSync(cacheRoot)) {
      if (/^deps-[0-9a-f]{16}$/.test(name) && name !== `deps-${key}`) {
        rmSync(join(cacheRoot, name), { recursive: true, force: true })
      }
    }
  } catch (error) {
    rmSync(staging, { recursive: true, force: true })
    // another run may have finished the same install first
    if (!existsSync(join(dir, "node_modules"))) throw error
  }
  return dir
}

describe("packed packages", () => {
  it("install outside the workspace, type-check with tsc and run with plain node", {
    timeout: 15 * 60_000
  }, async () => {
    const [deps] = await Promise.all([installedDependencies(), run("pnpm", ["build"], root)])

    const project = mkdtempSync(join(tmpdir(), "effect-resilience-pack-"))
    let passed = false
    try {
      cpSync(deps, project, { recursive: true, verbatimSymlinks: true })
      const tarballs = join(project, "tarballs")
      mkdirSync(tarballs)
      for (const { dir, manifest } of published) {
        if (!existsSync(join(dir, "dist", "index.js"))) throw new Error(`${manifest.name}: no dist/ after the build`)
        await run("pnpm", ["pack", "--pack-destination", tarballs], dir)
      }
      const files = readdirSync(tarballs).map((file) => `./tarballs/${file}`)
      expect(files).toHaveLength(published.length)
      await npm(["install", ...files], project)

      cpSync(join(fixture, "main.ts"), join(project, "main.ts"))
      cpSync(join(fixture, "tsconfig.json"), join(project, "tsconfig.json"))
      await run(tsc, ["-p", "tsconfig.json"], project)

      const output = await run(process.execPath, [join("out", "main.js"), join(project, "dlq.db")], project)
      // the runtime's own log lines (Effect's default logger) go to the same stdout: the program's
      // lines are the others, and the dead letter it made was logged as a warning
      const lines = output.trim().split("\n")
      const logged = lines.filter((line) => line.startsWith("timestamp="))
      expect(logged.some((line) => line.includes("level=WARN") && line.includes("dead-lettered"))).toBe(true)
      expect(lines.filter((line) => !line.startsWith("timestamp="))).toEqual([
        "classified 503: unavailable retryable=true",
        "flaky call: accepted after 3 attempts",
        "rejected call: validation after 1 attempt(s)",
        "dead-lettered: orders pending validation",
        "read back: orders o-1 42 validation",
        `loaded: ${published.length} packages`,
        "internal: ERR_PACKAGE_PATH_NOT_EXPORTED"
      ])
      passed = true
    } finally {
      // a failed run leaves its project for a look (the error names the folder)
      if (passed) rmSync(project, { recursive: true, force: true })
    }
  })
})
