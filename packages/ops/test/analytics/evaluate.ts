/**
 * Runs each detector over its labelled set and scores it. Shared by the test (which asserts the
 * scores) and by anyone who wants the table (`pnpm exec vitest run packages/ops/test/analytics`
 * prints it).
 */
import { cascades } from "../../src/internal/analytics/cascade.js"
import { periodic } from "../../src/internal/analytics/periodic.js"
import { scanSpikes } from "../../src/internal/analytics/spike.js"
import { trendAt } from "../../src/internal/analytics/trend.js"
import { cascadeCases, periodicCases, type Score, score, spikeCases, trendCases } from "./synthetic.js"

export interface Evaluation {
  readonly detector: string
  readonly series: number
  readonly positives: number
  readonly score: Score
  /** Wrong answers by case kind (false alarms on negatives, misses on positives). */
  readonly errors: Record<string, number>
}

const tally = (errors: Record<string, number>, kind: string) => {
  errors[kind] = (errors[kind] ?? 0) + 1
}

export const evaluateSpike = (seed: number, count: number): Evaluation => {
  const errors: Record<string, number> = {}
  const cases = spikeCases(seed, count)
  const results = cases.map((c) => {
    const found = scanSpikes(c.calls, c.failures)
    const predicted = found.length > 0
    const correct = !c.label || (predicted && found.every((s) => s.index >= (c.from ?? 0) && s.index <= (c.to ?? 0)))
    if (predicted !== c.label || !correct) tally(errors, `${c.kind}${c.label ? " (missed)" : " (false alarm)"}`)
    return { label: c.label, predicted, correct }
  })
  return {
    detector: "spike",
    series: cases.length,
    positives: cases.filter((c) => c.label).length,
    score: score(results),
    errors
  }
}

export const evaluateTrend = (seed: number, count: number): Evaluation => {
  const errors: Record<string, number> = {}
  const cases = trendCases(seed, count)
  const results = cases.map((c) => {
    const predicted = trendAt(c.calls, c.failures, c.calls.length - 1) !== undefined
    if (predicted !== c.label) tally(errors, `${c.kind}${c.label ? " (missed)" : " (false alarm)"}`)
    return { label: c.label, predicted }
  })
  return {
    detector: "trend",
    series: cases.length,
    positives: cases.filter((c) => c.label).length,
    score: score(results),
    errors
  }
}

export const evaluatePeriodic = (seed: number, count: number): Evaluation => {
  const errors: Record<string, number> = {}
  const cases = periodicCases(seed, count)
  const results = cases.map((c) => {
    const found = periodic(c.counts, c.sampleMillis)
    const predicted = found !== undefined
    // the period must be right within one sample or 5%, whichever is more
    const tolerance = Math.max(c.sampleMillis, 0.05 * (c.periodMillis ?? 0))
    const correct =
      !c.label || (found !== undefined && Math.abs(found.periodMillis - (c.periodMillis ?? 0)) <= tolerance)
    if (predicted !== c.label || !correct)
      tally(errors, `${c.kind}${c.label ? (predicted ? " (wrong period)" : " (missed)") : " (false alarm)"}`)
    return { label: c.label, predicted, correct }
  })
  return {
    detector: "periodic",
    series: cases.length,
    positives: cases.filter((c) => c.label).length,
    score: score(results),
    errors
  }
}

export const evaluateCascade = (seed: number, count: number): Evaluation => {
  const errors: Record<string, number> = {}
  const cases = cascadeCases(seed, count)
  const results = cases.map((c) => {
    const found = cascades(c.openings, c.graph, c.windowMillis)
    const predicted = found.length > 0
    // the root cause must be the one that started it, and nothing else reported
    const correct = !c.label || (found.length === 1 && found[0]?.root === c.root)
    if (predicted !== c.label || !correct)
      tally(errors, `${c.kind}${c.label ? (predicted ? " (wrong root)" : " (missed)") : " (false alarm)"}`)
    return { label: c.label, predicted, correct }
  })
  return {
    detector: "cascade",
    series: cases.length,
    positives: cases.filter((c) => c.label).length,
    score: score(results),
    errors
  }
}

export const table = (evaluations: ReadonlyArray<Evaluation>): string =>
  [
    "| detector | series (positives) | TP | FP | FN | TN | precision | recall |",
    "|---|---|---|---|---|---|---|---|",
    ...evaluations.map(
      (e) =>
        `| ${e.detector} | ${e.series} (${e.positives}) | ${e.score.tp} | ${e.score.fp} | ${e.score.fn} | ${e.score.tn} | ${e.score.precision.toFixed(3)} | ${e.score.recall.toFixed(3)} |`
    )
  ].join("\n")
