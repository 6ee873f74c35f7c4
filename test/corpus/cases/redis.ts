/** Failures of ioredis against the run's own redis-server (and its replica). */
import { Redis, type RedisOptions } from "ioredis"
import { type Case, L, later, rejection } from "../case.js"
import type { Env } from "../env.js"
import { markers } from "../env.js"

const connect = async (port: number, options: RedisOptions = {}) => {
  const redis = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0, ...options })
  redis.on("error", () => {})
  await redis.connect()
  return redis
}

/** Runs `f` on a fresh connection to the primary, then disconnects. */
const withRedis = (env: Env, f: (redis: Redis) => Promise<unknown>, options: RedisOptions = {}) =>
  rejection(async () => {
    const redis = await connect(env.redisPort, options)
    try {
      return await f(redis)
    } finally {
      redis.disconnect()
    }
  })

let keys = 0
const key = (prefix: string) => `corpus:${prefix}:${++keys}`

export const redisCases: ReadonlyArray<Case> = [
  {
    name: "connect to a closed port with a password in the URL (ECONNREFUSED)",
    library: "ioredis",
    expected: L.network,
    provoke: (env) =>
      rejection(async () => {
        const redis = new Redis(`redis://:${markers.password}@127.0.0.1:${env.closedPort}/0`, {
          lazyConnect: true,
          retryStrategy: () => null
        })
        // The connection error arrives as an `error` event (connect() itself rejects with a generic
        // "Connection is closed." once the retry strategy gives up).
        const error = new Promise((_, reject) => redis.once("error", reject))
        redis.connect().catch(() => {})
        try {
          return await error
        } finally {
          redis.disconnect()
        }
      })
  },
  {
    name: "connection killed by the server (Connection is closed.)",
    library: "ioredis",
    expected: L.network,
    provoke: (env) =>
      rejection(async () => {
        const victim = await connect(env.redisPort, { retryStrategy: () => null })
        const admin = await connect(env.redisPort)
        try {
          const id = await victim.client("ID")
          const blocked = later(victim.blpop(key("blocked"), 5))
          await new Promise((r) => setTimeout(r, 30))
          await admin.client("KILL", "ID", String(id))
          return await blocked
        } finally {
          victim.disconnect()
          admin.disconnect()
        }
      })
  },
  {
    name: "command timeout (Command timed out)",
    library: "ioredis",
    expected: L.timeout,
    provoke: (env) => withRedis(env, (redis) => redis.blpop(key("slow"), 2), { commandTimeout: 50 })
  },
  {
    name: "offline queue disabled, not connected (Stream isn't writeable)",
    library: "ioredis",
    expected: L.unavailable,
    provoke: (env) =>
      rejection(async () => {
        const redis = new Redis({
          host: "127.0.0.1",
          port: env.redisPort,
          lazyConnect: true,
          enableOfflineQueue: false
        })
        redis.on("error", () => {})
        try {
          return await redis.get(key("offline"))
        } finally {
          redis.disconnect()
        }
      })
  },
  {
    name: "max retries per request while the server is unreachable (MaxRetriesPerRequestError)",
    library: "ioredis",
    expected: L.unavailable,
    provoke: (env) =>
      rejection(async () => {
        const redis = new Redis({
          host: "127.0.0.1",
          port: env.closedPort,
          maxRetriesPerRequest: 1,
          retryStrategy: () => 5
        })
        redis.on("error", () => {})
        try {
          return await redis.get(key("unreachable"))
        } finally {
          redis.disconnect()
        }
      })
  },
  {
    name: "WRONGTYPE",
    library: "ioredis",
    expected: L.client,
    provoke: (env) =>
      withRedis(env, async (redis) => {
        const k = key("wrongtype")
        await redis.set(k, "string")
        return redis.lpush(k, "x")
      })
  },
  {
    name: "NOSCRIPT (EVALSHA of an unknown script)",
    library: "ioredis",
    expected: L.client,
    provoke: (env) => withRedis(env, (redis) => redis.evalsha("0".repeat(40), 0))
  },
  {
    name: "ERR unknown command",
    library: "ioredis",
    expected: L.client,
    provoke: (env) => withRedis(env, (redis) => redis.call("NOSUCHCOMMAND", markers.payload))
  },
  {
    name: "ERR value is not an integer (INCR of a string)",
    library: "ioredis",
    expected: L.client,
    provoke: (env) =>
      withRedis(env, async (redis) => {
        const k = key("notint")
        await redis.set(k, markers.payload)
        return redis.incr(k)
      })
  },
  {
    name: "ERR wrong number of arguments",
    library: "ioredis",
    expected: L.client,
    provoke: (env) => withRedis(env, (redis) => redis.call("GET"))
  },
  {
    name: "EXECABORT (MULTI with an invalid command)",
    library: "ioredis",
    expected: L.client,
    provoke: (env) =>
      withRedis(env, (redis) => {
        const multi = redis.multi()
        multi.set(key("tx"), "1")
        multi.call("NOSUCHCOMMAND")
        return multi.exec()
      })
  },
  {
    name: "OOM (maxmemory 1 byte, noeviction)",
    library: "ioredis",
    expected: L.resource,
    provoke: (env) =>
      withRedis(env, async (redis) => {
        await redis.config("SET", "maxmemory-policy", "noeviction")
        await redis.config("SET", "maxmemory", "1")
        try {
          return await redis.set(key("oom"), "x".repeat(1000))
        } finally {
          await redis.config("SET", "maxmemory", "0")
        }
      })
  },
  {
    name: "READONLY (write to a replica)",
    library: "ioredis",
    expected: L.unavailable,
    provoke: (env) =>
      rejection(async () => {
        const replica = await connect(env.redisReplicaPort)
        try {
          return await replica.set(key("replica"), "x")
        } finally {
          replica.disconnect()
        }
      })
  },
  {
    name: "WRONGPASS (AUTH of an ACL user with a wrong password)",
    library: "ioredis",
    expected: L.authentication,
    provoke: (env) =>
      withRedis(env, async (redis) => {
        await redis.call("ACL", "SETUSER", "corpus", "on", ">right-password", "~*", "+get")
        return redis.call("AUTH", "corpus", markers.password)
      })
  },
  {
    name: "NOPERM (an ACL user runs a command it may not)",
    library: "ioredis",
    expected: L.authorization,
    provoke: (env) =>
      withRedis(env, async (redis) => {
        await redis.call("ACL", "SETUSER", "corpus", "on", ">right-password", "~*", "+get", "+auth")
        await redis.call("AUTH", "corpus", "right-password")
        return redis.set(key("noperm"), "x")
      })
  },
  {
    name: "BUSY (a script runs past busy-reply-threshold)",
    library: "ioredis",
    expected: L.unavailable,
    provoke: (env) =>
      rejection(async () => {
        const runner = await connect(env.redisPort)
        const other = await connect(env.redisPort)
        try {
          await other.config("SET", "busy-reply-threshold", "20")
          const script = later(
            runner.eval(
              "local t = redis.call('TIME') local s = tonumber(t[1]) * 1000000 + tonumber(t[2]) " +
                "repeat local n = redis.call('TIME') until tonumber(n[1]) * 1000000 + tonumber(n[2]) - s > 300000 return 1",
              0
            )
          )
          await new Promise((r) => setTimeout(r, 80))
          try {
            return await other.get(key("busy"))
          } finally {
            await script.catch(() => {})
          }
        } finally {
          await other.config("SET", "busy-reply-threshold", "5000").catch(() => {})
          runner.disconnect()
          other.disconnect()
        }
      })
  }
]
