/** Failures of pg and pg-pool (`pg.Pool` is pg-pool) against the local PostgreSQL. */
import * as net from "node:net"
import pg from "pg"
import { type Case, L, later, rejection } from "../case.js"
import type { Env } from "../env.js"
import { markers } from "../env.js"

const config = (env: Env): pg.ClientConfig => ({
  host: env.pg.host,
  port: env.pg.port,
  database: env.pg.database,
  user: env.pg.user
})

/** Runs `setup` then `failing` on one connection (search_path: the run's schema). */
const onClient = (
  env: Env,
  failing: string,
  setup: ReadonlyArray<string> = [],
  options: pg.ClientConfig = {},
  values?: ReadonlyArray<unknown>
) =>
  rejection(async () => {
    const client = new pg.Client({ ...config(env), ...options })
    await client.connect()
    try {
      await client.query(`SET search_path TO ${env.pg.schema}`)
      for (const statement of setup) await client.query(statement)
      return await client.query(failing, values === undefined ? undefined : [...values])
    } finally {
      await client.end().catch(() => {})
    }
  })

let tables = 0
/** A fresh table name in the run's schema. */
const table = (prefix: string) => `${prefix}_${++tables}`

const connected = async (env: Env, options: pg.ClientConfig = {}) => {
  const client = new pg.Client({ ...config(env), ...options })
  client.on("error", () => {})
  await client.connect()
  await client.query(`SET search_path TO ${env.pg.schema}`)
  return client
}

/** Two transactions that read and write each other's rows: one fails to serialize, or deadlocks. */
const twoTransactions = (env: Env, kind: "serialization" | "deadlock") =>
  rejection(async () => {
    const t = table(kind)
    const a = await connected(env)
    const b = await connected(env)
    try {
      await a.query(`CREATE TABLE ${t} (id int PRIMARY KEY, v int)`)
      await a.query(`INSERT INTO ${t} VALUES (1, 0), (2, 0)`)
      if (kind === "serialization") {
        await a.query("BEGIN ISOLATION LEVEL SERIALIZABLE")
        await b.query("BEGIN ISOLATION LEVEL SERIALIZABLE")
        await a.query(`SELECT sum(v) FROM ${t}`)
        await b.query(`SELECT sum(v) FROM ${t}`)
        await a.query(`UPDATE ${t} SET v = 1 WHERE id = 1`)
        await b.query(`UPDATE ${t} SET v = 1 WHERE id = 2`)
        await a.query("COMMIT")
        return await b.query("COMMIT")
      }
      await a.query("SET deadlock_timeout = '20ms'")
      await b.query("SET deadlock_timeout = '20ms'")
      await a.query("BEGIN")
      await b.query("BEGIN")
      await a.query(`UPDATE ${t} SET v = 1 WHERE id = 1`)
      await b.query(`UPDATE ${t} SET v = 1 WHERE id = 2`)
      const first = a.query(`UPDATE ${t} SET v = 2 WHERE id = 2`)
      const second = b.query(`UPDATE ${t} SET v = 2 WHERE id = 1`)
      const [ra, rb] = await Promise.allSettled([first, second])
      if (ra.status === "rejected") throw ra.reason
      if (rb.status === "rejected") throw rb.reason
      return "no deadlock"
    } finally {
      await a.end().catch(() => {})
      await b.end().catch(() => {})
    }
  })

/** A query running on one connection while another connection terminates its backend. */
const terminated = (env: Env, during: "query" | "idle") =>
  rejection(async () => {
    const victim = await connected(env)
    const admin = await connected(env)
    try {
      const pid = (await victim.query("SELECT pg_backend_pid() AS pid")).rows[0].pid
      if (during === "query") {
        const running = later(victim.query("SELECT pg_sleep(5)"))
        await new Promise((r) => setTimeout(r, 50))
        await admin.query("SELECT pg_terminate_backend($1)", [pid])
        return await running
      }
      await admin.query("SELECT pg_terminate_backend($1)", [pid])
      await new Promise((r) => setTimeout(r, 50))
      return await victim.query("SELECT 1")
    } finally {
      await victim.end().catch(() => {})
      await admin.end().catch(() => {})
    }
  })

export const pgCases: ReadonlyArray<Case> = [
  {
    name: "unique violation (23505)",
    library: "pg",
    expected: L.integrity,
    provoke: (env) => {
      const t = table("uniq")
      return onClient(env, `INSERT INTO ${t} VALUES (1)`, [
        `CREATE TABLE ${t} (id int PRIMARY KEY)`,
        `INSERT INTO ${t} VALUES (1)`
      ])
    }
  },
  {
    name: "foreign key violation (23503)",
    library: "pg",
    expected: L.integrity,
    provoke: (env) => {
      const p = table("parent")
      const c = table("child")
      return onClient(env, `INSERT INTO ${c} VALUES (1, 42)`, [
        `CREATE TABLE ${p} (id int PRIMARY KEY)`,
        `CREATE TABLE ${c} (id int PRIMARY KEY, parent int REFERENCES ${p}(id))`
      ])
    }
  },
  {
    name: "not-null violation (23502)",
    library: "pg",
    expected: L.integrity,
    provoke: (env) => {
      const t = table("notnull")
      return onClient(env, `INSERT INTO ${t} VALUES (NULL)`, [`CREATE TABLE ${t} (v text NOT NULL)`])
    }
  },
  {
    name: "check violation (23514)",
    library: "pg",
    expected: L.integrity,
    provoke: (env) => {
      const t = table("check")
      return onClient(env, `INSERT INTO ${t} VALUES (-1)`, [`CREATE TABLE ${t} (v int CHECK (v > 0))`])
    }
  },
  {
    name: "invalid text representation, with the payload in the message (22P02)",
    library: "pg",
    expected: L.validation,
    provoke: (env) => onClient(env, `SELECT '${markers.payload}'::int`)
  },
  {
    name: "division by zero (22012)",
    library: "pg",
    expected: L.validation,
    provoke: (env) => onClient(env, "SELECT 1 / 0")
  },
  {
    name: "value too long for the column (22001)",
    library: "pg",
    expected: L.validation,
    provoke: (env) => {
      const t = table("short")
      return onClient(env, `INSERT INTO ${t} VALUES ('${markers.payload}')`, [`CREATE TABLE ${t} (v varchar(3))`])
    }
  },
  {
    name: "undefined table (42P01)",
    library: "pg",
    expected: L.configuration,
    provoke: (env) => onClient(env, "SELECT * FROM no_such_table_here")
  },
  {
    name: "undefined column (42703)",
    library: "pg",
    expected: L.configuration,
    provoke: (env) => onClient(env, "SELECT no_such_column FROM pg_class")
  },
  {
    name: "undefined function (42883)",
    library: "pg",
    expected: L.configuration,
    provoke: (env) => onClient(env, "SELECT no_such_function(1)")
  },
  {
    name: "syntax error (42601)",
    library: "pg",
    expected: L.client,
    provoke: (env) => onClient(env, "SELEC 1")
  },
  {
    name: "insufficient privilege (42501)",
    library: "pg",
    expected: L.authorization,
    provoke: (env) =>
      rejection(async () => {
        const t = table("private")
        const owner = await connected(env)
        await owner.query(`CREATE TABLE ${t} (v int)`)
        await owner.end()
        const client = new pg.Client({ ...config(env), user: env.pg.limitedRole })
        await client.connect()
        try {
          return await client.query(`SELECT * FROM ${env.pg.schema}.${t}`)
        } finally {
          await client.end()
        }
      })
  },
  {
    name: "serialization failure (40001)",
    library: "pg",
    expected: L.concurrency,
    provoke: (env) => twoTransactions(env, "serialization")
  },
  {
    name: "deadlock detected (40P01)",
    library: "pg",
    expected: L.concurrency,
    provoke: (env) => twoTransactions(env, "deadlock")
  },
  {
    name: "lock timeout (55P03)",
    library: "pg",
    expected: L.concurrency,
    provoke: (env) =>
      rejection(async () => {
        const t = table("locked")
        const a = await connected(env)
        const b = await connected(env)
        try {
          await a.query(`CREATE TABLE ${t} (id int PRIMARY KEY)`)
          await a.query(`INSERT INTO ${t} VALUES (1)`)
          await a.query("BEGIN")
          await a.query(`SELECT * FROM ${t} WHERE id = 1 FOR UPDATE`)
          await b.query("SET lock_timeout = '30ms'")
          return await b.query(`SELECT * FROM ${t} WHERE id = 1 FOR UPDATE`)
        } finally {
          await a.end().catch(() => {})
          await b.end().catch(() => {})
        }
      })
  },
  {
    name: "statement timeout (57014)",
    library: "pg",
    expected: L.timeout,
    provoke: (env) => onClient(env, "SELECT pg_sleep(2)", ["SET statement_timeout = '40ms'"])
  },
  {
    name: "query cancelled by pg_cancel_backend (57014)",
    library: "pg",
    expected: L.timeout,
    provoke: (env) =>
      rejection(async () => {
        const victim = await connected(env)
        const admin = await connected(env)
        try {
          const pid = (await victim.query("SELECT pg_backend_pid() AS pid")).rows[0].pid
          const running = later(victim.query("SELECT pg_sleep(5)"))
          await new Promise((r) => setTimeout(r, 50))
          await admin.query("SELECT pg_cancel_backend($1)", [pid])
          return await running
        } finally {
          await victim.end().catch(() => {})
          await admin.end().catch(() => {})
        }
      })
  },
  {
    name: "too many connections for a role (53300)",
    library: "pg",
    expected: L.resource,
    provoke: (env) =>
      rejection(async () => {
        const first = new pg.Client({ ...config(env), user: env.pg.limitedRole })
        await first.connect()
        try {
          const second = new pg.Client({ ...config(env), user: env.pg.limitedRole })
          return await second.connect()
        } finally {
          await first.end()
        }
      })
  },
  {
    name: "more bind values than parameters (08P01 protocol violation)",
    library: "pg",
    expected: L.client,
    provoke: (env) => onClient(env, "SELECT $1::int", [], {}, [1, 2])
  },
  {
    name: "a parameter without a value (42P02 undefined parameter)",
    library: "pg",
    expected: L.client,
    provoke: (env) => onClient(env, "SELECT $1::int")
  },
  {
    name: "read-only transaction (25006)",
    library: "pg",
    expected: L.unavailable,
    provoke: (env) => {
      const t = table("ro")
      return onClient(env, `INSERT INTO ${t} VALUES (1)`, [
        `CREATE TABLE ${t} (v int)`,
        "BEGIN",
        "SET TRANSACTION READ ONLY"
      ])
    }
  },
  {
    name: "in failed transaction (25P02)",
    library: "pg",
    expected: L.client,
    provoke: (env) =>
      rejection(async () => {
        const client = await connected(env)
        try {
          await client.query("BEGIN")
          await client.query("SELECT 1 / 0").catch(() => {})
          return await client.query("SELECT 1")
        } finally {
          await client.end()
        }
      })
  },
  {
    name: "raise exception in PL/pgSQL (P0001)",
    library: "pg",
    expected: L.business,
    provoke: (env) => onClient(env, "DO $$ BEGIN RAISE EXCEPTION 'insufficient funds'; END $$")
  },
  {
    name: "database does not exist (3D000)",
    library: "pg",
    expected: L.configuration,
    provoke: (env) => onClient(env, "SELECT 1", [], { database: "corpus_no_such_database" })
  },
  {
    name: "role does not exist (28000)",
    library: "pg",
    expected: L.authentication,
    provoke: (env) => onClient(env, "SELECT 1", [], { user: "corpus_no_such_role" })
  },
  {
    name: "backend terminated during a query (57P01 admin shutdown)",
    library: "pg",
    expected: L.unavailable,
    provoke: (env) => terminated(env, "query")
  },
  {
    name: "query after the backend was terminated (Client has encountered a connection error)",
    library: "pg",
    expected: L.network,
    provoke: (env) => terminated(env, "idle")
  },
  {
    name: "a proxy in between drops the connection mid-query (Connection terminated unexpectedly)",
    library: "pg",
    expected: L.network,
    provoke: (env) =>
      rejection(async () => {
        const sockets: Array<net.Socket> = []
        const proxy = net.createServer((inbound) => {
          const outbound = net.connect(env.pg.port, env.pg.host)
          sockets.push(inbound, outbound)
          inbound.on("error", () => {})
          outbound.on("error", () => {})
          inbound.pipe(outbound).pipe(inbound)
        })
        await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve))
        const address = proxy.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        const client = new pg.Client({ ...config(env), host: "127.0.0.1", port })
        client.on("error", () => {})
        try {
          await client.connect()
          const running = later(client.query("SELECT pg_sleep(5)"))
          await new Promise((r) => setTimeout(r, 30))
          for (const s of sockets) s.destroy()
          return await running
        } finally {
          await client.end().catch(() => {})
          await new Promise((resolve) => proxy.close(resolve))
        }
      })
  },
  {
    name: "connect to a wrong port with a password in the URL (ECONNREFUSED)",
    library: "pg",
    expected: L.network,
    provoke: (env) =>
      rejection(async () => {
        const client = new pg.Client({
          connectionString: `postgres://postgres:${markers.password}@127.0.0.1:${env.closedPort}/postgres`
        })
        return client.connect()
      })
  },
  {
    name: "connect to a server that never answers (timeout expired, connectionTimeoutMillis)",
    library: "pg",
    expected: L.timeout,
    provoke: (env) =>
      rejection(async () => {
        const client = new pg.Client({ host: "127.0.0.1", port: env.hangPort, connectionTimeoutMillis: 60 })
        return client.connect()
      })
  },
  {
    name: "query_timeout (Query read timeout)",
    library: "pg",
    expected: L.timeout,
    provoke: (env) => onClient(env, "SELECT pg_sleep(2)", [], { query_timeout: 60 })
  },
  {
    name: "query on a client that was ended (Client was closed and is not queryable)",
    library: "pg",
    expected: L.defect,
    provoke: (env) =>
      rejection(async () => {
        const client = await connected(env)
        await client.end()
        return client.query("SELECT 1")
      })
  }
]

export const pgPoolCases: ReadonlyArray<Case> = [
  {
    name: "timeout exceeded when trying to connect (pool exhausted)",
    library: "pg-pool",
    expected: L.timeout,
    provoke: (env) =>
      rejection(async () => {
        const pool = new pg.Pool({ ...config(env), max: 1, connectionTimeoutMillis: 300 })
        const held = await pool.connect()
        try {
          return await pool.connect()
        } finally {
          held.release()
          await pool.end()
        }
      })
  },
  {
    name: "pool.query to a server that never answers (Connection terminated due to connection timeout)",
    library: "pg-pool",
    expected: L.timeout,
    provoke: (env) =>
      rejection(async () => {
        const pool = new pg.Pool({ host: "127.0.0.1", port: env.hangPort, connectionTimeoutMillis: 60 })
        try {
          return await pool.query("SELECT 1")
        } finally {
          await pool.end().catch(() => {})
        }
      })
  },
  {
    name: "pool.query unique violation (23505)",
    library: "pg-pool",
    expected: L.integrity,
    provoke: (env) =>
      rejection(async () => {
        const t = table("pooluniq")
        const pool = new pg.Pool({ ...config(env), max: 1 })
        try {
          await pool.query(`CREATE TABLE ${env.pg.schema}.${t} (id int PRIMARY KEY)`)
          await pool.query(`INSERT INTO ${env.pg.schema}.${t} VALUES (1)`)
          return await pool.query(`INSERT INTO ${env.pg.schema}.${t} VALUES (1)`)
        } finally {
          await pool.end()
        }
      })
  },
  {
    name: "pool.query to a closed port (ECONNREFUSED)",
    library: "pg-pool",
    expected: L.network,
    provoke: (env) =>
      rejection(async () => {
        const pool = new pg.Pool({ host: "127.0.0.1", port: env.closedPort, password: markers.password })
        try {
          return await pool.query("SELECT 1")
        } finally {
          await pool.end().catch(() => {})
        }
      })
  }
]
