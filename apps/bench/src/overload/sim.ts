/**
 * A discrete-event simulation of overload after Bronson et al., "Metastable Failures in
 * Distributed Systems" (HotOS 2021): one server, a queue in front of it, clients with a timeout per
 * attempt, and the pipeline's decision cores (`cores.ts`) deciding every retry and admission.
 *
 * The model, in simulated milliseconds (nothing sleeps; one seeded PRNG draws everything):
 *
 * - The server serves one request at a time, FIFO, each taking Exp(1 / capacity) of work, so the
 *   latency of a request grows with the queue ahead of it (the wait is the queue length divided by
 *   the capacity). A request that finds `queueLimit` requests queued is refused at once (a 503,
 *   which costs the server nothing). The server does not know that a client gave up: a request
 *   whose client timed out is still served, and that work is wasted. This is the sustaining effect
 *   of a retry storm.
 * - `clients` clients each send calls as a Poisson stream (together `load` calls/s). An attempt
 *   walks the client's admission strategies (breaker, adaptive throttle, adaptive concurrency, in
 *   the pipeline's order), travels `networkMillis` each way, and fails with a timeout after
 *   `timeoutMillis` unless the answer came back first. A failed attempt is classified as the
 *   default classifier classifies it (timeout, 503 unavailable, a local refusal) and the retry
 *   decision runs as `RetryPolicy.retry` runs it: `stopBeforeSchedule`, the exponential backoff
 *   with full jitter, `retryDelay`, `stopForTime`, then the retry budget's `tryWithdraw`.
 * - The trigger: from `triggerAtMillis`, for `triggerMillis`, the capacity drops to
 *   `degradedCapacity`.
 *
 * Everything is counted in bins of `binMillis`.
 */
import { backoff, retry, strategy } from "./cores.js"
import type { budget as budgetCore } from "./cores.js"

type ClassificationView = strategy.ClassificationView
type AdmissionStrategy = strategy.AdmissionStrategy

/** The scenario: the server, the load, the trigger. */
export interface Scenario {
  /** Requests per second the server completes when healthy. */
  readonly capacity: number
  /** ... and during the trigger. */
  readonly degradedCapacity: number
  /** Calls per second, all clients together. */
  readonly load: number
  readonly clients: number
  /** The client's timeout per attempt. */
  readonly timeoutMillis: number
  /** Requests the server queues before refusing (Infinity: never refuses). */
  readonly queueLimit: number
  /** One way. */
  readonly networkMillis: number
  readonly triggerAtMillis: number
  readonly triggerMillis: number
  /** Simulated time after the trigger ends. */
  readonly afterMillis: number
  readonly binMillis: number
}

/** Bronson's example: capacity 300/s, load 280/s, 1 s timeout, capacity 100/s for 10 s. */
export const bronson: Scenario = {
  capacity: 300,
  degradedCapacity: 100,
  load: 280,
  clients: 10,
  timeoutMillis: 1000,
  queueLimit: 500,
  networkMillis: 1,
  triggerAtMillis: 30_000,
  triggerMillis: 10_000,
  afterMillis: 300_000,
  binMillis: 1000
}

/** One client's resilience: the retry policy in numbers, its budget, its admission strategies. */
export interface ClientSetup {
  /** Attempts per call (1: no retries). */
  readonly maxAttempts: number
  readonly initialDelayMillis: number
  readonly factor: number
  readonly maxDelayMillis: number
  readonly jitter: backoff.Jitter
  readonly budget: budgetCore.BudgetCore | undefined
  /** In the pipeline's order: breaker, then admission (throttle, concurrency). */
  readonly strategies: ReadonlyArray<AdmissionStrategy>
}

/** A configuration under test: how to make each client's setup. */
export interface Configuration {
  readonly name: string
  readonly describe: string
  readonly client: (nowMillis: number) => ClientSetup
  /**
   * When the clients share state (one retry budget for the fleet, as a Redis-backed budget is):
   * called once per run, it gives the run's client factory, which `client` is then not.
   */
  readonly fleet?: () => (nowMillis: number) => ClientSetup
}

/** What one bin saw. */
export interface Bin {
  /** Start of the bin, seconds from the start of the run. */
  readonly t: number
  /** Calls the clients made (first attempts). */
  readonly requests: number
  /** Attempts that reached the server (queued or refused). */
  readonly serverArrivals: number
  /** Calls that succeeded, counted when they succeeded (throughput of useful work). */
  readonly goodput: number
  /** Calls made in this bin that succeeded in the end (what the recovery criterion reads). */
  readonly succeeded: number
  /** Attempts that ended, and those that ended in a client timeout. */
  readonly attemptsEnded: number
  readonly timeouts: number
  /** Requests the server served after their client had given up. */
  readonly wasted: number
  /** Requests the server served. */
  readonly served: number
  /** Queue length at the end of the bin. */
  readonly queue: number
}

/** A run of one configuration. */
export interface Run {
  readonly configuration: string
  readonly bins: ReadonlyArray<Bin>
  readonly summary: Summary
}

/** What the write-up tabulates. */
export interface Summary {
  /** Highest server arrivals / client requests over a sliding window of `windowSeconds`, from the trigger on. */
  readonly peakAmplification: number
  /** Server arrivals / client requests from the trigger to the end of the run. */
  readonly meanAmplification: number
  /**
   * Seconds from the trigger's end until goodput stays at or above 95 % of the calls made, over
   * every later window of `windowSeconds` (null: no such time that leaves the last 30 s of the
   * run, or a quarter of the time after the trigger if shorter, to show it holds).
   */
  readonly recoverySeconds: number | null
  /** Requests served after their client gave up, from the trigger on, and their share of all served. */
  readonly wastedRequests: number
  readonly wastedShare: number
  /** Calls that failed, from the trigger on, and their share of the calls made. */
  readonly failedCalls: number
  readonly failedShare: number
  /** Server work (seconds of full-capacity service) spent on requests nobody waited for. */
  readonly wastedServerSeconds: number
}

/** The classifications the default classifier gives these failures (`internal/classifier/tables.ts`). */
export const classifications = {
  /** `AttemptTimeout`. */
  timeout: { category: "timeout", retryable: true, countsForBreaker: true },
  /** An HTTP 503. */
  unavailable: { category: "unavailable", retryable: true, countsForBreaker: true },
  /** `BulkheadRejected` (adaptive throttle, adaptive concurrency): local, retryable, not counted. */
  localRefusal: { category: "resource", retryable: true, countsForBreaker: false },
  /** `CircuitOpen`. */
  circuitOpen: { category: "unavailable", retryable: true, countsForBreaker: false }
} as const satisfies Record<string, ClassificationView>

/** A binary min-heap of timed callbacks, ties broken by insertion order (deterministic). */
class Events {
  private times: Array<number> = []
  private seqs: Array<number> = []
  private fns: Array<() => void> = []
  private seq = 0
  get size(): number {
    return this.times.length
  }
  private less(i: number, j: number): boolean {
    const ti = this.times[i] as number
    const tj = this.times[j] as number
    return ti < tj || (ti === tj && (this.seqs[i] as number) < (this.seqs[j] as number))
  }
  private swap(i: number, j: number): void {
    const t = this.times[i] as number
    this.times[i] = this.times[j] as number
    this.times[j] = t
    const s = this.seqs[i] as number
    this.seqs[i] = this.seqs[j] as number
    this.seqs[j] = s
    const f = this.fns[i] as () => void
    this.fns[i] = this.fns[j] as () => void
    this.fns[j] = f
  }
  push(time: number, fn: () => void): void {
    this.times.push(time)
    this.seqs.push(this.seq++)
    this.fns.push(fn)
    let i = this.times.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(i, p)) break
      this.swap(i, p)
      i = p
    }
  }
  /** Removes the earliest event; returns its time and callback. */
  pop(): readonly [number, () => void] {
    const time = this.times[0] as number
    const fn = this.fns[0] as () => void
    const last = this.times.length - 1
    this.swap(0, last)
    this.times.pop()
    this.seqs.pop()
    this.fns.pop()
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < last && this.less(l, m)) m = l
      if (r < last && this.less(r, m)) m = r
      if (m === i) break
      this.swap(i, m)
      i = m
    }
    return [time, fn]
  }
}

interface MutableBin {
  requests: number
  serverArrivals: number
  goodput: number
  succeeded: number
  attemptsEnded: number
  timeouts: number
  wasted: number
  served: number
  queue: number
}

/** A request in the server's queue. */
interface Job {
  /** False once the client stopped waiting for it. */
  waiting: boolean
  /** Called with the server's answer (true: served, false: refused). */
  readonly answer: (served: boolean) => void
}

/**
 * Runs one configuration through a scenario. `random` is the run's only source of randomness
 * (arrivals, service times, jitter, the throttle's draws), so a seed fixes the run.
 */
export const simulate = (scenario: Scenario, configuration: Configuration, random: () => number): Run => {
  const events = new Events()
  const endMillis = scenario.triggerAtMillis + scenario.triggerMillis + scenario.afterMillis
  const binCount = Math.ceil(endMillis / scenario.binMillis)
  const bins: Array<MutableBin> = Array.from({ length: binCount }, () => ({
    requests: 0,
    serverArrivals: 0,
    goodput: 0,
    succeeded: 0,
    attemptsEnded: 0,
    timeouts: 0,
    wasted: 0,
    served: 0,
    queue: 0
  }))
  let now = 0
  const bin = (): MutableBin => bins[Math.min(binCount - 1, Math.floor(now / scenario.binMillis))] as MutableBin
  const exp = (mean: number): number => -Math.log(1 - random()) * mean
  const triggered = (t: number): boolean =>
    t >= scenario.triggerAtMillis && t < scenario.triggerAtMillis + scenario.triggerMillis
  let wastedWorkMillis = 0

  // --- the server -------------------------------------------------------------------------------
  const queue: Array<Job> = []
  let head = 0
  let busy = false
  const serveNext = (): void => {
    if (head === queue.length) {
      busy = false
      return
    }
    busy = true
    const job = queue[head++] as Job
    if (head > 4096 && head * 2 > queue.length) {
      queue.splice(0, head)
      head = 0
    }
    const capacity = triggered(now) ? scenario.degradedCapacity : scenario.capacity
    const work = exp(1000 / capacity)
    events.push(now + work, () => {
      const b = bin()
      b.served++
      if (!job.waiting) {
        b.wasted++
        wastedWorkMillis += (work * capacity) / scenario.capacity
      }
      events.push(now + scenario.networkMillis, () => job.answer(true))
      serveNext()
    })
  }
  const arrive = (job: Job): void => {
    bin().serverArrivals++
    if (queue.length - head >= scenario.queueLimit) {
      events.push(now + scenario.networkMillis, () => job.answer(false))
      return
    }
    queue.push(job)
    if (!busy) serveNext()
  }

  // --- the clients ------------------------------------------------------------------------------
  const startClient = (setup: ClientSetup, rate: number): void => {
    const { budget } = setup
    const call = (): void => {
      const b = bin()
      b.requests++
      budget?.onRequest(now)
      attempt(b, 1, 1, 0, undefined)
    }
    /**
     * One attempt. `attempt` numbers the tries, `made` those that reached the operation,
     * `retries` the backoff steps taken, `last` the failure this attempt retries.
     */
    const attempt = (
      callBin: MutableBin,
      n: number,
      made: number,
      retries: number,
      last: ClassificationView | undefined
    ): void => {
      const walked = strategy.walk(setup.strategies, 0, undefined, now, random)
      if (!strategy.isAdmitted(walked)) {
        // no strategy here waits; a refusal fails the attempt before it reaches the server
        const refusedByBreaker = walked._tag === "Rejected" && setup.strategies[walked.index]?.component === "breaker"
        const c = refusedByBreaker ? classifications.circuitOpen : classifications.localRefusal
        const retryAfter = walked._tag === "Rejected" ? walked.rejected.retryAfterMillis : 0
        failed(callBin, n, made, retries, c, refusedByBreaker, retryAfter)
        return
      }
      const tickets = walked
      const started = now
      let done = false
      const job: Job = {
        waiting: true,
        answer: (served) => {
          if (done) return
          done = true
          const b = bin()
          b.attemptsEnded++
          if (served) {
            strategy.settleAll(tickets, strategy.success, now - started, now)
            budget?.onSuccess(n === 1, last)
            b.goodput++
            callBin.succeeded++
          } else {
            strategy.settleAll(tickets, strategy.failure(classifications.unavailable), now - started, now)
            failed(callBin, n, made, retries, classifications.unavailable, false, 0)
          }
        }
      }
      events.push(now + scenario.networkMillis, () => arrive(job))
      events.push(now + scenario.timeoutMillis, () => {
        if (done) return
        done = true
        job.waiting = false
        const b = bin()
        b.attemptsEnded++
        b.timeouts++
        strategy.settleAll(tickets, strategy.failure(classifications.timeout), now - started, now)
        failed(callBin, n, made, retries, classifications.timeout, false, 0)
      })
    }
    /** After a failed attempt: what `RetryPolicy.retry` decides, in the same order. */
    const failed = (
      callBin: MutableBin,
      n: number,
      made: number,
      retries: number,
      c: ClassificationView,
      refusedByBreaker: boolean,
      retryAfterMillis: number
    ): void => {
      const reached = retry.reachedAttempts(made, refusedByBreaker)
      if (retry.stopBeforeSchedule(c, reached, setup.maxAttempts) !== undefined) return
      const raw = backoff.capDelay(
        backoff.exponentialDelay(setup.initialDelayMillis, setup.factor, retries),
        setup.maxDelayMillis
      )
      const step = backoff.applyJitter(setup.jitter, raw, random())
      const delay = retry.retryDelay(step, refusedByBreaker ? retryAfterMillis : undefined, 5000, refusedByBreaker)
      // no overall deadline in this scenario: a call refused by an open breaker stops here
      if (retry.stopForTime(delay, undefined, refusedByBreaker) !== undefined) return
      if (budget !== undefined && !budget.tryWithdraw(c, now)) return
      events.push(now + delay, () => attempt(callBin, n + 1, reached + 1, retries + 1, c))
    }
    const next = (): void => {
      events.push(now + exp(1000 / rate), () => {
        call()
        next()
      })
    }
    next()
  }

  const clientOf = configuration.fleet?.() ?? configuration.client
  for (let i = 0; i < scenario.clients; i++) {
    startClient(clientOf(0), scenario.load / scenario.clients)
  }
  // queue length at each bin's end
  for (let i = 0; i < binCount; i++) {
    events.push((i + 1) * scenario.binMillis - 1e-6, () => {
      bin().queue = queue.length - head
    })
  }
  while (events.size > 0) {
    const [time, fn] = events.pop()
    if (time >= endMillis) break
    now = time
    fn()
  }
  const out: ReadonlyArray<Bin> = bins.map((b, i) => ({ t: (i * scenario.binMillis) / 1000, ...b }))
  return { configuration: configuration.name, bins: out, summary: summarize(scenario, out, wastedWorkMillis / 1000) }
}

/** The sliding window (seconds) over which amplification and goodput are judged. */
export const windowSeconds = 5

/** Amplification, recovery, waste: the table's numbers. */
export const summarize = (scenario: Scenario, bins: ReadonlyArray<Bin>, wastedServerSeconds: number): Summary => {
  const binSeconds = scenario.binMillis / 1000
  const w = Math.max(1, Math.round(windowSeconds / binSeconds))
  const from = Math.floor(scenario.triggerAtMillis / scenario.binMillis)
  const judged = bins.length - Math.ceil(5000 / scenario.binMillis)
  const triggerEnd = (scenario.triggerAtMillis + scenario.triggerMillis) / scenario.binMillis
  const sum = (key: keyof Bin, a: number, b: number): number => {
    let s = 0
    for (let i = a; i < b; i++) s += (bins[i] as Bin)[key]
    return s
  }
  let peak = 0
  for (let i = from; i + w <= bins.length; i++) {
    const requests = sum("requests", i, i + w)
    if (requests > 0) peak = Math.max(peak, sum("serverArrivals", i, i + w) / requests)
  }
  const requestsAfter = sum("requests", from, bins.length)
  const meanAmplification = requestsAfter === 0 ? 0 : sum("serverArrivals", from, bins.length) / requestsAfter
  // recovered from the first window after the trigger's end from which, in every window, at least
  // 95 % of the calls made in it succeed. Calls made in the run's last 5 s may still be under way
  // when it ends: they are not judged.
  let lastBelow = -1
  for (let i = triggerEnd; i + w <= judged; i++) {
    if (sum("succeeded", i, i + w) < 0.95 * sum("requests", i, i + w)) lastBelow = i
  }
  // a recovery must hold for the last 30 s of the run (a quarter of the time after the trigger, if shorter)
  const hold = Math.round(Math.min(30_000, scenario.afterMillis / 4) / scenario.binMillis)
  const recoveryBin = lastBelow + 1
  const recoverySeconds =
    lastBelow < 0 ? 0 : recoveryBin > judged - w - hold ? null : (recoveryBin - triggerEnd) * binSeconds
  const served = sum("served", from, bins.length)
  const wasted = sum("wasted", from, bins.length)
  const calls = sum("requests", from, judged)
  const failedCalls = calls - sum("succeeded", from, judged)
  return {
    peakAmplification: peak,
    meanAmplification,
    recoverySeconds,
    wastedRequests: wasted,
    wastedShare: served === 0 ? 0 : wasted / served,
    failedCalls,
    failedShare: calls === 0 ? 0 : failedCalls / calls,
    wastedServerSeconds
  }
}
