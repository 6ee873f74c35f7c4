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
 * @since 0.1.0
 */
export interface SlowCall {
  readonly name: string
  readonly durationMillis: number
  readonly retries: number
  readonly ok: boolean
  readonly attributes: Readonly<Record<string, string | number | boolean>>
}

/**
 * The summary.
 *
 * @example
 * import type { TraceSummary } from "@effect-resilience/otel"
 *
 * const line = (s: TraceSummary.Summary) => `${s.calls} calls, ${s.retryEvents} retries`
 *
 * @since 0.1.0
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
  /** Breaker transition spans: `<breaker> <from> -> <to>` in time order. */
  readonly breakerTransitions: ReadonlyArray<string>
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
 * import { TraceSummary } from "@effect-resilience/otel"
 *
 * const summary = TraceSummary.summarize([])
 * // summary.calls === 0
 *
 * @since 0.1.0
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
    .map((s) => s.name.slice("resilience.breaker ".length))
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
 * import { TraceSummary } from "@effect-resilience/otel"
 *
 * const text = TraceSummary.format(TraceSummary.summarize([]))
 *
 * @since 0.1.0
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
  if (summary.breakerTransitions.length > 0) {
    lines.push(`breaker transitions: ${summary.breakerTransitions.join("; ")}`)
  }
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
