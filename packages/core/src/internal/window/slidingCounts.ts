/**
 * A sliding window of two counters kept in a ring of time buckets. Used by the adaptive throttle
 * (requests / accepts over the last 2 minutes) and the ratio retry budget (requests / retries).
 *
 * Plain TypeScript: imports nothing from `effect`. Everything is synchronous and allocation-free
 * after construction: the hot path adds to a bucket and, when the clock has moved into a new
 * bucket, clears the buckets that left the window.
 * An event recorded at time `t` counts until `t` falls out of the window at bucket granularity:
 * with `windowMillis = 120_000` and `buckets = 120`, an event at 0 ms counts until 119_999 ms.
 *
 * @internal
 */
export class SlidingCounts {
  readonly bucketMillis: number
  private readonly a: Float64Array
  private readonly b: Float64Array
  private readonly size: number
  private current = Number.NEGATIVE_INFINITY
  /** Sum of the first counter over the window. */
  sumA = 0
  /** Sum of the second counter over the window. */
  sumB = 0

  constructor(windowMillis: number, buckets: number) {
    this.size = Math.max(1, Math.floor(buckets))
    this.bucketMillis = windowMillis / this.size
    this.a = new Float64Array(this.size)
    this.b = new Float64Array(this.size)
  }

  /** Moves the window to `nowMillis`, dropping buckets that left it. */
  advance(nowMillis: number): void {
    const index = Math.floor(nowMillis / this.bucketMillis)
    if (index <= this.current) return
    const gap = index - this.current
    if (gap >= this.size) {
      this.a.fill(0)
      this.b.fill(0)
      this.sumA = 0
      this.sumB = 0
    } else {
      for (let i = this.current + 1; i <= index; i++) {
        const slot = i % this.size
        this.sumA -= this.a[slot]!
        this.sumB -= this.b[slot]!
        this.a[slot] = 0
        this.b[slot] = 0
      }
    }
    this.current = index
  }

  /** Adds to the first counter in the newest bucket (call `advance` first; ignored before any). */
  addA(n: number): void {
    if (this.current === Number.NEGATIVE_INFINITY) return
    const slot = this.current % this.size
    this.a[slot] = this.a[slot]! + n
    this.sumA += n
  }

  /** Adds to the second counter in the newest bucket (call `advance` first; ignored before any). */
  addB(n: number): void {
    if (this.current === Number.NEGATIVE_INFINITY) return
    const slot = this.current % this.size
    this.b[slot] = this.b[slot]! + n
    this.sumB += n
  }

  reset(): void {
    this.a.fill(0)
    this.b.fill(0)
    this.sumA = 0
    this.sumB = 0
  }
}
