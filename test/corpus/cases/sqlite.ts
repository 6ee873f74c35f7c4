/** Failures of better-sqlite3 on files in the run's temp dir. */
import Database from "better-sqlite3"
import { closeSync, openSync, writeFileSync, writeSync } from "node:fs"
import { join } from "node:path"
import { type Case, L, thrown } from "../case.js"
import type { Env } from "../env.js"
import { markers } from "../env.js"

let files = 0
const file = (env: Env, name: string) => join(env.dir, `${name}-${++files}.db`)

/** Opens a fresh database, runs `setup`, then returns what `failing` throws. */
const onDb = (env: Env, setup: ReadonlyArray<string>, failing: (db: Database.Database) => unknown) => {
  const db = new Database(file(env, "case"))
  try {
    for (const statement of setup) db.exec(statement)
    return thrown(() => failing(db))
  } finally {
    db.close()
  }
}

export const sqliteCases: ReadonlyArray<Case> = [
  {
    name: "SQLITE_BUSY (a second connection writes while the first holds the write lock, timeout 0)",
    library: "better-sqlite3",
    expected: L.concurrency,
    provoke: async (env) => {
      const path = file(env, "busy")
      const a = new Database(path)
      const b = new Database(path, { timeout: 0 })
      try {
        a.exec("CREATE TABLE t (v int)")
        a.exec("BEGIN IMMEDIATE")
        return thrown(() => b.exec("INSERT INTO t VALUES (1)"))
      } finally {
        a.close()
        b.close()
      }
    }
  },
  {
    name: "SQLITE_CONSTRAINT_UNIQUE",
    library: "better-sqlite3",
    expected: L.integrity,
    provoke: async (env) =>
      onDb(env, ["CREATE TABLE t (v text UNIQUE)", `INSERT INTO t VALUES ('${markers.payload}')`], (db) =>
        db.prepare("INSERT INTO t VALUES (?)").run(markers.payload)
      )
  },
  {
    name: "SQLITE_CONSTRAINT_PRIMARYKEY",
    library: "better-sqlite3",
    expected: L.integrity,
    provoke: async (env) =>
      onDb(env, ["CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1)"], (db) =>
        db.prepare("INSERT INTO t VALUES (?)").run(1)
      )
  },
  {
    name: "SQLITE_CONSTRAINT_NOTNULL",
    library: "better-sqlite3",
    expected: L.integrity,
    provoke: async (env) =>
      onDb(env, ["CREATE TABLE t (v text NOT NULL)"], (db) => db.prepare("INSERT INTO t VALUES (?)").run(null))
  },
  {
    name: "SQLITE_CONSTRAINT_FOREIGNKEY",
    library: "better-sqlite3",
    expected: L.integrity,
    provoke: async (env) =>
      onDb(
        env,
        ["PRAGMA foreign_keys = ON", "CREATE TABLE p (id int PRIMARY KEY)", "CREATE TABLE c (p int REFERENCES p(id))"],
        (db) => db.prepare("INSERT INTO c VALUES (?)").run(42)
      )
  },
  {
    name: "SQLITE_CONSTRAINT_CHECK",
    library: "better-sqlite3",
    expected: L.integrity,
    provoke: async (env) =>
      onDb(env, ["CREATE TABLE t (v int CHECK (v > 0))"], (db) => db.prepare("INSERT INTO t VALUES (?)").run(-1))
  },
  {
    name: "SQLITE_CONSTRAINT_TRIGGER (RAISE(ABORT) in a trigger)",
    library: "better-sqlite3",
    expected: L.integrity,
    provoke: async (env) =>
      onDb(
        env,
        [
          "CREATE TABLE t (v int)",
          "CREATE TRIGGER no_negative BEFORE INSERT ON t WHEN NEW.v < 0 BEGIN SELECT RAISE(ABORT, 'negative amounts are refused'); END"
        ],
        (db) => db.prepare("INSERT INTO t VALUES (?)").run(-5)
      )
  },
  {
    name: "SQLITE_MISMATCH (text into an INTEGER PRIMARY KEY)",
    library: "better-sqlite3",
    expected: L.validation,
    provoke: async (env) =>
      onDb(env, ["CREATE TABLE t (id INTEGER PRIMARY KEY)"], (db) =>
        db.prepare("INSERT INTO t VALUES (?)").run(markers.payload)
      )
  },
  {
    name: "SQLITE_ERROR syntax error",
    library: "better-sqlite3",
    expected: L.client,
    provoke: async (env) => onDb(env, [], (db) => db.prepare("SELEC 1"))
  },
  {
    name: "SQLITE_ERROR no such table",
    library: "better-sqlite3",
    expected: L.configuration,
    provoke: async (env) => onDb(env, [], (db) => db.prepare("SELECT * FROM no_such_table"))
  },
  {
    name: "SQLITE_ERROR no such column",
    library: "better-sqlite3",
    expected: L.configuration,
    provoke: async (env) => onDb(env, ["CREATE TABLE t (v int)"], (db) => db.prepare("SELECT nope FROM t"))
  },
  {
    name: "SQLITE_CANTOPEN (a directory as the database file)",
    library: "better-sqlite3",
    expected: L.configuration,
    provoke: async (env) => thrown(() => new Database(env.dir))
  },
  {
    name: "missing directory of the database file (TypeError from better-sqlite3)",
    library: "better-sqlite3",
    expected: L.configuration,
    provoke: async (env) => thrown(() => new Database(join(env.dir, "no-such-dir", "x.db")))
  },
  {
    name: "SQLITE_NOTADB (a file of garbage)",
    library: "better-sqlite3",
    expected: L.integrity,
    provoke: async (env) => {
      const path = file(env, "garbage")
      writeFileSync(path, `this is not a database ${markers.payload} ${"z".repeat(4096)}`)
      return thrown(() => {
        const db = new Database(path)
        try {
          return db.prepare("SELECT * FROM sqlite_master").all()
        } finally {
          db.close()
        }
      })
    }
  },
  {
    name: "SQLITE_CORRUPT (garbage written over a table's pages)",
    library: "better-sqlite3",
    expected: L.corruption,
    provoke: async (env) => {
      const path = file(env, "corrupt")
      const setup = new Database(path)
      setup.exec("CREATE TABLE t (v text)")
      const insert = setup.prepare("INSERT INTO t VALUES (?)")
      setup.transaction(() => {
        for (let i = 0; i < 200; i++) insert.run("row ".repeat(50))
      })()
      setup.close()
      const fd = openSync(path, "r+")
      writeSync(fd, Buffer.alloc(4096 * 3, 0xa5), 0, 4096 * 3, 4096)
      closeSync(fd)
      return thrown(() => {
        const db = new Database(path)
        try {
          return db.prepare("SELECT count(*), max(length(v)) FROM t").all()
        } finally {
          db.close()
        }
      })
    }
  },
  {
    name: "SQLITE_READONLY (write through a read-only connection)",
    library: "better-sqlite3",
    expected: L.configuration,
    provoke: async (env) => {
      const path = file(env, "readonly")
      new Database(path).exec("CREATE TABLE t (v int)")
      const db = new Database(path, { readonly: true })
      try {
        return thrown(() => db.exec("INSERT INTO t VALUES (1)"))
      } finally {
        db.close()
      }
    }
  },
  {
    name: "SQLITE_FULL (PRAGMA max_page_count reached)",
    library: "better-sqlite3",
    expected: L.localResourceFinal,
    provoke: async (env) =>
      onDb(env, ["CREATE TABLE t (v blob)"], (db) => {
        db.pragma(`max_page_count = ${db.pragma("page_count", { simple: true }) as number}`)
        const insert = db.prepare("INSERT INTO t VALUES (?)")
        for (let i = 0; i < 100; i++) insert.run(Buffer.alloc(8192))
      })
  },
  {
    name: "too many parameters (RangeError from better-sqlite3)",
    library: "better-sqlite3",
    expected: L.defect,
    provoke: async (env) =>
      onDb(env, ["CREATE TABLE t (v int)"], (db) => db.prepare("INSERT INTO t VALUES (?)").run(1, 2))
  },
  {
    name: "statement on a closed database (TypeError: The database connection is not open)",
    library: "better-sqlite3",
    expected: L.defect,
    provoke: async (env) => {
      const db = new Database(file(env, "closed"))
      db.close()
      return thrown(() => db.prepare("SELECT 1"))
    }
  }
]
