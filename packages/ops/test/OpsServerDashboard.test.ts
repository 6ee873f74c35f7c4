import { CircuitBreaker, Classifier } from "@effect-resilience/core"
import { DeadLetterQueue } from "@effect-resilience/durable"
import { AuditLog, OpsServer } from "@effect-resilience/ops"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { request } from "node:http"
import { extname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { tokens } from "./OpsServerSupport.js"

const services = Layer.mergeAll(
  CircuitBreaker.layerRegistry(),
  DeadLetterQueue.layer().pipe(Layer.provide(DeadLetterQueue.layerStoreMemory)),
  AuditLog.layer.pipe(Layer.provide(AuditLog.layerStoreMemory)),
  OpsServer.layerReplayHandler(() => Effect.void),
  Classifier.layer
)

const serverWith = (config: Partial<OpsServer.ConfigInput> = {}) =>
  OpsServer.layer({ tokens, ...config }).pipe(Layer.provideMerge(services))

const dashboardDir = fileURLToPath(new URL("../dashboard/", import.meta.url))

const filesUnder = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [path]
  })

interface RawReply {
  readonly status: number
  readonly headers: Record<string, string | Array<string> | undefined>
  readonly body: Buffer
}

/** A GET with the path sent as written (fetch would normalise `..` away). */
const rawGet = (path: string): Effect.Effect<RawReply, never, OpsServer.OpsServer> =>
  Effect.flatMap(OpsServer.OpsServer, (server) =>
    Effect.async<RawReply>((resume) => {
      const req = request({ host: server.host, port: server.port, path, method: "GET" }, (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (chunk: Buffer) => chunks.push(chunk))
        res.on("end", () =>
          resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
        )
      })
      req.on("error", (error) => resume(Effect.die(error)))
      req.end()
    })
  )

const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".txt": "text/plain; charset=utf-8"
}

describe("OpsServer dashboard files", () => {
  it.scopedLive("GET / is the dashboard's page and /dashboard/* its files, without a token, with a strict CSP", () =>
    Effect.gen(function* () {
      const index = yield* rawGet("/")
      expect(index.status).toBe(200)
      expect(index.headers["content-type"]).toBe("text/html; charset=utf-8")
      expect(index.body.equals(readFileSync(join(dashboardDir, "index.html")))).toBe(true)
      const csp = String(index.headers["content-security-policy"])
      expect(csp).toContain("default-src 'none'")
      expect(csp).toContain("script-src 'self'")
      expect(csp).toContain("connect-src 'self'")
      expect(csp).toContain("frame-ancestors 'none'")
      expect(csp).not.toContain("unsafe-inline")
      expect(csp).not.toContain("unsafe-eval")
      expect(index.headers["x-frame-options"]).toBe("DENY")
      expect(index.headers["x-content-type-options"]).toBe("nosniff")
      expect(index.headers["referrer-policy"]).toBe("no-referrer")

      const files = filesUnder(dashboardDir)
      expect(files.length).toBeGreaterThan(1)
      for (const file of files) {
        const path = `/dashboard/${relative(dashboardDir, file).split("\\").join("/")}`
        const reply = yield* rawGet(path)
        const type = types[extname(file)]
        if (type === undefined) continue
        expect(reply.status, path).toBe(200)
        expect(reply.headers["content-type"], path).toBe(type)
        expect(reply.body.equals(readFileSync(file)), path).toBe(true)
      }
      for (const path of ["/dashboard", "/dashboard/"]) {
        const page = yield* rawGet(path)
        expect(page.status, path).toBe(200)
        expect(page.body.equals(readFileSync(join(dashboardDir, "index.html"))), path).toBe(true)
      }
    }).pipe(Effect.provide(serverWith()))
  )

  it.scopedLive("nothing outside the dashboard's folder, no hidden file, no folder, no unknown type", () =>
    Effect.gen(function* () {
      for (const path of [
        "/dashboard/../package.json",
        "/dashboard/../src/OpsServer.ts",
        "/dashboard/%2e%2e/package.json",
        "/dashboard/..%2fpackage.json",
        "/dashboard/..%5cpackage.json",
        "/dashboard/vendor/../../package.json",
        "/dashboard/%2fetc%2fpasswd",
        "/dashboard//etc/passwd",
        "/dashboard/.gitignore",
        "/dashboard/vendor",
        "/dashboard/vendor/",
        "/dashboard/index.html%00.js",
        "/dashboard/%E0%A4%A",
        "/dashboard/nope.js",
        "/dashboard/index.ts",
        "/dashboard/a/b/c/d/e/f/g/h/i.js"
      ]) {
        const reply = yield* rawGet(path)
        expect(reply.status, path).toBe(404)
        expect(reply.body.toString("utf8"), path).not.toMatch(/"name"|import |root:/)
        expect(reply.body.toString("utf8"), path).not.toMatch(/\/work\/|node_modules|[A-Z]:\\/)
      }
    }).pipe(Effect.provide(serverWith()))
  )

  it.scopedLive("dashboard: false serves no page", () =>
    Effect.gen(function* () {
      expect((yield* rawGet("/")).status).toBe(404)
      expect((yield* rawGet("/dashboard/index.html")).status).toBe(404)
      expect((yield* rawGet("/health")).status).toBe(200)
    }).pipe(Effect.provide(serverWith({ dashboard: false })))
  )
})
