/**
 * The circuit breaker store shared by a fleet on Redis. The breaker keeps deciding on a local copy
 * (core's in-memory window): `record` never waits for Redis. In the background, per breaker:
 *
 * - every flush interval one script publishes this process's window (a hash field per process,
 *   stamped with Redis's clock; fields older than the TTL are dropped), reads the fleet's windows
 *   and the fleet's state, and takes the half-open lease when asked: one command per interval;
 * - the fleet opens when the pooled evidence trips the breaker's policy and a quorum of processes
 *   reports failures (`fleet.ts`);
 * - a fleet decision (an opening, a forced open, a close) is written to the state key and
 *   published on the breaker's channel by one script, as soon as it is taken; the others apply it
 *   on receipt, and a process that joins (or returns from a partition) reads the state key;
 * - in half-open, only the holder of the lease (`SET NX PX`) probes; the lease expires when its
 *   holder dies, and the probe's outcome is published like any decision.
 *
 * When Redis fails or is slow, the breaker is simply local: probes are no longer gated, decisions
 * wait to be published, and the next successful sync re-reads the fleet's state.
 *
 * @internal
 */
import * as CircuitBreaker from "@effect-resilience/core/CircuitBreaker"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import type { Connection } from "./connection.js"
import { script } from "./connection.js"
import * as fleet from "./fleet.js"

/** The store's settings, in numbers. */
export interface Settings {
  readonly keyPrefix: string
  readonly flushMillis: number
  readonly leaseMillis: number
  readonly quorum: fleet.Quorum
}

const STORE = "circuit-breaker"
const DAY = 86_400_000

/**
 * KEYS: evidence hash, state, lease. ARGV: process id, its window, entry TTL (ms), want the lease
 * (1/0), lease (ms). Returns: [fresh entries (field, value, ...), state or "", Redis now, lease ms
 * left when held by this process (0 otherwise)].
 */
const sync = script(
  `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ',' .. now)
redis.call('PEXPIRE', KEYS[1], ttl)
local all = redis.call('HGETALL', KEYS[1])
local fresh = {}
for i = 1, #all, 2 do
  local at = tonumber(string.match(all[i + 1], '([^,]+)$')) or 0
  if now - at > ttl then
    redis.call('HDEL', KEYS[1], all[i])
  else
    fresh[#fresh + 1] = all[i]
    fresh[#fresh + 1] = all[i + 1]
  end
end
local lease = 0
if ARGV[4] == '1' then
  redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[5])
end
if redis.call('GET', KEYS[3]) == ARGV[1] then
  lease = redis.call('PTTL', KEYS[3])
end
return {fresh, redis.call('GET', KEYS[2]) or '', now, lease}`,
  3
)

/**
 * KEYS: state, lease. ARGV: kind (open, forced, closed), ms left open, re-openings, channel,
 * process id, release the lease (1/0). Writes the state stamped with Redis's clock, releases this
 * process's lease, publishes `<process id>|<state>`. Returns Redis now.
 */
const publish = script(
  `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local value
if ARGV[1] == 'open' then
  value = 'open|' .. (now + tonumber(ARGV[2])) .. '|' .. ARGV[3] .. '|' .. now
elseif ARGV[1] == 'forced' then
  value = 'forced|' .. now
else
  value = 'closed|' .. now
end
redis.call('SET', KEYS[1], value, 'PX', ${DAY})
if ARGV[6] == '1' and redis.call('GET', KEYS[2]) == ARGV[5] then
  redis.call('DEL', KEYS[2])
end
redis.call('PUBLISH', ARGV[4], ARGV[5] .. '|' .. value)
return now`,
  2
)

interface Outgoing {
  readonly kind: "open" | "forced" | "closed"
  /** Local time the open period ends (open only). */
  readonly openUntil: number
  readonly reopenings: number
  readonly releaseLease: boolean
}

interface SyncResult {
  readonly entries: ReadonlyArray<readonly [string, string]>
  readonly state: fleet.State | undefined
  readonly redisNow: number
  readonly leaseLeftMillis: number
}

const parseSync = (value: unknown): SyncResult | undefined => {
  if (!Array.isArray(value) || value.length !== 4) return undefined
  const [flat, state, redisNow, lease] = value
  if (!Array.isArray(flat) || typeof state !== "string") return undefined
  const entries: Array<readonly [string, string]> = []
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const field = flat[i]
    const v = flat[i + 1]
    if (typeof field === "string" && typeof v === "string") entries.push([field, v])
  }
  return {
    entries,
    state: fleet.decodeState(state),
    redisNow: Number(redisNow),
    leaseLeftMillis: Math.max(0, Number(lease))
  }
}

/** The Redis-time stamp that ends an entry (`calls,failures,slow,consecutive,at`). */
const stampOf = (value: string): number => Number(value.slice(value.lastIndexOf(",") + 1))

const hasTag = (name: string): string => `{${name.replace(/[{}]/g, "_")}}`

/** The store service on a connection. */
export const make = (conn: Connection, settings: Settings): CircuitBreaker.CircuitBreakerStoreService => ({
  attach: (name, policy) => attach(conn, settings, name, policy)
})

/** The local window (core's memory store) with the fleet around it. */
const attach = (
  conn: Connection,
  settings: Settings,
  name: string,
  tripPolicy: CircuitBreaker.TripPolicy
): Effect.Effect<CircuitBreaker.StoreHandle, never, Scope.Scope> =>
  Effect.gen(function* () {
    const local = yield* CircuitBreaker.storeMemory.attach(name, tripPolicy)
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    const base = `${settings.keyPrefix}:cb:${hasTag(name)}`
    const keys = { evidence: `${base}:evidence`, state: `${base}:state`, lease: `${base}:lease` }
    const channel = `${base}:events`
    const entryTtl = Math.max(3 * settings.flushMillis, 1000)
    const pid = conn.processId

    let control: CircuitBreaker.StoreControl | undefined
    /** Whether the current opening (open, half-open, forced open) is the fleet's. */
    let fleetWide = false
    /** Redis time of the latest fleet decision this process published or applied. */
    let lastAt = 0
    /** Local time until which this process holds the half-open lease. */
    let leaseUntil = 0
    let wantLease = false
    let pending: Outgoing | undefined
    let publishing = false
    /** The other processes' windows at the last sync. */
    let others: ReadonlyArray<fleet.Evidence> = []
    /** Local time of this process's latest close: a sync begun before it may carry older windows. */
    let closedAt = Number.NEGATIVE_INFINITY

    const publisherWake = yield* Queue.sliding<void>(1)
    const syncWake = yield* Queue.sliding<void>(1)

    const policyOf = (c: CircuitBreaker.StoreControl): fleet.Policy => c.policy
    const fleetOpens = (c: CircuitBreaker.StoreControl, own: fleet.Evidence): boolean =>
      fleet.fleetOpens(policyOf(c), (e) => c.trips(e) !== undefined, [own, ...others], settings.quorum)

    const enqueue = (outgoing: Outgoing) => {
      pending = outgoing
      Queue.unsafeOffer(publisherWake, undefined)
    }

    /** Applies the fleet's state read from Redis (a sync, or a message), when newer than what this process knows. */
    const adopt = (state: fleet.State, remainingFrom: number) => {
      if (control === undefined) {
        // heard before the breaker connected: applied when it does
        if (early === undefined || state.atMillis > early.state.atMillis) early = { state, remainingFrom }
        return
      }
      if (state.atMillis <= lastAt) return
      lastAt = state.atMillis
      const at = now()
      switch (state._tag) {
        case "Open":
          control.apply(
            { _tag: "Open", remainingMillis: state.untilMillis - remainingFrom, reopenings: state.reopenings },
            at
          )
          return
        case "ForcedOpen":
          control.apply({ _tag: "ForcedOpen" }, at)
          return
        case "Closed":
          // a close of the fleet ends the fleet's opening, not one this process decided alone
          if (fleetWide) control.apply({ _tag: "Closed" }, at)
          return
      }
    }

    let initial: SyncResult | undefined
    let early: { readonly state: fleet.State; readonly remainingFrom: number } | undefined

    const onSync = (result: SyncResult, startedAt: number) => {
      if (result.leaseLeftMillis > 0) {
        leaseUntil = startedAt + result.leaseLeftMillis
        wantLease = false
      }
      const fleetClosedAt = result.state?._tag === "Closed" ? result.state.atMillis : 0
      const fresh: Array<fleet.Evidence> = []
      for (const [field, value] of result.entries) {
        if (field === pid || stampOf(value) < fleetClosedAt) continue
        const e = fleet.decode(value)
        if (e !== undefined) fresh.push(e)
      }
      // a sync that began before this process closed may have read the fleet's windows (and
      // state) from before the close: its failures are what the close ended, not new evidence
      const stale = startedAt < closedAt
      others = stale ? [] : fresh
      if (control === undefined) return
      if (result.state !== undefined && pending === undefined && !publishing) adopt(result.state, result.redisNow)
      const at = now()
      if (!stale && control.stateAt(at) === "closed" && fleetOpens(control, local.evidence(at)))
        control.openOnFleetEvidence(at)
    }

    const syncOnce = Effect.suspend(() => {
      const startedAt = now()
      const state = control?.stateAt(startedAt)
      const want = wantLease && fleetWide && state === "half-open"
      return conn
        .eval(STORE, "sync", sync, [
          keys.evidence,
          keys.state,
          keys.lease,
          pid,
          fleet.encode(local.evidence(startedAt)),
          entryTtl,
          want ? 1 : 0,
          settings.leaseMillis
        ])
        .pipe(
          Effect.map((reply) => ({
            result: Option.flatMap(reply, (value) => Option.fromNullable(parseSync(value))),
            startedAt
          }))
        )
    })

    const publishPending = Effect.suspend(() => {
      const outgoing = pending
      if (outgoing === undefined || control === undefined) return Effect.void
      const at = now()
      const state = control.stateAt(at)
      // a decision that no longer holds here (overtaken while Redis was away) is not sent
      const holds =
        outgoing.kind === "forced"
          ? state === "forced-open"
          : outgoing.kind === "open"
            ? state === "open" || state === "half-open"
            : state === "closed"
      if (!holds) {
        pending = undefined
        return Effect.void
      }
      publishing = true
      return conn
        .eval(STORE, "publish", publish, [
          keys.state,
          keys.lease,
          outgoing.kind,
          Math.max(0, Math.ceil(outgoing.openUntil - at)),
          outgoing.reopenings,
          channel,
          pid,
          outgoing.releaseLease ? 1 : 0
        ])
        .pipe(
          Effect.tap((sent) => {
            publishing = false
            if (Option.isSome(sent)) {
              lastAt = Math.max(lastAt, Number(sent.value))
              if (pending === outgoing) pending = undefined
            }
          })
        )
    })

    // listen first, then read the state as this process joins (bounded by the command budget;
    // without Redis, local): a decision published in between arrives as a message
    yield* conn.subscribe(channel, (message) => {
      const bar = message.indexOf("|")
      if (bar < 0 || message.slice(0, bar) === pid) return
      const state = fleet.decodeState(message.slice(bar + 1))
      // an opening is timed from its publication: the message arrives within one round trip
      if (state !== undefined) adopt(state, state.atMillis)
    })
    const joined = yield* syncOnce
    if (Option.isSome(joined.result)) initial = joined.result.value

    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Queue.take(publisherWake), publishPending)))
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.gen(function* () {
          yield* Effect.raceFirst(Queue.take(syncWake), Effect.sleep(settings.flushMillis))
          yield* publishPending
          const { result, startedAt } = yield* syncOnce
          if (Option.isSome(result)) onSync(result.value, startedAt)
        })
      )
    )

    const handle: CircuitBreaker.StoreHandle = {
      record: (outcome, atMillis) => local.record(outcome, atMillis),
      evidence: (atMillis) => local.evidence(atMillis),
      clear: (atMillis) => local.clear(atMillis),
      decide: (decision) => {
        local.decide(decision)
        const t = decision.transition
        if (t.to === "closed") closedAt = t.atMillis
        const open = (releaseLease: boolean) =>
          enqueue({
            kind: "open",
            openUntil: decision.openUntilMillis ?? t.atMillis,
            reopenings: decision.reopenings,
            releaseLease
          })
        switch (t.reason) {
          case "fleet":
            fleetWide = t.to !== "closed"
            if (t.to === "closed") leaseUntil = 0
            return
          case "fleet-evidence":
            fleetWide = true
            open(false)
            return
          case "consecutive-failures":
          case "failure-rate":
          case "slow-call-rate":
            // this process's own evidence: the fleet opens too when its pooled evidence and quorum say so
            fleetWide = control !== undefined && fleetOpens(control, local.evidence(t.atMillis))
            if (fleetWide) open(false)
            return
          case "probe-failed":
          case "probe-slow":
            if (fleetWide) open(true)
            leaseUntil = 0
            return
          case "success-threshold":
            if (fleetWide) enqueue({ kind: "closed", openUntil: 0, reopenings: 0, releaseLease: true })
            fleetWide = false
            leaseUntil = 0
            return
          case "open-duration-elapsed":
            return
          case "manual":
          case "reset":
            if (t.to === "forced-open") {
              fleetWide = true
              enqueue({ kind: "forced", openUntil: 0, reopenings: 0, releaseLease: false })
            } else if (t.to === "closed") {
              fleetWide = false
              leaseUntil = 0
              enqueue({ kind: "closed", openUntil: 0, reopenings: 0, releaseLease: true })
            }
            return
        }
      },
      connect: (c) => {
        control = c
        if (initial !== undefined) {
          onSync(initial, now())
          initial = undefined
        }
        if (early !== undefined) {
          adopt(early.state, early.remainingFrom)
          early = undefined
        }
      },
      probeGate: (nowMillis) => {
        if (!fleetWide || conn.degraded() || leaseUntil > nowMillis) return 0
        if (!wantLease) {
          wantLease = true
          Queue.unsafeOffer(syncWake, undefined)
        }
        return Math.max(1, Math.min(settings.flushMillis, settings.leaseMillis))
      }
    }
    return handle
  })
