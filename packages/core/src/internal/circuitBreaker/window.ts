/**
 * In-memory evidence for circuit breakers: a consecutive-failure counter, a count-based ring of
 * the last N outcomes and a time-based ring of buckets. Plain TypeScript (nothing from `effect`),
 * synchronous and allocation free on `record`, so the breaker's hot path stays a few field updates.
 *
 * @internal
 */
import type { Evidence, EvidenceStore, Policy, RecordedOutcome, StoreDecision } from "./core.js"

const FAILED = 1
const SLOW = 2

const code = (outcome: RecordedOutcome): number =>
  outcome === "success" ? 0 : outcome === "failure" ? FAILED : outcome === "slow-success" ? SLOW : FAILED | SLOW

/** Counters shared by every window kind. */
class Counters implements Evidence {
  calls = 0
  failures = 0
  slowCalls = 0
  consecutiveFailures = 0

  protected add(c: number): void {
    this.calls++
    if ((c & FAILED) !== 0) {
      this.failures++
      this.consecutiveFailures++
    } else {
      this.consecutiveFailures = 0
    }
    if ((c & SLOW) !== 0) this.slowCalls++
  }

  protected zero(): void {
    this.calls = 0
    this.failures = 0
    this.slowCalls = 0
    this.consecutiveFailures = 0
  }
}

/** Counts since the last clear (the consecutive-failures policy). */
class CumulativeEvidence extends Counters implements EvidenceStore {
  record(outcome: RecordedOutcome, _atMillis: number): Evidence {
    this.add(code(outcome))
    return this
  }
  evidence(_atMillis: number): Evidence {
    return this
  }
  clear(_atMillis: number): void {
    this.zero()
  }
  decide(_decision: StoreDecision): void {}
}

/** The last `size` outcomes. */
class CountWindowEvidence extends Counters implements EvidenceStore {
  private readonly ring: Uint8Array
  private head = 0
  constructor(private readonly size: number) {
    super()
    this.ring = new Uint8Array(size)
  }
  record(outcome: RecordedOutcome, _atMillis: number): Evidence {
    const c = code(outcome)
    if (this.calls === this.size) {
      const old = this.ring[this.head] ?? 0
      this.calls--
      if ((old & FAILED) !== 0) this.failures--
      if ((old & SLOW) !== 0) this.slowCalls--
    }
    this.ring[this.head] = c
    this.head = this.head + 1 === this.size ? 0 : this.head + 1
    this.add(c)
    return this
  }
  evidence(_atMillis: number): Evidence {
    return this
  }
  clear(_atMillis: number): void {
    this.zero()
    this.head = 0
    this.ring.fill(0)
  }
  decide(_decision: StoreDecision): void {}
}

/**
 * Outcomes of the current bucket and the `buckets - 1` before it. A bucket covers
 * `windowMillis / buckets` ms of the clock, aligned on multiples of that width, so the window spans
 * between `(buckets - 1) / buckets` and all of `windowMillis`.
 */
class TimeWindowEvidence extends Counters implements EvidenceStore {
  private readonly width: number
  private readonly bucketCalls: Float64Array
  private readonly bucketFailures: Float64Array
  private readonly bucketSlow: Float64Array
  private current = 0
  constructor(
    windowMillis: number,
    private readonly buckets: number
  ) {
    super()
    this.width = windowMillis / buckets
    this.bucketCalls = new Float64Array(buckets)
    this.bucketFailures = new Float64Array(buckets)
    this.bucketSlow = new Float64Array(buckets)
  }

  private advance(atMillis: number): number {
    const epoch = Math.floor(atMillis / this.width)
    if (epoch > this.current) {
      const steps = Math.min(epoch - this.current, this.buckets)
      for (let i = 1; i <= steps; i++) {
        const index = (this.current + i) % this.buckets
        this.calls -= this.bucketCalls[index] ?? 0
        this.failures -= this.bucketFailures[index] ?? 0
        this.slowCalls -= this.bucketSlow[index] ?? 0
        this.bucketCalls[index] = 0
        this.bucketFailures[index] = 0
        this.bucketSlow[index] = 0
      }
      this.current = epoch
    }
    // A clock that steps back records into the current bucket.
    return this.current % this.buckets
  }

  record(outcome: RecordedOutcome, atMillis: number): Evidence {
    const index = this.advance(atMillis)
    const c = code(outcome)
    this.bucketCalls[index] = (this.bucketCalls[index] ?? 0) + 1
    if ((c & FAILED) !== 0) this.bucketFailures[index] = (this.bucketFailures[index] ?? 0) + 1
    if ((c & SLOW) !== 0) this.bucketSlow[index] = (this.bucketSlow[index] ?? 0) + 1
    this.add(c)
    return this
  }
  evidence(atMillis: number): Evidence {
    this.advance(atMillis)
    return this
  }
  clear(_atMillis: number): void {
    this.zero()
    this.bucketCalls.fill(0)
    this.bucketFailures.fill(0)
    this.bucketSlow.fill(0)
  }
  decide(_decision: StoreDecision): void {}
}

/**
 * Fresh in-memory evidence for one breaker.
 *
 * @internal
 */
export const makeWindow = (policy: Policy): EvidenceStore => {
  switch (policy._tag) {
    case "ConsecutiveFailures":
      return new CumulativeEvidence()
    case "CountWindow":
      return new CountWindowEvidence(policy.size)
    case "TimeWindow":
      return new TimeWindowEvidence(policy.windowMillis, policy.buckets)
  }
}
