/**
 * Scoring a classifier on the corpus: each provoked case classified twice, on the raw value and on
 * `Failures.fromUnknown(raw)`, compared with its label; a table of accuracy per library.
 */
import type { Classification } from "@effect-resilience/core"
import { Failures } from "@effect-resilience/core"
import * as Duration from "effect/Duration"
import type { Case } from "./case.js"
import type { Provoked } from "./index.js"

export type View = "raw" | "tagged"

export interface Scored {
  readonly case: Case
  readonly view: View
  readonly actual?: {
    readonly category: string
    readonly retryable: boolean
    readonly countsForBreaker: boolean
    readonly retryAfterMillis?: number
    readonly code: string
  }
  /** Why there is no `actual` (a broken case, or the classifier / fromUnknown threw). */
  readonly error?: string
  readonly category: boolean
  readonly retryable: boolean
  readonly countsForBreaker: boolean
  /** Right on Retry-After where the label gives one (true otherwise). */
  readonly retryAfter: boolean
  /** Category, retryable, countsForBreaker and (where labelled) Retry-After all right. */
  readonly all: boolean
}

const wrong = (c: Case, view: View, error: string): Scored => ({
  case: c,
  view,
  error,
  category: false,
  retryable: false,
  countsForBreaker: false,
  retryAfter: false,
  all: false
})

const compare = (c: Case, view: View, classification: Classification.Classification): Scored => {
  const retryAfterMillis =
    classification.retryAfter === undefined ? undefined : Duration.toMillis(classification.retryAfter)
  const category = classification.category === c.expected.category
  const retryable = classification.retryable === c.expected.retryable
  const countsForBreaker = classification.countsForBreaker === c.expected.countsForBreaker
  const expectedAfter = c.expected.retryAfterMillis
  // A Retry-After from a date or a rounding is within a second of the label.
  const retryAfter =
    expectedAfter === undefined ||
    (retryAfterMillis !== undefined && Math.abs(retryAfterMillis - expectedAfter) <= 1000)
  return {
    case: c,
    view,
    actual: {
      category: classification.category,
      retryable: classification.retryable,
      countsForBreaker: classification.countsForBreaker,
      code: classification.code,
      ...(retryAfterMillis === undefined ? {} : { retryAfterMillis })
    },
    category,
    retryable,
    countsForBreaker,
    retryAfter,
    all: category && retryable && countsForBreaker && retryAfter
  }
}

/** Classifies every provoked case on its raw value and on its tagged failure. */
export const score = (
  provoked: ReadonlyArray<Provoked>,
  classify: (failure: unknown) => Classification.Classification
): ReadonlyArray<Scored> =>
  provoked.flatMap((p): ReadonlyArray<Scored> => {
    if (p.broken !== undefined) return [wrong(p.case, "raw", p.broken), wrong(p.case, "tagged", p.broken)]
    const views: Array<Scored> = []
    try {
      views.push(compare(p.case, "raw", classify(p.raw)))
    } catch (error) {
      views.push(wrong(p.case, "raw", `classify threw: ${String(error)}`))
    }
    try {
      views.push(compare(p.case, "tagged", classify(Failures.fromUnknown(p.raw))))
    } catch (error) {
      views.push(wrong(p.case, "tagged", `fromUnknown or classify threw: ${String(error)}`))
    }
    return views
  })

export interface Row {
  readonly library: string
  readonly view: View
  readonly cases: number
  readonly category: number
  readonly retryable: number
  readonly countsForBreaker: number
  readonly all: number
}

const ratio = (xs: ReadonlyArray<Scored>, key: "category" | "retryable" | "countsForBreaker" | "all") =>
  xs.length === 0 ? 1 : xs.filter((x) => x[key]).length / xs.length

/** Accuracy per library and view, then the overall rows. */
export const rows = (scored: ReadonlyArray<Scored>): ReadonlyArray<Row> => {
  const libraries = [...new Set(scored.map((s) => s.case.library))]
  const row = (library: string, view: View, xs: ReadonlyArray<Scored>): Row => ({
    library,
    view,
    cases: xs.length,
    category: ratio(xs, "category"),
    retryable: ratio(xs, "retryable"),
    countsForBreaker: ratio(xs, "countsForBreaker"),
    all: ratio(xs, "all")
  })
  const out: Array<Row> = []
  for (const view of ["raw", "tagged"] as const) {
    for (const library of libraries) {
      out.push(
        row(
          library,
          view,
          scored.filter((s) => s.view === view && s.case.library === library)
        )
      )
    }
    out.push(
      row(
        "overall",
        view,
        scored.filter((s) => s.view === view)
      )
    )
  }
  return out
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`

/** A Markdown table of the rows. */
export const table = (rs: ReadonlyArray<Row>): string =>
  [
    "| library | view | cases | category | retryable | countsForBreaker | all three |",
    "|---|---|---:|---:|---:|---:|---:|",
    ...rs.map(
      (r) =>
        `| ${r.library} | ${r.view} | ${r.cases} | ${pct(r.category)} | ${pct(r.retryable)} | ${pct(r.countsForBreaker)} | ${pct(r.all)} |`
    )
  ].join("\n")

/** One line per wrong answer: what the label says and what the classifier said. */
export const misses = (scored: ReadonlyArray<Scored>): ReadonlyArray<string> =>
  scored
    .filter((s) => !s.all)
    .map((s) => {
      const e = s.case.expected
      const want = `${e.category}/${e.retryable ? "retry" : "no-retry"}/${e.countsForBreaker ? "counted" : "not-counted"}${e.retryAfterMillis === undefined ? "" : `/after ${e.retryAfterMillis}`}`
      const a = s.actual
      const got =
        a === undefined
          ? (s.error ?? "no answer")
          : `${a.category}/${a.retryable ? "retry" : "no-retry"}/${a.countsForBreaker ? "counted" : "not-counted"}${a.retryAfterMillis === undefined ? "" : `/after ${a.retryAfterMillis}`} (${a.code})`
      return `[${s.case.library}] ${s.case.name} (${s.view}): want ${want}, got ${got}${s.case.knownException === undefined ? "" : " [known exception]"}`
    })
