/**
 * A Redis server of the test's own: `redis-server` on a free port of 127.0.0.1, without
 * persistence (`--save '' --appendonly no`), so tests never depend on a server at 6379 and may
 * kill and restart it. Fails (never skips) when `redis-server` is not installed: CI installs it.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createServer, Socket } from "node:net"

export interface RedisServer {
  readonly port: number
  readonly url: string
  /** SIGKILLs the server (its data is gone: nothing is persisted). */
  readonly kill: () => Promise<void>
  /** Starts it again on the same port. */
  readonly start: () => Promise<void>
  readonly stop: () => Promise<void>
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = new Socket()
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(200, () => done(false))
    socket.once("error", () => done(false))
    socket.connect(port, "127.0.0.1", () => socket.write("PING\r\n"))
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")))
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Starts a server; `extraArgs` are more `redis-server` options. */
export const startRedis = async (extraArgs: ReadonlyArray<string> = []): Promise<RedisServer> => {
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async () => {
    const proc = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...extraArgs],
      { stdio: "ignore" }
    )
    const failed = new Promise<never>((_, reject) =>
      proc.once("error", (error) =>
        reject(new Error(`redis-server could not start (is it installed?): ${error.message}`))
      )
    )
    child = proc
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      if (await Promise.race([answers(port), failed])) return
      await sleep(50)
    }
    throw new Error(`redis-server did not answer on port ${port}`)
  }
  const stopWith = async (signal: NodeJS.Signals) => {
    const proc = child
    child = undefined
    if (proc === undefined || proc.exitCode !== null) return
    const exited = new Promise((resolve) => proc.once("exit", resolve))
    proc.kill(signal)
    await exited
  }
  await start()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: () => stopWith("SIGKILL"),
    start,
    stop: () => stopWith("SIGTERM")
  }
}
