/**
 * The upstream of the demo: an HTTP API on 127.0.0.1 that takes records (`POST /records`, JSON,
 * `Idempotency-Key` header) and misbehaves on purpose.
 *
 * Like a real idempotent API, it stores the answer of every accepted key and returns it again when
 * the key comes back (header `idempotent-replayed: true`), so a retry of a delivery whose answer was
 * lost is not a second delivery. Its state is durable: every acceptance is committed to its own
 * SQLite file (`db`) before the answer is sent, so a kill of the demo (or of the upstream) loses
 * nothing the upstream accepted, and a restarted upstream on the same file still dedupes by key.
 * It counts what a client cannot see: a delivery is counted when a record is accepted, and a
 * duplicate is a record (by its id) accepted a second time, under another key. `GET /ledger` lists
 * every accepted record (from the file), `GET /stats` the counters of this process.
 *
 * Faults, drawn from a seeded PRNG per request:
 * - `5xx`: 502 or 503;
 * - `429`: with `Retry-After` in seconds, or as an HTTP date;
 * - `slow`: the record is accepted, but the answer comes after `slow` (longer than the
 *   client's attempt timeout), so the client gives up and retries with the same key;
 * - `reset`: the connection is destroyed before any answer;
 * - an outage: every request gets a 503 for `outage` once `outageAfter` records were accepted;
 * - malformed records are refused for good: 400 for a negative amount, 422 for a bad currency;
 * - `GET /records/<idempotency key>` reads a delivery back; half the transient rate of those reads
 *   is answered `slow` late (what hedging is for).
 *
 * `healthy: true` turns every fault off and accepts malformed records too: the healed upstream
 * that `pnpm cli dlq replay --target` resolves dead letters against.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import Database from "better-sqlite3"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { type Prng, prng } from "./Prng.js"

export type FaultKind = "5xx" | "429" | "slow" | "reset"

export interface FaultMix {
  /** The share of requests that meet a transient fault (0..1). */
  readonly transientRate: number
  /** Relative weights of the fault kinds. */
  readonly weights: Readonly<Record<FaultKind, number>>
}

export interface UpstreamOptions {
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly seed: number
  readonly mix: FaultMix
  /** How late a slow answer comes. */
  readonly slow: Duration.DurationInput
  readonly outageAfter: number | undefined
  /** How long the outage lasts once `outageAfter` records were accepted. */
  readonly outage: Duration.DurationInput
  readonly healthy: boolean
  /** The SQLite file of accepted records (created when missing; `:memory:` keeps nothing). */
  readonly db: string
}

export interface UpstreamStats {
  readonly requests: number
  readonly accepted: number
  readonly duplicates: number
  readonly replayed: number
  readonly faults: Readonly<Record<FaultKind | "outage" | "400" | "422", number>>
  /** GET /records/<key> requests, and those answered late on purpose. */
  readonly reads: { readonly total: number; readonly slow: number }
  readonly outageStartedAtMillis: number | undefined
  /** Requests seen per idempotency key (this process). */
  readonly requestsByKey: Readonly<Record<string, number>>
}

/** What the upstream durably accepted: one row per idempotency key, read from its SQLite file. */
export interface Ledger {
  readonly entries: ReadonlyArray<{ readonly key: string; readonly id: string }>
  /** Records (by id) accepted under more than one key: a duplicate delivery. */
  readonly duplicates: number
}

export interface Upstream {
  readonly url: string
  readonly port: number
  readonly stats: () => UpstreamStats
  readonly ledger: () => Ledger
}

export interface Stored {
  readonly id: string
  readonly receipt: string
}

/**
 * The upstream's durable state: accepted records by idempotency key in a SQLite file (WAL,
 * `synchronous = FULL`: a commit is on disk when `accept` returns).
 */
export interface LedgerFile {
  readonly find: (key: string) => Stored | undefined
  /** Commits the record under its key; `duplicate` when its id was already accepted under another key. */
  readonly accept: (key: string, id: string) => { readonly stored: Stored; readonly duplicate: boolean }
  readonly ledger: () => Ledger
  readonly count: () => number
  readonly close: () => void
}

export const openLedger = (file: string): LedgerFile => {
  const db = new Database(file)
  db.pragma("busy_timeout = 5000")
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = FULL")
  db.exec(
    "CREATE TABLE IF NOT EXISTS accepted (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, id TEXT NOT NULL, receipt TEXT NOT NULL)"
  )
  const find = db.prepare<[string], Stored>("SELECT id, receipt FROM accepted WHERE key = ?")
  const countId = db.prepare<[string], { readonly n: number }>("SELECT count(*) AS n FROM accepted WHERE id = ?")
  const insert = db.prepare<[string, string, string]>("INSERT INTO accepted (key, id, receipt) VALUES (?, ?, ?)")
  const all = db.prepare<[], { readonly key: string; readonly id: string }>("SELECT key, id FROM accepted ORDER BY seq")
  const duplicates = db.prepare<[], { readonly n: number }>("SELECT count(*) - count(DISTINCT id) AS n FROM accepted")
  const maxSeq = db.prepare<[], { readonly n: number | null }>("SELECT max(seq) AS n FROM accepted")
  const count = db.prepare<[], { readonly n: number }>("SELECT count(*) AS n FROM accepted")
  return {
    find: (key) => find.get(key),
    accept: (key, id) =>
      db
        .transaction(() => {
          const duplicate = (countId.get(id)?.n ?? 0) > 0
          const stored: Stored = { id, receipt: `rcpt-${(maxSeq.get()?.n ?? 0) + 1}` }
          insert.run(key, id, stored.receipt)
          return { stored, duplicate }
        })
        .immediate(),
    ledger: () => ({ entries: all.all(), duplicates: duplicates.get()?.n ?? 0 }),
    count: () => count.get()?.n ?? 0,
    close: () => db.close()
  }
}

const pickFault = (random: Prng, weights: Readonly<Record<FaultKind, number>>): FaultKind => {
  const kinds: ReadonlyArray<FaultKind> = ["5xx", "429", "slow", "reset"]
  const total = kinds.reduce((sum, k) => sum + weights[k], 0)
  let r = random() * total
  for (const k of kinds) {
    r -= weights[k]
    if (r < 0) return k
  }
  return "5xx"
}

const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
  if (res.destroyed) return
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}

/** Validates a record: 400 when it is not one, 422 when it breaks a business rule. */
const validate = (body: unknown): { readonly status: 400 | 422; readonly error: string } | { readonly id: string } => {
  if (typeof body !== "object" || body === null || !("id" in body) || typeof body.id !== "string") {
    return { status: 400, error: "not a record" }
  }
  if (!("amount" in body) || typeof body.amount !== "number" || body.amount < 0) {
    return { status: 400, error: "amount must be a non-negative number" }
  }
  if (!("currency" in body) || typeof body.currency !== "string" || !/^[A-Z]{3}$/.test(body.currency)) {
    return { status: 422, error: "currency must be an ISO 4217 code" }
  }
  return { id: body.id }
}

const idOf = (body: unknown): string | undefined =>
  typeof body === "object" && body !== null && "id" in body && typeof body.id === "string" ? body.id : undefined

/** Starts the upstream for the lifetime of the Scope (its SQLite file is closed when it stops). */
export const start = (options: UpstreamOptions): Effect.Effect<Upstream, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly upstream: Upstream; readonly stop: () => Promise<void> }, Error>((resume) => {
      let ledger: LedgerFile
      try {
        ledger = openLedger(options.db)
      } catch (e) {
        resume(Effect.fail(new Error(`upstream state ${options.db}: ${e instanceof Error ? e.message : String(e)}`)))
        return
      }
      const random = prng(options.seed)
      const slowMillis = Duration.toMillis(options.slow)
      const outageMillis = Duration.toMillis(options.outage)
      const requestsByKey: Record<string, number> = {}
      const faults = { "5xx": 0, "429": 0, slow: 0, reset: 0, outage: 0, "400": 0, "422": 0 }
      let requests = 0
      const reads = { total: 0, slow: 0 }
      let acceptedNow = 0
      let duplicates = 0
      let replayed = 0
      let outageStart: number | undefined

      /** Committed to the file before the caller answers. */
      const accept = (key: string, id: string): Stored => {
        const { duplicate, stored } = ledger.accept(key, id)
        if (duplicate) duplicates++
        acceptedNow++
        if (options.outageAfter !== undefined && outageStart === undefined && acceptedNow >= options.outageAfter) {
          outageStart = Date.now()
        }
        return stored
      }

      const handle = (req: IncomingMessage, res: ServerResponse, raw: string): void => {
        if (req.method === "GET" && req.url === "/stats") {
          send(res, 200, stats())
          return
        }
        if (req.method === "GET" && req.url === "/count") {
          send(res, 200, { accepted: ledger.count() })
          return
        }
        if (req.method === "GET" && req.url === "/ledger") {
          send(res, 200, ledger.ledger())
          return
        }
        requests++
        if (req.method === "GET" && req.url?.startsWith("/records/") === true) {
          // read back a delivery by its idempotency key; some answers come late (hedging shows here)
          const stored = ledger.find(decodeURIComponent(req.url.slice("/records/".length)))
          const answer = () =>
            stored === undefined ? send(res, 404, { error: "unknown key" }) : send(res, 200, stored)
          if (!options.healthy && random() < options.mix.transientRate / 2) {
            reads.slow++
            setTimeout(answer, slowMillis).unref()
          } else {
            answer()
          }
          reads.total++
          return
        }
        if (req.method !== "POST" || req.url !== "/records") {
          send(res, 404, { error: "POST /records, GET /records/<idempotency key>, GET /stats, GET /ledger" })
          return
        }
        const key = req.headers["idempotency-key"]
        if (typeof key !== "string" || key.length === 0) {
          send(res, 400, { error: "Idempotency-Key header required" })
          return
        }
        requestsByKey[key] = (requestsByKey[key] ?? 0) + 1
        if (!options.healthy) {
          const now = Date.now()
          if (outageStart !== undefined && now - outageStart < outageMillis) {
            faults.outage++
            send(res, 503, { error: "down for maintenance" })
            return
          }
          if (random() < options.mix.transientRate) {
            const kind = pickFault(random, options.mix.weights)
            faults[kind]++
            switch (kind) {
              case "5xx":
                send(res, random() < 0.5 ? 502 : 503, { error: "try again" })
                return
              case "429":
                send(
                  res,
                  429,
                  { error: "slow down" },
                  {
                    "retry-after": random() < 0.5 ? "1" : new Date(now + 1500).toUTCString()
                  }
                )
                return
              case "reset":
                req.socket.destroy()
                return
              case "slow":
                break
            }
            // slow: accept (or find) the record now, answer too late
            let body: unknown
            try {
              body = JSON.parse(raw)
            } catch {
              body = undefined
            }
            const checked = validate(body)
            const stored = "id" in checked ? (ledger.find(key) ?? accept(key, checked.id)) : undefined
            setTimeout(() => {
              if (stored === undefined) send(res, 503, { error: "try again" })
              else send(res, 201, stored)
            }, slowMillis).unref()
            return
          }
        }
        const existing = ledger.find(key)
        if (existing !== undefined) {
          replayed++
          send(res, 200, existing, { "idempotent-replayed": "true" })
          return
        }
        let body: unknown
        try {
          body = JSON.parse(raw)
        } catch {
          faults["400"]++
          send(res, 400, { error: "not JSON" })
          return
        }
        const checked = options.healthy ? { id: idOf(body) ?? key } : validate(body)
        if (!("id" in checked)) {
          faults[checked.status === 400 ? "400" : "422"]++
          send(res, checked.status, { error: checked.error })
          return
        }
        send(res, 201, accept(key, checked.id))
      }

      const stats = (): UpstreamStats => ({
        requests,
        accepted: acceptedNow,
        duplicates,
        replayed,
        faults: { ...faults },
        reads: { ...reads },
        outageStartedAtMillis: outageStart,
        requestsByKey
      })

      const server = createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          try {
            handle(req, res, Buffer.concat(chunks).toString("utf8"))
          } catch (e) {
            // the state could not be committed (disk full, file locked): no acceptance without it
            send(res, 503, { error: `upstream state: ${e instanceof Error ? e.message : String(e)}` })
          }
        })
        req.on("error", () => undefined)
      })
      server.keepAliveTimeout = 30_000
      server.on("error", (e) => {
        ledger.close()
        resume(Effect.fail(e))
      })
      const host = options.host ?? "127.0.0.1"
      server.listen(options.port ?? 0, host, () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(
          Effect.succeed({
            upstream: { url: `http://${host}:${port}`, port, stats, ledger: ledger.ledger },
            stop: () =>
              new Promise<void>((done) => {
                server.closeAllConnections()
                server.close(() => {
                  ledger.close()
                  done()
                })
              })
          })
        )
      })
    }),
    (running) => Effect.promise(running.stop)
  ).pipe(Effect.map((running) => running.upstream))
