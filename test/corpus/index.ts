/**
 * The live corpus of real failures: every case, grouped by library, and the servers they need.
 * The corpus test, the leak test and `pnpm bench classify` all read this list.
 */
import type { Case } from "./case.js"
import { platformCases, effectCases, sqlCases } from "./cases/effect.js"
import { grpcCases } from "./cases/grpc.js"
import { fetchCases, undiciCases } from "./cases/http.js"
import {
  childProcessCases,
  defectCases,
  dnsCases,
  fsCases,
  httpCases,
  jsonCases,
  netCases,
  tlsCases,
  zlibCases
} from "./cases/node.js"
import { pgCases, pgPoolCases } from "./cases/pg.js"
import { redisCases } from "./cases/redis.js"
import { sqliteCases } from "./cases/sqlite.js"

export type { Case, Expected, Library } from "./case.js"
export { type Env, markers, start } from "./env.js"

export const cases: ReadonlyArray<Case> = [
  ...fsCases,
  ...netCases,
  ...httpCases,
  ...tlsCases,
  ...dnsCases,
  ...childProcessCases,
  ...zlibCases,
  ...jsonCases,
  ...fetchCases,
  ...undiciCases,
  ...pgCases,
  ...pgPoolCases,
  ...redisCases,
  ...sqliteCases,
  ...grpcCases,
  ...platformCases,
  ...sqlCases,
  ...effectCases,
  ...defectCases
]

/** What one provocation gave: the raw value, or why the case itself broke. */
export interface Provoked {
  readonly case: Case
  readonly raw: unknown
  /** Set when the provocation did not produce a failure (a broken case, reported as such). */
  readonly broken?: string
  readonly millis: number
}

/** Provokes every case in order (sequentially: some change a server's configuration for a moment). */
export const provokeAll = async (
  env: import("./env.js").Env,
  selection: ReadonlyArray<Case> = cases
): Promise<ReadonlyArray<Provoked>> => {
  const out: Array<Provoked> = []
  for (const c of selection) {
    const started = performance.now()
    try {
      const raw = await c.provoke(env)
      out.push({ case: c, raw, millis: performance.now() - started })
    } catch (error) {
      out.push({ case: c, raw: undefined, broken: String(error), millis: performance.now() - started })
    }
  }
  return out
}

export { misses, type Row, rows, type Scored, score, table, type View } from "./score.js"
