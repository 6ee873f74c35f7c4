/**
 * The rate limiter store shared by a fleet on Redis: keyed token buckets and fixed windows as one
 * atomic script of our own, in integer arithmetic (micro-tokens, whole milliseconds), so that any
 * limit per window works: `@effect/experimental` 0.61.1's fixed-window script sets a TTL of
 * `window / limit` ms, which Redis refuses when it is not whole (3 per second).
 *
 * A call's admission is a `Wait` while the script answers (one round trip); under `"delay"` a call
 * that would have to wait, within `maxDelay` and its deadline, asks again when a token is due.
 * When Redis fails or is slow, the call is decided by a local limiter of the same settings, within
 * that same call, and the fallback is counted. `consume` (`tryConsume`) answers from the local
 * limiter: only the admission path is shared.
 *
 * @internal
 */
import * as RateLimiter from "@effect-resilience/core/RateLimiter"
import * as Strategy from "@effect-resilience/core/Strategy"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { Connection } from "./connection.js"
import { script } from "./connection.js"

/** The store's settings. */
export interface Settings {
  readonly keyPrefix: string
}

const STORE = "rate-limiter"

/**
 * KEYS: the key's base. ARGV: algorithm, limit, window (whole ms), tokens. Returns [1, 0,
 * remaining] when taken, [0, ms until they could be, 0] when not (nothing taken).
 */
const limitScript = script(
  `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local tokens = tonumber(ARGV[4])
if ARGV[1] == 'fixed-window' then
  local start = now - (now % window)
  local key = KEYS[1] .. ':' .. start
  local used = tonumber(redis.call('GET', key) or '0')
  if used + tokens <= limit then
    redis.call('INCRBYFLOAT', key, tokens)
    redis.call('PEXPIRE', key, window)
    return {1, 0, math.floor(limit - used - tokens)}
  end
  return {0, start + window - now, 0}
end
local scale = 1000000
local cap = limit * scale
local level = tonumber(redis.call('HGET', KEYS[1], 'level'))
local at = tonumber(redis.call('HGET', KEYS[1], 'at'))
if level == nil or at == nil then
  level = cap
  at = now
end
level = math.min(cap, level + math.floor((math.max(0, now - at) * cap) / window))
local need = tokens * scale
local taken = 0
local wait = 0
if level >= need then
  level = level - need
  taken = 1
else
  wait = math.ceil(((need - level) * window) / cap)
end
redis.call('HSET', KEYS[1], 'level', string.format('%.0f', level), 'at', now)
redis.call('PEXPIRE', KEYS[1], window * 2)
return {taken, wait, math.floor(level / scale)}`,
  1
)

const hasTag = (name: string): string => `{${name.replace(/[{}]/g, "_")}}`

/** The store service on a connection. */
export const make = (conn: Connection, settings: Settings): RateLimiter.RateLimiterStoreService => ({
  attach: (name, options) => attach(conn, settings, name, options)
})

const attach = (
  conn: Connection,
  settings: Settings,
  name: string,
  options: RateLimiter.StoreOptions
): Effect.Effect<RateLimiter.StoreHandle, never, Scope.Scope> =>
  Effect.map(RateLimiter.storeMemory.attach(name, options), (local) => {
    const base = `${settings.keyPrefix}:rl:${hasTag(name)}:`
    const window = Math.max(1, Math.ceil(options.windowMillis))

    const ask = (key: string, tokens: number) =>
      Effect.map(
        conn.eval(STORE, "limit", limitScript, [base + key, options.algorithm, options.limit, window, tokens]),
        Option.flatMap((reply) =>
          Array.isArray(reply) && reply.length === 3
            ? Option.some({ taken: Number(reply[0]) === 1, waitMillis: Number(reply[1]) })
            : Option.none()
        )
      )

    const admit = (key: string, tokens: number, _nowMillis: number): Strategy.Decision => {
      if (tokens > options.limit) return Strategy.rejected("exceeded", options.windowMillis)
      return {
        _tag: "Wait",
        start: (timers, maxWaitMillis, done) => {
          const startedAt = timers.now()
          let cancelRun: (() => void) | undefined
          let cancelTimer: (() => void) | undefined
          let cancelLocal: (() => void) | undefined
          const attempt = () => {
            cancelRun = Effect.runCallback(ask(key, tokens), {
              onExit: (exit) => {
                cancelRun = undefined
                const reply = Exit.isSuccess(exit) ? exit.value : Option.none()
                if (Option.isNone(reply)) {
                  // Redis failed or was too slow: this call is decided locally
                  const decision = local.admit(key, tokens, timers.now())
                  if (decision._tag === "Wait") cancelLocal = decision.start(timers, maxWaitMillis, done)
                  else done(decision)
                  return
                }
                if (reply.value.taken) return done(Strategy.admitted)
                const waitMillis = reply.value.waitMillis
                const waited = timers.now() - startedAt
                const allowed = Math.min(options.maxDelayMillis, maxWaitMillis ?? Number.POSITIVE_INFINITY)
                if (waited + waitMillis > allowed) return done(Strategy.rejected("exceeded", waitMillis))
                cancelTimer = timers.arm(waitMillis, () => {
                  cancelTimer = undefined
                  attempt()
                })
              }
            })
          }
          attempt()
          return () => {
            cancelRun?.()
            cancelTimer?.()
            cancelLocal?.()
          }
        }
      }
    }

    const handle: RateLimiter.StoreHandle = {
      tryConsume: local.tryConsume,
      refund: local.refund,
      admit,
      last: local.last,
      keys: local.keys,
      clear: local.clear
    }
    return handle
  })
