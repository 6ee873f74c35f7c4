/**
 * A short summary of finished spans, for a program run without a trace backend: the slowest
 * protected calls, how many retries the calls took (from their `resilience.retry` span events),
 * the attempt spans and the breaker transitions (spans made by `Otel.traceEvents`).
 *
 * @since 0.1.0
 */
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"

/**
 * One slow call.
 *
 * @example
 * ```ts
 * import type { TraceSummary } from "@effect-resilience/otel"
 *
 * const line = (c: TraceSummary.SlowCall) => `${c.name}: ${c.durationMillis.toFixed(0)} ms, ${c.retries} retries`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface SlowCall {
  readonly name: string
  readonly durationMillis: number
  readonly retries: number
  readonly ok: boolean
  readonly attributes: Readonly<Record<string, string | number | boolean>>
}

/**
 * One breaker transition, read from a span made by `Otel.traceEvents`.
 *
 * @example
 * ```ts
 * import type { TraceSummary } from "@effect-resilience/otel"
 *
 * const opened = (t: TraceSummary.BreakerTransition) => t.to === "open"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface BreakerTransition {
  readonly breaker: string
  readonly from: string
  readonly to: string
}

/**
 * The summary.
 *
 * @example
 * ```ts
 * import type { TraceSummary } from "@effect-resilience/otel"
 *
 * const line = (s: TraceSummary.Summary) => `${s.calls} calls, ${s.retryEvents} retries`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary {
  /** Every finished span. */
  readonly spans: number
  /** Protected calls (spans named `resilience <operation>`). */
  readonly calls: number
  /** `resilience.retry` events over all calls. */
  readonly retryEvents: number
  /** Attempt spans (`resilience.attempt <operation>`, made from the second attempt on). */
  readonly attemptSpans: number
  /** How many calls took 0, 1, 2, ... retries (index = retries). */
  readonly retriesPerCall: ReadonlyArray<number>
  /** Breaker transition spans, in time order. */
  readonly breakerTransitions: ReadonlyArray<BreakerTransition>
  /** The slowest calls, slowest first. */
  readonly slowest: ReadonlyArray<SlowCall>
}

const millisOf = (time: readonly [number, number]): number => time[0] * 1000 + time[1] / 1e6

const isCall = (span: ReadableSpan): boolean => span.name.startsWith("resilience ")

const plainAttributes = (span: ReadableSpan): Record<string, string | number | boolean> => {
  const out: Record<string, string | number | boolean> = {}
  for (const [key, value] of Object.entries(span.attributes)) {
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") out[key] = value
  }
  return out
}

/**
 * Summarises spans (`slowest`: how many slow calls to keep, default 5).
 *
 * @example
 * ```ts
 * import { TraceSummary } from "@effect-resilience/otel"
 *
 * const summary = TraceSummary.summarize([])
 * // summary.calls === 0
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const summarize = (spans: ReadonlyArray<ReadableSpan>, options?: { readonly slowest?: number }): Summary => {
  const calls = spans.filter(isCall)
  const retriesOf = (span: ReadableSpan) => span.events.filter((e) => e.name === "resilience.retry").length
  const retriesPerCall: Array<number> = []
  let retryEvents = 0
  for (const call of calls) {
    const n = retriesOf(call)
    retryEvents += n
    while (retriesPerCall.length <= n) retriesPerCall.push(0)
    retriesPerCall[n] = (retriesPerCall[n] ?? 0) + 1
  }
  const slowest = calls
    .map(
      (span): SlowCall => ({
        name: span.name,
        durationMillis: millisOf(span.duration),
        retries: retriesOf(span),
        ok: span.status.code !== 2,
        attributes: plainAttributes(span)
      })
    )
    .sort((a, b) => b.durationMillis - a.durationMillis)
    .slice(0, options?.slowest ?? 5)
  const breakerTransitions = spans
    .filter((s) => s.name.startsWith("resilience.breaker "))
    .sort((a, b) => millisOf(a.startTime) - millisOf(b.startTime))
    .map(
      (s): BreakerTransition => ({
        breaker: String(s.attributes["resilience.breaker"] ?? ""),
        from: String(s.attributes["resilience.from"] ?? ""),
        to: String(s.attributes["resilience.to"] ?? "")
      })
    )
  return {
    spans: spans.length,
    calls: calls.length,
    retryEvents,
    attemptSpans: spans.filter((s) => s.name.startsWith("resilience.attempt ")).length,
    retriesPerCall,
    breakerTransitions,
    slowest
  }
}

/**
 * The summary as a few lines of text.
 *
 * @example
 * ```ts
 * import { TraceSummary } from "@effect-resilience/otel"
 *
 * const text = TraceSummary.format(TraceSummary.summarize([]))
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const format = (summary: Summary): string => {
  const lines: Array<string> = []
  lines.push(
    `${summary.spans} spans: ${summary.calls} calls, ${summary.attemptSpans} attempt spans, ${summary.retryEvents} retries`
  )
  const histogram = summary.retriesPerCall
    .map((count, retries) => (count === 0 ? undefined : `${retries}: ${count}`))
    .filter((s) => s !== undefined)
  if (histogram.length > 0) lines.push(`retries per call (retries: calls): ${histogram.join(", ")}`)
  // one chain of states per breaker: `closed -> open -> half-open -> closed`
  const chains = new Map<string, Array<string>>()
  for (const t of summary.breakerTransitions) {
    const chain = chains.get(t.breaker)
    if (chain === undefined) chains.set(t.breaker, [t.from, t.to])
    else chain.push(t.to)
  }
  for (const [breaker, chain] of chains) lines.push(`breaker ${breaker}: ${chain.join(" -> ")}`)
  if (summary.slowest.length > 0) {
    lines.push("slowest calls:")
    for (const call of summary.slowest) {
      const key = call.attributes["record.key"]
      lines.push(
        `  ${call.durationMillis.toFixed(0).padStart(6)} ms  ${call.name}${key === undefined ? "" : ` [${String(key)}]`}  ${
          call.retries
        } retries, ${call.ok ? "ok" : "failed"}`
      )
    }
  }
  return lines.join("\n")
}
