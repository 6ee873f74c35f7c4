/**
 * The fleet's decision on pooled evidence: plain TypeScript that imports nothing from `effect`.
 *
 * Every process publishes the evidence of its own window (calls, failures, slow calls,
 * consecutive failures). The fleet's evidence is their sum; the breaker's policy decides on it
 * as on its own. A quorum then says whether enough processes report failures for the fleet to
 * open: at least `processes` of them, and at least a `share` of the live ones, so that one sick
 * replica opens only its own breaker.
 *
 * @internal
 */

/** One process's window. */
export interface Evidence {
  readonly calls: number
  readonly failures: number
  readonly slowCalls: number
  readonly consecutiveFailures: number
}

/** The breaker's policy as far as a process "reports failures" (the core's policy in numbers). */
export type Policy =
  | { readonly _tag: "ConsecutiveFailures"; readonly threshold: number }
  | {
      readonly _tag: "CountWindow" | "TimeWindow"
      readonly failureRateThreshold: number
      readonly slowCallRateThreshold: number
    }

/** When the fleet may open: at least `processes` failing processes, and at least `share` of the live ones. */
export interface Quorum {
  readonly processes: number
  readonly share: number
}

/** The sum of the processes' windows (consecutive failures are summed too: failures in a row somewhere in the fleet). */
export const pool = (entries: ReadonlyArray<Evidence>): Evidence => {
  let calls = 0
  let failures = 0
  let slowCalls = 0
  let consecutiveFailures = 0
  for (const e of entries) {
    calls += e.calls
    failures += e.failures
    slowCalls += e.slowCalls
    consecutiveFailures += e.consecutiveFailures
  }
  return { calls, failures, slowCalls, consecutiveFailures }
}

/**
 * Whether a process reports failures: a failure in a row for the consecutive policy; otherwise a
 * failure (or slow call) rate at or above the policy's threshold, with at least one such call.
 */
export const reportsFailures = (policy: Policy, e: Evidence): boolean => {
  if (policy._tag === "ConsecutiveFailures") return e.consecutiveFailures > 0
  if (e.calls === 0) return false
  return (
    (e.failures > 0 && e.failures / e.calls >= policy.failureRateThreshold) ||
    (e.slowCalls > 0 && e.slowCalls / e.calls >= policy.slowCallRateThreshold)
  )
}

/** Whether `failing` of `live` processes make a quorum. */
export const quorumMet = (failing: number, live: number, quorum: Quorum): boolean =>
  failing >= 1 && failing >= quorum.processes && failing >= quorum.share * live

/**
 * Whether the fleet opens on these windows (one per live process): the policy trips on their sum
 * (`trips`, the breaker's own rule) and the processes reporting failures make a quorum.
 */
export const fleetOpens = (
  policy: Policy,
  trips: (pooled: Evidence) => boolean,
  entries: ReadonlyArray<Evidence>,
  quorum: Quorum
): boolean => {
  if (!trips(pool(entries))) return false
  let failing = 0
  for (const e of entries) if (reportsFailures(policy, e)) failing++
  return quorumMet(failing, entries.length, quorum)
}

/** Encodes a window for Redis: `calls,failures,slowCalls,consecutiveFailures`. */
export const encode = (e: Evidence): string => `${e.calls},${e.failures},${e.slowCalls},${e.consecutiveFailures}`

/** Decodes `calls,failures,slowCalls,consecutiveFailures[,...]`; `undefined` when malformed. */
export const decode = (s: string): Evidence | undefined => {
  const parts = s.split(",")
  const [calls, failures, slowCalls, consecutiveFailures] = parts.slice(0, 4).map(Number)
  if (
    calls === undefined ||
    failures === undefined ||
    slowCalls === undefined ||
    consecutiveFailures === undefined ||
    ![calls, failures, slowCalls, consecutiveFailures].every((n) => Number.isFinite(n) && n >= 0)
  ) {
    return undefined
  }
  return { calls, failures, slowCalls, consecutiveFailures }
}

/** The fleet's state as Redis keeps it (times are Redis's clock, ms). */
export type State =
  | { readonly _tag: "Open"; readonly untilMillis: number; readonly reopenings: number; readonly atMillis: number }
  | { readonly _tag: "ForcedOpen"; readonly atMillis: number }
  | { readonly _tag: "Closed"; readonly atMillis: number }

/** Decodes `open|until|reopenings|at`, `forced|at`, `closed|at`; `undefined` when absent or malformed. */
export const decodeState = (s: string | null | undefined): State | undefined => {
  if (s === null || s === undefined || s === "") return undefined
  const [kind, ...rest] = s.split("|")
  const n = rest.map(Number)
  if (!n.every(Number.isFinite)) return undefined
  if (kind === "open" && n.length === 3) {
    return { _tag: "Open", untilMillis: n[0] ?? 0, reopenings: n[1] ?? 0, atMillis: n[2] ?? 0 }
  }
  if (kind === "forced" && n.length === 1) return { _tag: "ForcedOpen", atMillis: n[0] ?? 0 }
  if (kind === "closed" && n.length === 1) return { _tag: "Closed", atMillis: n[0] ?? 0 }
  return undefined
}
