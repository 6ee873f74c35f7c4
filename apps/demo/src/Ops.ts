/**
 * The demo's ops server: `@effect-resilience/ops` on 127.0.0.1 wired to the run's own breaker
 * registry, dead letter queue (its SQLite file), event hub and classifier, with the audit trail in
 * the same SQLite file as the dead letters, error analytics sampled four times a second (the demo is
 * short), and a replay handler that re-sends a dead letter to a healed copy of the upstream (a
 * second server, in this process, on the same accepted-records file, with no faults, that accepts
 * the malformed records: as if the upstream's owners had fixed what refused them). It serves the web
 * dashboard at `/`.
 *
 * Tokens: an operator token (changes) and a read-only token (reads), random unless given; they
 * are printed with the URL because this is a local demo, and only their SHA-256 goes to the
 * server.
 */
import { randomBytes } from "node:crypto"
import type * as CircuitBreaker from "@effect-resilience/core/CircuitBreaker"
import type * as Classifier from "@effect-resilience/core/Classifier"
import type * as Events from "@effect-resilience/core/Events"
import * as Failures from "@effect-resilience/core/Failures"
import * as AuditLog from "@effect-resilience/durable/AuditLog"
import type * as DeadLetterQueue from "@effect-resilience/durable/DeadLetterQueue"
import * as Analytics from "@effect-resilience/ops/Analytics"
import * as OpsServer from "@effect-resilience/ops/OpsServer"
import * as SqlAuditLog from "@effect-resilience/sql/SqlAuditLog"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Upstream from "./Upstream.js"
import type * as UpstreamProcess from "./UpstreamProcess.js"

export interface Options {
  /** 0: any free port. */
  readonly port: number
  /** The operator token; a random one when undefined (then printed). */
  readonly operatorToken: string | undefined
  /** The read-only token; a random one when undefined (then printed). */
  readonly readOnlyToken: string | undefined
  /** After the report, keep the server (and the upstream) up this long; `"forever"`: until Ctrl-C. */
  readonly linger: Duration.Duration | "forever"
  /** The SQLite file of the dead letters (the audit trail goes there too). */
  readonly dlqFile: string
  /**
   * Hold the run until the dashboard is open: until a client with a valid token reads
   * `GET /api/analytics` (the dashboard does as soon as a token is set).
   */
  readonly waitForDashboard: boolean
  /** The upstream's options: the healed copy shares its accepted-records file. */
  readonly upstream: UpstreamProcess.Options
}

/** What the ingest provides to the ops server: the run's own services. */
export type Services =
  | CircuitBreaker.Registry
  | DeadLetterQueue.DeadLetterQueue
  | Events.ResilienceEvents
  | Classifier.Classifier
  | HttpClient.HttpClient
  | Scope.Scope

/** A random token: 24 random bytes, base64url (32 characters). */
export const randomToken = (): string => randomBytes(24).toString("base64url")

/**
 * The replay handler: POSTs the dead letter's payload to `url` with its idempotency key, like the
 * ingest did; a non-2xx answer fails with `Failures.HttpError`, which the ops server classifies and
 * records on the entry.
 */
export const replayTo =
  (url: string): DeadLetterQueue.Handler<unknown, HttpClient.HttpClient> =>
  (entry) =>
    Effect.gen(function* () {
      const client = yield* HttpClient.HttpClient
      const request = HttpClientRequest.post(url).pipe(
        HttpClientRequest.setHeader("idempotency-key", entry.idempotencyKey),
        HttpClientRequest.bodyUnsafeJson(entry.payload)
      )
      const response = yield* client.execute(request).pipe(Effect.timeout("5 seconds"), Effect.scoped)
      if (response.status < 200 || response.status >= 300) {
        return yield* Effect.fail(new Failures.HttpError({ status: response.status }))
      }
    })

const log = (line: string) => Effect.sync(() => process.stderr.write(`${line}\n`))

/**
 * Starts the ops server (and the healed upstream it replays to) for the rest of the run's scope.
 * Returns what the run does after its report: wait `linger` (or until interrupted), saying so.
 */
export const start = (options: Options): Effect.Effect<Effect.Effect<void>, Error, Services> =>
  Effect.gen(function* () {
    const operatorToken = options.operatorToken ?? randomToken()
    const readOnlyToken = options.readOnlyToken ?? randomToken()
    // in this process: it serves only the replays, which come from this process's ops server
    const healed = yield* Upstream.start({
      seed: options.upstream.seed,
      mix: options.upstream.mix,
      slow: Duration.millis(options.upstream.slowMillis),
      outageAfter: undefined,
      outage: Duration.zero,
      healthy: true,
      db: options.upstream.db
    })
    const replayUrl = `${healed.url}/records`
    // completed when a client first reads the analytics (see `waitForDashboard`)
    const read = yield* Deferred.make<void>()
    const layer = OpsServer.layer({
      port: options.port,
      tokens: [
        { name: "operator", role: "operator", sha256: OpsServer.hashToken(operatorToken) },
        { name: "viewer", role: "read-only", sha256: OpsServer.hashToken(readOnlyToken) }
      ]
    }).pipe(
      Layer.provide(OpsServer.layerReplayHandler(replayTo(replayUrl))),
      Layer.provide(
        AuditLog.layer.pipe(
          Layer.provide(SqlAuditLog.layerStoreConfig({ dialect: "sqlite", filename: options.dlqFile }))
        )
      ),
      // a demo run lasts from seconds to a minute: sample four times a second (five minutes kept),
      // so that even a fast run holds a calm baseline (8 samples, 2 s) before its outage to judge a
      // spike against, with as few as 5 calls in a sample on a slow machine
      Layer.provide(
        Layer.scoped(
          Analytics.Analytics,
          Effect.map(
            Analytics.make({
              interval: "250 millis",
              history: 1200,
              cooldown: "10 seconds",
              spike: { minBaseline: 8, minCalls: 5, minFailures: 5 }
            }),
            (analytics) => ({
              ...analytics,
              snapshot: Effect.zipRight(Deferred.succeed(read, undefined), analytics.snapshot)
            })
          )
        )
      )
    )
    const context = yield* Layer.build(layer).pipe(
      Effect.mapError((e) => new Error(`ops server: ${e.message === "" ? e._tag : e.message}`))
    )
    const server = yield* Effect.provide(OpsServer.OpsServer, context)
    yield* log(
      [
        `ops dashboard and API at ${server.url}`,
        `  operator token (changes): ${options.operatorToken === undefined ? operatorToken : "(the one given with --ops-token)"}`,
        `  read-only token (reads):  ${options.readOnlyToken === undefined ? readOnlyToken : "(the one given with --ops-read-only-token)"}`,
        `  replays go to a healed copy of the upstream at ${healed.url} (same accepted records, no faults)`
      ].join("\n")
    )
    const linger = options.linger
    if (options.waitForDashboard) {
      yield* log(`waiting for the dashboard: open ${server.url} and set a token; the run starts then`)
      yield* Deferred.await(read)
    } else if (linger !== "forever" && !Duration.greaterThan(linger, Duration.zero)) {
      yield* log("  (it stops with the run: --ops-wait --ops-keep-open to watch it all and replay dead letters after)")
    }
    if (linger === "forever") {
      return Effect.zipRight(log(`\nops server still at ${server.url}: Ctrl-C to stop`), Effect.never)
    }
    return Duration.greaterThan(linger, Duration.zero)
      ? Effect.zipRight(
          log(`\nops server still at ${server.url} for ${Duration.format(linger)} (Ctrl-C to stop)`),
          Effect.sleep(linger)
        )
      : Effect.void
  })
