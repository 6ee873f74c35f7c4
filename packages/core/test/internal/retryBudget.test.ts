/** The retry budget core on its own: numbers in, decisions out, no Effect runtime. */
import { describe, expect, it } from "vitest"
import * as core from "../../src/internal/retryBudget/core.js"
import type { ClassificationView } from "../../src/internal/strategy/core.js"

const view = (category: string): ClassificationView => ({ category, retryable: true, countsForBreaker: true })
const server = view("server")
const timeout = view("timeout")
const network = view("network")

const aws: core.TokenBucketSettings = {
  capacity: 500,
  retryCost: 5,
  timeoutRetryCost: 10,
  successRefund: 1,
  refundRetryCostOnSuccess: true
}

describe("TokenBucket", () => {
  it("costs by category, refunds, never above capacity", () => {
    const bucket = new core.TokenBucket(aws)
    expect(bucket.costOf(server)).toBe(5)
    expect(bucket.costOf(timeout)).toBe(10)
    expect(bucket.costOf(network)).toBe(10)
    expect(bucket.tryWithdraw(server, 0)).toBe(true)
    expect(bucket.tryWithdraw(timeout, 0)).toBe(true)
    expect(bucket.available(0)).toBe(485)
    bucket.onSuccess(false, timeout)
    expect(bucket.available(0)).toBe(495)
    bucket.onSuccess(true, undefined)
    expect(bucket.available(0)).toBe(496)
    for (let i = 0; i < 10; i++) bucket.onSuccess(true, undefined)
    expect(bucket.available(0)).toBe(500)
  })

  it("a refused withdrawal takes nothing; no refund of the last retry when told not to", () => {
    const bucket = new core.TokenBucket({ ...aws, capacity: 12, refundRetryCostOnSuccess: false })
    expect(bucket.tryWithdraw(timeout, 0)).toBe(true)
    expect(bucket.tryWithdraw(timeout, 0)).toBe(false)
    expect(bucket.available(0)).toBe(2)
    bucket.onSuccess(false, timeout)
    expect(bucket.available(0)).toBe(2)
    bucket.reset()
    expect(bucket.available(0)).toBe(12)
  })
})

describe("RatioBudget", () => {
  it("retries below ratio * requests plus the reserve, over a sliding window", () => {
    const budget = new core.RatioBudget({ ratio: 0.5, windowMillis: 10_000, buckets: 10, minRetriesPerSecond: 0 })
    expect(budget.tryWithdraw(server, 0)).toBe(false)
    for (let i = 0; i < 10; i++) budget.onRequest(0)
    for (let i = 0; i < 5; i++) expect(budget.tryWithdraw(server, 100)).toBe(true)
    expect(budget.tryWithdraw(server, 100)).toBe(false)
    expect(budget.available(9_999)).toBe(0)
    // everything left the window
    expect(budget.available(10_000)).toBe(0)
    budget.onRequest(10_000)
    budget.onRequest(10_000)
    expect(budget.available(10_000)).toBe(1)
  })

  it("Finagle's reserve lets a quiet client retry; reset empties the window", () => {
    const budget = new core.RatioBudget({ ratio: 0.1, windowMillis: 5_000, buckets: 5, minRetriesPerSecond: 1 })
    expect(budget.available(0)).toBe(5)
    for (let i = 0; i < 5; i++) expect(budget.tryWithdraw(timeout, 0)).toBe(true)
    expect(budget.tryWithdraw(timeout, 0)).toBe(false)
    budget.reset()
    expect(budget.available(0)).toBe(5)
    expect(budget.costOf(server)).toBe(1)
  })
})

describe("unlimited", () => {
  it("always pays", () => {
    expect(core.unlimited.tryWithdraw(timeout, 0)).toBe(true)
    expect(core.unlimited.available(0)).toBe(Number.POSITIVE_INFINITY)
  })
})
