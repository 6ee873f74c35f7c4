/**
 * Worker processes of a test fleet (`fleet/worker.ts`), each a breaker on the Redis store, and an
 * HTTP upstream on 127.0.0.1 that counts the requests it receives.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { fileURLToPath } from "node:url"
import { createInterface } from "node:readline"

const workerPath = fileURLToPath(new URL("../fleet/worker.ts", import.meta.url))

export interface Counts {
  readonly ok: number
  readonly failed: number
  readonly rejected: number
  readonly other: number
}

/** A worker process. */
export interface Process {
  readonly name: string
  readonly child: ChildProcess
  readonly send: <A = unknown>(command: Record<string, unknown>) => Promise<A>
  readonly stop: () => Promise<void>
}

/** One breaker (under a key) in a worker process. */
export interface Worker {
  readonly name: string
  readonly process: Process
  readonly send: <A = unknown>(command: Record<string, unknown>) => Promise<A>
  readonly state: () => Promise<string>
  readonly dispose: () => Promise<void>
}

let keys = 0

/** Makes a breaker on a Redis store in `process`. */
export const instance = async (
  process: Process,
  breaker: Record<string, unknown>,
  store: Record<string, unknown>
): Promise<Worker> => {
  const key = `k${keys++}`
  const send = <A>(command: Record<string, unknown>) => process.send<A>({ ...command, key })
  await send({ op: "make", breaker, store })
  return {
    name: process.name,
    process,
    send,
    state: () => send<{ state: string }>({ op: "state" }).then((s) => s.state),
    dispose: () => send<void>({ op: "dispose" }).catch(() => undefined)
  }
}

export const startWorker = (name: string): Promise<Process> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=@effect-resilience/source", "--import", "tsx", workerPath], {
      env: { ...process.env, WORKER: name },
      stdio: ["pipe", "pipe", "inherit"]
    })
    let next = 0
    const waiting = new Map<number, { resolve: (a: unknown) => void; reject: (e: Error) => void }>()
    child.once("exit", (code) => {
      for (const w of waiting.values()) w.reject(new Error(`worker ${name} exited (${code})`))
      reject(new Error(`worker ${name} exited before it was ready (${code})`))
    })
    createInterface({ input: child.stdout! }).on("line", (line) => {
      // the worker's logs (Effect's logger writes to stdout) are passed on
      if (!line.startsWith("{")) return void process.stderr.write(`[${name}] ${line}\n`)
      const message = JSON.parse(line) as { ready?: boolean; id?: number; result?: unknown; error?: string }
      if (message.ready === true) {
        resolve({
          name,
          child,
          send: <A>(command: Record<string, unknown>) =>
            new Promise<A>((res, rej) => {
              if (child.exitCode !== null || child.signalCode !== null) return rej(new Error(`worker ${name} is gone`))
              const id = next++
              waiting.set(id, { resolve: (a) => res(a as A), reject: rej })
              child.stdin!.write(`${JSON.stringify({ ...command, id })}\n`)
            }),
          stop: () =>
            new Promise<void>((res) => {
              if (child.exitCode !== null || child.signalCode !== null) return res()
              child.once("exit", () => res())
              child.stdin!.end()
            })
        })
        return
      }
      if (message.id === undefined) return
      const w = waiting.get(message.id)
      waiting.delete(message.id)
      if (message.error !== undefined) w?.reject(new Error(message.error))
      else w?.resolve(message.result)
    })
  })

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Polls `check` every 10 ms until it holds; the time it took (ms), or throws after `timeoutMs`.
 * A propagation between processes is waited for with a generous bound (it returns as soon as the
 * condition holds): under a loaded test run a pub/sub reconnect after a Redis restart took over 2 s.
 */
export const waitFor = async (check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> => {
  const started = performance.now()
  while (performance.now() - started < timeoutMs) {
    if (await check()) return performance.now() - started
    await sleep(10)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

export interface Upstream {
  readonly url: string
  /** Requests received, with the worker that sent each. */
  readonly requests: Array<{ readonly worker: string; readonly at: number }>
  /** How the next requests are answered. */
  mode: "fail" | "ok" | "hang"
  readonly release: () => void
  readonly close: () => Promise<void>
}

export const startUpstream = (): Promise<Upstream> =>
  new Promise((resolve) => {
    const hanging: Array<ServerResponse> = []
    const upstream: Upstream = {
      url: "",
      requests: [],
      mode: "ok",
      release: () => {
        for (const res of hanging.splice(0)) res.writeHead(200).end("ok")
      },
      close: () =>
        new Promise((res) => {
          upstream.release()
          server.closeAllConnections()
          server.close(() => res())
        })
    }
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      upstream.requests.push({ worker: String(req.headers["x-worker"] ?? "?"), at: performance.now() })
      if (upstream.mode === "hang") hanging.push(res)
      else if (upstream.mode === "fail") res.writeHead(503).end("down")
      else res.writeHead(200).end("ok")
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resolve(Object.assign(upstream, { url: `http://127.0.0.1:${port}/` }))
    })
  })
