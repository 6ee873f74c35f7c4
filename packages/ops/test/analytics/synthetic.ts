/**
 * Seeded synthetic series with a known answer, for measuring the detectors: each generator makes
 * labelled series (positives and negatives, hard negatives included) from a seed, so a run is
 * reproducible and a different seed gives a different, equally valid sample.
 */

/** mulberry32: a small, fast seeded generator of numbers in [0, 1). */
export const rng = (seed: number) => {
  let a = seed >>> 0
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export type Rng = () => number

export const uniform = (r: Rng, lo: number, hi: number): number => lo + (hi - lo) * r()
export const int = (r: Rng, lo: number, hi: number): number => Math.floor(uniform(r, lo, hi + 1))

export const normal = (r: Rng): number => {
  const u = Math.max(r(), 1e-12)
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r())
}

/** Poisson by inversion (small means) or a rounded normal (large ones). */
export const poisson = (r: Rng, mean: number): number => {
  if (mean <= 0) return 0
  if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal(r)))
  const l = Math.exp(-mean)
  let k = 0
  let p = 1
  do {
    k += 1
    p *= r()
  } while (p > l)
  return k - 1
}

/** Binomial: exact for small n, normal approximation for large n. */
export const binomial = (r: Rng, n: number, p: number): number => {
  const q = Math.min(1, Math.max(0, p))
  if (n <= 60) {
    let k = 0
    for (let i = 0; i < n; i++) if (r() < q) k += 1
    return k
  }
  const x = Math.round(n * q + Math.sqrt(n * q * (1 - q)) * normal(r))
  return Math.min(n, Math.max(0, x))
}

/** A series of calls and failures per interval, with its label and what kind of case it is. */
export interface RateCase {
  readonly label: boolean
  readonly kind: string
  readonly calls: Array<number>
  readonly failures: Array<number>
  /** For positives: the intervals where the condition holds (a detection outside them is wrong). */
  readonly from?: number
  readonly to?: number
}

/** Traffic per interval: Poisson around a level that drifts a little (a sine of random phase). */
const traffic = (r: Rng, length: number, level: number): Array<number> => {
  const phase = uniform(r, 0, 2 * Math.PI)
  const amplitude = uniform(r, 0, 0.3)
  return Array.from({ length }, (_, i) => poisson(r, level * (1 + amplitude * Math.sin(phase + i / 15))))
}

/** A base failure rate per interval that wanders a little (noise on the rate itself). */
const baseRates = (r: Rng, length: number, base: number, jitter: number): Array<number> =>
  Array.from({ length }, () => Math.max(0, base * (1 + jitter * normal(r))))

// ---------------------------------------------------------------------------------------------
// spikes
// ---------------------------------------------------------------------------------------------

/**
 * Spike cases (length 60, evaluated at every interval as a live run would):
 * - positive: a jump of the rate (to 3x-40x the base, at least +8 points) lasting 1-3 intervals;
 * - negatives: a flat rate with heavy noise; a single outlier at low volume (a few calls, most
 *   failing); a slow rise (a trend, not a spike: each interval close to the previous ones); very
 *   low traffic throughout.
 */
export const spikeCases = (seed: number, count: number): Array<RateCase> => {
  const r = rng(seed)
  const out: Array<RateCase> = []
  const length = 60
  for (let c = 0; c < count; c++) {
    const positive = c % 2 === 0
    const level = uniform(r, 40, 400)
    const base = uniform(r, 0.002, 0.05)
    const calls = traffic(r, length, level)
    const rates = baseRates(r, length, base, uniform(r, 0.1, 0.6))
    if (positive) {
      const at = int(r, 35, 55)
      const width = int(r, 1, 3)
      const peak = Math.min(0.95, Math.max(base * uniform(r, 3, 40), base + uniform(r, 0.08, 0.4)))
      for (let i = at; i < Math.min(length, at + width); i++) rates[i] = peak
      const failures = calls.map((n, i) => binomial(r, n, rates[i] ?? 0))
      out.push({ label: true, kind: "jump", calls, failures, from: at, to: at + width - 1 })
      continue
    }
    const hard = c % 8
    if (hard === 1) {
      // noisy but flat: the rate itself swings widely around its level
      const noisy = baseRates(r, length, uniform(r, 0.02, 0.1), uniform(r, 0.5, 0.9))
      out.push({
        label: false,
        kind: "noisy-flat",
        calls,
        failures: calls.map((n, i) => binomial(r, n, noisy[i] ?? 0))
      })
    } else if (hard === 3) {
      // a single outlier at low volume: an interval of 2-15 calls, most failing
      const at = int(r, 35, 55)
      const failures = calls.map((n, i) => binomial(r, n, rates[i] ?? 0))
      const n = int(r, 2, 15)
      calls[at] = n
      failures[at] = Math.max(1, Math.min(n, int(r, 1, 4)))
      out.push({ label: false, kind: "low-volume-outlier", calls, failures })
    } else if (hard === 5) {
      // a slow rise: +0.15 to +0.35 over the series, each step small
      const rise = uniform(r, 0.15, 0.35)
      const failures = calls.map((n, i) => binomial(r, n, (rates[i] ?? 0) + (rise * i) / length))
      out.push({ label: false, kind: "slow-rise", calls, failures })
    } else if (hard === 7) {
      // very low traffic: a handful of calls per interval, an occasional failure
      const few = calls.map(() => poisson(r, uniform(r, 1, 6)))
      out.push({ label: false, kind: "low-traffic", calls: few, failures: few.map((n) => binomial(r, n, base * 3)) })
    } else {
      out.push({ label: false, kind: "flat", calls, failures: calls.map((n, i) => binomial(r, n, rates[i] ?? 0)) })
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// trends
// ---------------------------------------------------------------------------------------------

/**
 * Trend cases (length 30: one window; evaluated at the last interval):
 * - positive: a rate rising linearly by 8 to 40 points over the window, with noise;
 * - negatives: flat with noise; a rise too small to matter or to be significant (under 2 points
 *   over the window, in heavy noise); a single bad interval at the end; a rise then fall (a
 *   hump); noisy but flat with wide swings.
 */
export const trendCases = (seed: number, count: number): Array<RateCase> => {
  const r = rng(seed)
  const out: Array<RateCase> = []
  const length = 30
  for (let c = 0; c < count; c++) {
    const positive = c % 2 === 0
    const level = uniform(r, 30, 300)
    const base = uniform(r, 0.005, 0.08)
    const calls = traffic(r, length, level)
    const jitter = uniform(r, 0.1, 0.5)
    const rates = baseRates(r, length, base, jitter)
    if (positive) {
      const rise = uniform(r, 0.08, 0.4)
      const failures = calls.map((n, i) => binomial(r, n, (rates[i] ?? 0) + (rise * i) / (length - 1)))
      out.push({ label: true, kind: "rising", calls, failures, from: length - 1, to: length - 1 })
      continue
    }
    const hard = c % 10
    let failures: Array<number>
    let kind: string
    if (hard === 1) {
      kind = "insignificant-rise"
      const rise = uniform(r, 0.002, 0.02)
      const noisy = baseRates(r, length, base, uniform(r, 0.6, 1))
      failures = calls.map((n, i) => binomial(r, n, (noisy[i] ?? 0) + (rise * i) / (length - 1)))
    } else if (hard === 3) {
      kind = "single-outlier-at-end"
      failures = calls.map((n, i) => binomial(r, n, rates[i] ?? 0))
      failures[length - 1] = binomial(r, calls[length - 1] ?? 0, uniform(r, 0.4, 0.9))
    } else if (hard === 5) {
      kind = "hump"
      const peak = uniform(r, 0.1, 0.3)
      failures = calls.map((n, i) =>
        binomial(r, n, (rates[i] ?? 0) + peak * Math.max(0, 1 - Math.abs(i - length / 2) / (length / 4)))
      )
    } else if (hard === 7) {
      kind = "noisy-flat"
      const noisy = baseRates(r, length, uniform(r, 0.03, 0.12), uniform(r, 0.5, 0.9))
      failures = calls.map((n, i) => binomial(r, n, noisy[i] ?? 0))
    } else if (hard === 9) {
      kind = "falling"
      const fall = uniform(r, 0.05, 0.2)
      failures = calls.map((n, i) => binomial(r, n, (rates[i] ?? 0) + fall * (1 - i / (length - 1))))
    } else {
      kind = "flat"
      failures = calls.map((n, i) => binomial(r, n, rates[i] ?? 0))
    }
    out.push({ label: false, kind, calls, failures })
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// periodic
// ---------------------------------------------------------------------------------------------

/** A periodic case: failure counts per sample, the sample length, and the true period. */
export interface PeriodicCase {
  readonly label: boolean
  readonly kind: string
  readonly counts: Array<number>
  readonly sampleMillis: number
  readonly periodMillis?: number
}

/**
 * Periodic cases, sampled every 10 seconds (360 samples: an hour) or every minute (120
 * samples: two hours):
 * - positive: a job failing every P minutes (P from 5 to 20, the classic being 10) for 1 to 3
 *   samples, with a jitter of up to one sample, over background failures (Poisson);
 * - negatives: background noise only (Poisson); bursts of the same size at random times (as many
 *   as the positive would have); a single long burst; a rising failure count (a trend).
 */
export const periodicCases = (seed: number, count: number): Array<PeriodicCase> => {
  const r = rng(seed)
  const out: Array<PeriodicCase> = []
  for (let c = 0; c < count; c++) {
    const positive = c % 2 === 0
    const perMinute = r() < 0.4
    const sampleMillis = perMinute ? 60_000 : 10_000
    const length = perMinute ? 120 : 360
    const background = uniform(r, 0, 1.5)
    const counts = Array.from({ length }, () => poisson(r, background))
    const burst = () => poisson(r, uniform(r, 4, 20))
    const periodMinutes = r() < 0.5 ? 10 : int(r, 5, 20)
    const periodSamples = (periodMinutes * 60_000) / sampleMillis
    const width = int(r, 1, 3)
    if (positive) {
      const offset = int(r, 0, periodSamples - 1)
      for (let start = offset; start < length; start += periodSamples) {
        const at = start + int(r, -1, 1)
        for (let i = at; i < at + width; i++) if (i >= 0 && i < length) counts[i] = (counts[i] ?? 0) + burst()
      }
      out.push({ label: true, kind: "cron", counts, sampleMillis, periodMillis: periodMinutes * 60_000 })
      continue
    }
    const hard = c % 8
    if (hard === 1 || hard === 5) {
      // the same number of bursts, at random times
      const bursts = Math.floor(length / periodSamples)
      for (let b = 0; b < bursts; b++) {
        const at = int(r, 0, length - 1)
        for (let i = at; i < at + width; i++) if (i < length) counts[i] = (counts[i] ?? 0) + burst()
      }
      out.push({ label: false, kind: "random-bursts", counts, sampleMillis })
    } else if (hard === 3) {
      const at = int(r, 0, length - 20)
      const long = int(r, 5, 15)
      for (let i = at; i < at + long; i++) counts[i] = (counts[i] ?? 0) + burst()
      out.push({ label: false, kind: "single-burst", counts, sampleMillis })
    } else if (hard === 7) {
      const top = uniform(r, 2, 10)
      out.push({
        label: false,
        kind: "rising",
        counts: counts.map((x, i) => x + poisson(r, (top * i) / length)),
        sampleMillis
      })
    } else {
      out.push({ label: false, kind: "noise", counts, sampleMillis })
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// cascades
// ---------------------------------------------------------------------------------------------

/** A cascade case: a dependency graph, breaker openings, and the root cause if it is a cascade. */
export interface CascadeCase {
  readonly label: boolean
  readonly kind: string
  readonly graph: Record<string, Array<string>>
  readonly openings: Array<{ readonly name: string; readonly atMillis: number }>
  readonly windowMillis: number
  readonly root?: string
}

/**
 * Cascade cases on a random layered graph (3 layers: edge services depend on mid services which
 * depend on backends), a 60 s window, and unrelated breakers opening at random times:
 * - positive: a backend's breaker opens, then 1 to 3 of its dependents (direct, or through a mid
 *   service) open 1-50 s later, each after the one it depends on;
 * - negatives: dependents opening BEFORE their dependency (reverse order); a dependent opening
 *   later than the window; breakers opening together that the graph does not connect; openings
 *   of a dependency with no dependent following.
 */
export const cascadeCases = (seed: number, count: number): Array<CascadeCase> => {
  const r = rng(seed)
  const out: Array<CascadeCase> = []
  const windowMillis = 60_000
  for (let c = 0; c < count; c++) {
    const positive = c % 2 === 0
    const backends = Array.from({ length: int(r, 2, 4) }, (_, i) => `db-${c}-${i}`)
    const mids = Array.from({ length: int(r, 2, 4) }, (_, i) => `svc-${c}-${i}`)
    const edges = Array.from({ length: int(r, 2, 4) }, (_, i) => `api-${c}-${i}`)
    const graph: Record<string, Array<string>> = {}
    const pick = (xs: ReadonlyArray<string>) => xs[int(r, 0, xs.length - 1)] ?? ""
    for (const m of mids) graph[m] = [pick(backends)]
    for (const e of edges) graph[e] = r() < 0.7 ? [pick(mids)] : [pick(mids), pick(backends)]
    const dependentsOf = (name: string) => Object.keys(graph).filter((k) => graph[k]?.includes(name))
    const t0 = int(r, 0, 3_600_000)
    const openings: Array<{ name: string; atMillis: number }> = []
    // unrelated noise: an unconnected breaker or two far from the event
    const noise = int(r, 0, 2)
    for (let i = 0; i < noise; i++) openings.push({ name: `other-${c}-${i}`, atMillis: t0 + int(r, -600_000, 600_000) })
    // a root with at least one dependent
    const candidates = backends.filter((b) => dependentsOf(b).length > 0)
    const root = candidates.length > 0 ? pick(candidates) : pick(mids)
    const firstDeps = dependentsOf(root)
    if (firstDeps.length === 0) {
      c -= 1
      continue
    }
    if (positive) {
      openings.push({ name: root, atMillis: t0 })
      let frontier = [{ name: root, at: t0 }]
      let added = 0
      while (frontier.length > 0 && added < 3) {
        const next: Array<{ name: string; at: number }> = []
        for (const f of frontier) {
          for (const d of dependentsOf(f.name)) {
            if (added >= 3 || r() < 0.3) continue
            const at = f.at + int(r, 1_000, 50_000)
            openings.push({ name: d, atMillis: at })
            next.push({ name: d, at })
            added += 1
          }
        }
        frontier = next
      }
      if (added === 0) {
        const d = pick(firstDeps)
        openings.push({ name: d, atMillis: t0 + int(r, 1_000, 50_000) })
      }
      out.push({ label: true, kind: "cascade", graph, openings: shuffle(r, openings), windowMillis, root })
      continue
    }
    const hard = c % 8
    const d = pick(firstDeps)
    if (hard === 1 || hard === 5) {
      openings.push({ name: d, atMillis: t0 }, { name: root, atMillis: t0 + int(r, 1_000, 50_000) })
      out.push({ label: false, kind: "reverse-order", graph, openings: shuffle(r, openings), windowMillis })
    } else if (hard === 3) {
      openings.push({ name: root, atMillis: t0 }, { name: d, atMillis: t0 + int(r, windowMillis + 1_000, 600_000) })
      out.push({ label: false, kind: "outside-window", graph, openings: shuffle(r, openings), windowMillis })
    } else if (hard === 7) {
      // two services with no path between them opening close together
      const unrelated = Object.keys(graph).find(
        (k) =>
          k !== root && !(graph[k] ?? []).includes(root) && !(graph[root] ?? []).includes(k) && !reaches(graph, k, root)
      )
      openings.push({ name: root, atMillis: t0 })
      if (unrelated !== undefined) openings.push({ name: unrelated, atMillis: t0 + int(r, 1_000, 50_000) })
      out.push({ label: false, kind: "unconnected", graph, openings: shuffle(r, openings), windowMillis })
    } else {
      openings.push({ name: root, atMillis: t0 })
      out.push({ label: false, kind: "alone", graph, openings: shuffle(r, openings), windowMillis })
    }
  }
  return out
}

/** Whether `from` depends on `to`, directly or not. */
const reaches = (graph: Record<string, Array<string>>, from: string, to: string): boolean => {
  const seen = new Set<string>()
  const stack = [from]
  while (stack.length > 0) {
    const n = stack.pop() ?? ""
    for (const d of graph[n] ?? []) {
      if (d === to) return true
      if (!seen.has(d)) {
        seen.add(d)
        stack.push(d)
      }
    }
  }
  return false
}

const shuffle = <A>(r: Rng, xs: Array<A>): Array<A> => {
  const out = xs.slice()
  for (let i = out.length - 1; i > 0; i--) {
    const j = int(r, 0, i)
    const a = out[i]
    const b = out[j]
    if (a === undefined || b === undefined) continue
    out[i] = b
    out[j] = a
  }
  return out
}

/** Precision and recall from predictions against labels. */
export interface Score {
  readonly tp: number
  readonly fp: number
  readonly fn: number
  readonly tn: number
  readonly precision: number
  readonly recall: number
}

export const score = (
  results: ReadonlyArray<{ readonly label: boolean; readonly predicted: boolean; readonly correct?: boolean }>
): Score => {
  let tp = 0
  let fp = 0
  let fn = 0
  let tn = 0
  for (const x of results) {
    if (x.label && x.predicted && x.correct !== false) tp += 1
    else if (x.label && x.predicted) {
      // fired, but at the wrong place or with the wrong answer: a false alarm and a miss
      fp += 1
      fn += 1
    } else if (x.label) fn += 1
    else if (x.predicted) fp += 1
    else tn += 1
  }
  return {
    tp,
    fp,
    fn,
    tn,
    precision: tp + fp === 0 ? 0 : tp / (tp + fp),
    recall: tp + fn === 0 ? 0 : tp / (tp + fn)
  }
}
