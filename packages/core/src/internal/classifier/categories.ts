/**
 * The decision core of classification: categories, severities, what each category means by
 * default, and the plain verdict every table and recogniser answers. Plain TypeScript that imports
 * nothing from `effect`: `Classification.ts` builds its Schema from these lists, and a verdict is
 * already a `Classification` (one without a Retry-After), so the classifier hands table entries
 * out as they are.
 *
 * @internal
 */

/** Every category, in a stable order (metrics and reports use it). */
export const categories = [
  "network",
  "timeout",
  "throttled",
  "unavailable",
  "server",
  "client",
  "validation",
  "authentication",
  "authorization",
  "resource",
  "configuration",
  "business",
  "data-integrity",
  "concurrency",
  "system",
  "unknown"
] as const

/** What kind of failure this is. */
export type Category = (typeof categories)[number]

/** How bad a failure is, worst first. */
export const severities = ["critical", "high", "medium", "low", "info"] as const

/** How bad a failure is. */
export type Severity = (typeof severities)[number]

/** A classification without a Retry-After: what the tables hold. */
export interface Verdict {
  readonly category: Category
  readonly severity: Severity
  readonly retryable: boolean
  readonly countsForBreaker: boolean
  readonly code: string
  readonly message: string
}

/** What a category means unless told otherwise. */
export type CategoryDefaults = Pick<Verdict, "severity" | "retryable" | "countsForBreaker">

/** What each category means by default: severity, retryable, counted by a breaker. */
export const defaults: { readonly [C in Category]: CategoryDefaults } = {
  network: { severity: "high", retryable: true, countsForBreaker: true },
  timeout: { severity: "high", retryable: true, countsForBreaker: true },
  throttled: { severity: "medium", retryable: true, countsForBreaker: false },
  unavailable: { severity: "high", retryable: true, countsForBreaker: true },
  server: { severity: "high", retryable: true, countsForBreaker: true },
  client: { severity: "medium", retryable: false, countsForBreaker: false },
  validation: { severity: "low", retryable: false, countsForBreaker: false },
  authentication: { severity: "high", retryable: false, countsForBreaker: false },
  authorization: { severity: "medium", retryable: false, countsForBreaker: false },
  resource: { severity: "high", retryable: true, countsForBreaker: true },
  configuration: { severity: "critical", retryable: false, countsForBreaker: false },
  business: { severity: "low", retryable: false, countsForBreaker: false },
  "data-integrity": { severity: "medium", retryable: false, countsForBreaker: false },
  concurrency: { severity: "low", retryable: true, countsForBreaker: false },
  system: { severity: "critical", retryable: false, countsForBreaker: true },
  unknown: { severity: "medium", retryable: false, countsForBreaker: true }
}

/** Whether a string names a category. */
export const isCategory = (u: string): u is Category => Object.hasOwn(defaults, u)

/** What a table entry may say on top of its category's defaults. */
export type Overrides = Partial<CategoryDefaults>

/**
 * A verdict: `category`'s defaults unless `overrides` says otherwise. Always the same shape (six
 * fields in one order), so that every verdict shares one hidden class.
 */
export const verdict = (category: Category, code: string, message: string, overrides?: Overrides): Verdict => {
  const d = defaults[category]
  return {
    category,
    severity: overrides?.severity ?? d.severity,
    retryable: overrides?.retryable ?? d.retryable,
    countsForBreaker: overrides?.countsForBreaker ?? d.countsForBreaker,
    code,
    message
  }
}

/** The verdict about a failure nothing recognised. */
export const unknown: Verdict = verdict("unknown", "unknown", "The operation failed for an unknown reason")
