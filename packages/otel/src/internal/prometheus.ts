import { createServer } from "node:http"
import type { PrometheusExporter } from "@opentelemetry/exporter-prometheus"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

const codeOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : "error"

/**
 * Serves the exporter's `/metrics` on host:port for the lifetime of the Scope and returns the URL
 * (port 0 picks a free port). Fails with a message fit for a user.
 *
 * @internal
 */
export const serveMetrics = (
  exporter: PrometheusExporter,
  host: string,
  port: number
): Effect.Effect<string, string, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly close: () => Promise<void> }, string>((resume) => {
      const server = createServer((req, res) => {
        if (req.method === "GET" && (req.url === "/metrics" || req.url?.startsWith("/metrics?") === true)) {
          exporter.getMetricsRequestHandler(req, res)
          return
        }
        res.writeHead(404, { "content-type": "text/plain" })
        res.end("Not found: metrics are at /metrics\n")
      })
      server.once("error", (error) =>
        resume(Effect.fail(`Cannot serve /metrics on ${host}:${port} (${codeOf(error)})`))
      )
      server.listen(port, host, () => {
        const address = server.address()
        const bound = typeof address === "object" && address !== null ? address.port : port
        resume(
          Effect.succeed({
            url: `http://${host}:${bound}/metrics`,
            close: () =>
              new Promise<void>((done) => {
                server.closeAllConnections()
                server.close(() => done())
              })
          })
        )
      })
    }),
    (served) => Effect.promise(served.close)
  ).pipe(Effect.map((served) => served.url))
