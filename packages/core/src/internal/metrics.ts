/**
 * Metric hooks resolved once per operation, so that a call updates a counter with a direct
 * `unsafeUpdate` (no registry lookup, no label merging, no Effect).
 *
 * `Metric.tagged` merges labels on every update and so looks its hook up in the registry each
 * time; a metric made from an already tagged `MetricKey` caches its hook on first use.
 *
 * @internal
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"
import type { Category } from "../Classification.js"

const noLabels: ReadonlyArray<never> = []

const counter = (name: string, description: string, labels: Record<string, string>) => {
  let key = MetricKey.counter(name, { description, incremental: true })
  for (const [k, v] of Object.entries(labels)) key = MetricKey.tagged(key, k, v)
  const metric = Metric.fromMetricKey(key)
  return {
    inc: (): void => metric.unsafeUpdate(1, noLabels),
    add: (n: number): void => metric.unsafeUpdate(n, noLabels)
  }
}

/** @internal */
export const latencyBoundaries = MetricBoundaries.fromIterable([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
])

/** @internal */
export interface OperationMetrics {
  readonly success: () => void
  /** A call failed for good: counted by outcome, and by the category of its last failure. */
  readonly failure: (category: Category) => void
  readonly rejected: (component: string) => void
  readonly attempt: () => void
  readonly retry: (category: Category) => void
  readonly latency: (seconds: number) => void
}

/** @internal */
export const forOperation = (operation: string): OperationMetrics => {
  const op = { operation }
  const success = counter("resilience_calls_total", "Protected calls by outcome", { ...op, outcome: "success" })
  const failure = counter("resilience_calls_total", "Protected calls by outcome", { ...op, outcome: "failure" })
  const failures = new Map<string, ReturnType<typeof counter>>()
  const rejections = new Map<string, ReturnType<typeof counter>>()
  const attempts = counter("resilience_attempts_total", "Attempts made (first tries and retries)", op)
  const retries = new Map<string, ReturnType<typeof counter>>()
  let latencyKey = MetricKey.histogram("resilience_call_duration_seconds", latencyBoundaries, "Protected call latency")
  latencyKey = MetricKey.tagged(latencyKey, "operation", operation)
  const latency = Metric.fromMetricKey(latencyKey)
  return {
    success: success.inc,
    failure: (category) => {
      failure.inc()
      let c = failures.get(category)
      if (c === undefined) {
        c = counter("resilience_failures_total", "Calls that failed for good, by the category of the last failure", {
          ...op,
          category
        })
        failures.set(category, c)
      }
      c.inc()
    },
    rejected: (component) => {
      let c = rejections.get(component)
      if (c === undefined) {
        c = counter("resilience_rejections_total", "Calls refused before they ran", { ...op, component })
        rejections.set(component, c)
      }
      c.inc()
    },
    attempt: attempts.inc,
    retry: (category) => {
      let c = retries.get(category)
      if (c === undefined) {
        c = counter("resilience_retries_total", "Retries by failure category", { ...op, category })
        retries.set(category, c)
      }
      c.inc()
    },
    latency: (seconds) => latency.unsafeUpdate(seconds, noLabels)
  }
}

/** @internal */
export const breakerStateValue: Record<string, number> = {
  closed: 0,
  open: 1,
  "half-open": 2,
  "forced-open": 3,
  disabled: 4,
  "metrics-only": 5
}

/** @internal */
export const breakerGauges = (breaker: string) => {
  const state = Metric.fromMetricKey(
    MetricKey.tagged(
      MetricKey.gauge("resilience_breaker_state", {
        description: "0 closed, 1 open, 2 half-open, 3 forced-open, 4 disabled, 5 metrics-only"
      }),
      "breaker",
      breaker
    )
  )
  const transitions = new Map<string, ReturnType<typeof counter>>()
  return {
    state: (value: number): void => state.unsafeUpdate(value, noLabels),
    transition: (from: string, to: string): void => {
      const k = `${from}>${to}`
      let c = transitions.get(k)
      if (c === undefined) {
        c = counter("resilience_breaker_transitions_total", "Breaker state transitions", { breaker, from, to })
        transitions.set(k, c)
      }
      c.inc()
    }
  }
}

/** @internal */
export const budgetGauge = (budget: string) => {
  const gauge = Metric.fromMetricKey(
    MetricKey.tagged(
      MetricKey.gauge("resilience_retry_budget_tokens", { description: "Tokens left in a retry budget" }),
      "budget",
      budget
    )
  )
  return (value: number): void => gauge.unsafeUpdate(value, noLabels)
}
