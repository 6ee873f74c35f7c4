/**
 * The server of the real-process overload run (a child process; see `real.ts`): HTTP on
 * 127.0.0.1, one request served at a time with an exponentially distributed service time (a timer,
 * not CPU, so the 2 cores of the machine stay free for the client), a FIFO queue of at most
 * `queueLimit` requests, a 503 beyond it. Like the simulated server it does not notice that a
 * client gave up: a queued request is served even if its connection was closed, and counted as
 * wasted. From `triggerAt` for `triggerFor` seconds the capacity drops to `degraded` requests/s.
 *
 * argv: JSON of `ServerOptions`. Prints `port <n>` when listening; at `t0 + duration` writes its
 * per-second counts to `out` and exits.
 */
import { writeFileSync } from "node:fs"
import { createServer, type ServerResponse } from "node:http"
import { strategy } from "./cores.js"

/** @see real-server.ts */
export interface ServerOptions {
  readonly t0: number
  readonly durationSeconds: number
  readonly capacity: number
  readonly degraded: number
  readonly triggerAtSeconds: number
  readonly triggerSeconds: number
  readonly queueLimit: number
  readonly seed: number
  readonly out: string
}

/** What the server counts each second. */
export interface ServerBin {
  arrivals: number
  served: number
  wasted: number
  refused: number
  queue: number
}

const options: ServerOptions = JSON.parse(process.argv[2] ?? "{}")
const random = strategy.seededRandom(options.seed)
const bins: Array<ServerBin> = Array.from({ length: options.durationSeconds }, () => ({
  arrivals: 0,
  served: 0,
  wasted: 0,
  refused: 0,
  queue: 0
}))
const second = (): number => Math.floor((Date.now() - options.t0) / 1000)
const bin = (): ServerBin | undefined => bins[second()]
const capacity = (): number => {
  const s = (Date.now() - options.t0) / 1000
  return s >= options.triggerAtSeconds && s < options.triggerAtSeconds + options.triggerSeconds
    ? options.degraded
    : options.capacity
}

const queue: Array<ServerResponse> = []
let busy = false
const serveNext = (): void => {
  const res = queue.shift()
  if (res === undefined) {
    busy = false
    return
  }
  busy = true
  setTimeout(
    () => {
      const b = bin()
      if (b !== undefined) {
        b.served++
        if (res.destroyed) b.wasted++
      }
      if (!res.destroyed) res.end("ok")
      serveNext()
    },
    -Math.log(1 - random()) * (1000 / capacity())
  )
}

const server = createServer((req, res) => {
  req.resume()
  const b = bin()
  if (b !== undefined) b.arrivals++
  if (queue.length >= options.queueLimit) {
    if (b !== undefined) b.refused++
    res.writeHead(503, { "content-type": "text/plain" }).end("overloaded")
    return
  }
  queue.push(res)
  if (!busy) serveNext()
})
server.keepAliveTimeout = 5000

const sample = setInterval(() => {
  const b = bins[second() - 1]
  if (b !== undefined && b.queue === 0) b.queue = queue.length
}, 1000)

server.listen(0, "127.0.0.1", () => {
  const address = server.address()
  process.stdout.write(`port ${typeof address === "object" && address !== null ? address.port : 0}\n`)
})

setTimeout(
  () => {
    clearInterval(sample)
    writeFileSync(options.out, JSON.stringify(bins))
    server.closeAllConnections()
    server.close(() => process.exit(0))
  },
  options.t0 + options.durationSeconds * 1000 - Date.now() + 200
)
