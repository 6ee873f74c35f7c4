/**
 * The detectors run over the series each interval, turned into alerts (a sentence for a user,
 * the numbers as evidence, a suggested action), with a cooldown per (kind, operation, category)
 * so that a condition that lasts is reported once per cooldown rather than every interval.
 *
 * Plain TypeScript, no `effect`.
 *
 * @internal
 */
import { type Cascade, cascades, type Dependencies, type Opening } from "./cascade.js"
import { type PeriodicOptions, periodic } from "./periodic.js"
import type { OperationSeries } from "./series.js"
import { type SpikeOptions, spikeAt } from "./spike.js"
import { type TrendOptions, trendAt } from "./trend.js"

/** @internal */
export type Kind = "spike" | "trend" | "periodic" | "cascade"
/** @internal */
export type Severity = "info" | "warning" | "critical"

/** An alert before it gets an id (the Effect face numbers them). */
export interface Finding {
  readonly kind: Kind
  readonly severity: Severity
  readonly operation: string
  readonly category?: string | undefined
  readonly atMillis: number
  readonly summary: string
  readonly evidence: Record<string, number>
  readonly suggestedAction: string
}

/** @internal */
export interface EngineOptions {
  readonly intervalMillis: number
  readonly cooldownMillis: number
  readonly cascadeWindowMillis: number
  readonly dependencies: Dependencies
  readonly spike: SpikeOptions
  readonly trend: TrendOptions
  readonly periodic: PeriodicOptions
  /**
   * Run the periodic detector for an operation every this many intervals (operations staggered):
   * it reads the whole history, and a period does not change from one interval to the next.
   */
  readonly periodicEvery: number
  /** The failure rate at or above which a spike or a trend is critical. */
  readonly criticalRate: number
}

const percent = (x: number): string => {
  const p = x * 100
  return p >= 10 || p === 0 ? `${Math.round(p)}%` : `${p.toFixed(1)}%`
}

const duration = (millis: number): string => {
  if (millis % 3_600_000 === 0) return `${millis / 3_600_000} h`
  if (millis % 60_000 === 0) return `${millis / 60_000} min`
  if (millis >= 60_000) return `${(millis / 60_000).toFixed(1)} min`
  return millis % 1000 === 0 ? `${millis / 1000} s` : `${millis} ms`
}

/** What to look at first, by failure category. */
const actionFor = (category: string | undefined): string => {
  switch (category) {
    case "timeout":
      return "Check the dependency's latency and load; if it is only slow, review the attempt timeout before raising it."
    case "network":
    case "unavailable":
      return "Check that the dependency is up and reachable; the breaker and retries will shield callers meanwhile."
    case "throttled":
      return "The dependency is refusing for load: lower the call rate or the retry budget, or ask for a higher quota."
    case "server":
      return "Look at the dependency's own errors and recent deployments; consider a rollback if it started with one."
    case "authentication":
    case "authorization":
      return "Check credentials and permissions used for this operation (an expired or rotated secret is common)."
    case "validation":
    case "client":
      return "Requests are being refused as invalid: check recent changes to what this service sends."
    case "resource":
      return "A resource is exhausted (pool, memory, quota): check capacity and connection pool settings."
    case "configuration":
      return "Check recent configuration changes for this operation."
    default:
      return "Look at the recent failures of this operation (the dead letter list and traces) and at recent changes."
  }
}

const categoryText = (category: string | undefined) => (category === undefined ? "" : ` (${category})`)

/** Runs the detectors and keeps the cooldowns. */
export class Engine {
  private readonly lastAlert = new Map<string, number>()
  private readonly reportedCascades = new Map<string, { readonly length: number; readonly atMillis: number }>()
  /** How long an alert's time is kept: the longest cooldown (a periodic alert's can be the history's length). */
  private keepMillis: number
  private tick = 0
  constructor(readonly options: EngineOptions) {
    this.keepMillis = options.cooldownMillis
  }

  private due(key: string, now: number, cooldownMillis: number = this.options.cooldownMillis): boolean {
    const last = this.lastAlert.get(key)
    if (last !== undefined && now - last < cooldownMillis) return false
    this.lastAlert.set(key, now)
    return true
  }

  private prune(now: number): void {
    for (const [k, at] of this.lastAlert) if (now - at >= this.keepMillis) this.lastAlert.delete(k)
    const keep = 2 * this.options.cascadeWindowMillis + this.options.cooldownMillis
    for (const [k, r] of this.reportedCascades) if (now - r.atMillis > keep) this.reportedCascades.delete(k)
  }

  /** The findings of one interval ending at `now`, over the series and the recent breaker openings. */
  run(series: Iterable<OperationSeries>, openings: ReadonlyArray<Opening>, now: number): Array<Finding> {
    this.prune(now)
    this.tick += 1
    const out: Array<Finding> = []
    let index = 0
    for (const s of series) {
      this.operation(s, now, out, (this.tick + index) % this.options.periodicEvery === 0)
      index += 1
    }
    for (const c of cascades(openings, this.options.dependencies, this.options.cascadeWindowMillis)) {
      this.cascade(c, now, out)
    }
    return out.map(finite)
  }

  private operation(s: OperationSeries, now: number, out: Array<Finding>, checkPeriodic: boolean): void {
    const calls = s.calls.toArray()
    if (calls.length === 0) return
    const last = calls.length - 1
    const o = this.options
    const interval = duration(o.intervalMillis)
    // spikes per category first; the overall rate only when no category stands out on its own
    let categorySpike = false
    for (const [category, ring] of s.failuresByCategory) {
      const spike = spikeAt(calls, ring.toArray(), last, o.spike)
      if (spike === undefined) continue
      categorySpike = true
      if (!this.due(`spike|${s.operation}|${category}`, now)) continue
      out.push({
        kind: "spike",
        severity: spike.rate >= o.criticalRate ? "critical" : "warning",
        operation: s.operation,
        category,
        atMillis: now,
        summary: `${percent(spike.rate)} of "${s.operation}" calls failed with ${category} errors in the last ${interval} (${spike.failures} of ${spike.calls}), against a usual ${percent(spike.baselineMedian)}.`,
        evidence: { ...spike },
        suggestedAction: actionFor(category)
      })
    }
    const failures = s.failures.toArray()
    if (!categorySpike) {
      const spike = spikeAt(calls, failures, last, o.spike)
      if (spike !== undefined && this.due(`spike|${s.operation}|`, now)) {
        out.push({
          kind: "spike",
          severity: spike.rate >= o.criticalRate ? "critical" : "warning",
          operation: s.operation,
          atMillis: now,
          summary: `${percent(spike.rate)} of "${s.operation}" calls failed in the last ${interval} (${spike.failures} of ${spike.calls}), against a usual ${percent(spike.baselineMedian)}.`,
          evidence: { ...spike },
          suggestedAction: actionFor(dominant(s, o.spike.window))
        })
      }
    }
    const trend = trendAt(calls, failures, last, o.trend)
    if (trend !== undefined && this.due(`trend|${s.operation}|`, now)) {
      const category = dominant(s, o.trend.window)
      out.push({
        kind: "trend",
        severity: trend.toRate >= o.criticalRate ? "critical" : "warning",
        operation: s.operation,
        category,
        atMillis: now,
        summary: `The failure rate of "${s.operation}" has been rising steadily, from about ${percent(Math.max(0, trend.fromRate))} to ${percent(trend.toRate)} over the last ${duration(trend.points * o.intervalMillis)}${categoryText(category)}.`,
        evidence: { ...trend, windowMillis: trend.points * o.intervalMillis },
        suggestedAction: `This is a slow degradation rather than an outage: ${actionFor(category).replace(/^./, (c) => c.toLowerCase())}`
      })
    }
    const found = checkPeriodic ? periodic(failures, o.intervalMillis, o.periodic) : undefined
    // a recurring failure is news once per history at most: it stays in the series that long
    const historyMillis = failures.length * o.intervalMillis
    this.keepMillis = Math.max(this.keepMillis, historyMillis)
    if (found !== undefined && this.due(`periodic|${s.operation}|`, now, Math.max(o.cooldownMillis, historyMillis))) {
      const category = dominant(s, failures.length)
      out.push({
        kind: "periodic",
        severity: "warning",
        operation: s.operation,
        category,
        atMillis: now,
        summary: `Failures of "${s.operation}" recur about every ${duration(found.periodMillis)}${categoryText(category)}.`,
        evidence: { ...found },
        suggestedAction: `Look for a scheduled job, cache expiry or batch that runs every ${duration(found.periodMillis)} and loads or breaks this dependency; spread it out or give it its own bulkhead.`
      })
    }
  }

  private cascade(c: Cascade, now: number, out: Array<Finding>): void {
    const key = `${c.root}@${c.rootAtMillis}`
    const reported = this.reportedCascades.get(key)
    // report a cascade when first seen, and again if it spread further
    if (reported !== undefined && reported.length >= c.chain.length) return
    this.reportedCascades.set(key, { length: c.chain.length, atMillis: c.rootAtMillis })
    const names = c.chain.map((l) => `"${l.name}"`).join(", then ")
    const evidence: Record<string, number> = {
      rootAtMillis: c.rootAtMillis,
      dependents: c.chain.length,
      spanMillis: (c.chain[c.chain.length - 1]?.atMillis ?? c.rootAtMillis) - c.rootAtMillis
    }
    c.chain.forEach((l, i) => {
      evidence[`delayMillis.${i + 1}`] = l.delayMillis
    })
    out.push({
      kind: "cascade",
      severity: "critical",
      operation: c.root,
      atMillis: now,
      summary: `The breaker of "${c.root}" opened, and then the breakers of what depends on it: ${names}. "${c.root}" is the likely root cause.`,
      evidence,
      suggestedAction: `Fix or fail over "${c.root}" first; the dependents' breakers should close once it recovers. Check that they degrade (fallbacks) rather than fail while it is down.`
    })
  }
}

/** The category with the most failures over the last `window` intervals, if any failed. */
const dominant = (s: OperationSeries, window: number): string | undefined => {
  let best: string | undefined
  let most = 0
  for (const [category, ring] of s.failuresByCategory) {
    const xs = ring.toArray()
    let total = 0
    for (let i = Math.max(0, xs.length - window); i < xs.length; i++) total += xs[i] ?? 0
    if (total > most) {
      most = total
      best = category
    }
  }
  return best
}

/** JSON has no Infinity or NaN: evidence keeps finite numbers only. */
const finite = (f: Finding): Finding => {
  const evidence: Record<string, number> = {}
  for (const [k, v] of Object.entries(f.evidence)) if (Number.isFinite(v)) evidence[k] = v
  return { ...f, evidence }
}
