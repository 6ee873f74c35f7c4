/**
 * The retry budget store shared by a fleet on Redis: the AWS token bucket as one atomic script
 * (refilled by time at `refillPerSecond`, refunds added, capped at the capacity), and a local
 * allowance in each process so that a retry never waits for Redis; and the ratio budget as a
 * window of time buckets (requests and retries) changed by another script.
 *
 * - `tryWithdraw` takes from the local allowance, synchronously. Below half of it, the background
 *   fiber tops it up from the shared bucket (one script call); the fleet as a whole never spends
 *   more than the bucket held, since every token spent locally was taken from it first.
 * - Refunds (`onSuccess`) are added to the shared bucket at the next flush.
 * - When Redis fails or is slow, the process spends its allowance, then decides on a local bucket
 *   of its own (core's memory budget), as it would without Redis; the shared bucket takes over
 *   again when Redis returns. The allowance left when the scope ends is given back.
 *
 * @internal
 */
import * as RetryBudget from "@effect-resilience/core/RetryBudget"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import type { Connection } from "./connection.js"
import { script } from "./connection.js"

/** The store's settings, in numbers. */
export interface Settings {
  readonly keyPrefix: string
  readonly flushMillis: number
  /** Tokens a process holds locally (a multiple of the retry cost, say). */
  readonly allowance: number
  readonly refillPerSecond: number
  /** Retries a process holds locally in ratio mode. */
  readonly retryAllowance: number
}

const STORE = "retry-budget"

/**
 * KEYS: the bucket. ARGV: capacity, refill per ms, tokens wanted, tokens given back, TTL (ms).
 * Returns [granted, tokens left] as strings (a reply would truncate fractions).
 */
const take = script(
  `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[1])
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
local at = tonumber(redis.call('HGET', KEYS[1], 'at'))
if tokens == nil or at == nil then
  tokens = cap
  at = now
end
tokens = math.min(cap, tokens + math.max(0, now - at) * tonumber(ARGV[2]) + tonumber(ARGV[4]))
local granted = math.max(0, math.min(tonumber(ARGV[3]), tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {tostring(granted), tostring(tokens)}`,
  1
)

const hasTag = (name: string): string => `{${name.replace(/[{}]/g, "_")}}`

/** The store service on a connection. */
export const make = (conn: Connection, settings: Settings): RetryBudget.RetryBudgetStoreService => ({
  attach: (config) =>
    config.mode === "token-bucket" ? attachBucket(conn, settings, config) : attachRatio(conn, settings, config)
})

/**
 * KEYS: the window's base key. ARGV: bucket width (ms), buckets, ratio, reserve (retries per
 * window), requests to add, retries wanted. Adds the requests to the current bucket, grants up to
 * the retries wanted within `ratio * requests + reserve - retries` over the window, and counts
 * them as retries at once. Returns [granted, allowance left] as strings.
 */
const ratio = script(
  `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local width = tonumber(ARGV[1])
local buckets = tonumber(ARGV[2])
local current = math.floor(now / width)
local key = KEYS[1] .. ':' .. current
local added = tonumber(ARGV[5])
if added > 0 then
  redis.call('HINCRBY', key, 'r', added)
end
local requests = 0
local retries = 0
for i = 0, buckets - 1 do
  local values = redis.call('HMGET', KEYS[1] .. ':' .. (current - i), 'r', 't')
  requests = requests + (tonumber(values[1]) or 0)
  retries = retries + (tonumber(values[2]) or 0)
end
local allowance = tonumber(ARGV[3]) * requests + tonumber(ARGV[4]) - retries
local granted = math.max(0, math.min(tonumber(ARGV[6]), math.floor(allowance)))
if granted > 0 then
  redis.call('HINCRBY', key, 't', granted)
end
redis.call('PEXPIRE', key, width * (buckets + 1))
return {tostring(granted), tostring(allowance - granted)}`,
  1
)

const attachRatio = (
  conn: Connection,
  settings: Settings,
  config: RetryBudget.RatioConfig
): Effect.Effect<RetryBudget.StoreHandle, never, Scope.Scope> =>
  Effect.gen(function* () {
    const fallback = yield* RetryBudget.storeMemory.attach(config)
    const key = `${settings.keyPrefix}:rb:${hasTag(config.name)}:ratio`
    const windowMillis = Duration.toMillis(config.window)
    const width = Math.max(1, Math.ceil(windowMillis / config.buckets))
    const reserve = (config.minRetriesPerSecond * windowMillis) / 1000
    const target = Math.max(1, Math.floor(settings.retryAllowance))
    const clock = yield* Effect.clock

    let grants = 0
    /** Local time of the last grant: a grant is spent within one bucket, or dropped (its retry left the window). */
    let grantedAt = 0
    let requests = 0
    let fleetLeft = 0
    const wake = yield* Queue.sliding<void>(1)

    const exchange = Effect.suspend(() => {
      const now = clock.unsafeCurrentTimeMillis()
      if (grants > 0 && now - grantedAt >= width) grants = 0
      const want = Math.max(0, target - grants)
      const added = requests
      requests = 0
      return Effect.map(
        conn.eval(STORE, "ratio", ratio, [key, width, config.buckets, config.ratio, reserve, added, want]),
        (reply) => {
          const parsed = Option.flatMap(reply, (r) =>
            Array.isArray(r) && r.length === 2
              ? Option.some({ granted: Number(r[0]), left: Number(r[1]) })
              : Option.none()
          )
          if (Option.isNone(parsed)) {
            requests += added
            return
          }
          if (parsed.value.granted > 0) {
            grants += parsed.value.granted
            grantedAt = now
          }
          fleetLeft = Math.max(0, parsed.value.left)
        }
      )
    })

    yield* exchange
    yield* Effect.forkScoped(
      Effect.forever(Effect.zipRight(Effect.raceFirst(Queue.take(wake), Effect.sleep(settings.flushMillis)), exchange))
    )

    const handle: RetryBudget.StoreHandle = {
      onRequest: (nowMillis) => {
        requests++
        fallback.onRequest(nowMillis)
      },
      costOf: fallback.costOf,
      tryWithdraw: (classification, nowMillis) => {
        if (grants > 0 && nowMillis - grantedAt < width) {
          grants--
          if (grants < target / 2) Queue.unsafeOffer(wake, undefined)
          return true
        }
        Queue.unsafeOffer(wake, undefined)
        return conn.degraded() ? fallback.tryWithdraw(classification, nowMillis) : false
      },
      onSuccess: fallback.onSuccess,
      available: () => grants + Math.floor(fleetLeft),
      reset: () => {
        grants = 0
        fallback.reset()
      }
    }
    return handle
  })
const attachBucket = (
  conn: Connection,
  settings: Settings,
  config: RetryBudget.TokenBucketConfig
): Effect.Effect<RetryBudget.StoreHandle, never, Scope.Scope> =>
  Effect.gen(function* () {
    const fallback = yield* RetryBudget.storeMemory.attach(config)
    const key = `${settings.keyPrefix}:rb:${hasTag(config.name)}`
    const capacity = config.capacity
    const allowance = Math.min(settings.allowance, capacity)
    const refillPerMs = settings.refillPerSecond / 1000
    // twice the time to refill from empty, at least a minute: an idle bucket is full anyway
    const ttl = Math.max(60_000, refillPerMs > 0 ? Math.ceil((2 * capacity) / refillPerMs) : 86_400_000)

    let local = 0
    let refunds = 0
    let shared = capacity
    let synced = false
    const wake = yield* Queue.sliding<void>(1)

    const exchange = (want: number, giveBack: number) =>
      Effect.map(
        conn.eval(STORE, "take", take, [key, capacity, refillPerMs, want, giveBack, ttl]),
        Option.flatMap((reply) =>
          Array.isArray(reply) && reply.length === 2
            ? Option.some({ granted: Number(reply[0]), left: Number(reply[1]) })
            : Option.none()
        )
      )

    const topUp = Effect.suspend(() => {
      const want = Math.max(0, allowance - local)
      const giveBack = refunds
      if (want === 0 && giveBack === 0 && synced) return Effect.void
      refunds = 0
      return Effect.map(exchange(want, giveBack), (reply) => {
        if (Option.isNone(reply)) {
          // the refunds are not lost: they go with the next exchange
          refunds += giveBack
          return
        }
        synced = true
        local += reply.value.granted
        shared = reply.value.left
      })
    })

    yield* topUp
    yield* Effect.forkScoped(
      Effect.forever(Effect.zipRight(Effect.raceFirst(Queue.take(wake), Effect.sleep(settings.flushMillis)), topUp))
    )
    // the allowance left goes back to the fleet
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const back = local + refunds
        local = 0
        refunds = 0
        return back > 0 ? Effect.asVoid(exchange(0, back)) : Effect.void
      })
    )

    const handle: RetryBudget.StoreHandle = {
      onRequest: () => {},
      costOf: fallback.costOf,
      tryWithdraw: (classification, nowMillis) => {
        const cost = fallback.costOf(classification)
        if (local >= cost) {
          local -= cost
          if (local < allowance / 2) Queue.unsafeOffer(wake, undefined)
          return true
        }
        Queue.unsafeOffer(wake, undefined)
        // without Redis, the process decides on a bucket of its own
        return conn.degraded() ? fallback.tryWithdraw(classification, nowMillis) : false
      },
      onSuccess: (firstTry, lastRetry) => {
        const refund = firstTry
          ? config.successRefund
          : config.refundRetryCostOnSuccess && lastRetry !== undefined
            ? fallback.costOf(lastRetry)
            : 0
        refunds += refund
        fallback.onSuccess(firstTry, lastRetry)
      },
      available: () => local + shared,
      reset: () => {
        local = 0
        refunds = capacity
        fallback.reset()
        Queue.unsafeOffer(wake, undefined)
      }
    }
    return handle
  })
