/**
 * Fixed-memory time series per operation, fed by readings of cumulative metrics (counters and
 * histograms as Effect's metric registry reports them) taken once per interval: each sample
 * stores the increase since the previous reading.
 *
 * Plain TypeScript, no `effect`: the Effect face converts the registry's snapshot into
 * {@link Reading}s.
 *
 * @internal
 */

/** A ring buffer of numbers (NaN for "no value"), of fixed capacity. */
export class Ring {
  private readonly values: Float64Array
  private start = 0
  private size = 0
  constructor(readonly capacity: number) {
    this.values = new Float64Array(capacity)
  }
  push(value: number): void {
    if (this.size < this.capacity) {
      this.values[(this.start + this.size) % this.capacity] = value
      this.size += 1
    } else {
      this.values[this.start] = value
      this.start = (this.start + 1) % this.capacity
    }
  }
  get length(): number {
    return this.size
  }
  toArray(): Array<number> {
    const out = new Array<number>(this.size)
    for (let i = 0; i < this.size; i++) out[i] = this.values[(this.start + i) % this.capacity] ?? 0
    return out
  }
}

/** One metric as read from a registry. */
export type Reading =
  | {
      readonly kind: "counter" | "gauge"
      readonly name: string
      readonly tags: Readonly<Record<string, string>>
      readonly value: number
    }
  | {
      readonly kind: "histogram"
      readonly name: string
      readonly tags: Readonly<Record<string, string>>
      /** Cumulative counts per upper boundary (the last boundary may be Infinity). */
      readonly buckets: ReadonlyArray<readonly [number, number]>
    }

/** The metric names the pipeline updates. */
export const names = {
  calls: "resilience_calls_total",
  failures: "resilience_failures_total",
  retries: "resilience_retries_total",
  rejections: "resilience_rejections_total",
  latency: "resilience_call_duration_seconds"
} as const

/** The `q` quantile (0..1) of a histogram given as cumulative counts per upper boundary, interpolated within its bucket. */
export const quantile = (buckets: ReadonlyArray<readonly [number, number]>, q: number): number => {
  const last = buckets[buckets.length - 1]
  const total = last === undefined ? 0 : last[1]
  if (total <= 0) return Number.NaN
  const target = q * total
  let previousBound = 0
  let previousCount = 0
  for (const [bound, count] of buckets) {
    if (count >= target && count > previousCount) {
      if (!Number.isFinite(bound)) return previousBound
      const fraction = (target - previousCount) / (count - previousCount)
      return previousBound + fraction * (bound - previousBound)
    }
    previousBound = bound
    previousCount = count
  }
  return previousBound
}

/** The series of one operation. Rings of categories first seen later are padded with zeros. */
export class OperationSeries {
  readonly timestamps: Ring
  readonly calls: Ring
  readonly failures: Ring
  readonly retries: Ring
  readonly rejections: Ring
  readonly p50: Ring
  readonly p95: Ring
  readonly p99: Ring
  readonly failuresByCategory = new Map<string, Ring>()
  readonly retriesByCategory = new Map<string, Ring>()
  constructor(
    readonly operation: string,
    readonly capacity: number
  ) {
    this.timestamps = new Ring(capacity)
    this.calls = new Ring(capacity)
    this.failures = new Ring(capacity)
    this.retries = new Ring(capacity)
    this.rejections = new Ring(capacity)
    this.p50 = new Ring(capacity)
    this.p95 = new Ring(capacity)
    this.p99 = new Ring(capacity)
  }
}

/** What one interval added for one operation. */
interface Delta {
  calls: number
  failures: number
  retries: number
  rejections: number
  failuresByCategory: Map<string, number>
  retriesByCategory: Map<string, number>
  latency: Array<[number, number]> | undefined
}

const emptyDelta = (): Delta => ({
  calls: 0,
  failures: 0,
  retries: 0,
  rejections: 0,
  failuresByCategory: new Map(),
  retriesByCategory: new Map(),
  latency: undefined
})

const keyOf = (r: Reading): string => {
  const tags = Object.keys(r.tags)
    .sort()
    .map((k) => `${k}=${r.tags[k]}`)
    .join(",")
  return `${r.name}{${tags}}`
}

const pushCategory = (map: Map<string, Ring>, category: string, value: number, series: OperationSeries): void => {
  let ring = map.get(category)
  if (ring === undefined) {
    ring = new Ring(series.capacity)
    // align with the other rings: this interval is pushed below
    for (let i = 0; i < series.timestamps.length - 1; i++) ring.push(0)
    map.set(category, ring)
  }
  ring.push(value)
}

/**
 * Turns successive readings into per-operation series. The first reading of a metric only sets
 * its baseline (counts from before the sampler started are not an interval's).
 */
export class Sampler {
  private readonly previous = new Map<string, number | ReadonlyArray<readonly [number, number]>>()
  readonly operations = new Map<string, OperationSeries>()
  /** Operations not tracked because `maxOperations` was reached. */
  ignoredOperations = 0
  constructor(
    readonly capacity: number,
    readonly maxOperations: number
  ) {}

  private increase(r: Reading): number | Array<[number, number]> | undefined {
    const key = keyOf(r)
    const before = this.previous.get(key)
    if (r.kind === "histogram") {
      this.previous.set(key, r.buckets)
      if (before === undefined || typeof before === "number") return undefined
      return r.buckets.map(([bound, count], i) => [bound, count - (before[i]?.[1] ?? 0)])
    }
    this.previous.set(key, r.value)
    if (before === undefined || typeof before !== "number") return undefined
    // a counter never goes down; if it did, the registry was reset: count from zero
    return r.value >= before ? r.value - before : r.value
  }

  /** Records one interval ending at `atMillis`. */
  sample(readings: ReadonlyArray<Reading>, atMillis: number): void {
    const deltas = new Map<string, Delta>()
    const deltaFor = (operation: string): Delta => {
      let d = deltas.get(operation)
      if (d === undefined) {
        d = emptyDelta()
        deltas.set(operation, d)
      }
      return d
    }
    for (const r of readings) {
      const operation = r.tags.operation
      if (operation === undefined) continue
      const inc = this.increase(r)
      const d = deltaFor(operation)
      if (inc === undefined) continue
      if (typeof inc !== "number") {
        if (r.name === names.latency) d.latency = inc
        continue
      }
      switch (r.name) {
        case names.calls:
          if (r.tags.outcome === "success" || r.tags.outcome === "failure") d.calls += inc
          if (r.tags.outcome === "failure") d.failures += inc
          break
        case names.failures: {
          const c = r.tags.category ?? "unknown"
          d.failuresByCategory.set(c, (d.failuresByCategory.get(c) ?? 0) + inc)
          break
        }
        case names.retries: {
          const c = r.tags.category ?? "unknown"
          d.retries += inc
          d.retriesByCategory.set(c, (d.retriesByCategory.get(c) ?? 0) + inc)
          break
        }
        case names.rejections:
          d.rejections += inc
          break
      }
    }
    for (const [operation, d] of deltas) {
      let series = this.operations.get(operation)
      if (series === undefined) {
        if (this.operations.size >= this.maxOperations) {
          this.ignoredOperations += 1
          continue
        }
        series = new OperationSeries(operation, this.capacity)
        this.operations.set(operation, series)
      }
      series.timestamps.push(atMillis)
      series.calls.push(d.calls)
      series.failures.push(d.failures)
      series.retries.push(d.retries)
      series.rejections.push(d.rejections)
      series.p50.push(d.latency === undefined ? Number.NaN : quantile(d.latency, 0.5))
      series.p95.push(d.latency === undefined ? Number.NaN : quantile(d.latency, 0.95))
      series.p99.push(d.latency === undefined ? Number.NaN : quantile(d.latency, 0.99))
      for (const [c, ring] of series.failuresByCategory) if (!d.failuresByCategory.has(c)) ring.push(0)
      for (const [c, v] of d.failuresByCategory) pushCategory(series.failuresByCategory, c, v, series)
      for (const [c, ring] of series.retriesByCategory) if (!d.retriesByCategory.has(c)) ring.push(0)
      for (const [c, v] of d.retriesByCategory) pushCategory(series.retriesByCategory, c, v, series)
    }
  }
}
