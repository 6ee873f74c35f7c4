/**
 * The upstream as a process of its own, so that a kill of the ingest cannot erase what the
 * upstream accepted: `spawn` starts `main.ts upstream` as a child on 127.0.0.1 (a free port) with
 * its SQLite file, and talks to it over HTTP (`/stats`, `/ledger`, `/count`); `connect` talks to
 * one that is already running. `watchParent` is the child's side: it exits when its parent dies
 * (its stdin closes, or its parent pid is gone), so even a `kill -9` of the demo leaves no upstream
 * running behind it.
 */
import { type ChildProcess, spawn as spawnChild } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { FaultMix, Ledger, UpstreamStats } from "./Upstream.js"

export interface Options {
  readonly db: string
  readonly seed: number
  readonly mix: FaultMix
  readonly slowMillis: number
  readonly outageAfter: number | undefined
  readonly outageMillis: number
  readonly healthy: boolean
}

/** An upstream reached over HTTP. */
export interface Client {
  readonly url: string
  /** The child's pid (undefined when connected to an upstream started elsewhere). */
  readonly pid: number | undefined
  readonly stats: Effect.Effect<UpstreamStats, Error>
  readonly ledger: Effect.Effect<Ledger, Error>
  /** Records accepted so far, from the upstream's file. */
  readonly count: Effect.Effect<number, Error>
}

const getJson = <A>(url: string): Effect.Effect<A, Error> =>
  Effect.tryPromise({
    try: async (signal) => {
      const response = await fetch(url, { signal })
      if (!response.ok) throw new Error(`${url} answered ${response.status}`)
      // our own upstream's JSON: its shape is the type the caller asks for
      return (await response.json()) as A
    },
    catch: (e) => new Error(`upstream ${url}: ${e instanceof Error ? e.message : String(e)}`)
  })

/** A client of an upstream already running at `url` (`http://127.0.0.1:PORT`). */
export const connect = (url: string, pid?: number): Client => ({
  url,
  pid,
  stats: getJson<UpstreamStats>(`${url}/stats`),
  ledger: getJson<Ledger>(`${url}/ledger`),
  count: Effect.map(getJson<{ readonly accepted: number }>(`${url}/count`), (c) => c.accepted)
})

const mainPath = fileURLToPath(new URL("./main.ts", import.meta.url))

/** The flags of `main.ts upstream` for these options. */
export const argsOf = (options: Options): ReadonlyArray<string> => [
  "upstream",
  "--port",
  "0",
  "--db",
  options.db,
  "--seed",
  String(options.seed),
  "--transient-rate",
  String(options.mix.transientRate),
  "--mix",
  Object.entries(options.mix.weights)
    .map(([k, w]) => `${k}=${w}`)
    .join(","),
  "--slow-ms",
  String(options.slowMillis),
  "--outage-after",
  String(options.outageAfter ?? 0),
  "--outage-ms",
  String(options.outageMillis),
  ...(options.healthy ? ["--healthy"] : []),
  "--parent-pid",
  String(process.pid)
]

/** The line a child upstream prints on stdout once it listens. */
export const readyLine = (url: string): string => `${JSON.stringify({ upstream: url })}\n`

const waitReady = (child: ChildProcess): Promise<string> =>
  new Promise((resolve, reject) => {
    let out = ""
    const onData = (chunk: Buffer) => {
      out += chunk.toString("utf8")
      const line = out.split("\n").find((l) => l.startsWith('{"upstream"'))
      if (line !== undefined) {
        child.stdout?.off("data", onData)
        const parsed: unknown = JSON.parse(line)
        if (
          typeof parsed === "object" &&
          parsed !== null &&
          "upstream" in parsed &&
          typeof parsed.upstream === "string"
        ) {
          resolve(parsed.upstream)
        } else reject(new Error(`unexpected line from the upstream: ${line}`))
      }
    }
    child.stdout?.on("data", onData)
    child.once("exit", (code, signal) => reject(new Error(`the upstream exited before listening (${signal ?? code})`)))
    child.once("error", reject)
  })

/**
 * Starts the upstream as a child process for the lifetime of the Scope (SIGTERM when it closes).
 * The child's stdin is a pipe it watches: when this process dies, however it dies, the pipe closes
 * and the child exits.
 */
export const spawn = (options: Options): Effect.Effect<Client, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const child = spawnChild(process.execPath, [...process.execArgv, mainPath, ...argsOf(options)], {
          stdio: ["pipe", "pipe", "inherit"],
          env: process.env
        })
        try {
          const url = await waitReady(child)
          return { child, client: connect(url, child.pid) }
        } catch (e) {
          child.kill("SIGKILL")
          throw e
        }
      },
      catch: (e) => (e instanceof Error ? e : new Error(String(e)))
    }),
    ({ child }) =>
      Effect.async<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        child.kill("SIGTERM")
      })
  ).pipe(Effect.map(({ client }) => client))

/**
 * In the child: exit when the parent is gone. Its stdin (a pipe from the parent) ends when the
 * parent dies, even by SIGKILL; the parent pid is also checked twice a second, in case the pipe
 * was inherited by someone else.
 */
export const watchParent = (parentPid: number, onGone: () => void): void => {
  process.stdin.on("end", onGone)
  process.stdin.on("close", onGone)
  process.stdin.resume()
  const timer = setInterval(() => {
    let alive = process.ppid === parentPid
    if (alive) {
      try {
        process.kill(parentPid, 0)
      } catch {
        alive = false
      }
    }
    if (!alive) onGone()
  }, 500)
  timer.unref()
}
